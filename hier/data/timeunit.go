package data

import (
	"fmt"
	"math"
)

// Units of numeric time columns, as recorded in Dataset.TimeUnit.
const (
	TimeUnitSeconds      = "seconds"
	TimeUnitMilliseconds = "milliseconds"
	TimeUnitMicroseconds = "microseconds"
	TimeUnitNanoseconds  = "nanoseconds"
)

// timeUnits are the units by scale (see timeScale), with the number of them in a second.
var timeUnits = [...]struct {
	name   string
	perSec int64
}{
	{TimeUnitSeconds, 1},
	{TimeUnitMilliseconds, 1e3},
	{TimeUnitMicroseconds, 1e6},
	{TimeUnitNanoseconds, 1e9},
}

// timeScale classifies a numeric unix time by its magnitude: 0 seconds (|v| < 1e11; 1e11 s is
// the year 5138), 1 milliseconds (|v| < 1e14), 2 microseconds (|v| < 1e17), 3 nanoseconds.
// Millisecond times before 1973-03-03 (< 1e11) cannot be told from seconds and read as seconds.
func timeScale(v int64) int {
	if v == math.MinInt64 {
		return 3
	}
	if v < 0 {
		v = -v
	}
	switch {
	case v < 1e11:
		return 0
	case v < 1e14:
		return 1
	case v < 1e17:
		return 2
	}
	return 3
}

// timeSeen is one numeric time value and where it was read.
type timeSeen struct {
	file  string
	line  int
	field string
	value int64
	scale int
}

// timeColumn gathers the numeric time values of one file (the time column; the Amazon loader's
// unixReviewTime and reviewTime count as one column, reviewTime being its fallback). The unit
// is decided once the file has been read: one scale for every value, or an error.
type timeColumn struct {
	first    *timeSeen // the first numeric value
	conflict *timeSeen // the first value of another scale than first's
	pos      []int     // positions in collector.out whose Time is a raw number
}

// note records that out[pos].Time is the raw number v read from field at file:line.
func (tc *timeColumn) note(pos int, file string, line int, field string, v int64) {
	seen := timeSeen{file: file, line: line, field: field, value: v, scale: timeScale(v)}
	switch {
	case tc.first == nil:
		tc.first = &seen
	case tc.conflict == nil && seen.scale != tc.first.scale:
		tc.conflict = &seen
	}
	tc.pos = append(tc.pos, pos)
}

// resolve converts the raw numeric times in out to unix seconds (rounding down) and returns
// their unit: "" when there were none (no time column, or dates only). A column mixing scales
// is a *RecordError at the first value whose scale differs from the first value's.
func (tc *timeColumn) resolve(out []Interaction) (string, error) {
	if tc.first == nil {
		return "", nil
	}
	if c := tc.conflict; c != nil {
		f := tc.first
		at := fmt.Sprintf("line %d", f.line)
		if f.field != c.field {
			at += fmt.Sprintf(" (field %q)", f.field)
		}
		return "", &RecordError{File: c.file, Line: c.line, Field: c.field, Reason: fmt.Sprintf(
			"time %d reads as %s but %s has %d, read as %s: a file's time column must use one unit "+
				"(numbers below 1e11 are read as seconds, from 1e11 milliseconds, from 1e14 microseconds, from 1e17 nanoseconds)",
			c.value, timeUnits[c.scale].name, at, f.value, timeUnits[f.scale].name)}
	}
	u := timeUnits[tc.first.scale]
	if u.perSec != 1 {
		for _, p := range tc.pos {
			out[p].Time = floorDiv(out[p].Time, u.perSec)
		}
	}
	return u.name, nil
}

// floorDiv is a / b rounded towards -inf (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
