package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// A result is one line of `go test -bench` output: the benchmark's name
// without its -GOMAXPROCS suffix, the package it ran in, and its metrics by
// unit ("ns/op", "pgstore/raw", ...).
type result struct {
	pkg, name string
	metrics   map[string]float64
}

// parse reads `go test -bench` output. It keeps the benchmark result lines
// (a name starting with "Benchmark", an iteration count, then value-unit
// pairs) and the "pkg:" lines that say where they ran; everything else (log
// lines, PASS, ok) is skipped. A result line whose values do not parse is an
// error naming the line.
func parse(r io.Reader) ([]result, error) {
	var out []result
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue // the name printed before a benchmark's log output
		}
		if len(f)%2 != 0 {
			return nil, fmt.Errorf("benchchart: parse: line %d: a value without a unit: %q", n, line)
		}
		res := result{pkg: pkg, name: procsSuffix.ReplaceAllString(f[0], ""), metrics: map[string]float64{}}
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchchart: parse: line %d: %w", n, err)
			}
			res.metrics[f[i+1]] = v
		}
		out = append(out, res)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("benchchart: parse: %w", err)
	}
	return out, nil
}

var procsSuffix = regexp.MustCompile(`-[0-9]+$`)

// A series is one bar of the chart: a store against its baseline on one
// operation, with the ratio of every run.
type series struct {
	store, base, op string
	ratios          []float64
}

// ratioUnit matches a metric that is already a ratio of two
// implementations' times, such as "pgstore/raw" or "memstore/plainmap".
var ratioUnit = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_.]*)/([A-Za-z][A-Za-z0-9_.]*)$`)

// ratios finds, in results, each store's time against one of the baselines
// (implementation names such as "raw" or "pgx"), in two forms:
//
//   - a paired benchmark's own ratio metric, "<store>/<baseline>", taken
//     as reported: the benchmark timed both in the same loop;
//   - sub-benchmarks that differ only in an "impl=<name>" element: the
//     store's ns/op divided by the baseline's, the n-th result of one by
//     the n-th of the other (rounds of -count 1, so that each pair ran one
//     right after the other).
//
// Series come in the order their first result appears.
func ratios(results []result, baselines []string) []series {
	isBase := func(s string) bool { return slices.Contains(baselines, s) }
	var out []series
	index := map[[3]string]int{}
	add := func(store, base, op string, v float64) {
		k := [3]string{store, base, op}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, series{store: store, base: base, op: op})
		}
		out[i].ratios = append(out[i].ratios, v)
	}

	// impl= runs, grouped by the name without the impl element.
	type implRun struct {
		impl string
		ns   float64
	}
	var order []string
	runs := map[string][]implRun{}
	for _, r := range results {
		for unit, v := range sortedMetrics(r.metrics) {
			if m := ratioUnit.FindStringSubmatch(unit); m != nil && isBase(m[2]) {
				add(m[1], m[2], opName(r.name), v)
			}
		}
		op, impl, ok := cutImpl(r.name)
		ns, hasNS := r.metrics["ns/op"]
		if !ok || !hasNS {
			continue
		}
		key := r.pkg + "\x00" + op
		if _, seen := runs[key]; !seen {
			order = append(order, key)
		}
		runs[key] = append(runs[key], implRun{impl, ns})
	}
	for _, key := range order {
		_, op, _ := strings.Cut(key, "\x00")
		byImpl := map[string][]float64{}
		var impls []string
		for _, r := range runs[key] {
			if _, seen := byImpl[r.impl]; !seen {
				impls = append(impls, r.impl)
			}
			byImpl[r.impl] = append(byImpl[r.impl], r.ns)
		}
		for _, base := range impls {
			if !isBase(base) {
				continue
			}
			for _, store := range impls {
				if isBase(store) {
					continue
				}
				b, s := byImpl[base], byImpl[store]
				for i := range min(len(b), len(s)) {
					if b[i] > 0 {
						add(store, base, opName(op), s[i]/b[i])
					}
				}
			}
		}
	}
	return out
}

// sortedMetrics yields m's entries in unit order, so that series appear in
// the same order on every run.
func sortedMetrics(m map[string]float64) func(func(string, float64) bool) {
	return func(yield func(string, float64) bool) {
		units := make([]string, 0, len(m))
		for u := range m {
			units = append(units, u)
		}
		slices.Sort(units)
		for _, u := range units {
			if !yield(u, m[u]) {
				return
			}
		}
	}
}

// cutImpl splits "BenchmarkPostgres/FindHit/impl=pgx" into the name without
// the impl element and the implementation.
func cutImpl(name string) (rest, impl string, ok bool) {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if v, found := strings.CutPrefix(p, "impl="); found {
			return strings.Join(slices.Delete(parts, i, i+1), "/"), v, true
		}
	}
	return name, "", false
}

// opName is the operation a benchmark name stands for, as the chart labels
// it: "BenchmarkPaired/op=FindHit" is "FindHit", "BenchmarkPostgres/Commit"
// is "Postgres/Commit".
func opName(name string) string {
	name = strings.TrimPrefix(name, "Benchmark")
	name = strings.TrimPrefix(name, "Paired/")
	if name == "Paired" {
		return ""
	}
	return strings.ReplaceAll(name, "op=", "")
}

// median returns the median of v and its extremes; v is left as it was.
func median(v []float64) (med, lo, hi float64) {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0, 0, 0
	}
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}
