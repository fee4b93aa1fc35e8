package data

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ---- Amazon 2014 JSON lines ----

const json2014 = `{"reviewerID": "U1", "asin": "A", "reviewerName": "x", "helpful": [2, 3], "reviewText": "Great &amp; loud &#34;amp&#34; &lt;3", "overall": 5.0, "summary": "Tom &amp; Jerry", "unixReviewTime": 1000, "reviewTime": "01 1, 1970"}
{"reviewerID": "U1", "asin": "B", "overall": 4.0,
{"reviewerID": "U1", "asin": "B", "helpful": [0, 0], "reviewText": "meh", "overall": "five", "summary": "s", "unixReviewTime": 1001}
{"reviewerID": "U1", "helpful": [0, 0], "reviewText": "no item", "overall": 3.0, "summary": "s", "unixReviewTime": 1002}
{"reviewerID": "U2", "asin": "A", "helpful": [0, 0], "reviewText": "", "overall": 2.0, "summary": "", "unixReviewTime": 1003}

{"reviewerID": "U1", "asin": "A", "helpful": [1, 1], "reviewText": "duplicate, later", "overall": 1.0, "summary": "dup", "unixReviewTime": 2000}
{"reviewerID": "U2", "asin": "C", "helpful": [0, 0], "reviewText": "first in file, later in time", "overall": 4.0, "summary": "c1", "unixReviewTime": 500}
{"reviewerID": "U2", "asin": "C", "helpful": [0, 0], "reviewText": "later in file, earlier in time", "overall": 3.0, "summary": "c2", "unixReviewTime": 400}
{"reviewerID": "U3", "asin": "C", "helpful": [0, 0], "reviewText": "bad time", "overall": 3.0, "summary": "t", "unixReviewTime": "yesterday"}
{"reviewerID": "U3", "asin": "D", "helpful": "[1, 2]", "reviewText": "date only", "overall": 4, "summary": "d", "reviewTime": "02 3, 2010"}
{"reviewerID": "U3", "asin": "E", "helpful": [0], "reviewText": "bad helpful", "overall": 4, "summary": "h", "unixReviewTime": 10}
[1, 2, 3]
`

