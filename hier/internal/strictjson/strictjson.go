// Package strictjson decodes a JSON configuration file into a Go struct strictly, with errors
// a user can act on: every error names the file, line and column and the key path in JSON
// terms ("pretrain.epochs"), never Go type names; an unknown key is an error that suggests the
// key that was probably meant, or where in the schema that key lives; an empty file says so.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/xrash/smetrics"
)

// Decode decodes raw, the content of the file called name, into v (a non-nil pointer to a
// struct), like encoding/json with DisallowUnknownFields: keys present replace v's values,
// absent keys keep them, keys match field tags case-insensitively. Besides Go's errors it
// rejects an empty file and a file holding more than one JSON value. Values of types with
// their own UnmarshalJSON are checked by that method.
func Decode(name string, raw []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("strictjson: Decode needs a non-nil pointer, got %T", v)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return fmt.Errorf("%s: the file is empty; want a JSON object such as {\"seed\": 1}", name)
	}
	root := rv.Type().Elem()
	w := walker{name: name, raw: raw, dec: json.NewDecoder(bytes.NewReader(raw)), root: root}
	if err := w.value(root, nil); err != nil {
		return err
	}
	if _, err := w.dec.Token(); err != io.EOF {
		return fmt.Errorf("%s:%s: more than one JSON value (the file must hold one object)", name, w.pos(w.dec.InputOffset()))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return w.explain(err)
	}
	return nil
}

type walker struct {
	name string
	raw  []byte
	dec  *json.Decoder
	root reflect.Type
}

