package main

import (
	"github.com/hier-ai/hier/hier/pipeline"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdPretrain()) }

// stageReportJSONHelp documents the JSON object of pretrain and finetune.
const stageReportJSONHelp = "JSON (--json): exactly one object on stdout:\n" +
	"  {\"stage\": \"pretrain\" | \"finetune:<task>\", \"checkpoints\": {NAME: DIR},\n" +
	"   \"counts\": {\"users\", \"items\", \"interactions\", \"skipped\", \"duplicates\"},\n" +
	"   \"sentiment\": {classification report, as in 'hier run --json'} (finetune, when trained),\n" +
	"   \"behavior\": {\"model\"|\"global_mean\"|\"user_item_bias\": {\"mse\", \"rmse\", \"mae\", \"n\"}} (finetune, when trained),\n" +
	"   \"timings_seconds\": {STAGE: seconds}, \"wall_seconds\": SECONDS}"

func cmdPretrain() *cli.Command {
	flags := []cli.Flag{outFlag("output directory (required); the checkpoint goes to DIR/checkpoints/backbone"), noProgressFlag(), trainingLogLevel()}
	flags = append(flags, dataFlags()...)
	flags = append(flags,
		&cli.StringFlag{Name: fModel, Aliases: []string{"m"}, Category: catBackbone, TakesFile: true,
			Usage: "Hugging Face GPT-2 checkpoint to continue pre-training (default: a new small GPT-2 from scratch)"})
	flags = append(flags, maxLengthFlags("64", "tokens per pre-training example (at most n_positions: --positions, or that of the --model checkpoint)")...)
	flags = append(flags, backboneFlags()...)
	flags = append(flags, precisionFlag())
	return &cli.Command{
		Name:      "pretrain",
		Usage:     "pre-train the GPT-2 backbone (causal LM) on a dataset's training-split text",
		UsageText: "hier pretrain --data PATH --out DIR [--model DIR] [--layers N --heads N --embd N] [--json]",
		Description: "Builds the backbone stage of 'hier run' alone: a small GPT-2 (--layers/--heads/--embd/\n" +
			"--positions) trained from scratch with the causal-LM objective, or the checkpoint --model\n" +
			"trained further, on the training split's reviews and item texts (the per-user leave-one-out\n" +
			"split of 'hier run', so validation and test interactions are never seen); 5% of the texts\n" +
			"are held out for the validation loss. The Hugging Face checkpoint (GPT2LMHeadModel layout,\n" +
			"config.json + model.safetensors + tokenizer) is written to DIR/checkpoints/backbone, ready\n" +
			"for 'hier finetune --model', 'hier run --model', 'hier embed --model' and 'hier inspect'.\n\n" +
			"Output: the dataset counts, the checkpoint directory and the time per stage.\n\n" +
			stageReportJSONHelp + "\n\n" + longRunHelp,
		Flags:  flags,
		Action: runPretrain,
	}
}

func runPretrain(c *cli.Context) error {
	env := envOf(c)
	opts, log, cleanup, err := setupPipeline(c, env, pipeline.DefaultOptions(), fData)
	if err != nil {
		return err
	}
	ctx, stop := interruptible(c, log)
	defer stop()
	rep, err := pipeline.Pretrain(ctx, opts, log)
	if err != nil {
		cleanup()
		return pipelineErr(ctx, "pretrain", err)
	}
	return printStageReport(env, rep)
}