func TestAmazonJSON2014(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "reviews.json", []byte(json2014))
	ds, err := Load(path, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, FormatAmazonJSON2014, ds.Format)
	require.Equal(t, "reviews", ds.Name)
	// 12 records: 6 malformed (lines 2,3,4,10,12,13), 6 valid, 2 duplicates.
	require.Equal(t, Counts{Users: 3, Items: 3, Interactions: 4, Skipped: 6, Duplicates: 2}, ds.Counts)
	require.Equal(t, []string{
		`reviews.json:2: invalid JSON: unexpected end of JSON input`,
		`reviews.json:3: field "overall": invalid rating "five"`,
		`reviews.json:4: field "asin": missing item id`,
		`reviews.json:10: field "unixReviewTime": unparsable time "yesterday"`,
		`reviews.json:12: field "helpful": invalid helpful votes "[0]"`,
		`reviews.json:13: invalid JSON: expected an object, got array`,
	}, ds.SkippedReasons)

	a, ok := findInteraction(ds, "U1", "A")
	require.True(t, ok)
	require.Equal(t, Interaction{
		User: "U1", Item: "A", Rating: 5, Time: 1000,
		Summary: "Tom & Jerry", Text: `Great & loud "amp" <3`,
		Values: map[string]float64{"helpful_votes": 2, "helpful_total": 3},
		Row:    0,
	}, a, "HTML entities decoded, first of the duplicate pair kept")

	empty, ok := findInteraction(ds, "U2", "A")
	require.True(t, ok)
	require.Equal(t, "", empty.Text, "empty text kept")
	require.Equal(t, "", empty.Summary)

	c, ok := findInteraction(ds, "U2", "C")
	require.True(t, ok)
	require.Equal(t, "later in file, earlier in time", c.Text, "duplicate: first by (time, row) kept")
	require.Equal(t, int64(400), c.Time)
	require.Equal(t, 7, c.Row, "Row counts data records (blank lines excluded)")

	d, ok := findInteraction(ds, "U3", "D")
	require.True(t, ok)
	require.Equal(t, int64(1265155200), d.Time, "reviewTime used when unixReviewTime is absent")
	require.Equal(t, map[string]float64{"helpful_votes": 1, "helpful_total": 2}, d.Values)

	// Interactions stay in file order.
	for i := 1; i < len(ds.Interactions); i++ {
		require.Less(t, ds.Interactions[i-1].Row, ds.Interactions[i].Row)
	}

	// Strict: the first malformed record is an error naming file and line.
	_, err = Load(path, LoadOptions{Strict: true})
	var re *RecordError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "reviews.json", re.File)
	require.Equal(t, 2, re.Line)
	require.True(t, strings.HasPrefix(err.Error(), "reviews.json:2: invalid JSON"), err.Error())

	// Without the bad JSON line the strict error is the bad rating.
	lines := strings.Split(json2014, "\n")
	path2 := writeFile(t, dir, "reviews2.json", []byte(strings.Join(append(lines[:1:1], lines[2:]...), "\n")))
	_, err = LoadAmazon(path2, LoadOptions{Strict: true})
	require.EqualError(t, err, `reviews2.json:2: field "overall": invalid rating "five"`)
	require.ErrorAs(t, err, &re)
	require.Equal(t, RecordError{File: "reviews2.json", Line: 2, Field: "overall", Reason: `invalid rating "five"`}, *re)

	// MaxSkipReasons caps the messages, not the count.
	ds, err = Load(path, LoadOptions{MaxSkipReasons: 2})
	require.NoError(t, err)
	require.Len(t, ds.SkippedReasons, 2)
	require.Equal(t, 6, ds.Counts.Skipped)
	ds, err = Load(path, LoadOptions{MaxSkipReasons: -1})
	require.NoError(t, err)
	require.Empty(t, ds.SkippedReasons)

	// MaxRecords reads a prefix of the data records.
	ds, err = Load(path, LoadOptions{MaxRecords: 3})
	require.NoError(t, err)
	require.Equal(t, Counts{Users: 1, Items: 1, Interactions: 1, Skipped: 2}, ds.Counts)
}

// ---- Amazon 2018 JSON lines, gzip ----

const json2018 = `{"overall": 5.0, "vote": "1,234", "verified": true, "reviewTime": "11 1, 2016", "reviewerID": "R1", "asin": "P1", "style": {"Color:": " Black"}, "reviewerName": "n", "reviewText": "Works &amp; sounds great", "summary": "Five Stars", "unixReviewTime": 1477958400, "image": ["https://x/y.jpg"]}
{"overall": 4.0, "verified": false, "reviewTime": "11 2, 2016", "asin": "P1", "reviewText": "no reviewer", "summary": "s", "unixReviewTime": 1478044800}
{"overall": 3.0, "verified": true, "reviewerID": "R2", "asin": "P1", "summary": "no text key", "unixReviewTime": 1478044800}
{"overall": 2.0, "vote": "lots", "verified": true, "reviewerID": "R2", "asin": "P2", "reviewText": "bad vote", "summary": "s", "unixReviewTime": 1478044800}
{"overall": 1.0, "vote": 7, "verified": false, "reviewerID": "R3", "asin": "P2", "reviewText": "numeric vote", "summary": "s", "unixReviewTime": 1478131200}
{"overall": 6.0, "verified": false, "reviewerID": "R3", "asin": "P3", "reviewText": "out of range", "summary": "s", "unixReviewTime": 1478131200}
{"overall": 4.0, "verified": true, "reviewerID": "R1", "asin": "P1", "reviewText": "dup", "summary": "s", "unixReviewTime": 1478131200}
{"overall": 4.0, "verified": true, "reviewerID": 17, "asin": "P3", "reviewText": "numeric id", "summary": "s", "unixReviewTime": 1478131200}
`

