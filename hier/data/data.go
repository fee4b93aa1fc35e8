// Package data loads user–item interaction data (Amazon reviews, MovieLens
// 100K, generic CSV/JSON-lines files), generates the synthetic demo shop, and
// implements the evaluation protocol: a per-user temporal leave-one-out split
// and leakage-free item and user texts built from the training split only.
//
// Loading conventions shared by every loader:
//
//   - HTML entities in review text and summary are decoded
//     (html.UnescapeString); empty texts are kept as "".
//   - A malformed record (bad JSON, bad rating, missing user or item, wrong
//     number of columns, unparsable time, unparsable numeric column) is
//     skipped and counted in Counts.Skipped, and the first
//     LoadOptions.MaxSkipReasons messages are kept in Dataset.SkippedReasons.
//     With LoadOptions.Strict the first malformed record is returned as a
//     *RecordError instead, e.g.
//     `reviews.csv:17: field "overall": invalid rating "five"`.
//   - Duplicate (user, item) pairs are removed at load time, before any split:
//     the occurrence that is first by (Time, Row) is kept; the rest are counted
//     in Counts.Duplicates.
//   - Dataset.Interactions is in source-file order (increasing Row).
//   - Numeric times may be unix seconds, milliseconds, microseconds or
//     nanoseconds: the unit is detected per file from the magnitude
//     (Dataset.TimeUnit) and times are converted to seconds; a file mixing
//     units is an error naming the file, line and field.
//
// No loader panics on bad input.
package data

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Interaction is one user–item event (a rating or a review).
type Interaction struct {
	User, Item string
	// Rating is the star rating (1–5); NaN if the source has none.
	Rating float64
	// Time is unix seconds (0 if the source has no time column). Numeric times
	// in milliseconds, microseconds or nanoseconds (detected per file, see
	// Dataset.TimeUnit) are converted, rounding down to whole seconds: events
	// within one second are then ordered by Row.
	Time int64
	// Summary is the review title ("" if none).
	Summary string
	// Text is the review body ("" if none; empty texts are kept as "").
	Text string
	// Values holds extra numeric columns, e.g. "helpful_votes",
	// "helpful_total", "vote", "verified". It may be nil.
	Values map[string]float64
	// Row is the 0-based index of the record among the data records of its
	// source file (malformed records included, blank lines and the CSV header
	// excluded). It is the tie-breaker when sorting by time.
	Row int
}

// ItemInfo is what a source says about an item besides its interactions,
// for display. Empty fields are unknown.
type ItemInfo struct {
	// Title is the item's name: MovieLens u.item's title (Latin-1 decoded),
	// the synthetic shop's product name, or the generic loader's title
	// column (Columns.Title).
	Title string `json:"title,omitempty"`
	// Category is the synthetic shop's product category.
	Category string `json:"category,omitempty"`
	// Genres are MovieLens's flagged genres, in u.genre order.
	Genres []string `json:"genres,omitempty"`
	// ReleaseDate and URL are MovieLens's release date and IMDb URL, as in
	// u.item.
	ReleaseDate string `json:"release_date,omitempty"`
	URL         string `json:"url,omitempty"`
}

// Counts summarises a loaded dataset. Users, Items and Interactions are
// counted after skipping malformed records and removing duplicates.
type Counts struct {
	Users, Items, Interactions int
	// Skipped is the number of malformed source records that were skipped.
	Skipped int
	// Duplicates is the number of repeated (user, item) records removed.
	Duplicates int
}

// Dataset is a loaded (or generated) interaction dataset.
type Dataset struct {
	// Name is a short name, derived from the file or directory name.
	Name string
	// Format names the layout that was detected: one of FormatAmazonJSON2014,
	// FormatAmazonJSON2018, FormatAmazonCSV, FormatMovieLens100K,
	// FormatGenericCSV, FormatGenericJSONL, FormatSynthetic, or "" for
	// hand-made datasets.
	Format string
	// Interactions in source order (increasing Row), deduplicated.
	Interactions []Interaction
	// ItemText holds static item descriptions keyed by item id (e.g.
	// MovieLens title + genres); nil if the data has none. It is model input
	// (item text vectors, behaviour texts).
	ItemText map[string]string
	// Items holds display metadata keyed by item id (a title and whatever
	// else the source has, see ItemInfo); nil if the source has none. It is
	// shown beside recommendations and never read by a model.
	Items map[string]ItemInfo
	// Files are the files the loader read (absolute or as given), in reading
	// order; nil for generated or hand-made datasets.
	Files []string
	// HasReviewText reports whether interactions carry review text (at
	// least one interaction has a non-empty Text or Summary).
	HasReviewText bool
	Counts        Counts
	// SkippedReasons holds the first LoadOptions.MaxSkipReasons messages
	// ("file:line: field "name": reason") for skipped records.
	SkippedReasons []string
	// TimeUnit is the unit the loader detected for the file's numeric time
	// values and converted to seconds: TimeUnitSeconds, TimeUnitMilliseconds,
	// TimeUnitMicroseconds or TimeUnitNanoseconds; "" when no time was read
	// as a number (no time column, dates only, generated data). The unit
	// comes from the magnitude: below 1e11 seconds (1e11 s is the year
	// 5138), from 1e11 milliseconds, from 1e14 microseconds, from 1e17
	// nanoseconds. A file whose numeric times mix two scales is an error
	// (*RecordError naming the file, line and field of the first value of the
	// other scale), never a silent misordering.
	TimeUnit string
}

