package data

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tuSeconds are (user, item, rating, unix seconds) rows out of time order, with a duplicate
// (u2, a) whose second occurrence is earlier.
var tuSeconds = [][4]string{
	{"u1", "a", "5", "1600000300"},
	{"u1", "b", "4", "1600000100"},
	{"u1", "c", "3", "1600000200"},
	{"u1", "d", "2", "1600000400"},
	{"u2", "a", "4", "1600000050"},
	{"u2", "b", "3", "1600000010"},
	{"u2", "c", "2", "1600000020"},
	{"u2", "a", "1", "1600000001"},
}

// tuScaled returns the rows with times in another unit: seconds·perSec plus a sub-second part
// (i·37 mod perSec), so that rounding down recovers the seconds.
func tuScaled(perSec int64) [][4]string {
	out := make([][4]string, len(tuSeconds))
	for i, r := range tuSeconds {
		s, _ := strconv.ParseInt(r[3], 10, 64)
		r[3] = strconv.FormatInt(s*perSec+int64(i*37)%perSec, 10)
		out[i] = r
	}
	return out
}

func tuCSV(rows [][4]string) string {
	var b strings.Builder
	b.WriteString("user,item,rating,ts\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r[:], ",") + "\n")
	}
	return b.String()
}

func tuJSONL(rows [][4]string) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, `{"user": %q, "item": %q, "rating": %s, "ts": %s}`+"\n", r[0], r[1], r[2], r[3])
	}
	return b.String()
}

var tuCols = Columns{User: "user", Item: "item", Rating: "rating", Time: "ts"}

// tuOrder is each user's item sequence in split order (train…, valid, test).
func tuOrder(t *testing.T, ds *Dataset) map[string][]string {
	t.Helper()
	sd, err := Split(ds)
	require.NoError(t, err)
	out := map[string][]string{}
	for u, recs := range sd.TrainByUser {
		for _, r := range recs {
			out[sd.UserIDs[u]] = append(out[sd.UserIDs[u]], r.Item)
		}
		if v, ok := sd.ValidFor(u); ok {
			out[sd.UserIDs[u]] = append(out[sd.UserIDs[u]], v.Item)
		}
		if r, ok := sd.TestFor(u); ok {
			out[sd.UserIDs[u]] = append(out[sd.UserIDs[u]], r.Item)
		}
	}
	return out
}

// Times in milliseconds (or micro-, nanoseconds) give the interactions, times and order of
// the same file in seconds, in CSV and JSON lines; Dataset.TimeUnit records the unit. Before
// unit detection the millisecond file loaded with times 1000x too large, silently.
func TestTimeUnitDetected(t *testing.T) {
	dir := t.TempDir()
	secs, err := LoadGeneric(writeFile(t, dir, "s.csv", []byte(tuCSV(tuSeconds))), tuCols, LoadOptions{Strict: true})
	require.NoError(t, err)
	require.Equal(t, TimeUnitSeconds, secs.TimeUnit)
	dup, ok := findInteraction(secs, "u2", "a")
	require.True(t, ok)
	require.Equal(t, int64(1600000001), dup.Time, "duplicate (u2, a): the earlier one is kept")
	wantOrder := map[string][]string{"u1": {"b", "c", "a", "d"}, "u2": {"a", "b", "c"}}
	require.Equal(t, wantOrder, tuOrder(t, secs))
	require.Contains(t, secs.Summary(), "time unit: seconds")

	for _, u := range []struct {
		name   string
		perSec int64
	}{{TimeUnitMilliseconds, 1e3}, {TimeUnitMicroseconds, 1e6}, {TimeUnitNanoseconds, 1e9}} {
		rows := tuScaled(u.perSec)
		for _, f := range []struct{ file, content string }{
			{u.name + ".csv", tuCSV(rows)},
			{u.name + ".jsonl", tuJSONL(rows)},
		} {
			ds, err := LoadGeneric(writeFile(t, dir, f.file, []byte(f.content)), tuCols, LoadOptions{Strict: true})
			require.NoError(t, err, f.file)
			require.Equal(t, u.name, ds.TimeUnit, f.file)
			require.Equal(t, secs.Interactions, ds.Interactions, "%s: interactions (times in seconds) differ from the seconds file", f.file)
			require.Equal(t, secs.Counts, ds.Counts, f.file)
			require.Equal(t, wantOrder, tuOrder(t, ds), f.file)
			require.Contains(t, ds.Summary(), "time unit: "+u.name)
		}
	}

	// Integral floats and dates may share a millisecond column: dates are exact seconds.
	mixedForms := "user,item,rating,ts\nu1,a,5,1.600000300e12\nu1,b,4,2020-09-13 12:28:20\nu1,c,3,1600000200000\n"
	ds, err := LoadGeneric(writeFile(t, dir, "forms.csv", []byte(mixedForms)), tuCols, LoadOptions{Strict: true})
	require.NoError(t, err)
	require.Equal(t, TimeUnitMilliseconds, ds.TimeUnit)
	require.Equal(t, []int64{1600000300, 1600000100, 1600000200}, []int64{ds.Interactions[0].Time, ds.Interactions[1].Time, ds.Interactions[2].Time})

	// Dates only, or no time column: no unit.
	ds, err = LoadGeneric(writeFile(t, dir, "dates.csv", []byte("user,item,ts\nu1,a,2020-01-02\n")), Columns{User: "user", Item: "item", Time: "ts"}, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, "", ds.TimeUnit)
	ds, err = LoadGeneric(writeFile(t, dir, "notime.csv", []byte("user,item\nu1,a\n")), Columns{User: "user", Item: "item"}, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, "", ds.TimeUnit)
	require.NotContains(t, ds.Summary(), "time unit")
}

