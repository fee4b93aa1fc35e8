package rec

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
)

// seq is the sequential user model: GPT-2 blocks (package gpt2, fed inputs_embeds) over the
// user's chronological items, trained on next-item prediction with full-catalogue softmax
// cross-entropy at every position (SASRec's causal self-attention, Kang & McAuley ICDM 2018,
// with the cross-entropy objective of SASRec+, Klenitskiy & Vasilev RecSys 2023).
//
//	e_i      = wte[i+1] + g(x_i)                    item representation ([I, D]; wte row 0 pads)
//	input    = [f(H_u)], e_{i_1}, …, e_{i_n}        f(H_u) a user-level token when levels are read
//	h        = GPT2(inputs_embeds = input)          last_hidden_state [B, T, D]
//	s(u, i)  = h_last · e_i + b_i                   scores at the last position
//
// Without levels and text it is SASRec (ID only). The output layer is tied to the input item
// representation, as in SASRec. The user's history is at most MaxLen positions (the most recent
// items; the user token takes one of them). Its training examples are users: every position
// of a user's training sequence predicts the next training item.
type seq struct {
	cfg    Config
	d      *Data
	gpt    *gpt2.Model   // vocab NumItems+1 (id = item+1, 0 pads), n_positions MaxLen
	bias   *torch.Tensor // b [I]
	levels *levelFusion  // nil: no user token
	text   *itemText     // nil: ID embeddings only
	users  []int         // users with at least one training target
}

