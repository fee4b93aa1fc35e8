package main

// Shared by the commands of the recommender pipeline (demo, run, pretrain, finetune, evaluate,
// recommend, embed): the flags that map onto pipeline.Options, the SIGINT-cancelled context,
// the logger and the human-readable reports.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/eval"
	"github.com/hier-ai/hier/hier/pipeline"
	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/hier/train"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// Help categories of the pipeline flags.
const (
	catData     = "Data"
	catBackbone = "Backbone (pre-training)"
	catHeads    = "Heads (fine-tuning H1 sentiment, H2 behaviour)"
	catRec      = "Recommender"
	catOutput   = "Output"
)

// resultsJSONHelp documents the JSON object printed by demo, run and evaluate.
const resultsJSONHelp = "JSON (--json): exactly one object on stdout (logs and progress bars go to stderr):\n" +
	"  {\"schema_version\": 3, \"date\": RFC3339 UTC, \"seed\": N, \"versions\": {\"hier\", \"go\", \"libtorch\", \"platform\"},\n" +
	"   \"device\", \"threads\", \"precision\": \"fp32\"|\"bf16\", \"dataset\": NAME, \"data\": {\"path\", \"format\", \"files\": [{\"path\", \"bytes\", \"sha256\"}], \"synthetic\", \"max_users\"},\n" +
	"   \"protocol\": {\"split\": \"temporal_leave_one_out\", \"split_rule\", \"candidates\": \"full_catalogue\", \"catalogue_items\",\n" +
	"                \"masking\", \"ties\": \"pessimistic\", \"tie_rule\", \"k\": [5, 10, 20], \"metrics\", \"selection\", \"seeds\", \"bootstrap\", \"slices\"},\n" +
	"   \"counts\": {\"users\", \"items\", \"interactions\", \"skipped\", \"duplicates\"},\n" +
	"   \"split\": {\"train\", \"valid\", \"test\", \"train_only_users\"},\n" +
	"   \"sentiment\", \"sentiment_baseline\": {\"classes\": {\"negative\"|\"neutral\"|\"positive\": {\"precision\", \"recall\", \"f1\", \"support\"}},\n" +
	"                 \"accuracy\", \"macro_avg\": {...}, \"weighted_avg\": {...}}, \"sentiment_baseline_c\",\n" +
	"   \"behavior\": {\"model\"|\"global_mean\"|\"user_item_bias\": {\"mse\", \"rmse\", \"mae\", \"n\"}, \"bias_lambda_u\", \"bias_lambda_i\", \"alpha\"},\n" +
	"   \"ranking\", \"ranking_std\": {METHOD: {\"hr@5\", \"hr@10\", \"hr@20\", \"ndcg@5\", \"ndcg@10\", \"ndcg@20\", \"mrr\"}}  (mean, std over seeds)\n" +
	"      METHOD: popularity, mf, cf_h0, cf_h0_h1, cf_h0_h2, cf_h, sasrec, seq_h0, seq_h0_h1, seq_h0_h2, seq_h\n" +
	"   \"seeds\": [{\"seed\", \"ranking\": {METHOD: {...}}}],\n" +
	"   \"slices\": {METHOD: [{\"slice\", \"n\", \"hr@10\", \"ndcg@10\"}]},\n" +
	"   \"bootstrap\": {\"best_hierarchy\", \"best_id_only\", \"metric\", \"ratio\", \"mean_diff\", \"ci_low\", \"ci_high\", \"resamples\", ...},\n" +
	"   \"bootstrap_twins\": [{...}]  (the same comparison per family: its best hierarchy variant vs its ID-only twin, and the best hierarchy variant vs the other ID-only model),\n" +
	"   \"recommenders\": [{\"method\", \"family\", \"levels\", \"config\", \"candidates\", \"seeds\", \"valid_ndcg@10\"}],\n" +
	"   \"served_method\", \"skipped\", \"fusion\", \"multitask\", \"backbone\",\n" +
	"   \"timings_seconds\": {STAGE: seconds}, \"out_dir\": DIR, \"wall_seconds\": SECONDS}\n" +
	"This is also the content of DIR/metrics.json."

