package data

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"strings"
)

// Columns maps the fields of an Interaction to column names (CSV header
// names or JSON keys) for LoadGeneric. User and Item are required; every
// other mapping is optional ("" = not present in the data).
type Columns struct {
	User string `json:"user"`
	Item string `json:"item"`
	// Rating: any finite number (not restricted to 1–5); an empty value
	// gives NaN.
	Rating string `json:"rating,omitempty"`
	// Time: a unix time (integer or integral float) in seconds,
	// milliseconds, microseconds or nanoseconds, one unit per file, detected
	// from the magnitude (Dataset.TimeUnit), or a date/time string (RFC 3339,
	// "2006-01-02 15:04:05", "2006-01-02", "01 2, 2006"; UTC). Without a Time
	// column all interactions have Time 0 and are ordered by Row.
	Time string `json:"time,omitempty"`
	// Text and Summary are HTML-unescaped.
	Text    string `json:"text,omitempty"`
	Summary string `json:"summary,omitempty"`
	// Title, when set, is a column holding the item's title (display
	// metadata, Dataset.Items; never model input). It is HTML-unescaped;
	// an item's title is its first non-empty value in file order (among
	// well-formed records).
	Title string `json:"title,omitempty"`
	// Numeric columns are stored in Interaction.Values under their column
	// name; empty or absent values are left out, numbers may use thousands
	// separators ("1,234"), JSON booleans become 1/0.
	Numeric []string `json:"numeric,omitempty"`
}

