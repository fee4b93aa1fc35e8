package data

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Expected values come from the README.md files next to the shared data.

func TestLoadAmazonMusicalInstruments(t *testing.T) {
	path := amazonZipPath(t)
	start := time.Now()
	ds, err := Load(path, LoadOptions{Strict: true})
	require.NoError(t, err)
	t.Logf("loaded in %v: %s", time.Since(start), ds.Summary())

	require.Equal(t, FormatAmazonCSV, ds.Format)
	require.Equal(t, "Musical_instruments_reviews", ds.Name)
	require.Equal(t, Counts{Users: 1429, Items: 900, Interactions: 10261}, ds.Counts)
	require.Empty(t, ds.SkippedReasons)
	require.True(t, ds.HasReviewText)
	require.Nil(t, ds.ItemText)
	require.Equal(t, map[float64]int{5: 6938, 4: 2084, 3: 772, 2: 250, 1: 217}, ratingHist(ds))

	minT, maxT := ds.Interactions[0].Time, ds.Interactions[0].Time
	emptyText, quotes := 0, 0
	for i, it := range ds.Interactions {
		require.Equal(t, i, it.Row, "file order")
		minT, maxT = min(minT, it.Time), max(maxT, it.Time)
		if it.Text == "" {
			emptyText++
		}
		require.NotContains(t, it.Text, "&#34;", "HTML entities must be decoded")
		require.NotContains(t, it.Text, "&lt;")
		require.NotContains(t, it.Summary, "&#34;")
		if strings.Contains(it.Text, `"`) {
			quotes++
		}
		require.Contains(t, it.Values, "helpful_votes")
		require.Contains(t, it.Values, "helpful_total")
	}
	require.Equal(t, int64(1095465600), minT)
	require.Equal(t, int64(1405987200), maxT)
	require.Equal(t, 7, emptyText, "empty review texts are kept")
	require.Greater(t, quotes, 100, "&#34; decoded to a double quote")

	first := ds.Interactions[0]
	require.Equal(t, "A2IBPI20UZIR0U", first.User)
	require.Equal(t, "1384719342", first.Item)
	require.Equal(t, 5.0, first.Rating)
	require.Equal(t, "good", first.Summary)
	require.Equal(t, int64(1393545600), first.Time)
	require.True(t, strings.HasPrefix(first.Text, "Not much to write about here"))
	second := ds.Interactions[1]
	require.Equal(t, map[string]float64{"helpful_votes": 13, "helpful_total": 14}, second.Values)

	// The same file through LoadAmazon directly, and a prefix.
	ds2, err := LoadAmazon(path, LoadOptions{MaxRecords: 100})
	require.NoError(t, err)
	require.Equal(t, 100, ds2.Counts.Interactions)
	require.Equal(t, ds.Interactions[:100], ds2.Interactions)
}

// TestAmazonSplitTieRule checks the README ordering rule on the real data:
// each user's interactions are ordered by (unixReviewTime, row order).
func TestAmazonSplitTieRule(t *testing.T) {
	ds, err := Load(amazonZipPath(t), LoadOptions{})
	require.NoError(t, err)
	sd, err := Split(ds)
	require.NoError(t, err)
	require.Equal(t, 0, sd.TrainOnlyUsers)
	require.Equal(t, 0, sd.Duplicates)
	require.Len(t, sd.Valid, 1429)
	require.Len(t, sd.Test, 1429)
	require.Len(t, sd.Train, 10261-2*1429)
	require.Equal(t, 900, sd.NumItems())

	// Independent computation of each user's last and second-last rows.
	type tr struct {
		t   int64
		row int
	}
	less := func(a, b tr) bool { return a.t < b.t || (a.t == b.t && a.row < b.row) }
	last := map[string]tr{}
	second := map[string]tr{}
	for _, it := range ds.Interactions {
		cur := tr{it.Time, it.Row}
		l, ok := last[it.User]
		switch {
		case !ok:
			last[it.User] = cur
		case less(l, cur):
			second[it.User] = l
			last[it.User] = cur
		default:
			if s, ok := second[it.User]; !ok || less(s, cur) {
				second[it.User] = cur
			}
		}
	}
	ties := 0
	for u, id := range sd.UserIDs {
		te, ok := sd.TestFor(u)
		require.True(t, ok)
		va, ok := sd.ValidFor(u)
		require.True(t, ok)
		require.Equal(t, last[id], tr{te.Time, te.Row}, "user %s test", id)
		require.Equal(t, second[id], tr{va.Time, va.Row}, "user %s valid", id)
		if te.Time == va.Time {
			ties++
			require.Greater(t, te.Row, va.Row, "tie broken by row order")
		}
		for _, r := range sd.TrainByUser[u] {
			require.True(t, less(tr{r.Time, r.Row}, tr{va.Time, va.Row}))
		}
	}
	require.Equal(t, 631, ties, "README: 631 users have their last two reviews on the same day")
}