// runDirHelp documents the files of a run directory.
const runDirHelp = "The output directory holds config.json (the resolved options), index.json (user and item\n" +
	"ids, each user's history as item indices, the served method), vectors.safetensors (the levels\n" +
	"h0/h1/h2, the item text vectors, and every recommender's user and item vectors per seed),\n" +
	"items.json (item titles and other metadata from the data; for Amazon reviews, which have no\n" +
	"titles, each item's most helpful training review summary), recommendations.jsonl (the top\n" +
	"--top-k items per user from the served method, history excluded, with their metadata),\n" +
	"metrics.json, curves.json (training and validation loss per stage, recommender histories),\n" +
	"plots/training.png, plots/recommenders.png, plots/ranking.png and the Hugging Face checkpoints\n" +
	"checkpoints/{backbone,sentiment,behavior}/ (config.json, model.safetensors, tokenizer; the\n" +
	"behaviour head also hier_bias.json, its user+item bias model)."

// longRunHelp is appended to the description of the commands that train.
const longRunHelp = "Progress bars (one per training stage) and logs go to stderr; --no-progress (or --json)\n" +
	"hides the bars. The log level is info unless --log-level says otherwise (the stage logs are\n" +
	"the progress report). Ctrl-C stops training cleanly at the next step and exits with status 130."

// trainingLogLevel is the --log-level of the commands that train: info by default.
func trainingLogLevel() cli.Flag { return logLevelFlag("Global options", "info") }

// Flag names shared by several commands.
const (
	fData       = "data"
	fOut        = "out"
	fModel      = "model"
	fNoProgress = "no-progress"
)

// overwriteFlag lets run and demo replace an existing run directory (only once the new run has
// finished: the run is built aside and swapped in).
func overwriteFlag() cli.Flag {
	return &cli.BoolFlag{Name: "overwrite", Category: catOutput,
		Usage: "replace an existing run in --out (the new run is built aside and swapped in only when it succeeds)"}
}

func noProgressFlag() cli.Flag {
	return &cli.BoolFlag{Name: fNoProgress, Category: catOutput, Usage: "do not draw the training progress bars on stderr"}
}

func outFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: fOut, Aliases: []string{"o"}, Category: catOutput, TakesFile: true, Usage: usage}
}

// runFlag is --run, a run directory of 'hier run' / 'hier demo'.
func runFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "run", TakesFile: true, Usage: usage}
}

// configFlag reads a run configuration file (the schema of a run's config.json).
func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Category: catData, TakesFile: true,
		Usage: "read the options from `FILE`, a JSON file with the schema of a run's config.json (keys present replace the defaults; flags given on the command line override the file); --config runs/x/config.json reproduces run x"}
}

// dataFlags are --data, --strict and --max-users.
func dataFlags() []cli.Flag {
	return []cli.Flag{
		configFlag(),
		&cli.StringFlag{Name: fData, Aliases: []string{"d"}, Category: catData, TakesFile: true,
			Usage: "dataset: an Amazon reviews file (.json/.json.gz/.csv/.csv.zip), a MovieLens 100K directory (u.data), or a generic CSV/JSON-lines file (required, unless the --config file has data_path)"},
		&cli.BoolFlag{Name: "strict", Category: catData,
			Usage: "malformed records are errors (file:line: field ...) instead of being skipped and counted"},
		&cli.IntFlag{Name: "max-users", Category: catData, DefaultText: "all",
			Usage: "keep only the first N users of the file (a slice for quick runs)"},
		&cli.StringFlag{Name: "columns", Category: catData,
			Usage: "column mapping for a generic CSV/JSON-lines file, e.g. user=uid,item=sku,rating=stars,time=ts,text=body,summary=headline,title=product_name,numeric=clicks;dwell (user and item are required; title is the item's name, shown by recommend)"},
	}
}

// parseColumns reads --columns "key=column,..." into a data.Columns mapping.
func parseColumns(s string) (*data.Columns, error) {
	cols := &data.Columns{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return nil, fmt.Errorf("--columns: %q is not key=column", part)
		}
		switch k {
		case "user":
			cols.User = v
		case "item":
			cols.Item = v
		case "rating":
			cols.Rating = v
		case "time":
			cols.Time = v
		case "text":
			cols.Text = v
		case "summary":
			cols.Summary = v
		case "title":
			cols.Title = v
		case "numeric":
			for _, n := range strings.Split(v, ";") {
				if n = strings.TrimSpace(n); n != "" {
					cols.Numeric = append(cols.Numeric, n)
				}
			}
		default:
			return nil, fmt.Errorf("--columns: unknown key %q (want user, item, rating, time, text, summary, title, numeric)", k)
		}
	}
	if cols.User == "" || cols.Item == "" {
		return nil, fmt.Errorf("--columns: user= and item= are required")
	}
	return cols, nil
}

