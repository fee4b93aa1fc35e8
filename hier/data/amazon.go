package data

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// LoadAmazon reads Amazon product reviews from path in any of three layouts,
// detected from the content:
//
//  1. the 2014 UCSD JSON-lines release (reviewerID, asin, reviewerName,
//     helpful [a, b], reviewText, overall, summary, unixReviewTime,
//     reviewTime), Dataset.Format FormatAmazonJSON2014;
//  2. the 2018 JSON-lines release (the same keys without helpful, plus vote
//     as a string like "1,234", verified, style, image),
//     FormatAmazonJSON2018;
//  3. the CSV re-publication with header reviewerID, asin, reviewerName,
//     helpful, reviewText, overall, summary, unixReviewTime, reviewTime
//     (columns are found by name, so order and extra columns do not matter),
//     FormatAmazonCSV.
//
// Each may be plain, gzip-compressed, or (CSV or JSON) the only data file in
// a .zip archive. overall must be a number in [1, 5]; the time comes from
// unixReviewTime (unix seconds, or milliseconds etc.: see Dataset.TimeUnit),
// or from reviewTime ("MM D, YYYY", UTC) when the former is absent. helpful [a, b] becomes Values "helpful_votes"=a and
// "helpful_total"=b; vote becomes Values "vote"; verified becomes Values
// "verified" (1 or 0). Interactions have no Values when none of these is
// present. See the package documentation for skipping, strict mode and
// deduplication.
func LoadAmazon(path string, opts LoadOptions) (*Dataset, error) {
	src, err := openSource(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	k, err := src.sniff()
	if err != nil {
		return nil, err
	}
	c := &collector{opts: opts}
	var format string
	if k == kindJSONL {
		format, err = readAmazonJSON(src, c)
	} else {
		format = FormatAmazonCSV
		err = readAmazonCSV(src, c)
	}
	if err != nil {
		return nil, err
	}
	ds, err := c.finish(datasetName(path, opts), format, src.name)
	if err != nil {
		return nil, err
	}
	ds.Files = []string{path}
	return ds, nil
}

// amazonFields is one review in string form, shared by the JSON and CSV
// readers. Empty strings mean absent.
type amazonFields struct {
	user, item, overall, text, summary string
	unixTime, reviewTime, helpful      string
	vote, verified                     string
}

// amazonJSON is one line of the 2014 or 2018 JSON release.
type amazonJSON struct {
	ReviewerID     json.RawMessage `json:"reviewerID"`
	Asin           json.RawMessage `json:"asin"`
	Overall        json.RawMessage `json:"overall"`
	ReviewText     json.RawMessage `json:"reviewText"`
	Summary        json.RawMessage `json:"summary"`
	UnixReviewTime json.RawMessage `json:"unixReviewTime"`
	ReviewTime     json.RawMessage `json:"reviewTime"`
	Helpful        json.RawMessage `json:"helpful"`
	Vote           json.RawMessage `json:"vote"`
	Verified       json.RawMessage `json:"verified"`
	Style          json.RawMessage `json:"style"`
	Image          json.RawMessage `json:"image"`
}

func readAmazonJSON(src *source, c *collector) (string, error) {
	format := ""
	err := eachJSONLine(src, c, func(line []byte, row, lineNo int) (*fieldErr, error) {
		var rec amazonJSON
		if err := json.Unmarshal(line, &rec); err != nil {
			return jsonErr(err), nil
		}
		if format == "" {
			if rec.ReviewerID == nil && rec.Asin == nil {
				return nil, fmt.Errorf("%s: %w: JSON records have no reviewerID/asin keys, so this is not Amazon review data; %w", src.name, ErrUnknownFormat, ErrNeedsColumns)
			}
			format = FormatAmazonJSON2014
			if rec.Helpful == nil && (rec.Vote != nil || rec.Verified != nil || rec.Style != nil || rec.Image != nil) {
				format = FormatAmazonJSON2018
			}
		}
		var f amazonFields
		scalars := []struct {
			name string
			raw  json.RawMessage
			dst  *string
		}{
			{"reviewerID", rec.ReviewerID, &f.user},
			{"asin", rec.Asin, &f.item},
			{"overall", rec.Overall, &f.overall},
			{"reviewText", rec.ReviewText, &f.text},
			{"summary", rec.Summary, &f.summary},
			{"unixReviewTime", rec.UnixReviewTime, &f.unixTime},
			{"reviewTime", rec.ReviewTime, &f.reviewTime},
			{"vote", rec.Vote, &f.vote},
			{"verified", rec.Verified, &f.verified},
		}
		for _, s := range scalars {
			v, _, err := rawScalar(s.raw)
			if err != nil {
				return &fieldErr{s.name, err.Error()}, nil
			}
			*s.dst = v
		}
		// helpful is an array [a, b]; accept it as a string "[a, b]" too.
		if h := strings.TrimSpace(string(rec.Helpful)); strings.HasPrefix(h, "[") {
			f.helpful = h
		} else if v, _, err := rawScalar(rec.Helpful); err == nil {
			f.helpful = v
		}
		it, numField, fe := buildAmazon(&f)
		if fe != nil {
			return fe, nil
		}
		it.Row = row
		c.addTimed(it, src.name, lineNo, numField)
		return nil, nil
	})
	if err != nil {
		return "", err
	}
	if format == "" {
		format = FormatAmazonJSON2014
	}
	return format, nil
}

// amazonCSVColumns are the CSV header names read by readAmazonCSV.
var amazonCSVColumns = []string{"reviewerID", "asin", "overall", "reviewText", "summary", "unixReviewTime", "reviewTime", "helpful", "vote", "verified"}

func readAmazonCSV(src *source, c *collector) error {
	r := newCSVReader(src, 0)
	header, idx, err := readCSVHeader(src, r)
	if err != nil {
		return err
	}
	_, hasU := idx["reviewerID"]
	_, hasI := idx["asin"]
	_, hasR := idx["overall"]
	_, hasT := idx["unixReviewTime"]
	_, hasD := idx["reviewTime"]
	if !hasU || !hasI || !hasR || !(hasT || hasD) {
		return fmt.Errorf("%s: %w: CSV header %q is not the Amazon review layout (needs reviewerID, asin, overall and unixReviewTime or reviewTime); %w", src.name, ErrUnknownFormat, shortHeader(header), ErrNeedsColumns)
	}
	col := make([]int, len(amazonCSVColumns))
	for i, name := range amazonCSVColumns {
		if j, ok := idx[name]; ok {
			col[i] = j
		} else {
			col[i] = -1
		}
	}
	get := func(rec []string, i int) string {
		if col[i] < 0 {
			return ""
		}
		return rec[col[i]]
	}
	return eachCSVRecord(src, r, len(header), c, func(rec []string, row, line int) *fieldErr {
		f := amazonFields{
			user: get(rec, 0), item: get(rec, 1), overall: get(rec, 2),
			text: get(rec, 3), summary: get(rec, 4),
			unixTime: get(rec, 5), reviewTime: get(rec, 6), helpful: get(rec, 7),
			vote: get(rec, 8), verified: get(rec, 9),
		}
		it, numField, fe := buildAmazon(&f)
		if fe != nil {
			return fe
		}
		it.Row = row
		c.addTimed(it, src.name, line, numField)
		return nil
	})
}

func shortHeader(h []string) []string {
	if len(h) > 12 {
		return append(append([]string(nil), h[:12]...), "...")
	}
	return h
}

// buildAmazon validates one review and converts it to an Interaction. When
// the time is a number, it.Time holds it as read and numField names its field
// (collector.addTimed converts it).
func buildAmazon(f *amazonFields) (it Interaction, numField string, fe *fieldErr) {
	it.User = strings.TrimSpace(f.user)
	if it.User == "" {
		return it, "", &fieldErr{"reviewerID", "missing user id"}
	}
	it.Item = strings.TrimSpace(f.item)
	if it.Item == "" {
		return it, "", &fieldErr{"asin", "missing item id"}
	}
	if strings.TrimSpace(f.overall) == "" {
		return it, "", &fieldErr{"overall", "missing rating"}
	}
	r, err := parseNumber(f.overall)
	if err != nil || !ratingOK(r) {
		return it, "", &fieldErr{"overall", "invalid rating " + quoteShort(f.overall)}
	}
	it.Rating = r
	switch {
	case strings.TrimSpace(f.unixTime) != "":
		t, numeric, err := parseTime(f.unixTime)
		if err != nil {
			return it, "", &fieldErr{"unixReviewTime", "unparsable time " + quoteShort(f.unixTime)}
		}
		it.Time = t
		if numeric {
			numField = "unixReviewTime"
		}
	case strings.TrimSpace(f.reviewTime) != "":
		t, numeric, err := parseTime(f.reviewTime)
		if err != nil {
			return it, "", &fieldErr{"reviewTime", "unparsable time " + quoteShort(f.reviewTime)}
		}
		it.Time = t
		if numeric {
			numField = "reviewTime"
		}
	default:
		return it, "", &fieldErr{"unixReviewTime", "missing time"}
	}
	if h := strings.TrimSpace(f.helpful); h != "" {
		a, b, err := parseHelpful(h)
		if err != nil {
			return it, "", &fieldErr{"helpful", "invalid helpful votes " + quoteShort(h)}
		}
		it.setValue("helpful_votes", a)
		it.setValue("helpful_total", b)
	}
	if v := strings.TrimSpace(f.vote); v != "" {
		n, err := parseNumber(v)
		if err != nil {
			return it, "", &fieldErr{"vote", "invalid vote count " + quoteShort(v)}
		}
		it.setValue("vote", n)
	}
	if v := strings.TrimSpace(f.verified); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return it, "", &fieldErr{"verified", "invalid boolean " + quoteShort(v)}
		}
		it.setValue("verified", boolFloat(b))
	}
	it.Text = html.UnescapeString(f.text)
	it.Summary = html.UnescapeString(f.summary)
	return it, numField, nil
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (it *Interaction) setValue(k string, v float64) {
	if it.Values == nil {
		it.Values = make(map[string]float64, 2)
	}
	it.Values[k] = v
}

// parseHelpful parses "[a, b]" (the 2014 helpfulness votes).
func parseHelpful(s string) (float64, float64, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return 0, 0, fmt.Errorf("want [a, b]")
	}
	parts := strings.Split(s[1:len(s)-1], ",")
	if len(parts) != 2 {
		return 0, 0, fmt.Errorf("want [a, b]")
	}
	a, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
	b, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
	if err1 != nil || err2 != nil || math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return 0, 0, fmt.Errorf("want [a, b]")
	}
	return a, b, nil
}
