package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
)

// Checkpoint file names inside a checkpoint directory. The model files (model.safetensors,
// config.json, …) are whatever Task.Save writes.
const (
	StateFile     = "trainer_state.json"
	OptimizerFile = "optimizer.safetensors"
	ModelFile     = gpt2.SafetensorsFile
	// checkpointPrefix names checkpoint directories: <CheckpointDir>/checkpoint-<global step>.
	checkpointPrefix = "checkpoint-"
	stateVersion     = 1
)

// ErrNoCheckpoint is returned by LatestCheckpoint when a directory holds no checkpoint.
var ErrNoCheckpoint = errors.New("train: no checkpoint found")

// LoadParams copies the tensors of a safetensors file into params, matching by name; dtype and
// device are converted. Every parameter must be present with the same shape; the file may hold
// other tensors. Nothing is copied unless every parameter matches. Errors: an unreadable file, a
// duplicate parameter name, a missing tensor, a shape mismatch.
func LoadParams(params []gpt2.NamedParam, file string) error {
	ts, _, err := torch.LoadSafetensors(file, torch.CPU)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range ts {
			t.Free()
		}
	}()
	seen := map[string]bool{}
	var errs []error
	for _, p := range params {
		if seen[p.Name] {
			return fmt.Errorf("train: duplicate parameter name %q", p.Name)
		}
		seen[p.Name] = true
		src, ok := ts[p.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("missing tensor %q", p.Name))
			continue
		}
		if got, want := src.Shape(), p.Tensor.Shape(); !slices.Equal(got, want) {
			errs = append(errs, fmt.Errorf("tensor %q has shape %v, parameter has %v", p.Name, got, want))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("train: load %s: %w", file, errors.Join(errs...))
	}
	for _, p := range params {
		if err := p.Tensor.CopyFrom(ts[p.Name]); err != nil {
			return fmt.Errorf("train: load %s: %q: %w", file, p.Name, err)
		}
	}
	return nil
}

// LatestCheckpoint returns the checkpoint directory with the highest step under dir
// (<dir>/checkpoint-<step> holding trainer_state.json). Errors: ErrNoCheckpoint (wrapped) when
// there is none, or dir cannot be read.
func LatestCheckpoint(dir string) (string, error) {
	steps, err := listCheckpoints(dir)
	if err != nil {
		return "", err
	}
	if len(steps) == 0 {
		return "", fmt.Errorf("%w in %s", ErrNoCheckpoint, dir)
	}
	return checkpointPath(dir, steps[len(steps)-1]), nil
}

func checkpointPath(dir string, step int) string {
	return filepath.Join(dir, checkpointPrefix+strconv.Itoa(step))
}

// listCheckpoints returns the steps of the complete checkpoints under dir, ascending.
func listCheckpoints(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, checkpointPrefix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(name, checkpointPrefix))
		if err != nil || n < 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name, StateFile)); err != nil {
			continue
		}
		steps = append(steps, n)
	}
	sort.Ints(steps)
	return steps, nil
}