func behaviorColumnFlag() cli.Flag {
	return &cli.StringFlag{Name: "behavior-column", Value: "rating", Category: catHeads,
		Usage: "numeric target of the H2 behaviour head: rating, or an extra numeric column such as helpful_votes"}
}

// backboneFlags size and budget the GPT-2 pre-trained from scratch.
func backboneFlags() []cli.Flag {
	d := pipeline.DefaultOptions()
	return []cli.Flag{
		&cli.IntFlag{Name: "layers", Value: d.Backbone.Layers, Category: catBackbone, Usage: "n_layer of the scratch GPT-2"},
		&cli.IntFlag{Name: "heads", Value: d.Backbone.Heads, Category: catBackbone, Usage: "n_head of the scratch GPT-2 (must divide --embd)"},
		&cli.IntFlag{Name: "embd", Value: d.Backbone.Embd, Category: catBackbone, Usage: "n_embd (hidden width) of the scratch GPT-2"},
		&cli.IntFlag{Name: "positions", Value: d.Backbone.Positions, Category: catBackbone, Usage: "n_positions (context length) of the scratch GPT-2"},
		&cli.IntFlag{Name: "epochs-pretrain", Value: d.Pretrain.Epochs, Category: catBackbone, Usage: "causal-LM pre-training epochs"},
		&cli.IntFlag{Name: "max-steps-pretrain", Category: catBackbone, DefaultText: "no cap", Usage: "cap on pre-training optimizer steps"},
	}
}

// precisionFlag is --precision of the commands that train (run, demo, pretrain, finetune).
func precisionFlag() cli.Flag {
	return &cli.StringFlag{Name: "precision", Value: pipeline.DefaultOptions().Precision, Category: catHeads,
		Usage: "precision of the training stages: fp32, or bf16 (autocast mixed precision: bfloat16 matmuls, float32 weights, " +
			"gradients and optimizer; fast on CUDA and on CPUs with AVX512-BF16 or AMX)"}
}

// headFlags budget the fine-tuning of the H1 and H2 heads.
func headFlags() []cli.Flag {
	d := pipeline.DefaultOptions()
	return []cli.Flag{
		&cli.IntFlag{Name: "epochs-finetune", Value: d.Sentiment.Epochs, Category: catHeads, Usage: "fine-tuning epochs of each head (early stopping on the validation split)"},
		&cli.IntFlag{Name: "max-steps-finetune", Category: catHeads, DefaultText: "no cap", Usage: "cap on fine-tuning optimizer steps per head"},
		&cli.Float64Flag{Name: "sentiment-weight", Value: d.SentimentWeight, Category: catHeads, Usage: "multi-task loss weight of the sentiment cross-entropy"},
		&cli.Float64Flag{Name: "behavior-weight", Value: d.BehaviorWeight, Category: catHeads, Usage: "multi-task loss weight of the behaviour MSE"},
	}
}

// maxLengthFlags are --max-length, the tokens per training example (usage says of which
// stages and the limit), and its old spelling --max-len.
func maxLengthFlags(defaultText, usage string) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "max-length", Category: catHeads, DefaultText: defaultText, Usage: usage},
		oldSpelling("max-len"),
	}
}

// maxLengthUsage is the usage of --max-length for the commands that may pre-train from scratch.
const maxLengthUsage = "tokens per training example, in pre-training and fine-tuning (at most n_positions: --positions, or that of the --model checkpoint)"