func newSeq(v Variant, d *Data, f *Features, cfg Config) (m *seq, err error) {
	// New has checked cfg (Config.checkFamily: softmax loss, n_head divides dim, max_len >= 2).
	dev := cfg.Device
	g, err := torch.NewGenerator(cfg.Seed, dev)
	if err != nil {
		return nil, err
	}
	defer g.Free()
	mm := &seq{cfg: cfg, d: d}
	m = mm
	defer func() {
		if err != nil {
			mm.Free()
		}
	}()
	gc := gpt2.NewConfig(d.NumItems+1, cfg.MaxLen, cfg.Dim, cfg.Layers, cfg.Heads)
	gc.EmbdPdrop, gc.AttnPdrop, gc.ResidPdrop = cfg.Dropout, cfg.Dropout, cfg.Dropout
	if m.gpt, err = gpt2.NewModel(gc, torch.Float32, dev, g); err != nil {
		return nil, err
	}
	defer torch.Recover(&err)
	m.bias = torch.Must(torch.Zeros([]int64{int64(d.NumItems)}, torch.Float32, dev))
	if m.levels, err = newLevelFusion(v.Levels, f, d.NumUsers, cfg.Dim, cfg.Fusion, dev, g); err != nil {
		return nil, err
	}
	if v.Text {
		if m.text, err = newItemText(f, d.NumItems, cfg.Dim, dev, g); err != nil {
			return nil, err
		}
	}
	minLen := 2
	if m.levels != nil {
		minLen = 1 // the user token predicts the first item
	}
	for u, items := range d.Train {
		if len(items) >= minLen {
			m.users = append(m.users, u)
		}
	}
	for _, p := range m.Params() {
		if err := p.SetRequiresGrad(true); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *seq) Params() []*torch.Tensor {
	var ps []*torch.Tensor
	for _, p := range m.gpt.Params() {
		ps = append(ps, p.Tensor)
	}
	ps = append(ps, m.bias)
	ps = append(ps, m.levels.params()...)
	return append(ps, m.text.params()...)
}

func (m *seq) Train(on bool)    { m.gpt.Train(on) }
func (m *seq) NumExamples() int { return len(m.users) }

func (m *seq) Free() {
	m.gpt.Free()
	torch.FreeAll(m.bias)
	m.levels.free()
	m.text.free()
}

// items is e_i = wte[i+1] + g(x_i) for every item → [I, D].
func (m *seq) items(s *torch.Scope) *torch.Tensor {
	e := s.Track(torch.Must(m.gpt.WTE.Share())).MustNarrow(0, 1, int64(m.d.NumItems))
	if m.text != nil {
		e = e.MustAdd(m.text.all(s))
	}
	return e
}

// batch is the padded input of B users.
type seqBatch struct {
	ids  []int64 // [B, T-tok] item ids + 1 (0 pads), right-padded
	mask []int64 // [B, T] attention_mask
	lens []int   // real positions per row, token included
	T    int
}

// inputs lays out the users' item sequences (oldest first; hist[b] already cut to fit) after the
// optional user token.
func (m *seq) inputs(hist [][]int) seqBatch {
	tok := 0
	if m.levels != nil {
		tok = 1
	}
	b := seqBatch{lens: make([]int, len(hist))}
	for r, h := range hist {
		b.lens[r] = len(h) + tok
		b.T = max(b.T, b.lens[r])
	}
	n := b.T - tok
	b.ids = make([]int64, len(hist)*n)
	b.mask = make([]int64, len(hist)*b.T)
	for r, h := range hist {
		for t, i := range h {
			b.ids[r*n+t] = int64(i + 1)
		}
		for t := 0; t < b.lens[r]; t++ {
			b.mask[r*b.T+t] = 1
		}
	}
	return b
}

// forward runs the transformer on a batch and returns last_hidden_state [B*T, D] and the item
// table e [I, D].
func (m *seq) forward(s *torch.Scope, users []int, b seqBatch) (h, e *torch.Tensor, err error) {
	dev := m.cfg.Device
	B, T, D := int64(len(users)), int64(b.T), int64(m.cfg.Dim)
	e = m.items(s)
	pad := s.Track(torch.Must(m.gpt.WTE.Share())).MustNarrow(0, 0, 1)
	table := torch.Must(torch.Cat([]*torch.Tensor{pad, e}, 0)) // [I+1, D]
	tok := int64(0)
	if m.levels != nil {
		tok = 1
	}
	var x *torch.Tensor
	if T > tok {
		ids := s.Track(torch.Must(fromSlice(b.ids, dev)))
		x = table.MustIndexSelect(0, ids).MustView(B, T-tok, D)
	}
	if m.levels != nil {
		uidx := make([]int64, B)
		for r, u := range users {
			uidx[r] = int64(u)
		}
		ut := s.Track(torch.Must(fromSlice(uidx, dev)))
		t := m.levels.forward(s, ut).MustUnsqueeze(1) // [B, 1, D]
		if x == nil {
			x = t
		} else {
			x = torch.Must(torch.Cat([]*torch.Tensor{t, x}, 1))
		}
	}
	mask := s.Track(torch.Must(fromSlice(b.mask, dev, B, T)))
	out, err := m.gpt.ForwardEmbeds(s, x, mask)
	if err != nil {
		return nil, nil, err
	}
	return out.MustView(B*T, D), e, nil
}

// trainSeq is the part of user u's training items a training step reads: the most recent
// MaxLen targets.
func (m *seq) trainSeq(u int) (inputs, targets []int) {
	items := m.d.Train[u]
	if m.levels != nil {
		targets = items[max(0, len(items)-m.cfg.MaxLen):]
		return targets[:len(targets)-1], targets
	}
	w := items[max(0, len(items)-m.cfg.MaxLen-1):]
	return w[:len(w)-1], w[1:]
}

func (m *seq) Loss(s *torch.Scope, examples []int, _ *rand.Rand) (loss *torch.Tensor, err error) {
	defer torch.Recover(&err)
	users := make([]int, len(examples))
	hist := make([][]int, len(examples))
	tgts := make([][]int, len(examples))
	for r, e := range examples {
		users[r] = m.users[e]
		hist[r], tgts[r] = m.trainSeq(users[r])
	}
	b := m.inputs(hist)
	var flat, targets []int64
	for r, tg := range tgts {
		for t, i := range tg { // position t predicts target t
			flat = append(flat, int64(r*b.T+t))
			targets = append(targets, int64(i))
		}
	}
	h, e, err := m.forward(s, users, b)
	if err != nil {
		return nil, err
	}
	dev := m.cfg.Device
	idx := s.Track(torch.Must(fromSlice(flat, dev)))
	tg := s.Track(torch.Must(fromSlice(targets, dev)))
	bias := s.Track(torch.Must(m.bias.Share()))
	logits := h.MustIndexSelect(0, idx).MustMatMul(e.MustTranspose(0, 1)).MustAdd(bias) // [N, I]
	return torch.CrossEntropy(logits, tg, nil)
}

// ExampleLengths is the number of positions each training example reads.
func (m *seq) ExampleLengths() []int {
	out := make([]int, len(m.users))
	for k, u := range m.users {
		_, tg := m.trainSeq(u)
		out[k] = len(tg)
	}
	return out
}

// history is what the model reads to score user u at stage st: the most recent items that fit.
func (m *seq) history(u int, st Stage) []int {
	h := m.d.History(u, st)
	n := m.cfg.MaxLen
	if m.levels != nil {
		n--
	}
	return h[max(0, len(h)-n):]
}

func (m *seq) Vectors(users []int, st Stage) (u, items *Matrix, err error) {
	const chunk = 256
	// Users in order of history length, so each chunk pads little.
	order := make([]int, len(users))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(m.history(users[a], st)) - len(m.history(users[b], st)) })
	sorted := NewMatrix(len(users), m.cfg.Dim+1)
	err = torch.NoGrad(func() (err error) {
		for start := 0; start < len(order); start += chunk {
			sub := make([]int, 0, chunk)
			for _, k := range order[start:min(start+chunk, len(order))] {
				sub = append(sub, users[k])
			}
			if err := m.vectorsChunk(sub, st, sorted.Data[start*sorted.Cols:], &items); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	u = NewMatrix(len(users), m.cfg.Dim+1)
	for r, k := range order {
		copy(u.Row(k), sorted.Row(r))
	}
	return u, items, nil
}

func (m *seq) vectorsChunk(users []int, st Stage, dst []float32, items **Matrix) (err error) {
	s := torch.NewScope()
	defer s.Close()
	defer torch.Recover(&err)
	hist := make([][]int, len(users))
	for r, x := range users {
		hist[r] = m.history(x, st)
	}
	b := m.inputs(hist)
	if b.T == 0 {
		return fmt.Errorf("rec: users without history cannot be scored by the sequential model")
	}
	h, e, err := m.forward(s, users, b)
	if err != nil {
		return err
	}
	last := make([]int64, len(users))
	for r := range users {
		if b.lens[r] == 0 {
			return fmt.Errorf("rec: user %d has no history to read", users[r])
		}
		last[r] = int64(r*b.T + b.lens[r] - 1)
	}
	idx := s.Track(torch.Must(fromSlice(last, m.cfg.Device)))
	hl := h.MustIndexSelect(0, idx)
	one := s.Track(torch.Must(torch.Ones([]int64{hl.Size(0), 1}, torch.Float32, m.cfg.Device)))
	um, err := MatrixFromTensor(torch.Must(torch.Cat([]*torch.Tensor{hl, one}, 1)))
	if err != nil {
		return err
	}
	copy(dst, um.Data)
	if *items == nil {
		bias := s.Track(torch.Must(m.bias.Share())).MustUnsqueeze(1)
		*items, err = MatrixFromTensor(torch.Must(torch.Cat([]*torch.Tensor{e, bias}, 1)))
	}
	return err
}
