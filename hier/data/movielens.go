package data

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// movieLensGenres is the u.genre list of ml-100k, used when the directory has
// no u.genre file.
var movieLensGenres = []string{
	"unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
	"Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
	"Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
}

// LoadMovieLens reads a MovieLens 100K directory (ml-100k).
//
// u.data (required) holds tab-separated "user item rating timestamp" lines
// (timestamps in unix seconds, or milliseconds etc.: see Dataset.TimeUnit);
// user and item ids are kept as the strings of the file ("1".."943",
// "1".."1682"); ratings must be in [1, 5]. MovieLens has no review text:
// Summary and Text are "" and HasReviewText is false.
//
// u.item (optional; ItemText is nil without it) holds '|'-separated
// "id|title|release date|video release date|IMDb URL|" followed by one 0/1
// flag per genre of u.genre (optional; the standard 19 genres are assumed
// without it). The file is Latin-1; it is decoded to UTF-8 (a file that is
// already valid UTF-8 is used as is). ItemText[id] is the title, then
// " | ", then the names of the flagged genres joined by ", ", e.g.
// "Toy Story (1995) | Animation, Children's, Comedy" (only the title when no
// genre is flagged). Malformed u.item lines are skipped (and counted in
// Counts.Skipped) like malformed ratings, or are errors with opts.Strict.
// opts.MaxRecords applies to u.data lines. Items[id] holds the display
// metadata of u.item: the title, the flagged genres, the release date and
// the IMDb URL (empty fields left out).
func LoadMovieLens(dir string, opts LoadOptions) (*Dataset, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory (MovieLens 100K is a directory with u.data and u.item)", dir)
	}
	c := &collector{opts: opts}
	files := []string{filepath.Join(dir, "u.data")}
	src, err := openSource(files[0])
	if err != nil {
		return nil, fmt.Errorf("movielens: %w", err)
	}
	err = readMovieLensRatings(src, c)
	src.Close()
	if err != nil {
		return nil, err
	}

	genres := movieLensGenres
	if b, err := os.ReadFile(filepath.Join(dir, "u.genre")); err == nil {
		g, err := parseGenres(b)
		if err != nil {
			return nil, fmt.Errorf("u.genre: %w", err)
		}
		genres = g
		files = append(files, filepath.Join(dir, "u.genre"))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}

	var itemText map[string]string
	var items map[string]ItemInfo
	if b, err := os.ReadFile(filepath.Join(dir, "u.item")); err == nil {
		itemText, items, err = parseMovieLensItems(b, genres, c)
		if err != nil {
			return nil, err
		}
		files = append(files, filepath.Join(dir, "u.item"))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}

	ds, err := c.finish(datasetName(dir, opts), FormatMovieLens100K, "u.data")
	if err != nil {
		return nil, err
	}
	ds.ItemText, ds.Items, ds.Files = itemText, items, files
	return ds, nil
}

func readMovieLensRatings(src *source, c *collector) error {
	lineNo := 0
	for !c.full() {
		b, err := readLine(src.r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", src.name, err)
		}
		lineNo++
		line := string(b)
		if strings.TrimSpace(line) == "" {
			continue
		}
		row := c.nextRow()
		it, fe := parseMovieLensRating(line)
		if fe != nil {
			if e := c.badAt(src.name, lineNo, fe); e != nil {
				return e
			}
			continue
		}
		it.Row = row
		c.addTimed(it, src.name, lineNo, "timestamp")
	}
	return nil
}

func parseMovieLensRating(line string) (Interaction, *fieldErr) {
	var it Interaction
	f := strings.Split(line, "\t")
	if len(f) != 4 {
		f = strings.Fields(line)
	}
	if len(f) != 4 {
		return it, &fieldErr{reason: fmt.Sprintf("wrong number of columns: got %d, want 4 (user item rating timestamp)", len(f))}
	}
	it.User = strings.TrimSpace(f[0])
	if it.User == "" {
		return it, &fieldErr{"user_id", "missing user id"}
	}
	it.Item = strings.TrimSpace(f[1])
	if it.Item == "" {
		return it, &fieldErr{"item_id", "missing item id"}
	}
	r, err := parseNumber(f[2])
	if err != nil || !ratingOK(r) {
		return it, &fieldErr{"rating", "invalid rating " + quoteShort(f[2])}
	}
	it.Rating = r
	t, err := strconv.ParseInt(strings.TrimSpace(f[3]), 10, 64)
	if err != nil {
		return it, &fieldErr{"timestamp", "unparsable time " + quoteShort(f[3])}
	}
	it.Time = t
	return it, nil
}

// parseGenres parses u.genre ("name|index" lines).
func parseGenres(b []byte) ([]string, error) {
	var out []string
	for i, line := range strings.Split(decodeLatin1(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, idxs, ok := strings.Cut(line, "|")
		idx, err := strconv.Atoi(strings.TrimSpace(idxs))
		if !ok || err != nil || idx < 0 || idx > 1000 {
			return nil, fmt.Errorf("line %d: want \"name|index\", got %s", i+1, quoteShort(line))
		}
		for len(out) <= idx {
			out = append(out, "")
		}
		out[idx] = name
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no genres")
	}
	return out, nil
}

// decodeLatin1 returns b as UTF-8: b itself if it is valid UTF-8, otherwise b
// decoded as ISO-8859-1.
func decodeLatin1(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	s, err := charmap.ISO8859_1.NewDecoder().String(string(b))
	if err != nil { // cannot happen for ISO-8859-1; fall back byte-wise
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
	return s
}

// parseMovieLensItems reads u.item into the item texts (model input) and the
// display metadata.
func parseMovieLensItems(b []byte, genres []string, c *collector) (map[string]string, map[string]ItemInfo, error) {
	text := make(map[string]string)
	info := make(map[string]ItemInfo)
	want := 5 + len(genres)
	for i, line := range strings.Split(decodeLatin1(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "|")
		var fe *fieldErr
		var names []string
		switch {
		case len(f) != want:
			fe = &fieldErr{reason: fmt.Sprintf("wrong number of fields: got %d, want %d", len(f), want)}
		case strings.TrimSpace(f[0]) == "":
			fe = &fieldErr{"movie_id", "missing item id"}
		default:
			for g, flag := range f[5:] {
				switch strings.TrimSpace(flag) {
				case "1":
					names = append(names, genres[g])
				case "0":
				default:
					fe = &fieldErr{"genre " + genres[g], "invalid genre flag " + quoteShort(flag)}
				}
			}
		}
		if fe != nil {
			if err := c.badAt("u.item", i+1, fe); err != nil {
				return nil, nil, err
			}
			continue
		}
		id, title := strings.TrimSpace(f[0]), strings.TrimSpace(f[1])
		t := title
		if len(names) > 0 {
			t += " | " + strings.Join(names, ", ")
		}
		text[id] = t
		info[id] = ItemInfo{Title: title, Genres: names, ReleaseDate: strings.TrimSpace(f[2]), URL: strings.TrimSpace(f[4])}
	}
	return text, info, nil
}
