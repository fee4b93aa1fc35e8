package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/hier/report"
	"github.com/hier-ai/hier/hier/train"
)

// CurvesFileName is the run directory's file of training curves (what plots/ draws).
const CurvesFileName = "curves.json"

// curvesSchemaVersion is Curves.SchemaVersion.
const curvesSchemaVersion = 1

// Point is a loss at an optimizer step.
type Point struct {
	Step int     `json:"step"`
	Loss float64 `json:"loss"`
}

// StageCurve is one training stage's loss curves.
type StageCurve struct {
	// Loss says what the loss is, e.g. "cross-entropy (nats per token)".
	Loss string `json:"loss"`
	// Train is the training loss of every optimizer step, step 1 first.
	Train []float64 `json:"train_loss"`
	// Valid is the same loss on the validation set: before training (step 0), about
	// every quarter of the stage, and after every epoch.
	Valid []Point `json:"valid_loss"`
}

// RecCurve is one recommender's training history: its chosen configuration with the first seed.
type RecCurve struct {
	Method    string          `json:"method"`
	Family    string          `json:"family"`
	Loss      string          `json:"loss"` // rec.Loss of the chosen configuration
	Seed      uint64          `json:"seed"`
	BestEpoch int             `json:"best_epoch"` // the epoch whose parameters were kept
	Epochs    []rec.EpochStat `json:"epochs"`     // training loss and validation NDCG@10 per epoch
}

// Curves is the content of curves.json.
type Curves struct {
	SchemaVersion int `json:"schema_version"`
	// Stages are keyed by stage: "backbone" (absent when a pretrained backbone was used as is),
	// "sentiment", "behavior", or "multitask" instead of both heads.
	Stages       map[string]StageCurve `json:"stages"`
	Recommenders []RecCurve            `json:"recommenders"`
}

// Stage keys of Curves.Stages, in plot order.
var curveStages = []string{"backbone", "sentiment", "behavior", "multitask"}

// validPoints is about how many validation losses fitWithCurve records during a stage besides
// the one before training and those after every epoch.
const validPoints = 4

// fitWithCurve is train.Fit recording the stage's curves: the training loss of every step and
// the validation loss before training, about every 1/validPoints of the stage (an extra forward
// pass over the validation set each time, in evaluation mode: training itself is unchanged) and
// after every epoch (the trainer's own evaluation).
func fitWithCurve(e *env, task train.Task, trainSet, validSet train.Dataset, cfg train.Config, loss string) (*train.Result, StageCurve, error) {
	c := StageCurve{Loss: loss}
	var evalErr error
	var extra time.Duration // time of the validation passes fitWithCurve adds
	if len(validSet) > 0 {
		if dc, ok := task.(train.DataChecker); ok { // as Fit would, before the first evaluation
			if err := dc.CheckData(validSet); err != nil {
				return nil, c, fmt.Errorf("%w (validation set)", err)
			}
		}
		t0 := time.Now()
		m, err := train.Evaluate(e.ctx, task, validSet, cfg)
		if err != nil {
			return nil, c, err
		}
		extra += time.Since(t0)
		c.Valid = append(c.Valid, Point{0, m.Values["loss"]})
		perEpoch := (len(trainSet) + cfg.BatchSize - 1) / max(cfg.BatchSize, 1)
		total := perEpoch * max(cfg.Epochs, 1)
		if cfg.MaxSteps > 0 {
			total = min(total, cfg.MaxSteps)
		}
		every := max(1, (total+validPoints-1)/validPoints)
		cfg.OnStep = func(s train.StepInfo) {
			if evalErr != nil || s.Step%every != 0 || (perEpoch > 0 && s.Step%perEpoch == 0) || s.Step >= total {
				return // the trainer evaluates at the end of every epoch
			}
			t0 := time.Now()
			m, err := train.Evaluate(e.ctx, task, validSet, cfg)
			if err != nil {
				evalErr = err
				return
			}
			extra += time.Since(t0)
			c.Valid = append(c.Valid, Point{s.Step, m.Values["loss"]})
		}
	}
	res, err := train.Fit(e.ctx, task, trainSet, validSet, cfg)
	if err == nil {
		err = evalErr
	}
	if err != nil {
		return nil, c, err
	}
	c.Train = res.StepLosses
	for _, ep := range res.Epochs {
		if ep.Metrics != nil {
			c.Valid = append(c.Valid, Point{ep.Steps, ep.Metrics.Values["loss"]})
		}
	}
	sort.SliceStable(c.Valid, func(a, b int) bool { return c.Valid[a].Step < c.Valid[b].Step })
	if extra > 0 {
		e.log.Info("validation curve", "points", len(c.Valid), "extra_passes_seconds", fmt.Sprintf("%.1f", extra.Seconds()),
			"stage_seconds", fmt.Sprintf("%.1f", res.WallSeconds))
	}
	return res, c, nil
}

