package baseline

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/optimize"
)

// LogRegConfig configures [FitLogReg]. A zero numeric field selects its
// default (see [DefaultLogRegConfig]); negative or non-finite values are
// rejected.
type LogRegConfig struct {
	// C is the inverse L2 regularisation strength, as in scikit-learn's
	// LogisticRegression: larger C means weaker regularisation. Default 1.
	C float64 `json:"c"`
	// Balanced weights every training sample of class c by n/(k·n_c), where
	// n is the number of samples, k the number of classes and n_c the
	// samples of class c (scikit-learn's class_weight="balanced"); classes
	// without samples get weight 0. Without it every sample has weight 1.
	Balanced bool `json:"balanced"`
	// MaxIter is the maximum number of L-BFGS iterations. Default 500
	// (scikit-learn's default is 100; more lets the fits converge).
	MaxIter int `json:"max_iter"`
	// Tol stops L-BFGS once the largest absolute gradient component of the
	// objective L of [FitLogReg] falls below it: scikit-learn's tol, which
	// it passes to scipy's L-BFGS-B as gtol for the same objective. Default
	// 1e-4, scikit-learn's default.
	Tol float64 `json:"tol"`
}

// DefaultLogRegConfig returns C = 1, no class weights, at most 500
// iterations and gradient tolerance 1e-4.
func DefaultLogRegConfig() LogRegConfig { return LogRegConfig{C: 1, MaxIter: 500, Tol: 1e-4} }

func (c LogRegConfig) withDefaults() (LogRegConfig, error) {
	if !(c.C >= 0) || !(c.Tol >= 0) || math.IsInf(c.C, 0) || math.IsInf(c.Tol, 0) || c.MaxIter < 0 {
		return c, fmt.Errorf("baseline: invalid LogRegConfig %+v", c)
	}
	d := DefaultLogRegConfig()
	if c.C == 0 {
		c.C = d.C
	}
	if c.MaxIter == 0 {
		c.MaxIter = d.MaxIter
	}
	if c.Tol == 0 {
		c.Tol = d.Tol
	}
	return c, nil
}

// LogReg is a multinomial (softmax) logistic-regression classifier over
// sparse features: for a feature row x ∈ R^d and classes c = 0..k−1,
//
//	z_c = Σ_j x_j W_jc + b_c,    p(c | x) = exp(z_c) / Σ_c' exp(z_c').
//
// A fitted model is read-only and safe for concurrent use.
type LogReg struct {
	numFeatures, numClasses int
	w                       []float64 // [numFeatures*numClasses], W_jc at j*numClasses+c
	b                       []float64 // [numClasses]
	cfg                     LogRegConfig
	status                  string
	iters                   int
}

// logRegObjective is the penalised, weighted multinomial log-loss of
// [FitLogReg] over the parameter vector θ = (W row-major by feature, b).
type logRegObjective struct {
	x      *SparseMatrix
	y      []int
	weight []float64 // per-sample weight s_n
	k      int
	c      float64
	sumW   float64     // S = Σ s_n
	bufs   [][]float64 // gradient buffers of row blocks 1.. (see eval)
}

// balancedClassWeights returns n/(k·n_c) for every class c (0 if n_c = 0).
func balancedClassWeights(y []int, k int) []float64 {
	counts := make([]int, k)
	for _, c := range y {
		counts[c]++
	}
	w := make([]float64, k)
	for c, nc := range counts {
		if nc > 0 {
			w[c] = float64(len(y)) / (float64(k) * float64(nc))
		}
	}
	return w
}

// evalChunks is the fixed number of row blocks [logRegObjective.eval]
// splits the data into. Each block is evaluated on its own goroutine into its
// own buffers and the blocks are summed in order, so the result does not
// depend on GOMAXPROCS or scheduling.
const evalChunks = 4