// recommenderFlags configure the fused recommender, the baselines and the written top-k.
func recommenderFlags() []cli.Flag {
	d := pipeline.DefaultOptions()
	return []cli.Flag{
		&cli.StringFlag{Name: "fusion", Value: string(d.Fusion), Category: catRec,
			Usage: "how H0, H1 and H2 are fused into H: concat, weighted (learned weighted sum) or gate (per-user softmax gate)"},
		&cli.BoolFlag{Name: "multitask", Category: catHeads,
			Usage: "train the H1 and H2 heads jointly on one shared backbone (loss sentiment-weight*CE + behavior-weight*MSE)"},
		&cli.StringFlag{Name: "families", Value: strings.Join(d.Recommenders.Families, ","), Category: catRec,
			Usage: "recommender families: cf (mf and the hybrid cf_* variants), seq (sasrec and the GPT-2 sequential seq_* variants), or both"},
		&cli.IntFlag{Name: "seeds", Value: d.Recommenders.Seeds, Category: catRec, Usage: "seeds each chosen recommender configuration is trained with (mean and std reported)"},
		&cli.IntFlag{Name: "rec-epochs", Category: catRec, DefaultText: "per candidate (100)", Usage: "maximum epochs of every recommender candidate (early stopping on validation NDCG@10)"},
		&cli.IntFlag{Name: "rec-dim", Category: catRec, DefaultText: "per candidate (64)", Usage: "width D of every recommender candidate's user and item vectors"},
		&cli.IntFlag{Name: "user-max-tokens", Value: d.UserMaxTokens, Category: catRec, Usage: "token budget of a user's H0 text (and of an item's text)"},
		&cli.IntFlag{Name: "top-k", Value: d.TopK, Category: catRec, Usage: "recommendations written per user to recommendations.jsonl"},
	}
}

// checkIntFlags checks that the command's int flags that were given are >= 1 (>= 0 for
// those in zeroOK).
func checkIntFlags(c *cli.Context, zeroOK ...string) error {
	for _, f := range c.Command.Flags {
		if _, ok := f.(*cli.IntFlag); !ok {
			continue
		}
		name := f.Names()[0]
		if name == flagThreads || !c.IsSet(name) {
			continue
		}
		v, lo := c.Int(name), 1
		if slices.Contains(zeroOK, name) {
			lo = 0
		}
		if v < lo {
			return usageErrorf("%s: --%s must be >= %d, got %d", c.Command.Name, name, lo, v)
		}
	}
	return nil
}

