package data

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func ia(user, item string, t int64, row int, summary, text string) Interaction {
	return Interaction{User: user, Item: item, Rating: 4, Time: t, Row: row, Summary: summary, Text: text}
}

// handDataset: alice has a duplicate (a) and a same-time pair (b, d); bob has
// only two interactions; carol's three interactions share one timestamp.
func handDataset() *Dataset {
	return &Dataset{
		Name: "hand",
		Interactions: []Interaction{
			ia("alice", "a", 10, 0, "Dup", "DUPMARKER dropped duplicate"),
			ia("bob", "a", 1, 1, "Bob a", "BOBTRAIN a"),
			ia("alice", "b", 30, 2, "VALIDSUMMARY", "VALIDMARKER alice valid"),
			ia("carol", "c", 7, 3, "Carol c", "CAROLTRAIN"),
			ia("alice", "c", 20, 4, "", "alice c"),
			ia("carol", "a", 7, 5, "CAROLVALIDSUM", "CAROLVALID"),
			ia("alice", "d", 30, 6, "TESTSUMMARY", "TESTMARKER alice test"),
			ia("bob", "b", 2, 7, "Bob b!", "BOBTRAIN b"),
			ia("carol", "b", 7, 8, "", "CAROLTEST"),
			ia("alice", "a", 5, 9, "Alice a", "TRAINMARKER alpha"),
		},
		ItemText: map[string]string{"a": "Static A", "b": "Static B.", "d": "Static D"},
	}
}

type rec struct {
	user, item string
	row        int
}

func recs(sd *SplitData, rs []Record) []rec {
	out := make([]rec, len(rs))
	for i, r := range rs {
		out[i] = rec{sd.UserIDs[r.UserIdx], sd.ItemIDs[r.ItemIdx], r.Row}
		if r.User != out[i].user || r.Item != out[i].item {
			panic("index mismatch")
		}
	}
	return out
}

func TestSplitHandMade(t *testing.T) {
	ds := handDataset()
	orig := append([]Interaction(nil), ds.Interactions...)
	sd, err := Split(ds)
	require.NoError(t, err)
	require.Equal(t, orig, ds.Interactions, "Split does not modify the dataset")

	// Indexed by first appearance after deduplication: alice's row-0 record
	// is a dropped duplicate, so bob comes first.
	require.Equal(t, []string{"bob", "alice", "carol"}, sd.UserIDs)
	require.Equal(t, []string{"a", "b", "c", "d"}, sd.ItemIDs, "items indexed by first appearance (the dropped duplicate is gone)")
	require.Equal(t, map[string]int{"bob": 0, "alice": 1, "carol": 2}, sd.UserIndex)
	require.Equal(t, 1, sd.Duplicates)
	require.Equal(t, 1, sd.TrainOnlyUsers)

	require.Equal(t, []rec{
		{"bob", "a", 1}, {"bob", "b", 7}, // bob: fewer than 3 → training only
		{"alice", "a", 9}, {"alice", "c", 4}, // alice: a@5, c@20 | b@30 (row 2) valid | d@30 (row 6) test
		{"carol", "c", 3}, // carol: all at time 7 → by row
	}, recs(sd, sd.Train))
	require.Equal(t, []rec{{"alice", "b", 2}, {"carol", "a", 5}}, recs(sd, sd.Valid))
	require.Equal(t, []rec{{"alice", "d", 6}, {"carol", "b", 8}}, recs(sd, sd.Test))
	require.Equal(t, []rec{{"bob", "a", 1}, {"bob", "b", 7}}, recs(sd, sd.TrainByUser[0]))
	require.Len(t, sd.TrainByUser, 3)

	v, ok := sd.ValidFor(1)
	require.True(t, ok)
	require.Equal(t, "b", v.Item)
	require.Equal(t, 2, v.Index)
	_, ok = sd.ValidFor(0)
	require.False(t, ok)
	_, ok = sd.TestFor(0)
	require.False(t, ok)
	_, ok = sd.TestFor(99)
	require.False(t, ok)
	te, ok := sd.TestFor(2)
	require.True(t, ok)
	require.Equal(t, "b", te.Item)
	require.Equal(t, "split: 3 users (1 train-only), 4 items; train 5, valid 2, test 2", sd.Summary())

	// Appending to one user's training slice must not clobber the next user.
	_ = append(sd.TrainByUser[0], Record{})
	require.Equal(t, "alice", sd.Train[2].User)

	// Exact texts.
	items := sd.ItemTexts(0)
	require.Equal(t, []string{
		"Static A\nBob a. BOBTRAIN a\nAlice a. TRAINMARKER alpha",
		"Static B.\nBob b! BOBTRAIN b",
		"Carol c. CAROLTRAIN\nalice c",
		"Static D",
	}, items)
	users := sd.UserTexts(0)
	require.Equal(t, []string{
		"Static A: Bob a. BOBTRAIN a\nStatic B. Bob b! BOBTRAIN b",
		"Static A: Alice a. TRAINMARKER alpha\nalice c",
		"Carol c. CAROLTRAIN",
	}, users)
}

