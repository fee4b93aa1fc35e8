package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/hier-ai/hier/hier/data"
)

// ItemsFileName is the run directory's item metadata file.
const ItemsFileName = "items.json"

// ItemsSchemaVersion is the version of items.json's layout.
const ItemsSchemaVersion = 1

// ItemMeta is one item's display metadata (items.json, recommendations): what the data says
// about the item besides its interactions. Empty fields are unknown and left out of the JSON.
// It is never read by a model.
type ItemMeta struct {
	// Title is the item's name from the data (MovieLens u.item, the synthetic shop, a generic
	// file's title column).
	Title string `json:"title,omitempty"`
	// Summary is set only for an item without a title whose training reviews have summaries
	// (Amazon reviews carry no product titles): the summary line of its most helpful training
	// review (most helpful votes; ties: the summary most of its training reviews share, then the
	// earliest). It is a reviewer's words, not the product's name.
	Summary     string   `json:"summary,omitempty"`
	Category    string   `json:"category,omitempty"`
	Genres      []string `json:"genres,omitempty"`
	ReleaseDate string   `json:"release_date,omitempty"`
	URL         string   `json:"url,omitempty"`
}

// empty reports whether m holds no metadata.
func (m ItemMeta) empty() bool {
	return m.Title == "" && m.Summary == "" && m.Category == "" && len(m.Genres) == 0 && m.ReleaseDate == "" && m.URL == ""
}

// ItemsFile is the content of items.json.
type ItemsFile struct {
	SchemaVersion int `json:"schema_version"`
	// Fields says, for each field present in Items, where it comes from.
	Fields map[string]string `json:"fields"`
	// Items maps item ids to their metadata; items without any are left out (an empty map when
	// the data has none).
	Items map[string]ItemMeta `json:"items"`
}

// Descriptions of the items.json fields.
const (
	fieldTitle    = "the item's title as given by the data"
	fieldSummary  = "no title in the data: the summary line of the item's most helpful training-split review (most helpful votes; ties: the most common summary among its training reviews, then the earliest); a reviewer's words, not the product's name"
	fieldCategory = "the item's category as given by the data"
	fieldGenres   = "the item's genres as given by the data"
	fieldRelease  = "the item's release date as given by the data"
	fieldURL      = "the item's URL as given by the data"
)

// buildItems collects the display metadata of every item of the split: the dataset's own
// (data.Dataset.Items) and, for items without a title, the summary of their most helpful
// training review (training split only, so nothing held out is shown).
func buildItems(p *prepared) *ItemsFile {
	out := &ItemsFile{SchemaVersion: ItemsSchemaVersion, Fields: map[string]string{}, Items: map[string]ItemMeta{}}
	var src map[string]data.ItemInfo
	if p.sd.Dataset != nil {
		src = p.sd.Dataset.Items
	}
	for i, id := range p.sd.ItemIDs {
		info := src[id]
		m := ItemMeta{Title: info.Title, Category: info.Category, Genres: info.Genres, ReleaseDate: info.ReleaseDate, URL: info.URL}
		if m.Title == "" {
			m.Summary = topSummary(p.tx.itemRecs[i])
		}
		if m.empty() {
			continue
		}
		out.Items[id] = m
		for _, f := range []struct {
			key, desc string
			on        bool
		}{
			{"title", fieldTitle, m.Title != ""}, {"summary", fieldSummary, m.Summary != ""}, {"category", fieldCategory, m.Category != ""},
			{"genres", fieldGenres, len(m.Genres) > 0}, {"release_date", fieldRelease, m.ReleaseDate != ""}, {"url", fieldURL, m.URL != ""},
		} {
			if f.on {
				out.Fields[f.key] = f.desc
			}
		}
	}
	return out
}

// helpfulVotes is a review's helpful votes (Amazon 2014 "helpful_votes", 2018 "vote"), 0 when
// the data has none.
func helpfulVotes(r *data.Record) float64 {
	for _, k := range []string{"helpful_votes", "vote"} {
		if v, ok := r.Values[k]; ok && !math.IsNaN(v) {
			return v
		}
	}
	return 0
}

// topSummary is the summary of the most helpful of recs (training records of one item, oldest
// first): most helpful votes, then the summary shared by most of recs, then the earliest. ""
// when none has a summary.
func topSummary(recs []*data.Record) string {
	count := map[string]int{}
	for _, r := range recs {
		if s := oneLine(r.Summary); s != "" {
			count[s]++
		}
	}
	best, bestVotes, bestCount := "", math.Inf(-1), 0
	for _, r := range recs {
		s := oneLine(r.Summary)
		if s == "" {
			continue
		}
		v := helpfulVotes(r)
		if v > bestVotes || (v == bestVotes && count[s] > bestCount) {
			best, bestVotes, bestCount = s, v, count[s]
		}
	}
	return best
}

// oneLine is s with every run of white space (newlines included) made one space, trimmed.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// readItems reads a run's items.json; a run without one (made before it existed) has no
// metadata: nil, no error.
func readItems(dir string) (map[string]ItemMeta, error) {
	path := filepath.Join(dir, ItemsFileName)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	var f ItemsFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", path, err)
	}
	if f.SchemaVersion != ItemsSchemaVersion {
		return nil, fmt.Errorf("pipeline: %s has schema_version %d; this hier reads %d", path, f.SchemaVersion, ItemsSchemaVersion)
	}
	return f.Items, nil
}