// applyFlags overrides o with the pipeline flags that were given on the command line (a flag
// the command does not define is never set). It validates the values.
func applyFlags(c *cli.Context, env *Env, o *pipeline.Options) error {
	if err := checkIntFlags(c, "max-users", "max-steps-pretrain", "max-steps-finetune"); err != nil {
		return err
	}
	if c.IsSet("config") {
		read, err := pipeline.ReadOptions(c.String("config"), *o)
		if err != nil {
			return err
		}
		*o = read
	}
	// Global flags override a config file only when given; without a file they always apply.
	given := func(name string) bool { return !c.IsSet("config") || flagCtx(c, name).IsSet(name) }
	if given(flagSeed) {
		o.Seed = env.Seed
	}
	if given(flagDevice) {
		o.Device = env.DeviceFlag
	}
	if given(flagThreads) {
		o.Threads = env.Threads
	}
	// Bars only on a terminal: redirected to a file they would be one long line of updates.
	o.Progress = !env.JSON && !c.Bool(fNoProgress) && term.IsTerminal(int(os.Stderr.Fd()))
	if c.Bool("overwrite") {
		o.Overwrite = true
	}
	set := c.IsSet
	if set(fData) {
		p, err := dataPath(c.String(fData))
		if err != nil {
			return err
		}
		o.DataPath = p
	}
	if set(fModel) {
		p, err := modelPath(c.Command.Name, c.String(fModel))
		if err != nil {
			return err
		}
		o.ModelDir = p
	}
	if set("strict") {
		o.Strict = c.Bool("strict")
	}
	if set("max-users") {
		o.MaxUsers = c.Int("max-users")
	}
	if set("columns") {
		cols, err := parseColumns(c.String("columns"))
		if err != nil {
			return usageErrorf("%s: %v", c.Command.Name, err)
		}
		o.Columns = cols
	}
	if set("behavior-column") {
		o.BehaviorColumn = strings.TrimSpace(c.String("behavior-column"))
		if o.BehaviorColumn == "" {
			return usageErrorf("%s: --behavior-column is empty", c.Command.Name)
		}
	}
	if set("continue-pretraining") {
		o.ContinuePretraining = c.Bool("continue-pretraining")
	}
	if set("precision") {
		o.Precision = strings.TrimSpace(c.String("precision"))
		if _, err := train.ParsePrecision(o.Precision); err != nil {
			return usageErrorf("%s: --precision: %v", c.Command.Name, err)
		}
	}
	if set("layers") {
		o.Backbone.Layers = c.Int("layers")
	}
	if set("heads") {
		o.Backbone.Heads = c.Int("heads")
	}
	if set("embd") {
		o.Backbone.Embd = c.Int("embd")
	}
	if set("positions") {
		o.Backbone.Positions = c.Int("positions")
	}
	if b := o.Backbone; o.ModelDir == "" && b.Heads > 0 && b.Embd%b.Heads != 0 {
		return usageErrorf("%s: --embd %d must be divisible by --heads %d", c.Command.Name, b.Embd, b.Heads)
	}
	if set("epochs-pretrain") {
		o.Pretrain.Epochs = c.Int("epochs-pretrain")
	}
	if set("max-steps-pretrain") {
		o.Pretrain.MaxSteps = c.Int("max-steps-pretrain")
	}
	if set("epochs-finetune") {
		o.Sentiment.Epochs = c.Int("epochs-finetune")
		o.Behavior.Epochs = c.Int("epochs-finetune")
	}
	if set("max-steps-finetune") {
		o.Sentiment.MaxSteps = c.Int("max-steps-finetune")
		o.Behavior.MaxSteps = c.Int("max-steps-finetune")
	}
	if set("max-length") {
		n := c.Int("max-length")
		if o.ModelDir == "" && n > o.Backbone.Positions {
			return usageErrorf("%s: --max-length %d is more than --positions %d", c.Command.Name, n, o.Backbone.Positions)
		}
		o.Pretrain.MaxLen, o.Sentiment.MaxLen, o.Behavior.MaxLen = n, n, n
	}
	for _, w := range []string{"sentiment-weight", "behavior-weight"} {
		if set(w) && c.Float64(w) < 0 {
			return usageErrorf("%s: --%s must be >= 0, got %g", c.Command.Name, w, c.Float64(w))
		}
	}
	if set("sentiment-weight") {
		o.SentimentWeight = c.Float64("sentiment-weight")
	}
	if set("behavior-weight") {
		o.BehaviorWeight = c.Float64("behavior-weight")
	}
	if set("multitask") {
		o.Multitask = c.Bool("multitask")
	}
	if set("fusion") {
		f, err := pipeline.ParseFusion(c.String("fusion"))
		if err != nil {
			return usageErrorf("%s: --fusion: %v", c.Command.Name, err)
		}
		o.Fusion = f
	}
	if set("families") {
		var fams []string
		for _, f := range strings.Split(c.String("families"), ",") {
			f = strings.ToLower(strings.TrimSpace(f))
			if f != "cf" && f != "seq" {
				return usageErrorf("%s: --families: %q is not cf or seq", c.Command.Name, f)
			}
			fams = append(fams, f)
		}
		o.Recommenders.Families = fams
	}
	if set("seeds") {
		o.Recommenders.Seeds = c.Int("seeds")
	}
	for _, g := range []struct {
		family string
		cands  *[]rec.Config
	}{{rec.FamilyCF, &o.Recommenders.CF}, {rec.FamilySeq, &o.Recommenders.Seq}} {
		cands := slices.Clone(*g.cands)
		for k := range cands {
			if set("rec-epochs") {
				cands[k].MaxEpochs = c.Int("rec-epochs")
			}
			if set("rec-dim") {
				cands[k].Dim = c.Int("rec-dim")
				if heads := cmp.Or(cands[k].Heads, rec.DefaultConfig().Heads); g.family == rec.FamilySeq && cands[k].Dim%heads != 0 {
					return usageErrorf("%s: --rec-dim %d must be divisible by the sequential model's n_head %d", c.Command.Name, cands[k].Dim, heads)
				}
			}
		}
		*g.cands = cands
	}
	if set("user-max-tokens") {
		o.UserMaxTokens = c.Int("user-max-tokens")
		o.ItemMaxTokens = c.Int("user-max-tokens")
	}
	if set("top-k") {
		o.TopK = c.Int("top-k")
	}
	return nil
}

