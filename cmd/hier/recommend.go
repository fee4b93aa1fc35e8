package main

import (
	"fmt"
	"strconv"
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
			"Output: one line per item: rank, item id, score (best first), and the item's title when\n" +
			"the run has item metadata (items.json: MovieLens titles, the synthetic shop's product names,\n" +
			"a generic file's title= column). Amazon reviews have no product titles: there the column is\n" +
			"the summary line of the item's most helpful training review, headed as such. Runs without\n" +
			"item metadata (or made before items.json existed) show ids only.\n\n" +
			"JSON (--json), one document:\n" +
			"  {\"user\": ID, \"k\": K, \"items\": [{\"item\": ID, \"score\": S, \"rank\": 1, \"title\": T}, ...]}\n" +
			"An item has whichever of \"title\", \"summary\" (the most helpful training review's summary,\n" +
			"for items without a title), \"category\", \"genres\", \"release_date\", \"url\" the data gives.",
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
	_, err = fmt.Fprint(env.Out, recommendTable(recs))
	return err
}

// recommendTable is the text output of 'hier recommend': rank, item, score and, when any item
// has one, a title column (Amazon: the most helpful training review's summary, headed so).
func recommendTable(recs []pipeline.Recommendation) string {
	hasTitle, hasSummary := false, false
	for _, r := range recs {
		hasTitle = hasTitle || r.Title != ""
		hasSummary = hasSummary || (r.Title == "" && r.Summary != "")
	}
	header := ""
	label := func(r pipeline.Recommendation) string { return r.Title }
	switch {
	case hasTitle && hasSummary:
		header = "title (or \"most helpful review's summary\")"
		label = func(r pipeline.Recommendation) string {
			if r.Title != "" || r.Summary == "" {
				return r.Title
			}
			return strconv.Quote(r.Summary)
		}
	case hasTitle:
		header = "title"
	case hasSummary:
		header = "most helpful review's summary (no product titles in the data)"
		label = func(r pipeline.Recommendation) string { return r.Summary }
	}
	w, sw := 4, 5
	scores := make([]string, len(recs))
	for i, r := range recs {
		w = max(w, len(r.Item))
		scores[i] = strconv.FormatFloat(r.Score, 'g', 6, 64)
		sw = max(sw, len(scores[i]))
	}
	var b strings.Builder
	if header == "" {
		fmt.Fprintf(&b, "%4s  %-*s  %s\n", "rank", w, "item", "score")
		for i, r := range recs {
			fmt.Fprintf(&b, "%4d  %-*s  %s\n", r.Rank, w, r.Item, scores[i])
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%4s  %-*s  %-*s  %s\n", "rank", w, "item", sw, "score", header)
	for i, r := range recs {
		line := fmt.Sprintf("%4d  %-*s  %-*s  %s", r.Rank, w, r.Item, sw, scores[i], strings.Join(strings.Fields(label(r)), " "))
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return b.String()
}