// Format names stored in Dataset.Format.
const (
	FormatAmazonJSON2014 = "amazon-json-2014"
	FormatAmazonJSON2018 = "amazon-json-2018"
	FormatAmazonCSV      = "amazon-csv"
	FormatMovieLens100K  = "movielens-100k"
	FormatGenericCSV     = "generic-csv"
	FormatGenericJSONL   = "generic-jsonl"
	FormatSynthetic      = "synthetic"
)

// DefaultMaxSkipReasons is the number of skip messages kept when
// LoadOptions.MaxSkipReasons is 0.
const DefaultMaxSkipReasons = 20

// LoadOptions controls the loaders. The zero value loads everything,
// skipping malformed records.
type LoadOptions struct {
	// Strict makes the first malformed record an error (*RecordError)
	// instead of skipping it.
	Strict bool
	// MaxRecords, if > 0, stops reading after that many source data records
	// (malformed ones included), i.e. loads a prefix of the file.
	MaxRecords int
	// MaxSkipReasons caps Dataset.SkippedReasons; 0 means
	// DefaultMaxSkipReasons, a negative value keeps none.
	MaxSkipReasons int
	// Name overrides Dataset.Name.
	Name string
	// Columns, if non-nil, makes Load use the generic loader with this column
	// mapping instead of detecting an Amazon layout (ignored for MovieLens
	// directories).
	Columns *Columns
	// Comma is the field delimiter for generic CSV files; 0 means ',' ('\t'
	// for *.tsv files).
	Comma rune
}

func (o LoadOptions) maxReasons() int {
	switch {
	case o.MaxSkipReasons < 0:
		return 0
	case o.MaxSkipReasons == 0:
		return DefaultMaxSkipReasons
	}
	return o.MaxSkipReasons
}

// RecordError describes one malformed source record. Its message has the form
// `file:line: field "name": reason` (or `file:line: reason` when no single
// field is at fault).
type RecordError struct {
	File   string // file name (for zip members "archive.zip!member.csv")
	Line   int    // 1-based line number in the (decompressed) file
	Field  string // offending field/column/key, "" if not field-specific
	Reason string
}

func (e *RecordError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s:%d: field %q: %s", e.File, e.Line, e.Field, e.Reason)
}

// ErrNoInteractions is wrapped by the error returned when a file holds no
// valid interaction at all.
var ErrNoInteractions = errors.New("no valid interactions")

// ErrEmptyFile is wrapped by the error returned for an empty input file.
var ErrEmptyFile = errors.New("file is empty")

// ErrUnknownFormat is wrapped by the error returned when the layout of a file
// cannot be recognised.
var ErrUnknownFormat = errors.New("unrecognised data format")

// ErrNeedsColumns is wrapped, beside ErrUnknownFormat, by the errors of a file that holds
// records but not in a layout Load recognises: it is read with a column mapping (Columns,
// LoadGeneric or LoadOptions.Columns).
var ErrNeedsColumns = errors.New("read it as a generic file with a column mapping (the columns holding the user, the item, the rating, ...)")

// Summary returns a one-line description of the dataset with its counts.
func (ds *Dataset) Summary() string {
	if ds == nil {
		return "<nil dataset>"
	}
	name := ds.Name
	if ds.Format != "" {
		name += " (" + ds.Format + ")"
	}
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	s := fmt.Sprintf("%s: %d interactions, %d users, %d items, %d skipped, %d duplicates, review text: %s, item text: %s",
		name, ds.Counts.Interactions, ds.Counts.Users, ds.Counts.Items,
		ds.Counts.Skipped, ds.Counts.Duplicates, yn(ds.HasReviewText), yn(len(ds.ItemText) > 0))
	if ds.TimeUnit != "" {
		s += ", time unit: " + ds.TimeUnit
	}
	return s
}

// collector accumulates records while a loader reads a file and applies the
// shared skip/strict/dedup rules.
type collector struct {
	opts    LoadOptions
	out     []Interaction
	skipped int
	reasons []string
	rows    int // data records seen so far (Row of the next record)
	times   timeColumn
	items   map[string]ItemInfo // display metadata read with the records (generic title column)
}