// TestSplitNoLeakage: markers placed in validation/test reviews (and in a
// dropped duplicate) never reach any item or user text, whatever the budget.
func TestSplitNoLeakage(t *testing.T) {
	sd, err := Split(handDataset())
	require.NoError(t, err)
	forbidden := []string{"VALIDMARKER", "VALIDSUMMARY", "TESTMARKER", "TESTSUMMARY", "CAROLVALID", "CAROLTEST", "DUPMARKER"}
	for _, budget := range []int{0, 5, 12, 30, 60, 1000} {
		texts := append(sd.ItemTexts(budget), sd.UserTexts(budget)...)
		for _, s := range texts {
			if budget > 0 {
				require.LessOrEqual(t, utf8.RuneCountInString(s), budget)
			}
			for _, m := range forbidden {
				require.NotContains(t, s, m, "budget %d", budget)
			}
		}
		// alice interacted with b (valid) and d (test) only outside training.
		alice := sd.UserTexts(budget)[sd.UserIndex["alice"]]
		require.NotContains(t, alice, "Static B")
		require.NotContains(t, alice, "Static D")
	}
	// Positive controls.
	all := strings.Join(append(sd.ItemTexts(0), sd.UserTexts(0)...), "\n")
	for _, m := range []string{"TRAINMARKER", "BOBTRAIN", "CAROLTRAIN", "Static D"} {
		require.Contains(t, all, m)
	}
}

func TestSplitErrorsAndSmall(t *testing.T) {
	_, err := Split(nil)
	require.Error(t, err)
	_, err = Split(&Dataset{})
	require.Error(t, err)

	// Exactly three interactions: one each; identical rows fall back to
	// slice position.
	ds := &Dataset{Interactions: []Interaction{
		ia("u", "x", 1, 0, "", "1"), ia("u", "y", 1, 0, "", "2"), ia("u", "z", 1, 0, "", "3"),
	}}
	sd, err := Split(ds)
	require.NoError(t, err)
	require.Equal(t, []rec{{"u", "x", 0}}, recs(sd, sd.Train))
	require.Equal(t, []rec{{"u", "y", 0}}, recs(sd, sd.Valid))
	require.Equal(t, []rec{{"u", "z", 0}}, recs(sd, sd.Test))
	require.Equal(t, []string{"1", "", ""}, sd.ItemTexts(0))
}

func TestJoinBudget(t *testing.T) {
	cases := []struct {
		head    string
		entries []string
		max     int
		want    string
	}{
		{"", []string{"aaa", "bb", "c"}, 0, "aaa\nbb\nc"},
		{"H", []string{"aaa", "", "c"}, -1, "H\naaa\nc"},
		{"", []string{"aaa", "bb", "c"}, 4, "bb\nc"},
		{"", []string{"aaa", "bb", "c"}, 8, "aaa\nbb\nc"},
		{"", []string{"aaa", "bb", "c"}, 7, "bb\nc"},
		{"HH", []string{"aaa", "bb"}, 6, "HH\nbb"},
		{"HH", []string{"abcdef"}, 5, "HH\nab"},
		{"HH", []string{"abcdef"}, 3, "HH"},
		{"HHHHHH", []string{"x"}, 4, "HHHH"},
		{"", []string{"éééé"}, 2, "éé"},
		{"", nil, 5, ""},
	}
	for _, c := range cases {
		require.Equal(t, c.want, joinBudget(c.head, c.entries, c.max), "%q %q %d", c.head, c.entries, c.max)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2000; n++ {
		var entries []string
		for k := rng.IntN(5); k > 0; k-- {
			entries = append(entries, strings.Repeat("é", rng.IntN(6)))
		}
		head := strings.Repeat("h", rng.IntN(4))
		max := 1 + rng.IntN(15)
		got := joinBudget(head, entries, max)
		require.LessOrEqual(t, utf8.RuneCountInString(got), max, fmt.Sprint(head, entries, max))
		require.True(t, utf8.ValidString(got))
		require.True(t, strings.HasPrefix(got, truncateRunes(head, max)))
	}
}

func TestReviewText(t *testing.T) {
	require.Equal(t, "Good. Body", ReviewText(&Interaction{Summary: "Good", Text: "Body"}))
	require.Equal(t, "Good! Body", ReviewText(&Interaction{Summary: "Good!", Text: " Body "}))
	require.Equal(t, "Body", ReviewText(&Interaction{Text: "Body"}))
	require.Equal(t, "Good", ReviewText(&Interaction{Summary: "Good"}))
	require.Equal(t, "", ReviewText(&Interaction{}))
}