// The Amazon and MovieLens loaders detect the unit of unixReviewTime and of u.data's timestamp
// the same way.
func TestTimeUnitAmazonMovieLens(t *testing.T) {
	dir := t.TempDir()
	amazon := func(times ...string) string {
		var b strings.Builder
		for i, tm := range times {
			fmt.Fprintf(&b, `{"reviewerID": "U1", "asin": "A%d", "overall": 4.0, "reviewText": "r", "summary": "s", "unixReviewTime": %s}`+"\n", i, tm)
		}
		return b.String()
	}
	ds, err := Load(writeFile(t, dir, "ms.json", []byte(amazon("1400000000123", "1300000000999"))), LoadOptions{Strict: true})
	require.NoError(t, err)
	require.Equal(t, TimeUnitMilliseconds, ds.TimeUnit)
	require.Equal(t, int64(1400000000), ds.Interactions[0].Time)
	require.Equal(t, int64(1300000000), ds.Interactions[1].Time)

	csv := "reviewerID,asin,overall,unixReviewTime\nU1,A,4,1400000000000\nU1,B,5,1400000001000\n"
	ds, err = Load(writeFile(t, dir, "ms.csv", []byte(csv)), LoadOptions{Strict: true})
	require.NoError(t, err)
	require.Equal(t, FormatAmazonCSV, ds.Format)
	require.Equal(t, TimeUnitMilliseconds, ds.TimeUnit)
	require.Equal(t, int64(1400000001), ds.Interactions[1].Time)

	_, err = Load(writeFile(t, dir, "mixed.json", []byte(amazon("1400000000", "1300000000", "1300000000500"))), LoadOptions{})
	require.ErrorContains(t, err, `mixed.json:3: field "unixReviewTime": time 1300000000500 reads as milliseconds but line 1 has 1400000000, read as seconds`)

	ml := t.TempDir()
	writeFile(t, ml, "u.data", []byte("1\t10\t5\t881250949000\n1\t11\t3\t881250948000\n"))
	ds, err = Load(ml, LoadOptions{Strict: true})
	require.NoError(t, err)
	require.Equal(t, TimeUnitMilliseconds, ds.TimeUnit)
	require.Equal(t, int64(881250948), ds.Interactions[1].Time)
	writeFile(t, ml, "u.data", []byte("1\t10\t5\t881250949\n1\t11\t3\t881250948000\n"))
	_, err = Load(ml, LoadOptions{})
	require.EqualError(t, err, `u.data:2: field "timestamp": time 881250948000 reads as milliseconds but line 1 has 881250949, read as seconds: a file's time column must use one unit (numbers below 1e11 are read as seconds, from 1e11 milliseconds, from 1e14 microseconds, from 1e17 nanoseconds)`)
}

// A file whose time column mixes seconds and milliseconds is an error naming the file, the line
// and the field of the first value in the other unit, in strict and in lenient mode, for CSV
// and JSON lines; before unit detection the millisecond row was silently ordered last.
func TestTimeUnitMixedIsAnError(t *testing.T) {
	dir := t.TempDir()
	rows := append([][4]string(nil), tuSeconds...)
	rows[2][3] = "1600000200000" // u1, c in milliseconds: CSV line 4, JSON line 3
	for _, f := range []struct{ file, content, at string }{
		{"mixed.csv", tuCSV(rows), "mixed.csv:4"},
		{"mixed.jsonl", tuJSONL(rows), "mixed.jsonl:3"},
	} {
		path := writeFile(t, dir, f.file, []byte(f.content))
		for _, strict := range []bool{false, true} {
			ds, err := LoadGeneric(path, tuCols, LoadOptions{Strict: strict})
			require.Error(t, err, "%s strict=%v: a mixed-unit file loaded (unit %q)", f.file, strict, func() string {
				if ds == nil {
					return ""
				}
				return ds.TimeUnit
			}())
			require.ErrorContains(t, err, f.at+`: field "ts": time 1600000200000 reads as milliseconds but line `)
			var re *RecordError
			require.True(t, errors.As(err, &re))
			require.Equal(t, "ts", re.Field)
		}
	}
	// The reference value is the first numeric one; the fallback field is named when it differs.
	amazon := `{"reviewerID": "U1", "asin": "A", "overall": 4.0, "reviewTime": "1400000000000"}
{"reviewerID": "U1", "asin": "B", "overall": 4.0, "unixReviewTime": 1400000001}
`
	_, err := Load(writeFile(t, dir, "fallback.json", []byte(amazon)), LoadOptions{})
	require.ErrorContains(t, err, `fallback.json:2: field "unixReviewTime": time 1400000001 reads as seconds but line 1 (field "reviewTime") has 1400000000000, read as milliseconds`)
}

func TestTimeScale(t *testing.T) {
	for _, c := range []struct {
		v     int64
		scale int
	}{
		{0, 0}, {-5, 0}, {99_999_999_999, 0}, {100_000_000_000, 1}, {-100_000_000_000, 1},
		{99_999_999_999_999, 1}, {100_000_000_000_000, 2}, {1e17 - 1, 2}, {1e17, 3},
		{1<<63 - 1, 3}, {-1 << 63, 3},
	} {
		require.Equal(t, c.scale, timeScale(c.v), "%d", c.v)
	}
	require.Equal(t, int64(-2), floorDiv(-1500, 1000))
	require.Equal(t, int64(1), floorDiv(1999, 1000))
	require.Equal(t, int64(-1), floorDiv(-1000, 1000))
}