// LoadGeneric reads interactions from a CSV file with a header row (comma
// separated, or opts.Comma; tab separated for *.tsv) or from JSON lines (one
// object per line), plain, gzip-compressed or as the only data file of a zip
// archive, mapping columns as cols says. The layout (CSV or JSON lines) is
// detected from the content. See the package documentation for skipping,
// strict mode and deduplication.
func LoadGeneric(path string, cols Columns, opts LoadOptions) (*Dataset, error) {
	if strings.TrimSpace(cols.User) == "" || strings.TrimSpace(cols.Item) == "" {
		return nil, fmt.Errorf("data: the column mapping must name the user and the item column (got user %q, item %q)", cols.User, cols.Item)
	}
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
	format := FormatGenericCSV
	if k == kindJSONL {
		format = FormatGenericJSONL
		err = readGenericJSON(src, cols, c)
	} else {
		err = readGenericCSV(src, cols, opts, c)
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

// noteTitle records the title column of a well-formed record: an item keeps
// its first non-empty title.
func (c *collector) noteTitle(cols *Columns, item string, get genericGetter) {
	if cols.Title == "" {
		return
	}
	v, _, fe := get(cols.Title)
	if fe != nil {
		return
	}
	v = strings.TrimSpace(html.UnescapeString(v))
	if v == "" {
		return
	}
	if c.items == nil {
		c.items = map[string]ItemInfo{}
	}
	if _, ok := c.items[item]; !ok {
		c.items[item] = ItemInfo{Title: v}
	}
}

// genericGetter returns the string value of a column and whether it is
// present.
type genericGetter func(name string) (string, bool, *fieldErr)

// buildGeneric converts one record. When the time is a number, it.Time holds
// it as read and numField names its column (collector.addTimed converts it).
func buildGeneric(cols *Columns, get genericGetter) (Interaction, string, *fieldErr) {
	it := Interaction{Rating: math.NaN()}
	numField := ""
	v, _, fe := get(cols.User)
	if fe != nil {
		return it, "", fe
	}
	if it.User = strings.TrimSpace(v); it.User == "" {
		return it, "", &fieldErr{cols.User, "missing user id"}
	}
	v, _, fe = get(cols.Item)
	if fe != nil {
		return it, "", fe
	}
	if it.Item = strings.TrimSpace(v); it.Item == "" {
		return it, "", &fieldErr{cols.Item, "missing item id"}
	}
	if cols.Rating != "" {
		v, _, fe := get(cols.Rating)
		if fe != nil {
			return it, "", fe
		}
		if strings.TrimSpace(v) != "" {
			r, err := parseNumber(v)
			if err != nil {
				return it, "", &fieldErr{cols.Rating, "invalid rating " + quoteShort(v)}
			}
			it.Rating = r
		}
	}
	if cols.Time != "" {
		v, _, fe := get(cols.Time)
		if fe != nil {
			return it, "", fe
		}
		if strings.TrimSpace(v) == "" {
			return it, "", &fieldErr{cols.Time, "missing time"}
		}
		t, numeric, err := parseTime(v)
		if err != nil {
			return it, "", &fieldErr{cols.Time, "unparsable time " + quoteShort(v)}
		}
		it.Time = t
		if numeric {
			numField = cols.Time
		}
	}
	if cols.Text != "" {
		v, _, fe := get(cols.Text)
		if fe != nil {
			return it, "", fe
		}
		it.Text = html.UnescapeString(v)
	}
	if cols.Summary != "" {
		v, _, fe := get(cols.Summary)
		if fe != nil {
			return it, "", fe
		}
		it.Summary = html.UnescapeString(v)
	}
	for _, name := range cols.Numeric {
		v, ok, fe := get(name)
		if fe != nil {
			return it, "", fe
		}
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			continue
		}
		var x float64
		switch v {
		case "true":
			x = 1
		case "false":
			x = 0
		default:
			var err error
			if x, err = parseNumber(v); err != nil {
				return it, "", &fieldErr{name, "invalid number " + quoteShort(v)}
			}
		}
		it.setValue(name, x)
	}
	return it, numField, nil
}

func readGenericCSV(src *source, cols Columns, opts LoadOptions, c *collector) error {
	comma := opts.Comma
	if comma == 0 && strings.HasSuffix(strings.ToLower(src.inner), ".tsv") {
		comma = '\t'
	}
	r := newCSVReader(src, comma)
	header, idx, err := readCSVHeader(src, r)
	if err != nil {
		return err
	}
	mapped := []string{cols.User, cols.Item, cols.Rating, cols.Time, cols.Text, cols.Summary, cols.Title}
	mapped = append(mapped, cols.Numeric...)
	for _, name := range mapped {
		if name == "" {
			continue
		}
		if _, ok := idx[name]; !ok {
			return fmt.Errorf("%s: column %q is not in the CSV header %q", src.name, name, shortHeader(header))
		}
	}
	return eachCSVRecord(src, r, len(header), c, func(rec []string, row, line int) *fieldErr {
		get := func(name string) (string, bool, *fieldErr) {
			return rec[idx[name]], true, nil
		}
		it, numField, fe := buildGeneric(&cols, get)
		if fe != nil {
			return fe
		}
		c.noteTitle(&cols, it.Item, get)
		it.Row = row
		c.addTimed(it, src.name, line, numField)
		return nil
	})
}

func readGenericJSON(src *source, cols Columns, c *collector) error {
	return eachJSONLine(src, c, func(line []byte, row, lineNo int) (*fieldErr, error) {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			return jsonErr(err), nil
		}
		get := func(name string) (string, bool, *fieldErr) {
			raw, ok := obj[name]
			if !ok {
				return "", false, nil
			}
			v, present, err := rawScalar(raw)
			if err != nil {
				return "", false, &fieldErr{name, err.Error()}
			}
			return v, present, nil
		}
		it, numField, fe := buildGeneric(&cols, get)
		if fe != nil {
			return fe, nil
		}
		if cols.Title != "" {
			if _, _, fe := get(cols.Title); fe != nil {
				return fe, nil
			}
		}
		c.noteTitle(&cols, it.Item, get)
		it.Row = row
		c.addTimed(it, src.name, lineNo, numField)
		return nil, nil
	})
}
