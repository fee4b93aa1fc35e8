// Command benchtable prints the markdown table of scripts/bench.sh: hier (Go) against PyTorch
// eager, one row per measured quantity.
//
//	benchtable -go go_bench.txt -py py_bench.json \
//	    -row 'tiny-add, ns/op|go:TinyAdd:ns/op|py:tiny_add_ns' \
//	    -row 'sgemm 1024, GFLOP/s|go:Sgemm1024:GFLOP/s|py:sgemm_gflops'
//
// Inputs, read as rounds: round i of a measurement is its i-th occurrence.
//   - -go FILE (repeatable): `go test -bench` output. Every "BenchmarkName-P  N  v unit  v unit …"
//     line is read, in order (scripts/bench.sh appends one -count 1 run per round). Names drop
//     the "Benchmark" prefix and the "-P" suffix.
//   - -py FILE (repeatable): a JSON object of numbers (scripts/bench_torch.py's output), one file
//     per round, given in round order.
//
// Rows (-row, repeatable, printed in order) are "label|hier|pytorch" with each side an
// expression: a term, or term-term (a difference, taken round by round), where a term is
// go:Name:unit or py:key; an empty side prints "—", a measurement that is missing prints "n/a"
// (with a warning on stderr). Each side's cell is the median over rounds. The ratio is computed
// per round (hier/pytorch of round i) and the table shows its median, its min–max over rounds
// and, in the flag column, "rounds disagree" when (max-min)/median > -disagree (default 0.15).
// A side measured once is paired with every round of the other; otherwise, if the round counts
// differ, the first min(counts) rounds are paired (with a warning).
//
// To add rows (for example GPT-2 training tokens/s), add a section to scripts/bench.sh that
// appends `go test -bench` output to the Go file (a benchmark reporting b.ReportMetric(v,
// "tokens/s")) and writes a JSON file for the Python side, then add a -row for it.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// metrics holds the measured values: "go:Name:unit" (all runs) and "py:key".
type metrics map[string][]float64

// parseGoBench reads `go test -bench` output into m.
func parseGoBench(r io.Reader, m metrics) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue // not a result line
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return fmt.Errorf("%s: value %q: %w", f[0], f[i], err)
			}
			key := "go:" + name + ":" + f[i+1]
			m[key] = append(m[key], v)
		}
	}
	return sc.Err()
}

// parsePy reads a JSON object; numeric values are added to "py:key".
func parsePy(r io.Reader, m metrics) error {
	var obj map[string]any
	if err := json.NewDecoder(r).Decode(&obj); err != nil {
		return err
	}
	for k, v := range obj {
		if f, ok := v.(float64); ok {
			m["py:"+k] = append(m["py:"+k], f)
		}
	}
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// rounds computes an expression round by round: a term's values in the order read (round i is
// the i-th occurrence), or for term-term the difference of the two terms in each round (see
// pairRounds). ok is false for an empty expression.
func (m metrics) rounds(expr string, warn func(string)) (v []float64, ok bool, err error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, false, nil
	}
	// Split on the '-' that starts a new term ("-go:" or "-py:"); names may contain '-'.
	terms := []string{expr}
	for _, sep := range []string{"-go:", "-py:"} {
		if i := strings.Index(expr, sep); i > 0 {
			terms = []string{expr[:i], expr[i+1:]}
			break
		}
	}
	for i, t := range terms {
		vals, found := m[strings.TrimSpace(t)]
		if !found || len(vals) == 0 {
			return nil, false, &missingError{strings.TrimSpace(t)}
		}
		if i == 0 {
			v = vals
		} else {
			v = pairRounds(v, vals, func(a, b float64) float64 { return a - b }, warn)
		}
	}
	return v, true, nil
}

// pairRounds applies f round by round. A side with a single value stands for every round (one
// Python run beside several Go rounds); otherwise, when the round counts differ, only the first
// min(len) rounds are paired and warn is told.
func pairRounds(a, b []float64, f func(a, b float64) float64, warn func(string)) []float64 {
	n := min(len(a), len(b))
	if len(a) == 1 || len(b) == 1 {
		n = max(len(a), len(b))
	} else if len(a) != len(b) {
		warn(fmt.Sprintf("%d rounds against %d; pairing the first %d", len(a), len(b), n))
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = f(a[min(i, len(a)-1)], b[min(i, len(b)-1)])
	}
	return out
}