func TestAmazonJSON2018Gzip(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "reviews2018.json.gz", gzipBytes(t, []byte(json2018)))
	ds, err := Load(path, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, FormatAmazonJSON2018, ds.Format)
	require.Equal(t, "reviews2018", ds.Name)
	require.Equal(t, Counts{Users: 4, Items: 3, Interactions: 4, Skipped: 3, Duplicates: 1}, ds.Counts)
	require.Equal(t, []string{
		`reviews2018.json.gz:2: field "reviewerID": missing user id`,
		`reviews2018.json.gz:4: field "vote": invalid vote count "lots"`,
		`reviews2018.json.gz:6: field "overall": invalid rating "6.0"`,
	}, ds.SkippedReasons)

	r1, ok := findInteraction(ds, "R1", "P1")
	require.True(t, ok)
	require.Equal(t, "Works & sounds great", r1.Text)
	require.Equal(t, map[string]float64{"vote": 1234, "verified": 1}, r1.Values)
	require.Equal(t, int64(1477958400), r1.Time)

	r2, ok := findInteraction(ds, "R2", "P1")
	require.True(t, ok)
	require.Equal(t, "", r2.Text, "absent reviewText is empty")
	require.Equal(t, map[string]float64{"verified": 1}, r2.Values)

	r3, ok := findInteraction(ds, "R3", "P2")
	require.True(t, ok)
	require.Equal(t, map[string]float64{"vote": 7, "verified": 0}, r3.Values)

	n, ok := findInteraction(ds, "17", "P3")
	require.True(t, ok, "numeric ids are accepted as their literal text")
	require.Equal(t, "numeric id", n.Text)

	_, err = Load(path, LoadOptions{Strict: true})
	require.EqualError(t, err, `reviews2018.json.gz:2: field "reviewerID": missing user id`)
}

// ---- Amazon CSV, plain and zipped ----

// amazonCSV builds a CSV in the Kaggle layout (CRLF) whose line 17 has a bad
// rating.
func amazonCSV() string {
	rows := []string{
		`reviewerID,asin,reviewerName,helpful,reviewText,overall,summary,unixReviewTime,reviewTime`,
		`U1,I1,"Ann ""Annie"" B","[1, 2]","Nice, &#34;loud&#34; &amp; clear",5.0,Good &lt;stuff&gt;,1393545600,"02 28, 2014"`, // line 2
		`U1,I2,Ann,"[0, 0]",,4.0,empty text,1393545600,"02 28, 2014"`,                                                         // 3: empty text
		`U1,I3,Ann,"[0, 0]",third,3.0,s,1393632000,"03 1, 2014"`,                                                              // 4
		`U2,I1,Bob,"[0, 0]",too few columns,3.0,s,1393632000`,                                                                 // 5: 8 columns
		`U2,I2,Bob,"[0, 0]",missing user below,4.0,s,1393632000,"03 1, 2014"`,                                                 // 6
		`,I3,Bob,"[0, 0]",no user,4.0,s,1393632000,"03 1, 2014"`,                                                              // 7
		`U2,,Bob,"[0, 0]",no item,4.0,s,1393632000,"03 1, 2014"`,                                                              // 8
		`U2,I3,Bob,"[0, 0]",bad time,4.0,s,soon,"03 1, 2014"`,                                                                 // 9
		`U1,I1,Ann,"[0, 0]",duplicate,1.0,dup,1393718400,"03 2, 2014"`,                                                        // 10: duplicate
		`U3,I1,Cy,"[0, 0]",ok,2.0,s,1393718400,"03 2, 2014"`,                                                                  // 11
		`U3,I2,Cy,"[0, 0]",ok,1.0,s,1393718400,"03 2, 2014"`,                                                                  // 12
		`U3,I3,Cy,"[x, 0]",bad helpful,1.0,s,1393718400,"03 2, 2014"`,                                                         // 13
		`U3,I4,Cy,"[0, 0]",ok,5,s,1393718400,"03 2, 2014"`,                                                                    // 14
		`U3,I5,Cy,"[0, 0]",extra,5,s,1393718400,"03 2, 2014",extra`,                                                           // 15: 10 columns
		`U3,I6,Cy,"[0, 0]",missing rating,,s,1393718400,"03 2, 2014"`,                                                         // 16
		`U4,I1,Di,"[0, 0]",bad rating,five,s,1393718400,"03 2, 2014"`,                                                         // 17
		`U4,I2,Di,"[0, 0]",ok,4.0,s,1393718400,"03 2, 2014"`,                                                                  // 18
	}
	return strings.Join(rows, "\r\n") + "\r\n"
}

