package data

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// source is an opened, decompressed input stream.
type source struct {
	name    string // display name used in messages
	inner   string // name of the data file (zip member or file), for extension hints
	r       *bufio.Reader
	closers []io.Closer
}

func (s *source) Close() error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

const peekSize = 1 << 20

var (
	zipMagic  = []byte("PK\x03\x04")
	gzipMagic = []byte{0x1f, 0x8b}
	utf8BOM   = []byte{0xef, 0xbb, 0xbf}
)

// openSource opens path and transparently unpacks a zip archive holding one
// data file and/or gzip compression (detected by magic bytes, not by name).
func openSource(path string) (*source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	base := filepath.Base(path)
	if st.Size() == 0 {
		return nil, fmt.Errorf("%s: %w", base, ErrEmptyFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := &source{name: base, inner: base, closers: []io.Closer{f}}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		s.Close()
		return nil, err
	}
	var r io.Reader = f
	if bytes.Equal(head[:n], zipMagic) {
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: bad zip archive: %w", base, err)
		}
		m, err := pickZipMember(base, zr)
		if err != nil {
			s.Close()
			return nil, err
		}
		rc, err := m.Open()
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: %w", base, err)
		}
		s.closers = append(s.closers, rc)
		s.name = base + "!" + m.Name
		s.inner = filepath.Base(m.Name)
		r = rc
	}
	br := bufio.NewReaderSize(r, peekSize)
	if h, _ := br.Peek(2); bytes.Equal(h, gzipMagic) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: bad gzip stream: %w", s.name, err)
		}
		s.closers = append(s.closers, gz)
		br = bufio.NewReaderSize(gz, peekSize)
		s.inner = strings.TrimSuffix(s.inner, ".gz")
	}
	if h, _ := br.Peek(len(utf8BOM)); bytes.Equal(h, utf8BOM) {
		br.Discard(len(utf8BOM))
	}
	s.r = br
	return s, nil
}

// pickZipMember chooses the single data file in a zip archive.
func pickZipMember(base string, zr *zip.Reader) (*zip.File, error) {
	var all, data []*zip.File
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || strings.HasPrefix(f.Name, "__MACOSX/") || strings.HasPrefix(filepath.Base(f.Name), ".") {
			continue
		}
		all = append(all, f)
		if isDataName(f.Name) {
			data = append(data, f)
		}
	}
	switch {
	case len(data) == 1:
		return data[0], nil
	case len(data) == 0 && len(all) == 1:
		return all[0], nil
	case len(all) == 0:
		return nil, fmt.Errorf("%s: zip archive holds no files", base)
	}
	names := make([]string, len(all))
	for i, f := range all {
		names[i] = f.Name
	}
	return nil, fmt.Errorf("%s: zip archive must hold exactly one data file (.csv/.tsv/.json/.jsonl, optionally .gz), found %q", base, names)
}

func isDataName(name string) bool {
	n := strings.TrimSuffix(strings.ToLower(name), ".gz")
	for _, ext := range []string{".csv", ".tsv", ".json", ".jsonl", ".ndjson"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

// kind of content, as sniffed from the first bytes.
type kind int

const (
	kindCSV kind = iota
	kindJSONL
)

// sniff looks at the start of the stream (without consuming it) and reports
// whether it is JSON lines or CSV.
func (s *source) sniff() (kind, error) {
	head, err := s.r.Peek(peekSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return 0, fmt.Errorf("%s: %w", s.name, err)
	}
	head = bytes.TrimPrefix(head, utf8BOM)
	t := bytes.TrimLeft(head, " \t\r\n")
	if len(t) == 0 {
		return 0, fmt.Errorf("%s: %w", s.name, ErrEmptyFile)
	}
	probe := head
	if len(probe) > 8192 {
		probe = probe[:8192]
	}
	if bytes.IndexByte(probe, 0) >= 0 {
		return 0, fmt.Errorf("%s: %w: binary content, expected CSV or JSON lines text", s.name, ErrUnknownFormat)
	}
	switch t[0] {
	case '{':
		return kindJSONL, nil
	case '[':
		return 0, fmt.Errorf("%s: %w: a JSON array is not supported, expected one JSON object per line", s.name, ErrUnknownFormat)
	}
	return kindCSV, nil
}

// Load reads a dataset from path, detecting its layout:
//
//   - a directory containing u.data is read as MovieLens 100K (LoadMovieLens);
//   - a file (plain, .gz, or a .zip holding one data file) whose content
//     starts with '{' is JSON lines, anything else is CSV;
//   - with opts.Columns set the generic loader is used (LoadGeneric);
//   - otherwise JSON lines must be Amazon reviews (2014 or 2018 layout, keys
//     reviewerID/asin) and a CSV must have the Amazon header (reviewerID,
//     asin, overall, ...); any other layout is an ErrUnknownFormat error
//     asking for a column mapping.
func Load(path string, opts LoadOptions) (*Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "u.data")); err != nil {
			return nil, fmt.Errorf("%s: %w: directory has no u.data (not a MovieLens 100K directory)", path, ErrUnknownFormat)
		}
		return LoadMovieLens(path, opts)
	}
	if opts.Columns != nil {
		return LoadGeneric(path, *opts.Columns, opts)
	}
	return LoadAmazon(path, opts)
}

func datasetName(path string, opts LoadOptions) string {
	if opts.Name != "" {
		return opts.Name
	}
	return trimName(filepath.Base(filepath.Clean(path)))
}

// readLine reads one line (without the trailing "\n" or "\r\n"). It returns
// io.EOF only when no more data is available.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if len(line) == 0 && err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if err != nil && !errors.Is(err, io.EOF) {
		return line, err
	}
	return line, nil
}

var thousands = regexp.MustCompile(`^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$`)

// parseNumber parses a decimal number, accepting thousands separators of the
// form "1,234". Non-finite values are rejected.
func parseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if thousands.MatchString(s) {
		s = strings.ReplaceAll(s, ",", "")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if v != v || v > 1e300 || v < -1e300 {
		return 0, errors.New("not finite")
	}
	return v, nil
}

// timeLayouts are the textual time formats accepted besides unix seconds.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
	"01 2, 2006", // Amazon reviewTime
	"1 2, 2006",
}

// parseTime parses a unix time (integer or integral float; numeric reports
// it, and its unit is decided per file, see timeColumn) or one of timeLayouts
// (interpreted as UTC, returned in seconds).
func parseTime(s string) (v int64, numeric bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false, errors.New("empty")
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true, nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v != v || v > 9e15 || v < -9e15 || v != float64(int64(v)) {
			return 0, false, fmt.Errorf("not an integral unix time")
		}
		return int64(v), true, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.Unix(), false, nil
		}
	}
	return 0, false, errors.New("not a unix time or a date")
}

// quoteShort quotes a value for an error message, shortening long values.
func quoteShort(s string) string {
	const limit = 40
	if len(s) > limit {
		r := []rune(s)
		if len(r) > limit {
			s = string(r[:limit]) + "..."
		}
	}
	return strconv.Quote(s)
}