// ratioStats summarises per-round ratios: their median, min and max, and whether the rounds
// disagree, that is (max-min)/|median| > tol. Ratios with a zero denominator are dropped; n is
// the number of ratios left.
func ratioStats(hier, torch []float64, tol float64, warn func(string)) (med, lo, hi float64, disagree bool, n int) {
	var r []float64
	for _, x := range pairRounds(hier, torch, func(a, b float64) float64 { return a / b }, warn) {
		if !math.IsInf(x, 0) && !math.IsNaN(x) {
			r = append(r, x)
		}
	}
	if len(r) == 0 {
		return 0, 0, 0, false, 0
	}
	med, lo, hi = median(r), slices.Min(r), slices.Max(r)
	return med, lo, hi, med != 0 && (hi-lo)/math.Abs(med) > tol, len(r)
}

// missingError is a measurement a row needs but no input has (a benchmark that did not run, or
// no Python): the cell shows "n/a" and a warning goes to stderr.
type missingError struct{ key string }

func (e *missingError) Error() string { return "no measurement " + strconv.Quote(e.key) }

func format(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// table renders the rows; tol is the spread of per-round ratios (relative to their median) above
// which a row is flagged.
func table(m metrics, rows []string, tol float64, warn io.Writer) (string, error) {
	var b strings.Builder
	b.WriteString("| op | hier (Go) | PyTorch eager | ratio | ratio min–max | flag |\n|---|---:|---:|---:|---:|---|\n")
	for _, row := range rows {
		parts := strings.Split(row, "|")
		if len(parts) != 3 {
			return "", fmt.Errorf("row %q: want label|hier|pytorch", row)
		}
		cells := []string{strings.TrimSpace(parts[0]), "—", "—", "—", "—", ""}
		w := func(msg string) { fmt.Fprintf(warn, "benchtable: row %q: %s\n", cells[0], msg) }
		var vals [2][]float64
		for i, expr := range parts[1:] {
			v, ok, err := m.rounds(expr, w)
			var me *missingError
			switch {
			case errors.As(err, &me):
				w(err.Error())
				cells[1+i] = "n/a"
			case err != nil:
				return "", fmt.Errorf("row %q: %w", cells[0], err)
			case ok:
				vals[i] = v
				cells[1+i] = format(median(v))
			}
		}
		if len(vals[0]) > 0 && len(vals[1]) > 0 {
			if med, lo, hi, disagree, n := ratioStats(vals[0], vals[1], tol, w); n > 0 {
				cells[3] = strconv.FormatFloat(med, 'f', 2, 64)
				cells[4] = strconv.FormatFloat(lo, 'f', 2, 64) + "–" + strconv.FormatFloat(hi, 'f', 2, 64)
				if disagree {
					cells[5] = "rounds disagree"
				}
			}
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String(), nil
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	var goFiles, pyFiles, rows listFlag
	fs.Var(&goFiles, "go", "go test -bench output file (repeatable)")
	fs.Var(&pyFiles, "py", "JSON file of Python measurements (repeatable)")
	fs.Var(&rows, "row", "label|hier expr|pytorch expr (repeatable)")
	caption := fs.String("caption", "", "a line printed above the table")
	tol := fs.Float64("disagree", 0.15, "flag a row when (max-min)/median of its per-round ratios exceeds this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m := metrics{}
	for _, p := range goFiles {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = parseGoBench(f, m)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	for _, p := range pyFiles {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = parsePy(f, m)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	t, err := table(m, rows, *tol, stderr)
	if err != nil {
		return err
	}
	if *caption != "" {
		fmt.Fprintln(stdout, *caption)
		fmt.Fprintln(stdout)
	}
	_, err = io.WriteString(stdout, t)
	return err
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}