var amazonCSVReasons = []string{
	`:5: wrong number of columns: got 8, want 9`,
	`:7: field "reviewerID": missing user id`,
	`:8: field "asin": missing item id`,
	`:9: field "unixReviewTime": unparsable time "soon"`,
	`:13: field "helpful": invalid helpful votes "[x, 0]"`,
	`:15: wrong number of columns: got 10, want 9`,
	`:16: field "overall": missing rating`,
	`:17: field "overall": invalid rating "five"`,
}

func checkAmazonCSV(t *testing.T, ds *Dataset, file string) {
	t.Helper()
	require.Equal(t, FormatAmazonCSV, ds.Format)
	require.Equal(t, Counts{Users: 4, Items: 4, Interactions: 8, Skipped: 8, Duplicates: 1}, ds.Counts)
	want := make([]string, len(amazonCSVReasons))
	for i, r := range amazonCSVReasons {
		want[i] = file + r
	}
	require.Equal(t, want, ds.SkippedReasons)
	first, ok := findInteraction(ds, "U1", "I1")
	require.True(t, ok)
	require.Equal(t, Interaction{
		User: "U1", Item: "I1", Rating: 5, Time: 1393545600,
		Summary: "Good <stuff>", Text: `Nice, "loud" & clear`,
		Values: map[string]float64{"helpful_votes": 1, "helpful_total": 2}, Row: 0,
	}, first)
	empty, ok := findInteraction(ds, "U1", "I2")
	require.True(t, ok)
	require.Equal(t, "", empty.Text)
	require.Equal(t, "empty text", empty.Summary)
	last, ok := findInteraction(ds, "U4", "I2")
	require.True(t, ok)
	require.Equal(t, 16, last.Row)
}

func TestAmazonCSV(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "reviews.csv", []byte(amazonCSV()))
	ds, err := Load(path, LoadOptions{})
	require.NoError(t, err)
	checkAmazonCSV(t, ds, "reviews.csv")

	// Strict on a file whose only problem is on line 17.
	rows := strings.Split(amazonCSV(), "\r\n")
	for _, l := range []int{16, 15, 13, 9, 8, 7, 5} { // 1-based lines → replace with valid rows
		rows[l-1] = strings.Replace(`UX,IX,X,"[0, 0]",fixed,4.0,s,1393718400,"03 2, 2014"`, "IX", "I"+string(rune('a'+l)), 1)
	}
	strictPath := writeFile(t, dir, "strict.csv", []byte(strings.Join(rows, "\r\n")))
	_, err = Load(strictPath, LoadOptions{Strict: true})
	require.EqualError(t, err, `strict.csv:17: field "overall": invalid rating "five"`)

	// Strict on the original file stops at the first problem.
	_, err = Load(path, LoadOptions{Strict: true})
	require.EqualError(t, err, `reviews.csv:5: wrong number of columns: got 8, want 9`)
}