// recCurves are the recommenders' training histories (first seed of each chosen configuration).
func recCurves(ro *recOut) []RecCurve {
	var out []RecCurve
	for _, r := range ro.results {
		if len(r.Seeds) == 0 || len(r.Seeds[0].History) == 0 {
			continue
		}
		s := r.Seeds[0]
		out = append(out, RecCurve{Method: r.Variant.Name, Family: r.Variant.Family, Loss: string(r.Config.Loss), Seed: s.Seed,
			BestEpoch: s.BestEpoch, Epochs: s.History})
	}
	return out
}

// methodLabel is a method's name as the README's tables write it.
func methodLabel(m string) string {
	switch m {
	case "mf", "sasrec":
		return m + " (ID only)"
	}
	return m
}

// stageTitles are the training figure's panel titles.
var stageTitles = map[string]string{
	"backbone":  "Backbone: causal-LM pre-training",
	"sentiment": "H1 sentiment head: fine-tuning",
	"behavior":  "H2 behaviour head: fine-tuning",
	"multitask": "H1 + H2 heads: multi-task fine-tuning",
}

// Legend names of the training figure.
const (
	legendTrain = "training loss (per step)"
	legendValid = "validation loss"
)

// trainingFigure is plots/training.png: one panel per training stage with its training and
// validation loss over optimizer steps. ok is false when no stage trained.
func trainingFigure(c *Curves) (fig report.Figure, ok bool) {
	fig = report.Figure{Title: "Training and validation loss per stage", Cols: 1}
	for _, k := range curveStages {
		sc, has := c.Stages[k]
		if !has || len(sc.Train) == 0 {
			continue
		}
		p := report.Panel{Title: stageTitles[k], XLabel: "optimizer step", YLabel: sc.Loss, IntegerX: true,
			Series: []report.Series{steps(legendTrain, sc.Train)}}
		if len(sc.Valid) > 0 {
			v := report.Series{Name: legendValid}
			for _, pt := range sc.Valid {
				v.X, v.Y = append(v.X, float64(pt.Step)), append(v.Y, pt.Loss)
			}
			p.Series = append(p.Series, v)
		}
		fig.Panels = append(fig.Panels, p)
	}
	return fig, len(fig.Panels) > 0
}

// familyTitles name the recommender families in the recommenders figure.
var familyTitles = map[string]string{rec.FamilyCF: "Collaborative filtering", rec.FamilySeq: "Sequential (GPT-2 blocks)"}