// jsonFloat is a float64 that survives JSON when it is NaN or infinite (written as a string).
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		*f = jsonFloat(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// savedConfig is the part of Config recorded in trainer_state.json: what a resumed run must
// agree on, and the rest for the record.
type savedConfig struct {
	Epochs            int       `json:"epochs"`
	BatchSize         int       `json:"batch_size"`
	GradAccum         int       `json:"grad_accum"`
	LR                jsonFloat `json:"lr"`
	WeightDecay       jsonFloat `json:"weight_decay"`
	WarmupSteps       int       `json:"warmup_steps"`
	MaxGradNorm       jsonFloat `json:"max_grad_norm"`
	Seed              uint64    `json:"seed"`
	NoShuffle         bool      `json:"no_shuffle"`
	MaxLen            int       `json:"max_len"`
	MaxSteps          int       `json:"max_steps"`
	TotalSteps        int       `json:"total_steps"`
	TrainSize         int       `json:"train_size"`
	EarlyStopMetric   string    `json:"early_stop_metric"`
	EarlyStopPatience int       `json:"early_stop_patience"`
}

type savedEpoch struct {
	Epoch     int                  `json:"epoch"`
	TrainLoss jsonFloat            `json:"train_loss"`
	Steps     int                  `json:"steps"`
	Seconds   jsonFloat            `json:"seconds"`
	Metrics   map[string]jsonFloat `json:"metrics,omitempty"`
	Report    string               `json:"report,omitempty"`
	Evaluated bool                 `json:"evaluated"`
}

// trainerState is trainer_state.json: the position in the data, the early-stopping state and
// the history.
type trainerState struct {
	Version int `json:"version"`
	// GlobalStep is the number of optimizer steps taken.
	GlobalStep int `json:"global_step"`
	// Epoch is the 0-based epoch in progress; StepInEpoch the optimizer steps done in it (equal
	// to the steps per epoch when only its evaluation is left).
	Epoch       int `json:"epoch"`
	StepInEpoch int `json:"step_in_epoch"`
	// EpochLossSum / EpochWeight accumulate the epoch's weighted train loss so far.
	EpochLossSum jsonFloat `json:"epoch_loss_sum"`
	EpochWeight  jsonFloat `json:"epoch_weight"`
	EpochSeconds jsonFloat `json:"epoch_seconds"`
	// Best is the best value of the early-stopping metric (NaN: none yet), BestEpoch its 1-based
	// epoch (0: none), BadEvals the evaluations since it improved.
	Best         jsonFloat    `json:"best_metric"`
	BestEpoch    int          `json:"best_epoch"`
	BadEvals     int          `json:"bad_evals"`
	StoppedEarly bool         `json:"stopped_early"`
	Losses       []jsonFloat  `json:"losses"`
	Epochs       []savedEpoch `json:"epochs"`
	Config       savedConfig  `json:"config"`
}

func (st *trainerState) losses() []float64 {
	out := make([]float64, len(st.Losses))
	for i, v := range st.Losses {
		out[i] = float64(v)
	}
	return out
}

func toSavedEpoch(e EpochResult) savedEpoch {
	s := savedEpoch{Epoch: e.Epoch, TrainLoss: jsonFloat(e.TrainLoss), Steps: e.Steps, Seconds: jsonFloat(e.Seconds)}
	if e.Metrics != nil {
		s.Evaluated = true
		s.Metrics = map[string]jsonFloat{}
		for k, v := range e.Metrics.Values {
			s.Metrics[k] = jsonFloat(v)
		}
		s.Report = e.Metrics.Report
	}
	return s
}

func fromSavedEpoch(s savedEpoch) EpochResult {
	e := EpochResult{Epoch: s.Epoch, TrainLoss: float64(s.TrainLoss), Steps: s.Steps, Seconds: float64(s.Seconds)}
	if s.Evaluated {
		m := &Metrics{Values: map[string]float64{}, Report: s.Report}
		for k, v := range s.Metrics {
			m.Values[k] = float64(v)
		}
		e.Metrics = m
	}
	return e
}

func readState(dir string) (*trainerState, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("train: %s: %w", filepath.Join(dir, StateFile), err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("train: %s: state version %d, this build reads %d", filepath.Join(dir, StateFile), st.Version, stateVersion)
	}
	return &st, nil
}

// saveOptimizer writes the optimizer's tensors and scalars, and the parameter names in order (to
// detect a model whose parameters changed).
func saveOptimizer(path string, opt torch.Optimizer, names []string) error {
	ts, scalars, err := opt.State()
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range ts {
			t.Free()
		}
	}()
	meta := map[string]string{"format": "pt"}
	for k, v := range scalars {
		meta["scalar."+k] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	nb, err := json.Marshal(names)
	if err != nil {
		return err
	}
	meta["param_names"] = string(nb)
	return torch.SaveSafetensors(path, ts, meta)
}

func loadOptimizer(path string, opt torch.Optimizer, names []string, dev torch.Device) error {
	ts, meta, err := torch.LoadSafetensors(path, dev)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range ts {
			t.Free()
		}
	}()
	if pn, ok := meta["param_names"]; ok {
		var saved []string
		if err := json.Unmarshal([]byte(pn), &saved); err != nil {
			return fmt.Errorf("train: %s: param_names: %w", path, err)
		}
		if strings.Join(saved, "\n") != strings.Join(names, "\n") {
			return fmt.Errorf("train: %s: the optimizer state is for a different parameter list (%d saved, %d now)", path, len(saved), len(names))
		}
	}
	scalars := map[string]float64{}
	for k, v := range meta {
		if name, ok := strings.CutPrefix(k, "scalar."); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("train: %s: scalar %q: %w", path, name, err)
			}
			scalars[name] = f
		}
	}
	if err := opt.LoadState(ts, scalars); err != nil {
		return fmt.Errorf("train: %s: %w", path, err)
	}
	return nil
}

// writeCheckpoint writes <root>/checkpoint-<step> as a unit: everything goes to a hidden
// temporary directory first, which is renamed into place (replacing an older checkpoint of the
// same step), so an interrupted save never leaves a partial checkpoint that resume would pick.
func writeCheckpoint(root string, step int, task Task, opt torch.Optimizer, names []string, st *trainerState) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	final := checkpointPath(root, step)
	// Leftovers of interrupted saves.
	if old, _ := filepath.Glob(filepath.Join(root, ".tmp-"+checkpointPrefix+"*")); len(old) > 0 {
		for _, o := range old {
			os.RemoveAll(o)
		}
	}
	tmp := filepath.Join(root, ".tmp-"+checkpointPrefix+strconv.Itoa(step))
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := task.Save(tmp); err != nil {
		return "", fmt.Errorf("train: checkpoint: save model: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	if err := saveOptimizer(filepath.Join(tmp, OptimizerFile), opt, names); err != nil {
		return "", fmt.Errorf("train: checkpoint: save optimizer: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return "", err
	}
	if err := torch.WriteFileAtomic(filepath.Join(tmp, StateFile), func(f *os.File) error {
		_, err := f.Write(append(b, '\n'))
		return err
	}); err != nil {
		return "", err
	}
	var aside string
	if _, err := os.Stat(final); err == nil {
		aside = filepath.Join(root, ".tmp-"+checkpointPrefix+strconv.Itoa(step)+".old")
		os.RemoveAll(aside)
		if err := os.Rename(final, aside); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if aside != "" {
			_ = os.Rename(aside, final)
		}
		return "", err
	}
	ok = true
	if aside != "" {
		os.RemoveAll(aside)
	}
	if d, err := os.Open(root); err == nil { // make the rename durable
		_ = d.Sync()
		d.Close()
	}
	return final, nil
}

// pruneCheckpoints removes all but the newest keep checkpoints under root (keep <= 0: none
// removed).
func pruneCheckpoints(root string, keep int) error {
	if keep <= 0 {
		return nil
	}
	steps, err := listCheckpoints(root)
	if err != nil {
		return err
	}
	for len(steps) > keep {
		if err := os.RemoveAll(checkpointPath(root, steps[0])); err != nil {
			return err
		}
		steps = steps[1:]
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
