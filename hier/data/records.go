package data

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// fieldErr is a record problem without its position; the reader loops add
// file and line.
type fieldErr struct{ field, reason string }

func (c *collector) badAt(file string, line int, fe *fieldErr) error {
	return c.bad(&RecordError{File: file, Line: line, Field: fe.field, Reason: fe.reason})
}

// newCSVReader returns a CSV reader that allows any number of fields per
// record (counts are checked by the caller). comma 0 means ','.
func newCSVReader(src *source, comma rune) *csv.Reader {
	r := csv.NewReader(src.r)
	if comma != 0 {
		r.Comma = comma
	}
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	return r
}

// readCSVHeader returns the trimmed header fields and a name→column map.
func readCSVHeader(src *source, r *csv.Reader) ([]string, map[string]int, error) {
	h, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s: %w", src.name, ErrEmptyFile)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: bad CSV header: %w", src.name, err)
	}
	header := make([]string, len(h))
	idx := make(map[string]int, len(h))
	for i, name := range h {
		name = strings.TrimSpace(name)
		header[i] = name
		if _, dup := idx[name]; !dup {
			idx[name] = i
		}
	}
	return header, idx, nil
}

// eachCSVRecord calls fn for every data record after the header, with its Row
// and 1-based line. Records with the wrong number of columns or CSV syntax
// errors are reported through c.bad. fn returns a *fieldErr for a malformed
// record.
func eachCSVRecord(src *source, r *csv.Reader, ncols int, c *collector, fn func(rec []string, row, line int) *fieldErr) error {
	for !c.full() {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				c.nextRow()
				if e := c.badAt(src.name, pe.StartLine, &fieldErr{reason: "invalid CSV: " + pe.Err.Error()}); e != nil {
					return e
				}
				continue
			}
			return fmt.Errorf("%s: %w", src.name, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && ncols != 1 && strings.TrimSpace(rec[0]) == "" {
			continue // whitespace-only line
		}
		row := c.nextRow()
		if len(rec) != ncols {
			if e := c.badAt(src.name, line, &fieldErr{reason: fmt.Sprintf("wrong number of columns: got %d, want %d", len(rec), ncols)}); e != nil {
				return e
			}
			continue
		}
		if fe := fn(rec, row, line); fe != nil {
			if e := c.badAt(src.name, line, fe); e != nil {
				return e
			}
		}
	}
	return nil
}

// eachJSONLine calls fn for every non-blank line, with its Row and 1-based
// line number. fn returns a *fieldErr for a malformed record.
func eachJSONLine(src *source, c *collector, fn func(line []byte, row, lineNo int) (*fieldErr, error)) error {
	lineNo := 0
	for !c.full() {
		line, err := readLine(src.r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", src.name, err)
		}
		lineNo++
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		row := c.nextRow()
		fe, err := fn(line, row, lineNo)
		if err != nil {
			return err
		}
		if fe != nil {
			if e := c.badAt(src.name, lineNo, fe); e != nil {
				return e
			}
		}
	}
	return nil
}

// jsonErr converts a json.Unmarshal error into a fieldErr.
func jsonErr(err error) *fieldErr {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		f := te.Field
		if f == "" {
			return &fieldErr{reason: fmt.Sprintf("invalid JSON: expected an object, got %s", te.Value)}
		}
		return &fieldErr{field: f, reason: fmt.Sprintf("wrong JSON type %s, want %s", te.Value, te.Type)}
	}
	return &fieldErr{reason: "invalid JSON: " + err.Error()}
}

// rawScalar converts a JSON scalar to its string form: strings are unquoted,
// numbers and booleans keep their literal text, null/absent give ("", false).
func rawScalar(raw json.RawMessage) (string, bool, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "", false, nil
	}
	switch s[0] {
	case '"':
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", false, err
		}
		return v, true, nil
	case '{', '[':
		return "", false, errors.New("is an object or array, want a scalar")
	}
	return s, true, nil
}