// recommenderFigure is plots/recommenders.png: per family, a row with the validation NDCG@10 per
// epoch of every method and its training loss per epoch (one panel per loss function, since
// their scales differ), first seed of each chosen configuration. ok is false without histories.
func recommenderFigure(c *Curves) (fig report.Figure, ok bool) {
	type row struct{ panels []report.Panel }
	var rows []row
	cols := 0
	for _, fam := range []string{rec.FamilyCF, rec.FamilySeq} {
		nd := report.Panel{Title: familyTitles[fam] + ": validation NDCG@10", XLabel: "epoch", YLabel: "NDCG@10", IntegerX: true}
		byLoss := map[string]*report.Panel{}
		var losses []string
		for _, rc := range c.Recommenders {
			if rc.Family != fam {
				continue
			}
			s, l := report.Series{Name: methodLabel(rc.Method)}, report.Series{Name: methodLabel(rc.Method)}
			for _, ep := range rc.Epochs {
				s.X, s.Y = append(s.X, float64(ep.Epoch)), append(s.Y, ep.ValidNDCG)
				l.X, l.Y = append(l.X, float64(ep.Epoch)), append(l.Y, ep.Loss)
			}
			nd.Series = append(nd.Series, s)
			p := byLoss[rc.Loss]
			if p == nil {
				p = &report.Panel{Title: fmt.Sprintf("%s: training loss (%s)", familyTitles[fam], lossName(rc.Loss)), XLabel: "epoch",
					YLabel: "mean training loss", IntegerX: true}
				byLoss[rc.Loss] = p
				losses = append(losses, rc.Loss)
			}
			p.Series = append(p.Series, l)
		}
		if len(nd.Series) == 0 {
			continue
		}
		r := row{panels: []report.Panel{nd}}
		for _, l := range losses {
			r.panels = append(r.panels, *byLoss[l])
		}
		rows = append(rows, r)
		cols = max(cols, len(r.panels))
	}
	fig = report.Figure{Title: "Recommenders: chosen configuration, first seed", Cols: cols}
	for _, r := range rows {
		fig.Panels = append(fig.Panels, r.panels...)
		for k := len(r.panels); k < cols; k++ {
			fig.Panels = append(fig.Panels, report.Panel{}) // a blank tile keeps the families in rows
		}
	}
	return fig, len(rows) > 0
}

// lossName spells out a recommender loss for a panel title.
func lossName(l string) string {
	switch rec.Loss(l) {
	case rec.LossBPR:
		return "BPR"
	case rec.LossSoftmax:
		return "full softmax cross-entropy"
	case rec.LossSampledSoftmax:
		return "sampled softmax with logQ correction"
	}
	return l
}

// Plot file names under plots/.
const (
	PlotTraining     = "training.png"
	PlotRecommenders = "recommenders.png"
	PlotRanking      = "ranking.png"
)

// plots writes plots/training.png (loss curves of every training stage), plots/recommenders.png
// (the recommenders' validation NDCG@10 and training loss per epoch) and plots/ranking.png (the
// test ranking as bars), all from c and res.
func plots(dir string, res *Results, c *Curves) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if fig, ok := trainingFigure(c); ok {
		if err := report.WriteFigure(filepath.Join(dir, PlotTraining), fig); err != nil {
			return err
		}
	}
	if fig, ok := recommenderFigure(c); ok {
		if err := report.WriteFigure(filepath.Join(dir, PlotRecommenders), fig); err != nil {
			return err
		}
	}
	methods := methodOrder(res)
	labels := make([]string, len(methods))
	values := map[string]map[string]float64{}
	for i, m := range methods {
		labels[i] = methodLabel(m)
		values[labels[i]] = res.Ranking[m]
	}
	title := fmt.Sprintf("Test ranking (leave-one-out, full catalogue, mean over %s)", seedCount(len(res.Seeds)))
	return report.MetricsBars(filepath.Join(dir, PlotRanking), title, labels, []string{"hr@10", "ndcg@10", "mrr"}, values)
}

// steps is a series over 1, 2, … .
func steps(name string, ys []float64) report.Series {
	xs := make([]float64, len(ys))
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	return report.Series{Name: name, X: xs, Y: ys}
}

// sentimentLoss and behaviorLoss say what the heads' losses are (the y axes of the plots).
func sentimentLoss(o *Options) string {
	if o.BalanceSentiment {
		return "cross-entropy (class-weighted)"
	}
	return "cross-entropy"
}

func behaviorLoss(o *Options) string {
	return "MSE of the " + strings.ReplaceAll(o.BehaviorColumn, "_", " ") + " residual"
}
