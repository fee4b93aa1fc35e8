package gpt2

import (
	"unicode"
	"unicode/utf8"
)

// This file holds the GPT-2 pre-tokenizer: a hand-written scanner that splits
// text exactly like OpenAI's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// (leftmost-first alternation, as in Python's `regex` and JavaScript). Go's
// regexp package cannot express it: it has no lookahead for `\s+(?!\S)`, and
// its `\s` is ASCII-only ([\t\n\f\r ]), while GPT-2's `\s` is Unicode
// White_Space (so U+00A0 NBSP, U+3000, U+2009 ... are whitespace).
//
// Character classes used here:
//   - letter: unicode.IsLetter (general category L)
//   - number: unicode.IsNumber (general category N)
//   - space:  unicode.IsSpace (the Unicode White_Space property plus
//     U+0085; this is Python `regex`'s and tiktoken's `\s`). JavaScript's `\s`
//     differs only on U+0085 (not space in JS) and U+FEFF (space in JS); the
//     golden cases avoid both.
//   - other:  everything else, i.e. [^\s\p{L}\p{N}].
//
// Invalid UTF-8 bytes are scanned as U+FFFD (class "other") but the pieces
// always keep the original bytes, so no input byte is lost or altered.

// tokPretokClass is the regex character class of one rune.
type tokPretokClass uint8

const (
	tokClassOther tokPretokClass = iota
	tokClassLetter
	tokClassNumber
	tokClassSpace
)

func tokClassOf(r rune) tokPretokClass {
	switch {
	case r < utf8.RuneSelf:
		// ASCII fast path; same answers as the unicode functions below.
		switch {
		case r == ' ' || (r >= '\t' && r <= '\r'):
			return tokClassSpace
		case (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
			return tokClassLetter
		case r >= '0' && r <= '9':
			return tokClassNumber
		default:
			return tokClassOther
		}
	case unicode.IsSpace(r):
		return tokClassSpace
	case unicode.IsLetter(r):
		return tokClassLetter
	case unicode.IsNumber(r):
		return tokClassNumber
	default:
		return tokClassOther
	}
}

// tokPretokenize splits text into GPT-2 pre-tokens (byte ranges of text, in
// order, covering all of text without gaps). The returned strings are
// substrings of text.
func tokPretokenize(text string) []string {
	var out []string
	tokPretokenizeFunc(text, func(piece string) { out = append(out, piece) })
	return out
}

// tokPretokenizeFunc calls emit for every GPT-2 pre-token of text, in order.
func tokPretokenizeFunc(text string, emit func(piece string)) {
	n := len(text)
	// runeAt decodes the rune at byte offset i (i < n).
	runeAt := func(i int) (rune, int) {
		c := text[i]
		if c < utf8.RuneSelf {
			return rune(c), 1
		}
		return utf8.DecodeRuneInString(text[i:])
	}
	// runEnd returns the end of the run of runes of class cls that starts at i.
	runEnd := func(i int, cls tokPretokClass) int {
		for i < n {
			r, w := runeAt(i)
			if tokClassOf(r) != cls {
				break
			}
			i += w
		}
		return i
	}

	i := 0
	for i < n {
		r, w := runeAt(i)

		// 1. Contractions: 's 't 're 've 'm 'll 'd (lower case only, no
		//    word-boundary check, exactly like the regex).
		if r == '\'' && i+1 < n {
			if l := tokContractionLen(text[i+1:]); l > 0 {
				emit(text[i : i+1+l])
				i += 1 + l
				continue
			}
		}

		cls := tokClassOf(r)

		// 2. " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional single
		//    ASCII space followed by a run of one class. Every non-space rune
		//    is in exactly one of the three classes, so for a space followed
		//    by a non-space one of these alternatives always matches.
		if r == ' ' && i+w < n {
			r2, _ := runeAt(i + w)
			if c2 := tokClassOf(r2); c2 != tokClassSpace {
				end := runEnd(i+w, c2)
				emit(text[i:end])
				i = end
				continue
			}
		}
		if cls != tokClassSpace {
			end := runEnd(i, cls)
			emit(text[i:end])
			i = end
			continue
		}

		// 3. Whitespace. "\s+(?!\S)": the longest whitespace run that is not
		//    followed by a non-space. For a run [i,k) at the end of the text
		//    that is all of it; for a run followed by a non-space it is
		//    [i,k-1), i.e. the last whitespace rune is left to attach to the
		//    next word (via " ?\p{L}+" etc. when it is a space, or to become
		//    its own piece via "\s+" when it is not). When the run is a single
		//    rune followed by a non-space, "\s+(?!\S)" cannot match and "\s+"
		//    takes that one rune.
		k := runEnd(i, tokClassSpace)
		if k == n {
			emit(text[i:k])
			i = k
			continue
		}
		_, lastW := utf8.DecodeLastRuneInString(text[i:k])
		if k-lastW > i {
			emit(text[i : k-lastW])
			i = k - lastW
			continue
		}
		emit(text[i:k])
		i = k
	}
}

// tokContractionLen reports how many bytes after an apostrophe form one of
// GPT-2's contraction suffixes (s, t, re, ve, m, ll, d), or 0 if none does.
// The alternation order of the regex ('s|'t|'re|'ve|'m|'ll|'d) does not
// matter because no suffix is a prefix of another.
func tokContractionLen(s string) int {
	if len(s) >= 2 {
		switch s[:2] {
		case "re", "ve", "ll":
			return 2
		}
	}
	if len(s) >= 1 {
		switch s[0] {
		case 's', 't', 'm', 'd':
			return 1
		}
	}
	return 0
}