// dataPath checks that a dataset path exists and returns it absolute (config.json records it,
// so that 'hier evaluate' finds the data from any working directory).
func dataPath(p string) (string, error) {
	if strings.TrimSpace(p) == "" {
		return "", usageErrorf("--data is empty")
	}
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("dataset %s does not exist", p)
		}
		return "", fmt.Errorf("dataset: %w", err)
	}
	return filepath.Abs(p)
}

// modelPath checks a checkpoint directory and returns it absolute.
func modelPath(cmd, p string) (string, error) {
	if err := checkModelDir(cmd, p); err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// setupPipeline is the common start of the pipeline commands: it checks the required flags
// (--out always), builds the options from base and the flags, and prepares --out. It returns the
// options, the logger and a cleanup that removes an --out it created if the command fails.
func setupPipeline(c *cli.Context, env *Env, base pipeline.Options, required ...string) (pipeline.Options, *slog.Logger, func(), error) {
	for _, name := range required {
		if name == fData && c.IsSet("config") {
			continue // the file may name the data; checked below
		}
		if _, err := requireString(c, name); err != nil {
			return base, nil, nil, err
		}
	}
	out, err := requireString(c, fOut)
	if err != nil {
		return base, nil, nil, err
	}
	log := env.Log
	opts := base
	if err := applyFlags(c, env, &opts); err != nil {
		return base, nil, nil, err
	}
	if slices.Contains(required, fData) && opts.DataPath == "" && opts.Synthetic == nil {
		return base, nil, nil, usageErrorf("%s: --data is required (or a --config file with data_path)", c.Command.Name)
	}
	if opts.ContinuePretraining && opts.ModelDir == "" {
		return base, nil, nil, usageErrorf("%s: --continue-pretraining needs --model", c.Command.Name)
	}
	opts.OutDir = out
	if err := validateOptions(c, opts); err != nil {
		return base, nil, nil, err
	}
	cleanup, err := prepareOutDir(log, out)
	if err != nil {
		return base, nil, nil, err
	}
	return opts, log, cleanup, nil
}

// validateOptions checks the options as the run will (pipeline.Options.Validate), before the
// output directory is made, the dataset loaded or anything trained: a bad candidate in a
// --config file fails now, not after the backbone and the heads have trained. A mistake in a
// --config file exits with status 1, one that only the flags made with status 2.
func validateOptions(c *cli.Context, o pipeline.Options) error {
	err := o.Validate()
	switch {
	case err == nil:
		return nil
	case c.IsSet("config"):
		return fmt.Errorf("%s: --config %s: %w", c.Command.Name, c.String("config"), err)
	}
	return usageErrorf("%s: %v", c.Command.Name, err)
}

// prepareOutDir creates dir (and its parents); it refuses a path that is a file. The returned
// cleanup removes the directory again if this call created it and it is still empty (a run
// that failed early leaves nothing behind).
func prepareOutDir(log *slog.Logger, dir string) (cleanup func(), err error) {
	cleanup = func() {}
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return cleanup, fmt.Errorf("output path %s exists and is not a directory", dir)
	case err == nil:
		return cleanup, nil // whether it may be replaced is the pipeline's decision (pipeline.IsRunDir)
	case !errors.Is(err, os.ErrNotExist):
		return cleanup, fmt.Errorf("output directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cleanup, fmt.Errorf("output directory: %w", err)
	}
	return func() { removeIfEmpty(dir) }, nil
}

// removeIfEmpty removes dir if it holds nothing but empty directories (the pipeline creates
// DIR/plots first).
func removeIfEmpty(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			return
		}
		sub := filepath.Join(dir, e.Name())
		if inner, err := os.ReadDir(sub); err != nil || len(inner) > 0 {
			return
		}
	}
	for _, e := range entries {
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
	_ = os.Remove(dir)
}

// interruptible returns a context cancelled on SIGINT or SIGTERM, and the function that
// releases it. After the first signal the default behaviour is restored, so a second Ctrl-C
// kills the process at once.
func interruptible(c *cli.Context, log *slog.Logger) (context.Context, func()) {
	parent := c.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancelCause(parent)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sig:
			signal.Stop(sig)
			log.Warn("interrupted: stopping at the next training step (Ctrl-C again to kill)", "signal", s.String())
			cancel(fmt.Errorf("interrupted by %v", s))
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sig)
			close(done)
			cancel(nil)
		})
	}
}