func TestAmazonCSVZip(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "reviews.zip", zipBytes(t, "reviews.csv", amazonCSV()))
	ds, err := Load(path, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, "reviews", ds.Name)
	checkAmazonCSV(t, ds, "reviews.zip!reviews.csv")

	_, err = Load(path, LoadOptions{Strict: true})
	require.EqualError(t, err, `reviews.zip!reviews.csv:5: wrong number of columns: got 8, want 9`)

	// A zip with a macOS resource folder still has one data file.
	path = writeFile(t, dir, "mac.zip", zipBytes(t, "__MACOSX/._reviews.csv", "junk", "data/reviews.csv", amazonCSV()))
	ds, err = Load(path, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, 8, ds.Counts.Interactions)

	// JSON lines and gzip inside a zip work too.
	path = writeFile(t, dir, "json.zip", zipBytes(t, "reviews.json", json2014))
	ds, err = Load(path, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, FormatAmazonJSON2014, ds.Format)
	require.Equal(t, 4, ds.Counts.Interactions)
}

// ---- generic loader ----

const genericCSV = "user_id,item_id,stars,ts,body,title,likes,flag\n" +
	"u1,i1,4.5,2020-01-02,Body &amp; soul,T1,\"1,234\",true\n" +
	"u1,i2,,1577923200,no stars,T2,,\n" +
	"u2,i1,3,2020-01-03T10:00:00Z,,T3,5,false\n" +
	"u2,i2,x,1577923200,bad stars,T4,0,\n" +
	",i3,3,1577923200,no user,T5,0,\n" +
	"u2,i3,3,1577923200,bad likes,T6,many,\n" +
	"u2,i1,1,2019-01-01,dup but earlier,T7,0,\n" +
	"u3,i3,2,,no time,T8,0,\n"

func genericCols() Columns {
	return Columns{User: "user_id", Item: "item_id", Rating: "stars", Time: "ts", Text: "body", Summary: "title", Numeric: []string{"likes", "flag"}}
}

func checkGeneric(t *testing.T, ds *Dataset, file string) {
	t.Helper()
	require.Equal(t, Counts{Users: 2, Items: 2, Interactions: 3, Skipped: 4, Duplicates: 1}, ds.Counts)
	require.Equal(t, []string{
		file + `:5: field "stars": invalid rating "x"`,
		file + `:6: field "user_id": missing user id`,
		file + `:7: field "likes": invalid number "many"`,
		file + `:9: field "ts": missing time`,
	}, ds.SkippedReasons)
	a, ok := findInteraction(ds, "u1", "i1")
	require.True(t, ok)
	require.Equal(t, Interaction{User: "u1", Item: "i1", Rating: 4.5, Time: 1577923200, Text: "Body & soul", Summary: "T1",
		Values: map[string]float64{"likes": 1234, "flag": 1}, Row: 0}, a)
	b, ok := findInteraction(ds, "u1", "i2")
	require.True(t, ok)
	require.True(t, math.IsNaN(b.Rating), "empty rating is NaN")
	require.Nil(t, b.Values)
	c, ok := findInteraction(ds, "u2", "i1")
	require.True(t, ok)
	require.Equal(t, "dup but earlier", c.Text)
	require.Equal(t, int64(1546300800), c.Time)
}

func TestGenericCSV(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "events.csv", []byte(genericCSV))
	cols := genericCols()
	ds, err := Load(path, LoadOptions{Columns: &cols})
	require.NoError(t, err)
	require.Equal(t, FormatGenericCSV, ds.Format)
	checkGeneric(t, ds, "events.csv")

	_, err = LoadGeneric(path, cols, LoadOptions{Strict: true})
	require.EqualError(t, err, `events.csv:5: field "stars": invalid rating "x"`)

	// Zipped and tab separated.
	tsv := strings.ReplaceAll(strings.ReplaceAll(genericCSV, ",", "\t"), "\"1\t234\"", "1234")
	path = writeFile(t, dir, "events.zip", zipBytes(t, "events.tsv", tsv))
	ds, err = LoadGeneric(path, cols, LoadOptions{})
	require.NoError(t, err)
	checkGeneric(t, ds, "events.zip!events.tsv")

	// A mapped column missing from the header is a clear error.
	bad := cols
	bad.Rating = "rating"
	_, err = LoadGeneric(writeFile(t, dir, "e2.csv", []byte(genericCSV)), bad, LoadOptions{})
	require.ErrorContains(t, err, `column "rating" is not in the CSV header`)
	_, err = LoadGeneric(path, Columns{User: "user_id"}, LoadOptions{})
	require.ErrorContains(t, err, `the column mapping must name the user and the item column (got user "user_id", item "")`)
}