// TestAmazonNoLeakage checks on the real data that no test or validation
// review text reaches the item and user texts.
func TestAmazonNoLeakage(t *testing.T) {
	ds, err := Load(amazonZipPath(t), LoadOptions{})
	require.NoError(t, err)
	sd, err := Split(ds)
	require.NoError(t, err)
	itemTexts := sd.ItemTexts(0)
	userTexts := sd.UserTexts(0)
	trainByItem := make([][]Record, sd.NumItems())
	for _, r := range sd.Train {
		trainByItem[r.ItemIdx] = append(trainByItem[r.ItemIdx], r)
	}
	// inTraining reports whether s legitimately occurs in a training review
	// of the same user or item (some users repeat sentences across reviews).
	inTraining := func(s string, u, i int) bool {
		for _, group := range [][]Record{sd.TrainByUser[u], trainByItem[i]} {
			for _, r := range group {
				if strings.Contains(r.Text, s) {
					return true
				}
			}
		}
		return false
	}
	checked := 0
	for _, held := range [][]Record{sd.Valid, sd.Test} {
		for _, r := range held {
			if len(r.Text) < 60 || inTraining(r.Text, r.UserIdx, r.ItemIdx) {
				continue
			}
			checked++
			require.NotContains(t, itemTexts[r.ItemIdx], r.Text)
			require.NotContains(t, userTexts[r.UserIdx], r.Text)
		}
	}
	require.Greater(t, checked, 2500)
	// Positive control: training reviews are there.
	r := sd.Train[0]
	require.Contains(t, itemTexts[r.ItemIdx], ReviewText(&r.Interaction))
	require.Contains(t, userTexts[r.UserIdx], ReviewText(&r.Interaction))
}

func TestLoadMovieLens100K(t *testing.T) {
	dir := sharedDir(t, "movielens-100k")
	start := time.Now()
	ds, err := Load(dir, LoadOptions{Strict: true})
	require.NoError(t, err)
	t.Logf("loaded in %v: %s", time.Since(start), ds.Summary())

	require.Equal(t, FormatMovieLens100K, ds.Format)
	require.Equal(t, "movielens-100k", ds.Name)
	require.Equal(t, Counts{Users: 943, Items: 1682, Interactions: 100000}, ds.Counts)
	require.False(t, ds.HasReviewText)
	require.Equal(t, map[float64]int{1: 6110, 2: 11370, 3: 27145, 4: 34174, 5: 21201}, ratingHist(ds))
	require.Len(t, ds.ItemText, 1682)
	require.Equal(t, "Toy Story (1995) | Animation, Children's, Comedy", ds.ItemText["1"])
	require.Equal(t, "Misérables, Les (1995) | Drama, Musical", ds.ItemText["543"])
	require.Equal(t, "C'est arrivé près de chez vous (1992) | Comedy, Crime, Drama", ds.ItemText["1104"])
	// Display metadata: u.item's Latin-1 titles decoded to UTF-8.
	require.Len(t, ds.Items, 1682)
	require.Equal(t, ItemInfo{Title: "Misérables, Les (1995)", Genres: []string{"Drama", "Musical"}, ReleaseDate: "01-Jan-1995",
		URL: "http://us.imdb.com/M/title-exact?Mis%E9rables%2C%20Les%20%281995%29"}, ds.Items["543"])
	require.Equal(t, []string{filepath.Join(dir, "u.data"), filepath.Join(dir, "u.genre"), filepath.Join(dir, "u.item")}, ds.Files)
	first := ds.Interactions[0]
	require.Equal(t, Interaction{User: "196", Item: "242", Rating: 3, Time: 881250949, Row: 0}, first)

	perUser := map[string]int{}
	for _, it := range ds.Interactions {
		perUser[it.User]++
	}
	fewest := 1 << 30
	for _, n := range perUser {
		fewest = min(fewest, n)
	}
	require.Equal(t, 20, fewest)

	sd, err := Split(ds)
	require.NoError(t, err)
	require.Equal(t, 0, sd.TrainOnlyUsers)
	require.Len(t, sd.Test, 943)
	require.Len(t, sd.Train, 100000-2*943)
	ut := sd.UserTexts(500)
	for _, s := range ut {
		require.LessOrEqual(t, len([]rune(s)), 500)
		require.NotEmpty(t, s)
	}
}

// BenchmarkLoadAmazon measures loading the Amazon Musical Instruments zip
// (10,261 reviews).
func BenchmarkLoadAmazon(b *testing.B) {
	path := amazonZipPath(b)
	b.ReportAllocs()
	for b.Loop() {
		ds, err := Load(path, LoadOptions{})
		if err != nil || ds.Counts.Interactions != 10261 {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadMovieLens measures loading MovieLens 100K.
func BenchmarkLoadMovieLens(b *testing.B) {
	dir := sharedDir(b, "movielens-100k")
	b.ReportAllocs()
	for b.Loop() {
		ds, err := Load(dir, LoadOptions{})
		if err != nil || ds.Counts.Interactions != 100000 {
			b.Fatal(err)
		}
	}
}