// eval returns the objective at theta and, if grad is non-nil, writes its
// gradient there (len(grad) == len(theta)).
func (o *logRegObjective) eval(theta, grad []float64) float64 {
	rows := o.x.Rows
	chunks := min(evalChunks, rows)
	if rows*o.k < 1<<14 {
		chunks = 1 // not worth the goroutines
	}
	if grad != nil && len(o.bufs) < chunks-1 {
		o.bufs = make([][]float64, chunks-1)
		for c := range o.bufs {
			o.bufs[c] = make([]float64, len(theta))
		}
	}
	losses := make([]float64, chunks)
	var wg sync.WaitGroup
	for c := range chunks {
		lo, hi := c*rows/chunks, (c+1)*rows/chunks
		g := grad
		if grad != nil && c > 0 {
			g = o.bufs[c-1]
		}
		if c == 0 {
			continue
		}
		wg.Go(func() { losses[c] = o.dataLoss(theta, g, lo, hi) })
	}
	losses[0] = o.dataLoss(theta, grad, 0, rows/chunks)
	wg.Wait()
	loss := losses[0]
	for c := 1; c < chunks; c++ {
		loss += losses[c]
		if grad != nil {
			for i, v := range o.bufs[c-1] {
				grad[i] += v
			}
		}
	}
	d := o.x.Cols * o.k
	w := theta[:d]
	lam := 1 / (o.c * o.sumW)
	var reg float64
	for i, v := range w {
		reg += v * v
		if grad != nil {
			grad[i] += lam * v
		}
	}
	return loss + 0.5*lam*reg
}

// dataLoss returns (1/S) Σ_n s_n (−ln p(y_n | x_n)) over rows [lo, hi) and,
// if grad is non-nil, overwrites grad with that sum's gradient.
func (o *logRegObjective) dataLoss(theta, grad []float64, lo, hi int) float64 {
	k := o.k
	d := o.x.Cols
	w, b := theta[:d*k], theta[d*k:]
	var gw, gb []float64
	if grad != nil {
		clear(grad)
		gw, gb = grad[:d*k], grad[d*k:]
	}
	z := make([]float64, k)
	var loss float64
	for n := lo; n < hi; n++ {
		cols, vals := o.x.Row(n)
		vals = vals[:len(cols)]
		if k == 3 {
			// Fast path for three classes: accumulate in registers.
			z0, z1, z2 := b[0], b[1], b[2]
			for t, j := range cols {
				xv := vals[t]
				wr := w[j*3 : j*3+3 : j*3+3]
				z0 += xv * wr[0]
				z1 += xv * wr[1]
				z2 += xv * wr[2]
			}
			z[0], z[1], z[2] = z0, z1, z2
		} else {
			copy(z, b)
			for t, j := range cols {
				xv := vals[t]
				wr := w[j*k : j*k+k]
				wr = wr[:len(z)]
				for c := range z {
					z[c] += xv * wr[c]
				}
			}
		}
		zmax := z[0]
		for _, v := range z[1:] {
			zmax = max(zmax, v)
		}
		yn := o.y[n]
		zy := z[yn] - zmax
		var se float64
		for c := range z {
			z[c] = math.Exp(z[c] - zmax)
			se += z[c]
		}
		// ln p_y = (z_y − zmax) − ln Σ_c exp(z_c − zmax); z now holds
		// exp(z − zmax), and se ≥ 1.
		s := o.weight[n] / o.sumW
		loss -= s * (zy - math.Log(se))
		if grad == nil || s == 0 {
			continue
		}
		// r_c = s·(p_c − 1[c = y]); reuse z for r.
		for c := range z {
			z[c] = s * z[c] / se
		}
		z[yn] -= s
		for c := range z {
			gb[c] += z[c]
		}
		if k == 3 {
			r0, r1, r2 := z[0], z[1], z[2]
			for t, j := range cols {
				xv := vals[t]
				gr := gw[j*3 : j*3+3 : j*3+3]
				gr[0] += xv * r0
				gr[1] += xv * r1
				gr[2] += xv * r2
			}
			continue
		}
		for t, j := range cols {
			xv := vals[t]
			gr := gw[j*k : j*k+k]
			gr = gr[:len(z)]
			for c := range z {
				gr[c] += xv * z[c]
			}
		}
	}
	return loss
}

