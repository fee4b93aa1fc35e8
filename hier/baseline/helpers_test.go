package baseline

import "math/rand/v2"

// plantedBlocks builds groups×usersPerGroup users and groups×blockSize
// items; every user of group g interacts with perUser distinct items drawn
// uniformly from item block g (items g*blockSize .. (g+1)*blockSize-1), in
// random order. Across groups every block is equally popular, so item
// popularity carries almost no signal while the user-group structure is
// perfectly learnable.
func plantedBlocks(groups, usersPerGroup, blockSize, perUser int, seed uint64) Interactions {
	r := rand.New(rand.NewPCG(seed, 1))
	in := Interactions{NumUsers: groups * usersPerGroup, NumItems: groups * blockSize}
	in.UserItems = make([][]int, in.NumUsers)
	for u := range in.NumUsers {
		g := u / usersPerGroup
		perm := r.Perm(blockSize)[:perUser]
		items := make([]int, perUser)
		for k, p := range perm {
			items[k] = g*blockSize + p
		}
		in.UserItems[u] = items
	}
	return in
}

// leaveLastOut moves each user's last (most recent) interaction to the test
// set. Users with fewer than two interactions stay whole in training and get
// held-out item -1.
func leaveLastOut(in Interactions) (train Interactions, heldOut []int) {
	train = Interactions{NumUsers: in.NumUsers, NumItems: in.NumItems, UserItems: make([][]int, len(in.UserItems))}
	heldOut = make([]int, in.NumUsers)
	for u := range heldOut {
		heldOut[u] = -1
	}
	for u, items := range in.UserItems {
		if len(items) < 2 {
			train.UserItems[u] = items
			continue
		}
		train.UserItems[u] = items[: len(items)-1 : len(items)-1]
		heldOut[u] = items[len(items)-1]
	}
	return train, heldOut
}

// zipfInteractions draws about n interactions for numUsers users over
// numItems items with Zipf-distributed item popularity (s = 1.1), each user
// getting at least two, as in a typical sparse review dataset.
func zipfInteractions(numUsers, numItems, n int, seed uint64) Interactions {
	r := rand.New(rand.NewPCG(seed, 2))
	z := rand.NewZipf(r, 1.1, 1, uint64(numItems-1))
	in := Interactions{NumUsers: numUsers, NumItems: numItems, UserItems: make([][]int, numUsers)}
	for k := range n {
		u := k % numUsers
		if k >= 2*numUsers {
			u = r.IntN(numUsers)
		}
		in.UserItems[u] = append(in.UserItems[u], int(z.Uint64()))
	}
	return in
}