const genericJSONL = `{"user_id": "u1", "item_id": "i1", "stars": 4.5, "ts": "2020-01-02", "body": "Body &amp; soul", "title": "T1", "likes": "1,234", "flag": true}
{"user_id": "u1", "item_id": "i2", "stars": null, "ts": 1577923200, "body": "no stars", "title": "T2"}
{"user_id": "u2", "item_id": "i1", "stars": 3, "ts": "2020-01-03T10:00:00Z", "body": "", "title": "T3", "likes": 5, "flag": false}
{"user_id": "u2", "item_id": "i2", "stars": "x", "ts": 1577923200, "body": "bad stars", "title": "T4", "likes": 0}
{"item_id": "i3", "stars": 3, "ts": 1577923200, "body": "no user", "title": "T5", "likes": 0}
{"user_id": "u2", "item_id": "i3", "stars": 3, "ts": 1577923200, "body": "bad likes", "title": "T6", "likes": "many"}
{"user_id": "u2", "item_id": "i1", "stars": 1, "ts": "2019-01-01", "body": "dup but earlier", "title": "T7", "likes": 0}
{"user_id": "u3", "item_id": "i3", "stars": 2, "body": "no time", "title": "T8", "likes": 0}
`

func TestGenericJSONL(t *testing.T) {
	dir := t.TempDir()
	// Line numbers in checkGeneric count the CSV header; prepend a blank line
	// so the JSON lines have the same numbers.
	path := writeFile(t, dir, "events.jsonl.gz", gzipBytes(t, []byte("\n"+genericJSONL)))
	cols := genericCols()
	ds, err := LoadGeneric(path, cols, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, FormatGenericJSONL, ds.Format)
	require.Equal(t, "events", ds.Name)
	checkGeneric(t, ds, "events.jsonl.gz")

	// Non-scalar values are reported with their key.
	p2 := writeFile(t, dir, "obj.jsonl", []byte(`{"user_id": {"a": 1}, "item_id": "i1", "ts": 1}`+"\n"))
	_, err = LoadGeneric(p2, cols, LoadOptions{Strict: true})
	require.EqualError(t, err, `obj.jsonl:1: field "user_id": is an object or array, want a scalar`)
}

// ---- MovieLens on a small hand-made directory ----

