package data

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSyntheticDeterministic(t *testing.T) {
	a := Synthetic(DefaultSyntheticConfig())
	b := Synthetic(DefaultSyntheticConfig())
	require.Equal(t, a, b, "same seed → identical dataset")

	cfg := DefaultSyntheticConfig()
	cfg.Seed = 2
	c := Synthetic(cfg)
	require.NotEqual(t, a.Interactions, c.Interactions)

	// Zero config fields take the defaults (seed 0 is a real seed).
	z := Synthetic(SyntheticConfig{})
	require.Equal(t, 300, z.Counts.Users)
	require.NotEqual(t, a.Interactions, z.Interactions)
}

func TestSyntheticCounts(t *testing.T) {
	ds := Synthetic(DefaultSyntheticConfig())
	t.Log(ds.Summary())
	require.Equal(t, FormatSynthetic, ds.Format)
	require.Equal(t, "synthetic-shop", ds.Name)
	require.Equal(t, 300, ds.Counts.Users)
	require.Equal(t, 120, ds.Counts.Items)
	require.Len(t, ds.ItemText, 120)
	// Display metadata: each item's product name and category, the first two parts of its text.
	require.Len(t, ds.Items, 120)
	for id, info := range ds.Items {
		parts := strings.Split(ds.ItemText[id], " | ")
		require.Equal(t, ItemInfo{Title: parts[0], Category: parts[1]}, info, id)
	}
	require.Nil(t, ds.Files)
	require.InDelta(t, 4200, ds.Counts.Interactions, 400)
	require.Equal(t, 0, ds.Counts.Duplicates)
	require.Equal(t, 0, ds.Counts.Skipped)
	require.True(t, ds.HasReviewText)

	perUser := map[string]int{}
	pairs := map[[2]string]bool{}
	for i, it := range ds.Interactions {
		require.Equal(t, i, it.Row)
		if i > 0 {
			require.GreaterOrEqual(t, it.Time, ds.Interactions[i-1].Time, "chronological order")
		}
		perUser[it.User]++
		k := [2]string{it.User, it.Item}
		require.False(t, pairs[k], "no duplicate pairs")
		pairs[k] = true
		require.NotEmpty(t, it.Text)
		require.NotEmpty(t, it.Summary)
		require.Contains(t, ds.ItemText, it.Item)
		require.LessOrEqual(t, it.Values["helpful_votes"], it.Values["helpful_total"])
	}
	for _, n := range perUser {
		require.GreaterOrEqual(t, n, 8)
		require.LessOrEqual(t, n, 20)
	}

	// Rating distribution: every star value used, none dominant, mean skewed
	// positive like real shops.
	h := ratingHist(ds)
	require.Len(t, h, 5)
	sum := 0.0
	for r, n := range h {
		require.GreaterOrEqual(t, r, 1.0)
		require.LessOrEqual(t, r, 5.0)
		require.Greater(t, n, ds.Counts.Interactions/50, "star %v too rare", r)
		require.Less(t, n, ds.Counts.Interactions*6/10, "star %v dominates", r)
		sum += r * float64(n)
	}
	mean := sum / float64(ds.Counts.Interactions)
	require.Greater(t, mean, 3.2)
	require.Less(t, mean, 4.4)

	// Splits cleanly: every user has at least 3 interactions.
	sd, err := Split(ds)
	require.NoError(t, err)
	require.Equal(t, 0, sd.TrainOnlyUsers)
	require.Len(t, sd.Test, 300)
}

