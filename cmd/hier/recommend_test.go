package main

import (
	"strings"
	"testing"

	"github.com/hier-ai/hier/hier/pipeline"
	"github.com/stretchr/testify/assert"
)

// recommend's text output: ids only without metadata (an old run, or data without titles), a
// title column with titles, the review summary, headed as such, for Amazon-like data.
func TestRecommendTable(t *testing.T) {
	rec := func(item string, title, summary string) pipeline.Recommendation {
		return pipeline.Recommendation{Item: item, Score: 0.5, Rank: 1, ItemMeta: pipeline.ItemMeta{Title: title, Summary: summary}}
	}
	bare := recommendTable([]pipeline.Recommendation{rec("i1", "", ""), rec("item22", "", "")})
	assert.Equal(t, "rank  item    score\n   1  i1      0.5\n   1  item22  0.5\n", bare)

	titled := recommendTable([]pipeline.Recommendation{rec("1", "Toy Story (1995)", ""), rec("2", "", "")})
	lines := strings.Split(titled, "\n")
	assert.Equal(t, "rank  item  score  title", lines[0])
	assert.Equal(t, "   1  1     0.5    Toy Story (1995)", lines[1])
	assert.Equal(t, "   1  2     0.5", lines[2], "an item without metadata: no filler")

	summ := recommendTable([]pipeline.Recommendation{rec("B0", "", "Great  strings\nfor the price")})
	assert.Contains(t, summ, "most helpful review's summary")
	assert.False(t, strings.HasSuffix(strings.SplitN(summ, "\n", 2)[0], "title"), "not headed as a title")
	assert.Contains(t, summ, "Great strings for the price")

	mixed := recommendTable([]pipeline.Recommendation{rec("a", "Alpha", ""), rec("b", "", "nice")})
	assert.Contains(t, mixed, "Alpha")
	assert.Contains(t, mixed, `"nice"`, "a summary among titles is quoted")
}