func TestMovieLensSmall(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "u.data", []byte("1\t10\t5\t100\n1\t11\t3\t101\n2\t10\t9\t102\n2\t11\t4\n\n2\t12\t1\t103\n1\t10\t2\t99\n"))
	item := "10|Caf\xe9 Society (1999)|01-Jan-1999||http://x|0|0|0|0|0|1|0|0|1|0|0|0|0|0|0|0|0|0|0\n" +
		"11|Plain (2000)|01-Jan-2000||http://x|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n" +
		"12|Broken|01-Jan-2000||http://x|0|0\n"
	writeFile(t, dir, "u.item", []byte(item))
	ds, err := Load(dir, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, FormatMovieLens100K, ds.Format)
	require.Equal(t, Counts{Users: 2, Items: 3, Interactions: 3, Skipped: 3, Duplicates: 1}, ds.Counts)
	require.Equal(t, []string{
		`u.data:3: field "rating": invalid rating "9"`,
		`u.data:4: wrong number of columns: got 3, want 4 (user item rating timestamp)`,
		`u.item:3: wrong number of fields: got 7, want 24`,
	}, ds.SkippedReasons)
	require.Equal(t, map[string]string{
		"10": "Café Society (1999) | Comedy, Drama",
		"11": "Plain (2000)",
	}, ds.ItemText)
	require.Equal(t, map[string]ItemInfo{
		"10": {Title: "Café Society (1999)", Genres: []string{"Comedy", "Drama"}, ReleaseDate: "01-Jan-1999", URL: "http://x"},
		"11": {Title: "Plain (2000)", ReleaseDate: "01-Jan-2000", URL: "http://x"},
	}, ds.Items)
	require.Equal(t, []string{filepath.Join(dir, "u.data"), filepath.Join(dir, "u.item")}, ds.Files)
	kept, ok := findInteraction(ds, "1", "10")
	require.True(t, ok)
	require.Equal(t, int64(99), kept.Time, "duplicate: earliest time kept")

	_, err = Load(dir, LoadOptions{Strict: true})
	require.EqualError(t, err, `u.data:3: field "rating": invalid rating "9"`)

	// Without u.item there is no item text.
	require.NoError(t, os.Remove(filepath.Join(dir, "u.item")))
	ds, err = LoadMovieLens(dir, LoadOptions{})
	require.NoError(t, err)
	require.Nil(t, ds.ItemText)
	require.Nil(t, ds.Items)
}

// The generic loader's optional title column gives display titles: an item's first non-empty
// title in file order, HTML-unescaped; items without one have no entry.
func TestGenericTitleColumn(t *testing.T) {
	dir := t.TempDir()
	csv := "uid,sku,name,stars\n" +
		"u1,A,,4\n" +
		"u2,A,Alpha &amp; Omega,5\n" +
		"u3,A,Later title,3\n" +
		"u1,B,Beta,x\n" + // malformed: its title is not used
		"u2,C,  ,2\n"
	path := writeFile(t, dir, "items.csv", []byte(csv))
	cols := Columns{User: "uid", Item: "sku", Rating: "stars", Title: "name"}
	ds, err := LoadGeneric(path, cols, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]ItemInfo{"A": {Title: "Alpha & Omega"}}, ds.Items)
	require.Equal(t, []string{path}, ds.Files)

	jl := `{"uid": "u1", "sku": "A", "name": "Alpha"}` + "\n" + `{"uid": "u1", "sku": "B", "name": {"x": 1}}` + "\n"
	ds, err = LoadGeneric(writeFile(t, dir, "items.jsonl", []byte(jl)), cols, LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]ItemInfo{"A": {Title: "Alpha"}}, ds.Items)
	require.Equal(t, 1, ds.Counts.Skipped, "a non-scalar title is a malformed record")
	_, err = LoadGeneric(writeFile(t, dir, "items2.jsonl", []byte(jl)), cols, LoadOptions{Strict: true})
	require.EqualError(t, err, `items2.jsonl:2: field "name": is an object or array, want a scalar`)

	// A title column missing from the header is an error naming it; without the option there
	// is no metadata.
	cols.Title = "title"
	_, err = LoadGeneric(path, cols, LoadOptions{})
	require.ErrorContains(t, err, `column "title" is not in the CSV header`)
	cols.Title = ""
	ds, err = LoadGeneric(path, cols, LoadOptions{})
	require.NoError(t, err)
	require.Nil(t, ds.Items)
}

