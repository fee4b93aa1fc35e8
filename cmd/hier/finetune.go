package main

import (
	"strings"

	"github.com/hier-ai/hier/hier/pipeline"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdFinetune()) }

func cmdFinetune() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "task", Aliases: []string{"t"}, Category: catHeads,
			Usage: "what to fine-tune: sentiment (H1 classifier), behavior (H2 regressor) or multitask (both jointly) (required)"},
		&cli.StringFlag{Name: fModel, Aliases: []string{"m"}, Category: catBackbone, TakesFile: true,
			Usage: "backbone checkpoint directory, e.g. DIR/checkpoints/backbone of 'hier pretrain' (required)"},
		outFlag("output directory (required); checkpoints go to DIR/checkpoints/{backbone,sentiment,behavior}"),
		noProgressFlag(),
		trainingLogLevel(),
	}
	flags = append(flags, dataFlags()...)
	flags = append(flags, behaviorColumnFlag())
	flags = append(flags, maxLengthFlags("64", "tokens per fine-tuning example (at most the --model checkpoint's n_positions)")...)
	flags = append(flags, headFlags()...)
	flags = append(flags, precisionFlag())
	return &cli.Command{
		Name:      "finetune",
		Usage:     "fine-tune the sentiment (H1) and/or behaviour (H2) head on a backbone checkpoint",
		UsageText: "hier finetune --task sentiment|behavior|multitask --data PATH --model DIR --out DIR [--json]",
		Description: "Builds the head stage of 'hier run' alone on the backbone --model (copied to\n" +
			"DIR/checkpoints/backbone): a Hugging Face GPT2ForSequenceClassification head fine-tuned on\n" +
			"the training split and early-stopped on the validation split of the per-user leave-one-out\n" +
			"split, then evaluated on the test split.\n" +
			"  sentiment  3-class review sentiment (ratings 1-2 negative, 3 neutral, 4-5 positive),\n" +
			"             saved to DIR/checkpoints/sentiment\n" +
			"  behavior   regression of --behavior-column (default the rating) from the user's\n" +
			"             context, saved to DIR/checkpoints/behavior\n" +
			"  multitask  both heads on one shared backbone, loss sentiment-weight*CE + behavior-weight*MSE\n\n" +
			"Output: the sentiment classification report (per-class precision, recall, F1, support)\n" +
			"and/or the held-out errors (MSE, RMSE, MAE) of the behaviour head beside the global-mean and\n" +
			"user+item-bias baselines, and the checkpoint directories. The sentiment checkpoint works\n" +
			"with 'hier predict --model DIR/checkpoints/sentiment --text ...'.\n\n" +
			stageReportJSONHelp + "\n\n" + longRunHelp,
		Flags:  flags,
		Action: runFinetune,
	}
}

func runFinetune(c *cli.Context) error {
	env := envOf(c)
	task, err := requireString(c, "task")
	if err != nil {
		return err
	}
	task = strings.ToLower(strings.TrimSpace(task))
	switch task {
	case "sentiment", "behavior", "multitask":
	case "behaviour":
		task = "behavior"
	default:
		return usageErrorf("finetune: --task %q: want sentiment, behavior or multitask", c.String("task"))
	}
	opts, log, cleanup, err := setupPipeline(c, env, pipeline.DefaultOptions(), fData, fModel)
	if err != nil {
		return err
	}
	ctx, stop := interruptible(c, log)
	defer stop()
	rep, err := pipeline.Finetune(ctx, opts, task, log)
	if err != nil {
		cleanup()
		return pipelineErr(ctx, "finetune", err)
	}
	return printStageReport(env, rep)
}