// TestSyntheticSentiment: review wording follows the rating.
func TestSyntheticSentiment(t *testing.T) {
	ds := Synthetic(DefaultSyntheticConfig())
	pos, _, neg := SyntheticSentimentWords()
	has := func(s string, words []string) bool {
		s = strings.ToLower(s)
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	var posHigh, posLow, negHigh, negLow, high, low int
	for _, it := range ds.Interactions {
		text := it.Summary + " " + it.Text
		switch {
		case it.Rating >= 4:
			high++
			if has(text, pos) {
				posHigh++
			}
			if has(text, neg) {
				negHigh++
			}
		case it.Rating <= 2:
			low++
			if has(text, pos) {
				posLow++
			}
			if has(text, neg) {
				negLow++
			}
		}
	}
	require.Greater(t, high, 1000)
	require.Greater(t, low, 200)
	fPosHigh, fPosLow := float64(posHigh)/float64(high), float64(posLow)/float64(low)
	fNegHigh, fNegLow := float64(negHigh)/float64(high), float64(negLow)/float64(low)
	t.Logf("positive words: %.2f of 4-5★, %.2f of 1-2★; negative words: %.2f of 4-5★, %.2f of 1-2★", fPosHigh, fPosLow, fNegHigh, fNegLow)
	require.Greater(t, fPosHigh, 0.9)
	require.Less(t, fPosLow, 0.1)
	require.Greater(t, fNegLow, 0.9)
	require.Less(t, fNegHigh, 0.1)
}

// TestSyntheticPreferences: users concentrate on few categories and like
// their preferred categories more.
func TestSyntheticPreferences(t *testing.T) {
	ds := Synthetic(DefaultSyntheticConfig())
	cat := func(item string) string { return strings.Split(ds.ItemText[item], " | ")[1] }
	cats := map[string]bool{}
	type stat struct{ n, sum float64 }
	byUser := map[string]map[string]*stat{}
	for _, it := range ds.Interactions {
		c := cat(it.Item)
		cats[c] = true
		if byUser[it.User] == nil {
			byUser[it.User] = map[string]*stat{}
		}
		s := byUser[it.User][c]
		if s == nil {
			s = &stat{}
			byUser[it.User][c] = s
		}
		s.n++
		s.sum += it.Rating
	}
	require.Equal(t, SyntheticCategories()[:6], sortedKeysLike(cats, SyntheticCategories()))

	var topShare, topMean, restMean, restN float64
	for _, m := range byUser {
		var top string
		total := 0.0
		for c, s := range m {
			total += s.n
			if top == "" || s.n > m[top].n || (s.n == m[top].n && c < top) {
				top = c
			}
		}
		topShare += m[top].n / total
		topMean += m[top].sum / m[top].n
		for c, s := range m {
			if c != top {
				restMean += s.sum
				restN += s.n
			}
		}
	}
	nu := float64(len(byUser))
	topShare /= nu
	topMean /= nu
	restMean /= restN
	t.Logf("top-category share %.2f, mean rating top %.2f vs other %.2f", topShare, topMean, restMean)
	require.Greater(t, topShare, 0.5, "uniform choice would give about 1/6")
	require.Greater(t, topMean, restMean+0.5)
}

func sortedKeysLike(set map[string]bool, order []string) []string {
	var out []string
	for _, c := range order {
		if set[c] {
			out = append(out, c)
		}
	}
	return out
}

func TestSyntheticSmallConfig(t *testing.T) {
	ds := Synthetic(SyntheticConfig{Seed: 3, Users: 5, Items: 4, Categories: 99, MinPerUser: 10, MaxPerUser: 30})
	require.Equal(t, 5, ds.Counts.Users)
	require.Equal(t, 20, ds.Counts.Interactions, "per-user count is capped at the number of items")
	require.LessOrEqual(t, ds.Counts.Items, 4)
	require.Equal(t, 0, ds.Counts.Duplicates)
	require.Len(t, SyntheticCategories(), 8)
}

// TestSyntheticConfigJSON: the config is written with snake_case keys (it is part of a run's
// config.json) and read back from them, or from the Go field names that runs written before
// the JSON tags hold.
func TestSyntheticConfigJSON(t *testing.T) {
	c := DefaultSyntheticConfig()
	b, err := json.Marshal(c)
	require.NoError(t, err)
	for _, k := range []string{`"seed"`, `"users"`, `"items"`, `"categories"`, `"min_per_user"`, `"max_per_user"`, `"concentration"`, `"explore"`, `"noise"`, `"start"`} {
		assert.Contains(t, string(b), k)
	}
	assert.NotContains(t, string(b), "MinPerUser")
	var back SyntheticConfig
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, c, back)

	// Old keys; absent fields keep their values.
	old := DefaultSyntheticConfig()
	require.NoError(t, json.Unmarshal([]byte(`{"Seed": 7, "Users": 40, "MinPerUser": 3, "MaxPerUser": 5}`), &old))
	want := DefaultSyntheticConfig()
	want.Seed, want.Users, want.MinPerUser, want.MaxPerUser = 7, 40, 3, 5
	assert.Equal(t, want, old)

	var bad SyntheticConfig
	assert.ErrorContains(t, json.Unmarshal([]byte(`{"MinPerUser": 3, "min_per_user": 4}`), &bad), `give "min_per_user" only`)
	assert.ErrorContains(t, json.Unmarshal([]byte(`{"min_users": 3}`), &bad), `unknown field "min_users"`)
}