// ---- errors for empty and wrong-kind inputs ----

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		content []byte
		is      error
		msg     string
	}{
		{"empty.csv", nil, ErrEmptyFile, "empty.csv: file is empty"},
		{"blank.json", []byte("\n \r\n"), ErrEmptyFile, "blank.json: file is empty"},
		{"header.csv", []byte("reviewerID,asin,overall,unixReviewTime\n"), ErrNoInteractions, "header.csv: no valid interactions (no data records)"},
		{"allbad.json", []byte(`{"reviewerID": "a", "asin": "b", "overall": 9, "unixReviewTime": 1}` + "\n"), ErrNoInteractions,
			`allbad.json: no valid interactions (1 malformed records skipped; first: allbad.json:1: field "overall": invalid rating "9")`},
		{"other.csv", []byte("a,b,c\n1,2,3\n"), ErrUnknownFormat, "read it as a generic file with a column mapping"},
		{"other.jsonl", []byte(`{"user": "a", "item": "b"}` + "\n"), ErrUnknownFormat, "no reviewerID/asin keys"},
		{"array.json", []byte(`[{"reviewerID": "a"}]`), ErrUnknownFormat, "JSON array is not supported"},
		{"image.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), ErrUnknownFormat, "binary content"},
		{"empty.gz", gzipBytes(t, nil), ErrEmptyFile, "file is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, tc.name, tc.content)
			ds, err := Load(p, LoadOptions{})
			require.Nil(t, ds)
			require.ErrorIs(t, err, tc.is)
			require.ErrorContains(t, err, tc.msg)
			if tc.name == "other.csv" || tc.name == "other.jsonl" {
				require.ErrorIs(t, err, ErrNeedsColumns, "records in another layout: a column mapping reads them")
			}
		})
	}

	_, err := Load(filepath.Join(dir, "missing.csv"), LoadOptions{})
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = Load(dir, LoadOptions{})
	require.ErrorIs(t, err, ErrUnknownFormat)
	require.ErrorContains(t, err, "no u.data")

	p := writeFile(t, dir, "two.zip", zipBytes(t, "a.csv", "x", "b.csv", "y"))
	_, err = Load(p, LoadOptions{})
	require.ErrorContains(t, err, "exactly one data file")

	p = writeFile(t, dir, "broken.zip", []byte("PK\x03\x04garbage"))
	_, err = Load(p, LoadOptions{})
	require.ErrorContains(t, err, "bad zip archive")

	p = writeFile(t, dir, "broken.gz", []byte{0x1f, 0x8b, 1, 2, 3})
	_, err = Load(p, LoadOptions{})
	require.Error(t, err)
}

// TestLoadNeverPanics feeds mutated versions of the fixtures to every loader.
func TestLoadNeverPanics(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	seeds := []string{json2014, json2018, amazonCSV(), genericCSV, genericJSONL}
	cols := genericCols()
	for n := 0; n < 300; n++ {
		b := []byte(seeds[n%len(seeds)])
		for k := rng.IntN(8); k >= 0; k-- {
			switch i := rng.IntN(len(b)); rng.IntN(3) {
			case 0:
				b[i] = byte(rng.IntN(256))
			case 1:
				b = append(b[:i:i], b[min(len(b), i+rng.IntN(20)):]...)
			default:
				j := rng.IntN(4)
				b = append(b[:i:i], append([]byte(`"{[,`)[j:j+1], b[i:]...)...)
			}
			if len(b) == 0 {
				break
			}
		}
		p := writeFile(t, dir, "fuzz.dat", b)
		require.NotPanics(t, func() {
			ds, err := Load(p, LoadOptions{})
			if err == nil {
				_ = ds.Summary()
				if sd, err := Split(ds); err == nil {
					_ = sd.ItemTexts(100)
					_ = sd.UserTexts(100)
				}
			}
			_, _ = LoadGeneric(p, cols, LoadOptions{})
			_, _ = Load(p, LoadOptions{Strict: true})
		})
	}
}

func TestRecordErrorFormat(t *testing.T) {
	require.Equal(t, `a.csv:3: field "x": bad`, (&RecordError{File: "a.csv", Line: 3, Field: "x", Reason: "bad"}).Error())
	require.Equal(t, `a.csv:3: bad`, (&RecordError{File: "a.csv", Line: 3, Reason: "bad"}).Error())
	var re *RecordError
	require.False(t, errors.As(errors.New("x"), &re))
}