// FitLogReg fits a [LogReg] with an L2 penalty on W (the intercepts b are
// not penalised) to the rows of x with labels y in [0, numClasses), by
// minimising scikit-learn's LogisticRegression(penalty="l2", C=C,
// solver="lbfgs") objective for the multinomial loss, divided by C·S:
//
//	L(W, b) = (1/S) Σ_n s_n · (−ln p(y_n | x_n)) + (1/(2·C·S)) Σ_jc W_jc²
//
// where s_n is sample n's weight (1, or the balanced class weight of y_n)
// and S = Σ_n s_n; dividing by C·S leaves the minimiser unchanged and keeps
// the objective O(1). Its gradient is
//
//	∂L/∂W_jc = (1/S) Σ_n s_n x_nj (p(c | x_n) − 1[y_n = c]) + W_jc/(C·S)
//	∂L/∂b_c  = (1/S) Σ_n s_n (p(c | x_n) − 1[y_n = c])
//
// (the softmax regression model, e.g. Bishop, "Pattern Recognition and
// Machine Learning", 2006, §4.3.4; Hastie, Tibshirani & Friedman, "The
// Elements of Statistical Learning", 2nd ed., §4.4).
//
// L is minimised from θ = 0 with the limited-memory BFGS method of
// gonum.org/v1/gonum/optimize (Nocedal & Wright, "Numerical Optimization",
// 2nd ed., §7.2), stopping when max |∂L| < cfg.Tol, after cfg.MaxIter
// iterations, or when the objective stops decreasing (no decrease beyond
// 1e-15 in 20 iterations). The objective and gradient are summed over a
// fixed number of row blocks evaluated concurrently and added in block
// order, so the fit is deterministic and does not depend on GOMAXPROCS.
// Because b is not penalised and the
// softmax is invariant to adding a constant to every b_c, b is determined
// only up to such a constant; starting from 0, L-BFGS keeps Σ_c b_c = 0 up to
// rounding.
//
// It returns an error if x is malformed or has a non-finite entry,
// len(y) != x.Rows, there are no rows, numClasses < 2, a label is outside
// [0, numClasses), cfg is invalid, or the optimiser fails (a non-finite
// objective).
func FitLogReg(x *SparseMatrix, y []int, numClasses int, cfg LogRegConfig) (*LogReg, error) {
	return fitLogReg(x, y, numClasses, cfg, nil)
}

// fitLogReg is [FitLogReg] starting from the parameters of warm (a model
// of the same shape) instead of 0, if warm is non-nil.
func fitLogReg(x *SparseMatrix, y []int, numClasses int, cfg LogRegConfig, warm *LogReg) (*LogReg, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := x.validate(); err != nil {
		return nil, err
	}
	if len(y) != x.Rows {
		return nil, fmt.Errorf("baseline: FitLogReg has %d rows and %d labels", x.Rows, len(y))
	}
	if x.Rows == 0 {
		return nil, errors.New("baseline: FitLogReg needs at least one sample")
	}
	if numClasses < 2 {
		return nil, fmt.Errorf("baseline: FitLogReg needs at least 2 classes, got %d", numClasses)
	}
	for n, c := range y {
		if c < 0 || c >= numClasses {
			return nil, fmt.Errorf("baseline: label %d of sample %d outside [0, %d)", c, n, numClasses)
		}
	}
	o := newLogRegObjective(x, y, numClasses, cfg)
	d, k := x.Cols, numClasses
	dim := d*k + k

	// Func and Grad are called in turn at the same point; compute both once.
	cacheX := make([]float64, dim)
	cacheG := make([]float64, dim)
	cacheF, cached := 0.0, false
	evalAt := func(theta []float64) {
		if cached && slicesEqual(cacheX, theta) {
			return
		}
		cacheF = o.eval(theta, cacheG)
		copy(cacheX, theta)
		cached = true
	}
	p := optimize.Problem{
		Func: func(theta []float64) float64 { evalAt(theta); return cacheF },
		Grad: func(grad, theta []float64) { evalAt(theta); copy(grad, cacheG) },
	}
	settings := &optimize.Settings{
		GradientThreshold: cfg.Tol,
		MajorIterations:   cfg.MaxIter,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-15, Relative: 1e-15, Iterations: 20},
	}
	init := make([]float64, dim)
	if warm != nil && warm.numFeatures == d && warm.numClasses == k {
		copy(init, warm.w)
		copy(init[d*k:], warm.b)
	}
	res, err := optimize.Minimize(p, init, settings, &optimize.LBFGS{Store: 10})
	if err != nil && res == nil {
		return nil, fmt.Errorf("baseline: FitLogReg: %w", err)
	}
	if math.IsNaN(res.F) || math.IsInf(res.F, 0) {
		return nil, fmt.Errorf("baseline: FitLogReg objective is %v (%v)", res.F, res.Status)
	}
	m := &LogReg{
		numFeatures: d,
		numClasses:  k,
		w:           append([]float64(nil), res.X[:d*k]...),
		b:           append([]float64(nil), res.X[d*k:]...),
		cfg:         cfg,
		status:      res.Status.String(),
		iters:       res.MajorIterations,
	}
	return m, nil
}

