package main

import (
	"fmt"
	"strings"

	"github.com/hier-ai/hier/hier/pipeline"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdRecommend()) }

// recommendOutput is the JSON document of 'hier recommend --json'.
type recommendOutput struct {
	User  string                    `json:"user"`
	K     int                       `json:"k"`
	Items []pipeline.Recommendation `json:"items"`
}

func cmdRecommend() *cli.Command {
	return &cli.Command{
		Name:      "recommend",
		Usage:     "recommend items to a user from a finished run (its served recommender)",
		UsageText: "hier recommend --run DIR --user ID [--top-k 10] [--json]",
		Description: "Loads the run directory of 'hier run' / 'hier demo' (index.json, vectors.safetensors) and\n" +
			"scores every item of the catalogue by u . v_i with the user and item vectors of the run's served\n" +
			"method (the best hierarchy variant by validation NDCG@10, e.g. seq_h; served_method in\n" +
			"metrics.json). The items in the user's history (training and\n" +
			"validation interactions) are excluded. Fewer than k items are returned only when the\n" +
			"catalogue has fewer unseen items.\n\n" +
			"Output: one line per item: rank, item id, score (best first).\n\n" +
			"JSON (--json), one document:\n" +
			"  {\"user\": ID, \"k\": K, \"items\": [{\"item\": ID, \"score\": S, \"rank\": 1}, ...]}",
		Flags: []cli.Flag{
			runFlag("run directory (the --out of 'hier run' or 'hier demo') (required)"),
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user id, as in the dataset (see the run's index.json) (required)"},
			&cli.IntFlag{Name: "top-k", Value: 10, Usage: "number of items"},
			oldSpelling("k"),
		},
		Action: runRecommend,
	}
}

func runRecommend(c *cli.Context) error {
	env := envOf(c)
	dir, err := requireString(c, "run")
	if err != nil {
		return err
	}
	user, err := requireString(c, "user")
	if err != nil {
		return err
	}
	k := c.Int("top-k")
	if k < 1 {
		return usageErrorf("recommend: --top-k must be >= 1, got %d", k)
	}
	if err := requireRunDir(dir); err != nil {
		return err
	}
	rm, err := pipeline.LoadRun(dir)
	if err != nil {
		return err
	}
	defer rm.Close()
	known := false
	for _, u := range rm.Index.Users {
		if u == user {
			known = true
			break
		}
	}
	if !known {
		return fmt.Errorf("recommend: unknown user %q: run %s has no such user (%d users, listed in %s)", user, dir, len(rm.Index.Users), pipeline.IndexFileName)
	}
	recs, err := rm.Recommend(user, k)
	if err != nil {
		return err
	}
	if env.JSON {
		return writeJSON(env.Out, recommendOutput{User: user, K: k, Items: recs})
	}
	var b strings.Builder
	w := 4
	for _, r := range recs {
		w = max(w, len(r.Item))
	}
	fmt.Fprintf(&b, "%4s  %-*s  %s\n", "rank", w, "item", "score")
	for _, r := range recs {
		fmt.Fprintf(&b, "%4d  %-*s  %.6g\n", r.Rank, w, r.Item, r.Score)
	}
	_, err = fmt.Fprint(env.Out, b.String())
	return err
}