// pos is "line:column" (1-based) of byte offset off.
func (w *walker) pos(off int64) string {
	if off < 0 {
		off = 0
	}
	if off > int64(len(w.raw)) {
		off = int64(len(w.raw))
	}
	before := w.raw[:off]
	line := 1 + bytes.Count(before, []byte("\n"))
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("%d:%d", line, col)
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// value reads one JSON value whose Go type is t, checking object keys against t's fields.
func (w *walker) value(t reflect.Type, path []string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || reflect.PointerTo(t).Implements(unmarshaler) || t.Kind() == reflect.Interface {
		var skip json.RawMessage // checked by the type's own decoding
		if err := w.dec.Decode(&skip); err != nil {
			return w.explain(err)
		}
		return nil
	}
	tok, err := w.dec.Token()
	if err != nil {
		return w.explain(err)
	}
	switch tok {
	case json.Delim('{'):
		for w.dec.More() {
			kt, err := w.dec.Token()
			if err != nil {
				return w.explain(err)
			}
			key, _ := kt.(string)
			end := w.dec.InputOffset()
			var vt reflect.Type
			switch t.Kind() {
			case reflect.Struct:
				f, ok := fieldByKey(t, key)
				if !ok {
					start := int64(bytes.LastIndexByte(w.raw[:max(end-1, 0)], '"'))
					return fmt.Errorf("%s:%s: unknown key %q %s%s", w.name, w.pos(start), key, where(path), w.hint(t, key))
				}
				vt = f.Type
			case reflect.Map:
				vt = t.Elem()
			default:
				vt = nil // a type error: encoding/json reports it below
			}
			if err := w.value(vt, append(path, key)); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // '}'
		return w.explain(err)
	case json.Delim('['):
		var et reflect.Type
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			et = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(et, append(path, fmt.Sprint(i))); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return w.explain(err)
	}
	return nil
}

func where(path []string) string {
	if len(path) == 0 {
		return "at the top level"
	}
	return fmt.Sprintf("in %q", strings.Join(path, "."))
}

// hint suggests what an unknown key in struct t was meant to be: a close spelling among t's
// keys; else the places in the schema where the key, or a close spelling of it, exists; else
// t's keys.
func (w *walker) hint(t reflect.Type, key string) string {
	keys := jsonKeys(t)
	if best, ok := closest(key, keys); ok {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	seen := map[reflect.Type]bool{}
	var places []string
	findKey(w.root, func(k string) bool { return strings.EqualFold(k, key) }, nil, seen, &places)
	if len(places) > 0 {
		return fmt.Sprintf("; %q is a key of %s", key, strings.Join(places, ", "))
	}
	var near string
	findKey(w.root, func(k string) bool {
		if _, ok := closest(key, []string{k}); ok && (near == "" || near == k) {
			near = k
			return true
		}
		return false
	}, nil, seen, &places)
	if len(places) > 0 {
		return fmt.Sprintf("; did you mean %q (a key of %s)?", near, strings.Join(places, ", "))
	}
	return "; known keys: " + strings.Join(keys, ", ")
}

// closest is the key among keys that key most likely misspells, if one is close enough
// (Jaro-Winkler similarity >= 0.85, case-insensitive).
func closest(key string, keys []string) (string, bool) {
	best, bestScore := "", 0.0
	for _, k := range keys {
		if s := smetrics.JaroWinkler(strings.ToLower(key), strings.ToLower(k), 0.7, 4); s > bestScore {
			best, bestScore = k, s
		}
	}
	return best, bestScore >= 0.85
}

// findKey appends the JSON paths of the objects (structs) under t that have a key match accepts.
func findKey(t reflect.Type, match func(string) bool, path []string, seen map[reflect.Type]bool, out *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	defer delete(seen, t)
	if slices.ContainsFunc(jsonKeys(t), match) {
		if len(path) == 0 {
			*out = append(*out, "the top level")
		} else {
			*out = append(*out, fmt.Sprintf("%q", strings.Join(path, ".")))
		}
	}
	for _, k := range jsonKeys(t) {
		f, _ := fieldByKey(t, k)
		findKey(f.Type, match, append(path, k), seen, out)
	}
}

// jsonKeys lists the JSON keys of struct t (encoding/json's rules: tag names, untagged
// exported field names, fields of untagged embedded structs), sorted.
func jsonKeys(t reflect.Type) []string {
	var keys []string
	for _, f := range reflect.VisibleFields(t) {
		if name, ok := keyOf(f); ok {
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	return keys
}

func keyOf(f reflect.StructField) (string, bool) {
	if !f.IsExported() && !f.Anonymous {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if f.Anonymous && name == "" {
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			return "", false // its fields are promoted (VisibleFields lists them)
		}
	}
	if !f.IsExported() {
		return "", false
	}
	if name == "" {
		name = f.Name
	}
	return name, true
}

// fieldByKey finds the field that encoding/json decodes key into: an exact name before a
// case-insensitive match, and among those the shallowest (a promoted field of an embedded
// struct loses to one of the outer struct).
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	var best reflect.StructField
	found, bestExact := false, false
	for _, f := range reflect.VisibleFields(t) {
		name, ok := keyOf(f)
		if !ok {
			continue
		}
		exact := name == key
		if !exact && !strings.EqualFold(name, key) {
			continue
		}
		if !found || exact && !bestExact || exact == bestExact && len(f.Index) < len(best.Index) {
			best, found, bestExact = f, true, exact
		}
	}
	return best, found
}

// explain turns an encoding/json error into one that names the file, the position and the key
// path, in JSON terms.
func (w *walker) explain(err error) error {
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%s:%s: invalid JSON: %s", w.name, w.pos(se.Offset), strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		key := te.Field
		if key == "" {
			key = "the top level"
		} else {
			key = fmt.Sprintf("%q", key)
		}
		return fmt.Errorf("%s:%s: %s: want %s, got a JSON %s", w.name, w.pos(te.Offset), key, kindOf(te.Type), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%s:%s: invalid JSON: the file ends in the middle of a value", w.name, w.pos(int64(len(w.raw))))
	}
	return fmt.Errorf("%s: %s", w.name, strings.TrimPrefix(err.Error(), "json: "))
}

// kindOf names what JSON a Go type takes.
func kindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another type of value"
}