func newLogRegObjective(x *SparseMatrix, y []int, k int, cfg LogRegConfig) *logRegObjective {
	o := &logRegObjective{x: x, y: y, k: k, c: cfg.C, weight: make([]float64, len(y))}
	cw := balancedClassWeights(y, k)
	for n, c := range y {
		o.weight[n] = 1
		if cfg.Balanced {
			o.weight[n] = cw[c]
		}
		o.sumW += o.weight[n]
	}
	return o
}

func slicesEqual(a, b []float64) bool {
	for i, v := range a {
		if b[i] != v {
			return false
		}
	}
	return len(a) == len(b)
}

// NumFeatures returns the input dimension d.
func (m *LogReg) NumFeatures() int { return m.numFeatures }

// NumClasses returns the number of classes k.
func (m *LogReg) NumClasses() int { return m.numClasses }

// Config returns the configuration used, with defaults filled in.
func (m *LogReg) Config() LogRegConfig { return m.cfg }

// Weight returns W_jc. It panics if j or c is out of range.
func (m *LogReg) Weight(j, c int) float64 {
	if j < 0 || j >= m.numFeatures || c < 0 || c >= m.numClasses {
		panic(fmt.Sprintf("baseline: LogReg weight (%d, %d) outside [0, %d)×[0, %d)", j, c, m.numFeatures, m.numClasses))
	}
	return m.w[j*m.numClasses+c]
}

// Intercept returns b_c. It panics if c is out of range.
func (m *LogReg) Intercept(c int) float64 { return m.b[c] }

// Iterations returns the number of L-BFGS iterations run, and Status the
// optimiser's stopping reason (gonum optimize.Status, e.g.
// "GradientThreshold" when converged, "IterationLimit" when MaxIter was
// reached).
func (m *LogReg) Iterations() int { return m.iters }

// Status returns the optimiser's stopping reason; see [LogReg.Iterations].
func (m *LogReg) Status() string { return m.status }

// PredictProba returns p(c | x_n) for every row n of x, shape
// [x.Rows][NumClasses()], each row summing to 1. It returns an error if x is
// malformed or x.Cols != NumFeatures().
func (m *LogReg) PredictProba(x *SparseMatrix) ([][]float64, error) {
	if err := x.validate(); err != nil {
		return nil, err
	}
	if x.Cols != m.numFeatures {
		return nil, fmt.Errorf("baseline: LogReg has %d features, input %d columns", m.numFeatures, x.Cols)
	}
	k := m.numClasses
	out := make([][]float64, x.Rows)
	flat := make([]float64, x.Rows*k)
	for n := range out {
		z := flat[n*k : n*k+k : n*k+k]
		copy(z, m.b)
		cols, vals := x.Row(n)
		for t, j := range cols {
			for c := range z {
				z[c] += vals[t] * m.w[j*k+c]
			}
		}
		zmax := z[0]
		for _, v := range z[1:] {
			zmax = max(zmax, v)
		}
		var se float64
		for c := range z {
			z[c] = math.Exp(z[c] - zmax)
			se += z[c]
		}
		for c := range z {
			z[c] /= se
		}
		out[n] = z
	}
	return out, nil
}

// Predict returns the most probable class of every row of x (the smallest
// class id among equal probabilities). Errors are those of
// [LogReg.PredictProba].
func (m *LogReg) Predict(x *SparseMatrix) ([]int, error) {
	p, err := m.PredictProba(x)
	if err != nil {
		return nil, err
	}
	return argmaxRows(p), nil
}

func argmaxRows(p [][]float64) []int {
	out := make([]int, len(p))
	for n, row := range p {
		best := 0
		for c, v := range row {
			if v > row[best] {
				best = c
			}
		}
		out[n] = best
	}
	return out
}