// full reports whether MaxRecords data records have been read.
func (c *collector) full() bool {
	return c.opts.MaxRecords > 0 && c.rows >= c.opts.MaxRecords
}

// nextRow returns the Row for a new data record.
func (c *collector) nextRow() int {
	r := c.rows
	c.rows++
	return r
}

// bad records a malformed record; in strict mode it returns the error that
// must abort loading.
func (c *collector) bad(e *RecordError) error {
	if c.opts.Strict {
		return e
	}
	c.skipped++
	if len(c.reasons) < c.opts.maxReasons() {
		c.reasons = append(c.reasons, e.Error())
	}
	return nil
}

func (c *collector) add(it Interaction) { c.out = append(c.out, it) }

// addTimed adds it, read at file:line; when numField is not "", it.Time is the raw number read
// from that field, converted to seconds by finish once the file's time unit is known.
func (c *collector) addTimed(it Interaction, file string, line int, numField string) {
	if numField != "" {
		c.times.note(len(c.out), file, line, numField, it.Time)
	}
	c.add(it)
}

// finish builds the Dataset: converts numeric times to seconds (an error when
// a file mixes time units), deduplicates and counts.
func (c *collector) finish(name, format, file string) (*Dataset, error) {
	if len(c.out) == 0 {
		switch {
		case c.skipped > 0 && len(c.reasons) > 0:
			return nil, fmt.Errorf("%s: %w (%d malformed records skipped; first: %s)", file, ErrNoInteractions, c.skipped, c.reasons[0])
		case c.skipped > 0:
			return nil, fmt.Errorf("%s: %w (%d malformed records skipped)", file, ErrNoInteractions, c.skipped)
		}
		return nil, fmt.Errorf("%s: %w (no data records)", file, ErrNoInteractions)
	}
	unit, err := c.times.resolve(c.out)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{
		Name:           name,
		Format:         format,
		Interactions:   c.out,
		SkippedReasons: c.reasons,
		TimeUnit:       unit,
		Items:          c.items,
	}
	ds.Counts.Skipped = c.skipped
	ds.Counts.Duplicates = dedup(ds)
	ds.recount()
	return ds, nil
}

// recount recomputes Users, Items, Interactions and HasReviewText from
// ds.Interactions (Skipped and Duplicates are kept).
func (ds *Dataset) recount() {
	users := make(map[string]struct{})
	items := make(map[string]struct{})
	ds.HasReviewText = false
	for i := range ds.Interactions {
		it := &ds.Interactions[i]
		users[it.User] = struct{}{}
		items[it.Item] = struct{}{}
		if it.Text != "" || it.Summary != "" {
			ds.HasReviewText = true
		}
	}
	ds.Counts.Users = len(users)
	ds.Counts.Items = len(items)
	ds.Counts.Interactions = len(ds.Interactions)
}

type pair struct{ u, i string }

// dedupIndex returns, in the original slice order, the indices of the
// interactions to keep: for each (user, item) pair the one that is first by
// (Time, Row, slice position).
func dedupIndex(its []Interaction) []int {
	keep := make(map[pair]int, len(its))
	for i := range its {
		k := pair{its[i].User, its[i].Item}
		j, ok := keep[k]
		if !ok || before(&its[i], i, &its[j], j) {
			keep[k] = i
		}
	}
	if len(keep) == len(its) {
		idx := make([]int, len(its))
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := make([]int, 0, len(keep))
	for _, j := range keep {
		idx = append(idx, j)
	}
	sort.Ints(idx)
	return idx
}

// before orders interactions by (Time, Row, position).
func before(a *Interaction, ai int, b *Interaction, bi int) bool {
	if a.Time != b.Time {
		return a.Time < b.Time
	}
	if a.Row != b.Row {
		return a.Row < b.Row
	}
	return ai < bi
}

// dedup removes repeated (user, item) pairs from ds.Interactions in place and
// returns how many were removed.
func dedup(ds *Dataset) int {
	idx := dedupIndex(ds.Interactions)
	n := len(ds.Interactions) - len(idx)
	if n == 0 {
		return 0
	}
	out := make([]Interaction, len(idx))
	for k, j := range idx {
		out[k] = ds.Interactions[j]
	}
	ds.Interactions = out
	return n
}

// ratingOK reports whether r is a valid 1–5 star rating.
func ratingOK(r float64) bool {
	return !math.IsNaN(r) && r >= 1 && r <= 5
}

// trimName strips known data extensions from a base file name.
func trimName(base string) string {
	for {
		lower := strings.ToLower(base)
		trimmed := false
		for _, ext := range []string{".gz", ".zip", ".csv", ".tsv", ".jsonl", ".json", ".ndjson"} {
			if strings.HasSuffix(lower, ext) && len(base) > len(ext) {
				base = base[:len(base)-len(ext)]
				trimmed = true
				break
			}
		}
		if !trimmed {
			return base
		}
	}
}
