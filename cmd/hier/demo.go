package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hier-ai/hier/hier/pipeline"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdDemo()) }

func cmdDemo() *cli.Command {
	flags := []cli.Flag{
		outFlag("output directory (default: a new directory runs/demo-<timestamp> under the working directory)"),
		overwriteFlag(),
		noProgressFlag(),
		trainingLogLevel(),
		&cli.IntFlag{Name: "max-users", Category: catData, DefaultText: "all 300",
			Usage: "keep only the first N synthetic users (a slice for a quicker demo)"},
		configFlag(),
	}
	flags = append(flags, backboneFlags()...)
	flags = append(flags, headFlags()...)
	flags = append(flags, precisionFlag())
	flags = append(flags, maxLengthFlags("32 in pre-training, 48 in fine-tuning", "tokens per training example, in pre-training and fine-tuning (at most --positions)")...)
	flags = append(flags, recommenderFlags()...)
	return &cli.Command{
		Name:      "demo",
		Usage:     "run the whole recommender pipeline on the built-in seeded synthetic shop (under two minutes on 2 idle CPU cores)",
		UsageText: "hier demo [--out DIR] [--fusion concat|weighted|gate] [--multitask] [--json]",
		Description: "Generates the seeded synthetic shop (300 users, 120 items in 6 categories, reviews with\n" +
			"ratings; data.DefaultSyntheticConfig) and runs the pipeline of 'hier run' on it with the demo\n" +
			"budget (pipeline.DemoOptions): a small GPT-2 pre-trained from scratch on the training text,\n" +
			"the H1 sentiment and H2 behaviour heads, the interest levels H0/H1/H2, and the recommenders\n" +
			"that read them (hybrid CF cf_*, GPT-2 sequential seq_*) beside their ID-only twins (mf,\n" +
			"sasrec) and popularity, on a per-user temporal leave-one-out split. --seed seeds training\n" +
			"(the shop itself is always the same). The other flags override the demo budget like in\n" +
			"'hier run'.\n\n" +
			"Output: the results table (sentiment classification report, rating errors, ranking metrics\n" +
			"HR@5/10/20, NDCG@5/10/20, MRR per method) and the output directory.\n" +
			runDirHelp + "\n\n" + resultsJSONHelp + "\n\n" + longRunHelp,
		Flags:  flags,
		Action: runDemo,
	}
}

// defaultDemoDir creates a new directory runs/demo-<timestamp> (with a random suffix when that
// exists already).
func defaultDemoDir() (string, error) {
	if err := os.MkdirAll("runs", 0o755); err != nil {
		return "", fmt.Errorf("output directory: %w", err)
	}
	name := filepath.Join("runs", "demo-"+time.Now().Format("20060102-150405"))
	if err := os.Mkdir(name, 0o755); err == nil {
		return name, nil
	} else if !os.IsExist(err) {
		return "", fmt.Errorf("output directory: %w", err)
	}
	return os.MkdirTemp("runs", filepath.Base(name)+"-")
}

func runDemo(c *cli.Context) error {
	env := envOf(c)
	log := env.Log
	opts := pipeline.DemoOptions()
	if err := applyFlags(c, env, &opts); err != nil {
		return err
	}
	check := opts
	check.OutDir = cmp.Or(c.String(fOut), "runs") // the directory itself is chosen below
	if err := validateOptions(c, check); err != nil {
		return err
	}
	var cleanup func()
	var err error
	if c.IsSet(fOut) {
		opts.OutDir = c.String(fOut)
		if opts.OutDir == "" {
			return usageErrorf("demo: --out is empty")
		}
		if cleanup, err = prepareOutDir(log, opts.OutDir); err != nil {
			return err
		}
	} else {
		dir, err := defaultDemoDir()
		if err != nil {
			return err
		}
		opts.OutDir, cleanup = dir, func() { removeIfEmpty(dir) }
	}
	if !env.JSON {
		fmt.Fprintf(env.Err, "hier demo: writing to %s\n", opts.OutDir)
	}
	ctx, stop := interruptible(c, log)
	defer stop()
	res, err := pipeline.Run(ctx, opts, log)
	if err != nil {
		cleanup()
		return pipelineErr(ctx, "demo", err)
	}
	return printResults(env, res)
}