// exitInterrupted is the exit status after Ctrl-C (128 + SIGINT).
const exitInterrupted = 130

// pipelineErr turns an error of a cancelled run into a one-line "interrupted" error with exit
// status 130.
func pipelineErr(ctx context.Context, cmd string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return cli.Exit(fmt.Sprintf("%s: interrupted: %v", cmd, err), exitInterrupted)
	}
	if errors.Is(err, data.ErrNeedsColumns) {
		return fmt.Errorf("%w: --columns user=COLUMN,item=COLUMN[,rating=...,time=...,text=...]", err)
	}
	return err
}

// printResults prints a run's results: the table, or one JSON object with --json.
func printResults(env *Env, res *pipeline.Results) error {
	if env.JSON {
		return writeJSON(env.Out, res)
	}
	_, err := fmt.Fprint(env.Out, res.Table())
	return err
}

// behaviorTable formats the behaviour errors like Results.Table.
func behaviorTable(b *pipeline.Behavior) string {
	var s strings.Builder
	fmt.Fprintf(&s, "  %-16s %8s %8s %8s %6s\n", "method", "MSE", "RMSE", "MAE", "n")
	for _, row := range []struct {
		n string
		m eval.Regression
	}{{"h2 model", b.Model}, {"global mean", b.GlobalMean}, {"user+item bias", b.UserItemBias}} {
		fmt.Fprintf(&s, "  %-16s %8.4f %8.4f %8.4f %6d\n", row.n, row.m.MSE, row.m.RMSE, row.m.MAE, row.m.N)
	}
	return s.String()
}

// stageReportText is the human-readable form of a pretrain / finetune report.
func stageReportText(rep *pipeline.StageReport) string {
	var s strings.Builder
	c := rep.Counts
	fmt.Fprintf(&s, "stage %s: %d users, %d items, %d interactions (%d skipped, %d duplicates)\n",
		rep.Stage, c.Users, c.Items, c.Interactions, c.Skipped, c.Duplicates)
	if r, ok := rep.Sentiment.(eval.Report); ok {
		fmt.Fprintf(&s, "\nsentiment (H1 head, test reviews):\n%s", r.String())
	} else if r, ok := rep.Sentiment.(*eval.Report); ok && r != nil {
		fmt.Fprintf(&s, "\nsentiment (H1 head, test reviews):\n%s", r.String())
	}
	if rep.Behavior != nil {
		fmt.Fprintf(&s, "\nbehavior (H2 head, held-out targets):\n%s", behaviorTable(rep.Behavior))
	}
	s.WriteString("\ncheckpoints:\n")
	names := make([]string, 0, len(rep.Dirs))
	for k := range rep.Dirs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(&s, "  %-10s %s\n", k, rep.Dirs[k])
	}
	stages := make([]string, 0, len(rep.Timings))
	for k := range rep.Timings {
		stages = append(stages, k)
	}
	slices.Sort(stages)
	var parts []string
	for _, k := range stages {
		parts = append(parts, fmt.Sprintf("%s %.1f s", k, rep.Timings[k]))
	}
	fmt.Fprintf(&s, "\ntime: %.1f s", rep.WallSeconds)
	if len(parts) > 0 {
		fmt.Fprintf(&s, " (%s)", strings.Join(parts, ", "))
	}
	s.WriteByte('\n')
	return s.String()
}

// printStageReport prints a pretrain / finetune report (human or one JSON object).
func printStageReport(env *Env, rep *pipeline.StageReport) error {
	if env.JSON {
		return writeJSON(env.Out, rep)
	}
	_, err := fmt.Fprint(env.Out, stageReportText(rep))
	return err
}

// requireRunDir checks that dir is a directory; the pipeline names the missing run files.
func requireRunDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("run directory %s does not exist", dir)
	}
	if err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("run path %s is not a directory (want the --out directory of 'hier run' or 'hier demo')", dir)
	}
	for _, f := range []string{pipeline.ConfigFileName, pipeline.IndexFileName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("%s is not a run directory: it has no %s (want the --out directory of 'hier run' or 'hier demo')", dir, f)
		}
	}
	return nil
}
