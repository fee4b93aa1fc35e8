// Command benchtable prints the markdown table of scripts/bench.sh: hier (Go) against PyTorch
// eager, one row per measured quantity.
//
//	benchtable -go go_bench.txt -py py_bench.json \
//	    -row 'tiny-add, ns/op|go:TinyAdd:ns/op|py:tiny_add_ns' \
//	    -row 'sgemm 1024, GFLOP/s|go:Sgemm1024:GFLOP/s|py:sgemm_gflops'
//
// Inputs:
//   - -go FILE (repeatable): `go test -bench` output. Every "BenchmarkName-P  N  v unit  v unit …"
//     line is read; with -count > 1 the median of the runs is used. Names drop the "Benchmark"
//     prefix and the "-P" suffix.
//   - -py FILE (repeatable): a JSON object of numbers (scripts/bench_torch.py's output). A key
//     present in several files (repeated runs) is the median of its values.
//
// Rows (-row, repeatable, printed in order) are "label|hier|pytorch" with each side an
// expression: a term, or term-term (a difference), where a term is go:Name:unit or py:key;
// an empty side prints "—", a measurement that is missing prints "n/a" (with a warning on stderr).
// The ratio column is hier/pytorch.
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

// eval computes an expression "term" or "term-term"; ok is false for an empty expression.
func (m metrics) eval(expr string) (v float64, ok bool, err error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return 0, false, nil
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
			return 0, false, &missingError{strings.TrimSpace(t)}
		}
		if i == 0 {
			v = median(vals)
		} else {
			v -= median(vals)
		}
	}
	return v, true, nil
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

// table renders the rows.
func table(m metrics, rows []string, warn io.Writer) (string, error) {
	var b strings.Builder
	b.WriteString("| op | hier (Go) | PyTorch eager | ratio |\n|---|---:|---:|---:|\n")
	for _, row := range rows {
		parts := strings.Split(row, "|")
		if len(parts) != 3 {
			return "", fmt.Errorf("row %q: want label|hier|pytorch", row)
		}
		cells := []string{strings.TrimSpace(parts[0]), "—", "—", "—"}
		var vals [2]float64
		var oks [2]bool
		for i, expr := range parts[1:] {
			v, ok, err := m.eval(expr)
			var me *missingError
			switch {
			case errors.As(err, &me):
				fmt.Fprintf(warn, "benchtable: row %q: %v\n", cells[0], err)
				cells[1+i] = "n/a"
			case err != nil:
				return "", fmt.Errorf("row %q: %w", cells[0], err)
			case ok:
				vals[i], oks[i] = v, true
				cells[1+i] = format(v)
			}
		}
		hv, pv, hok, pok := vals[0], vals[1], oks[0], oks[1]
		if hok && pok && pv != 0 {
			cells[3] = strconv.FormatFloat(hv/pv, 'f', 2, 64)
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
	t, err := table(m, rows, stderr)
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
