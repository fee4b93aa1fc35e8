package main

import (
	"github.com/hier-ai/hier/hier/pipeline"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdEvaluate()) }

func cmdEvaluate() *cli.Command {
	return &cli.Command{
		Name:      "evaluate",
		Usage:     "recompute a finished run's metrics from its saved checkpoints and vectors",
		UsageText: "hier evaluate --run DIR [--json]",
		Description: "Rebuilds the dataset and the leave-one-out split from DIR/config.json (the dataset must\n" +
			"still be at the path recorded there), re-evaluates the saved sentiment and behaviour\n" +
			"checkpoints on the test split, re-ranks the full catalogue with every recommender's saved\n" +
			"vectors (h0, h0_h1, h0_h2, h: these reproduce the run's numbers exactly), and refits the\n" +
			"popularity and BPR-MF baselines with the run's seed. Nothing in DIR is modified.\n" +
			"The device and threads recorded in config.json are used unless --device / --threads are\n" +
			"given (e.g. to evaluate a GPU run on a CPU machine). The seed is always the run's own, so that\n" +
			"the numbers are the run's: evaluate has no --seed. The provenance in the output (date,\n" +
			"versions, data files with their SHA-256) is this evaluation's; a data file whose SHA-256\n" +
			"differs from the one in the run's metrics.json is logged as a warning.\n\n" +
			"Output: the results table of 'hier run'.\n\n" + resultsJSONHelp,
		Flags: []cli.Flag{
			runFlag("run directory (the --out of 'hier run' or 'hier demo') (required)"),
			// Hidden, so the global --seed is not offered here; given anyway, it is refused.
			&cli.Uint64Flag{Name: flagSeed, Value: defaultSeed, Hidden: true},
		},
		Action: runEvaluate,
	}
}

func runEvaluate(c *cli.Context) error {
	env := envOf(c)
	if flagCtx(c, flagSeed).IsSet(flagSeed) {
		return usageErrorf("evaluate: --seed is not used: the run is evaluated with its own seed (config.json), so that the numbers are the run's")
	}
	dir, err := requireString(c, "run")
	if err != nil {
		return err
	}
	if err := requireRunDir(dir); err != nil {
		return err
	}
	ctx, stop := interruptible(c, env.Log)
	defer stop()
	// --device/--threads given on the command line replace the run's own (e.g. a GPU run
	// evaluated on a CPU machine); otherwise the run's config.json decides.
	var ov pipeline.EvaluateOptions
	if flagCtx(c, flagDevice).IsSet(flagDevice) {
		ov.Device = env.DeviceFlag
	}
	if flagCtx(c, flagThreads).IsSet(flagThreads) {
		ov.Threads = env.Threads
	}
	res, err := pipeline.Evaluate(ctx, dir, env.Log, ov)
	if err != nil {
		return pipelineErr(ctx, "evaluate", err)
	}
	return printResults(env, res)
}
