package rec

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/hier-ai/hier/torch"
)

// cf is the hybrid collaborative-filtering model
//
//	s(u, i) = (p_u + f(H_u)) · (q_i + g(x_i)) + b_i
//
// with learned ID embeddings p_u [U, D], q_i [I, D] and item bias b_i, f the projection and fusion
// of the user's interest levels (levelFusion) and g the projection of the item's text vector
// (itemText). Without levels and text it is matrix factorisation with an item bias: BPR-MF
// (Rendle et al., UAI 2009) under LossBPR. Its training examples are the (user, item) training
// pairs.
type cf struct {
	cfg    Config
	d      *Data
	user   *torch.Tensor // p [U, D]
	item   *torch.Tensor // q [I, D]
	bias   *torch.Tensor // b [I]
	levels *levelFusion  // nil: ID only
	text   *itemText     // nil: no item text
	pairU  []int64
	pairI  []int64
	logQ   *torch.Tensor // sampled softmax: log of each item's share of the training pairs [I]
	train  bool
}

// initStd is the standard deviation of the ID embeddings at initialisation.
const initStd = 0.1

func newCF(v Variant, d *Data, f *Features, cfg Config) (m *cf, err error) {
	dev := cfg.Device
	g, err := torch.NewGenerator(cfg.Seed, dev)
	if err != nil {
		return nil, err
	}
	defer g.Free()
	mm := &cf{cfg: cfg, d: d}
	m = mm
	defer func() {
		if err != nil {
			mm.Free()
		}
	}()
	defer torch.Recover(&err)
	D := int64(cfg.Dim)
	m.user = torch.Must(torch.Normal([]int64{int64(d.NumUsers), D}, 0, initStd, torch.Float32, dev, g))
	m.item = torch.Must(torch.Normal([]int64{int64(d.NumItems), D}, 0, initStd, torch.Float32, dev, g))
	m.bias = torch.Must(torch.Zeros([]int64{int64(d.NumItems)}, torch.Float32, dev))
	if m.levels, err = newLevelFusion(v.Levels, f, d.NumUsers, cfg.Dim, cfg.Fusion, dev, g); err != nil {
		return nil, err
	}
	if v.Text {
		if m.text, err = newItemText(f, d.NumItems, cfg.Dim, dev, g); err != nil {
			return nil, err
		}
	}
	for u, items := range d.Train {
		for _, i := range items {
			m.pairU, m.pairI = append(m.pairU, int64(u)), append(m.pairI, int64(i))
		}
	}
	if cfg.Loss == LossSampledSoftmax {
		counts := d.ItemCounts()
		lq := make([]float32, d.NumItems)
		for i, c := range counts {
			lq[i] = float32(math.Log(float64(max(c, 1)) / float64(len(m.pairU))))
		}
		m.logQ = torch.Must(fromSlice(lq, dev))
	}
	for _, p := range m.Params() {
		if err := p.SetRequiresGrad(true); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *cf) Params() []*torch.Tensor {
	ps := []*torch.Tensor{m.user, m.item, m.bias}
	ps = append(ps, m.levels.params()...)
	return append(ps, m.text.params()...)
}

func (m *cf) Train(on bool)    { m.train = on }
func (m *cf) NumExamples() int { return len(m.pairU) }

func (m *cf) Free() {
	torch.FreeAll(m.user, m.item, m.bias, m.logQ)
	m.levels.free()
	m.text.free()
}

func (m *cf) dropout(x *torch.Tensor) *torch.Tensor {
	return x.MustDropout(m.cfg.Dropout, m.train)
}

// users is p_u + f(H_u) for user indices idx (int64 [B]) → [B, D].
func (m *cf) users(s *torch.Scope, idx *torch.Tensor) *torch.Tensor {
	p := m.user.MustIndexSelect(0, idx)
	if m.levels != nil {
		p = p.MustAdd(m.dropout(m.levels.forward(s, idx)))
	}
	return p
}

// items is q_i + g(x_i) for every item → [I, D].
func (m *cf) items(s *torch.Scope) *torch.Tensor {
	q := s.Track(torch.Must(m.item.Share()))
	if m.text != nil {
		q = q.MustAdd(m.dropout(m.text.all(s)))
	}
	return q
}

func (m *cf) Loss(s *torch.Scope, examples []int, rng *rand.Rand) (loss *torch.Tensor, err error) {
	defer torch.Recover(&err)
	dev := m.cfg.Device
	B := len(examples)
	us, pos := make([]int64, B), make([]int64, B)
	for k, e := range examples {
		us[k], pos[k] = m.pairU[e], m.pairI[e]
	}
	uIdx := s.Track(torch.Must(torch.FromSlice(us))).MustToDevice(dev)
	pIdx := s.Track(torch.Must(torch.FromSlice(pos))).MustToDevice(dev)
	u := m.users(s, uIdx) // [B, D]
	all := m.items(s)     // [I, D]
	bias := s.Track(torch.Must(m.bias.Share()))
	switch m.cfg.Loss {
	case LossSoftmax:
		logits := u.MustMatMul(all.MustTranspose(0, 1)).MustAdd(bias) // [B, I]
		return torch.CrossEntropy(logits, pIdx, nil)
	case LossSampledSoftmax:
		// Row b's candidates are the batch's positives; column b is its target.
		v := all.MustIndexSelect(0, pIdx)                                              // [B, D]
		corr := bias.MustIndexSelect(0, pIdx).MustSub(m.logQ.MustIndexSelect(0, pIdx)) // [B]
		hit := make([]bool, B*B)                                                       // accidental hits
		for b := range pos {
			for j := range pos {
				hit[b*B+j] = j != b && pos[j] == pos[b]
			}
		}
		hitT := s.Track(torch.Must(torch.FromSlice(hit, int64(B), int64(B)))).MustToDevice(dev)
		logits := u.MustMatMul(v.MustTranspose(0, 1)).MustAdd(corr).MustMaskedFill(hitT, math.Inf(-1))
		target := s.Track(torch.Must(torch.Arange(0, float64(B), 1, torch.Int64, dev)))
		return torch.CrossEntropy(logits, target, nil)
	default: // BPR
		neg := make([]int64, B)
		for k := range examples {
			neg[k] = int64(m.negative(int(us[k]), rng))
		}
		nIdx := s.Track(torch.Must(torch.FromSlice(neg))).MustToDevice(dev)
		sp := u.MustMul(all.MustIndexSelect(0, pIdx)).MustSumDims([]int64{1}, false).MustAdd(bias.MustIndexSelect(0, pIdx))
		sn := u.MustMul(all.MustIndexSelect(0, nIdx)).MustSumDims([]int64{1}, false).MustAdd(bias.MustIndexSelect(0, nIdx))
		ones := s.Track(torch.Must(torch.Ones([]int64{int64(B)}, torch.Float32, dev)))
		return torch.BCEWithLogits(sp.MustSub(sn), ones, nil, nil, torch.ReduceMean) // −log σ(s_ui − s_uj)
	}
}

// negative draws an item u has no training interaction with (uniformly, by rejection; after 64
// rejections the last draw is kept, which only matters for users who have nearly every item).
func (m *cf) negative(u int, rng *rand.Rand) int {
	seen := m.d.Train[u]
	j := rng.IntN(m.d.NumItems)
	for tries := 0; tries < 64 && slices.Contains(seen, j); tries++ {
		j = rng.IntN(m.d.NumItems)
	}
	return j
}

func (m *cf) Vectors(users []int, _ Stage) (u, items *Matrix, err error) {
	err = torch.NoGrad(func() (err error) {
		s := torch.NewScope()
		defer s.Close()
		defer torch.Recover(&err)
		dev := m.cfg.Device
		idx := make([]int64, len(users))
		for k, x := range users {
			idx[k] = int64(x)
		}
		uIdx := s.Track(torch.Must(torch.FromSlice(idx))).MustToDevice(dev)
		uv := m.users(s, uIdx)
		one := s.Track(torch.Must(torch.Ones([]int64{uv.Size(0), 1}, torch.Float32, dev)))
		if u, err = MatrixFromTensor(torch.Must(torch.Cat([]*torch.Tensor{uv, one}, 1))); err != nil {
			return err
		}
		b := s.Track(torch.Must(m.bias.Share())).MustUnsqueeze(1)
		items, err = MatrixFromTensor(torch.Must(torch.Cat([]*torch.Tensor{m.items(s), b}, 1)))
		return err
	})
	return u, items, err
}
