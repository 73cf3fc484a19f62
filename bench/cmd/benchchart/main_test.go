package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// realInput is the output of the benchmark run docs/benchmarks.md charts,
// kept as go test wrote it.
const realInput = "testdata/2026-12-02.txt"

// chartArgs are the arguments of the command docs/benchmarks.md gives to
// regenerate docs/benchmarks.svg, less -o.
var chartArgs = []string{
	"-subtitle", "2026-12-02 · 2-core VM · Go 1.26.8 · PostgreSQL 15.20 · Redis 7.0.15 · 6 runs each · load average 3–14 · Redis rows re-run at 13:35 UTC (load 1.3)",
	"-rename", "scs=SCS pgxstore,PGStore=gorillastore PGStore,pgx=raw pgx,raw=raw driver,plainmap=map+RWMutex",
	realInput,
}

// pgstoreExcerpt is two lines of bench/pgstore's BenchmarkPaired, as it
// printed them on 2026-12-02.
const pgstoreExcerpt = `goos: linux
goarch: amd64
pkg: github.com/sessionstore/sessionstore/bench/pgstore
cpu: AMD EPYC
BenchmarkPaired/op=FindHit-2         	    2000	    561568 ns/op	       200.0 pgstore-µs/op	         1.040 pgstore/raw	       192.2 raw-µs/op	       168.9 scs-µs/op	         0.8787 scs/raw
BenchmarkPaired/op=FindHit-2         	    2000	    583336 ns/op	       204.2 pgstore-µs/op	         1.049 pgstore/raw	       194.6 raw-µs/op	       182.4 scs-µs/op	         0.9372 scs/raw
PASS
ok  	github.com/sessionstore/sessionstore/bench/pgstore	26.676s
`

// implExcerpt is two rounds (-count 1 each) of gormstore's
// BenchmarkPostgres FindHit, as go test printed them on 2026-12-02.
const implExcerpt = "goos: linux\n" +
	"pkg: github.com/sessionstore/sessionstore/gormstore\n" +
	"BenchmarkPostgres/FindHit/impl=pgx-2         \t    1000\t    261075 ns/op\t     735 B/op\t      11 allocs/op\n" +
	"BenchmarkPostgres/FindHit/impl=gormstore-2   \t    1000\t    338337 ns/op\t    1353 B/op\t      21 allocs/op\n" +
	"PASS\n" +
	"pkg: github.com/sessionstore/sessionstore/gormstore\n" +
	"BenchmarkPostgres/FindHit/impl=pgx-2         \t    1000\t    153452 ns/op\t     734 B/op\t      11 allocs/op\n" +
	"BenchmarkPostgres/FindHit/impl=gormstore-2   \t    1000\t    369989 ns/op\t    1353 B/op\t      21 allocs/op\n"

func TestRatioMetrics(t *testing.T) {
	res, err := parse(strings.NewReader(pgstoreExcerpt))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].name != "BenchmarkPaired/op=FindHit" || !strings.HasSuffix(res[0].pkg, "bench/pgstore") {
		t.Fatalf("parse = %+v, want two BenchmarkPaired/op=FindHit results of bench/pgstore", res)
	}
	got := ratios(res, []string{"raw"})
	want := []series{
		{store: "pgstore", base: "raw", op: "FindHit", ratios: []float64{1.040, 1.049}},
		{store: "scs", base: "raw", op: "FindHit", ratios: []float64{0.8787, 0.9372}},
	}
	checkSeries(t, got, want)
}

func TestImplRatios(t *testing.T) {
	res, err := parse(strings.NewReader(implExcerpt))
	if err != nil {
		t.Fatal(err)
	}
	got := ratios(res, []string{"pgx"})
	want := []series{{store: "gormstore", base: "pgx", op: "Postgres/FindHit", ratios: []float64{338337.0 / 261075, 369989.0 / 153452}}}
	checkSeries(t, got, want)
}

func checkSeries(t *testing.T, got, want []series) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d series %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.store != w.store || g.base != w.base || g.op != w.op || len(g.ratios) != len(w.ratios) {
			t.Fatalf("series %d = %+v, want %+v", i, g, w)
		}
		for j := range w.ratios {
			if math.Abs(g.ratios[j]-w.ratios[j]) > 1e-9 {
				t.Errorf("series %d ratio %d = %v, want %v", i, j, g.ratios[j], w.ratios[j])
			}
		}
	}
}

// TestRealInput reads the whole committed run and checks that every store
// and operation it measured is in the chart, each with its six runs.
func TestRealInput(t *testing.T) {
	f, err := os.Open(realInput)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string][]string{}
	for _, s := range ratios(res, []string{"raw", "pgx", "plainmap"}) {
		k := s.store + "/" + s.base
		ops[k] = append(ops[k], s.op)
		if len(s.ratios) != 6 {
			t.Errorf("%s %s: %d ratios, want 6", k, s.op, len(s.ratios))
		}
		for _, r := range s.ratios {
			if !(r > 0.2 && r < 5) {
				t.Errorf("%s %s: ratio %v, not a plausible time ratio", k, s.op, r)
			}
		}
	}
	pg := []string{"FindHit", "FindMiss", "Commit", "CommitNew", "Delete", "All", "Mixed/goroutines=8", "Mixed/goroutines=64"}
	orm := []string{"Postgres/FindHit", "Postgres/FindMiss", "Postgres/Commit", "Postgres/Delete", "Postgres/Mixed90-9-1/goroutines=8", "Postgres/Mixed90-9-1/goroutines=64", "Postgres/All100k"}
	redis := []string{"Find/single", "Commit/single", "Delete/single", "Mixed/g8/single", "Mixed/g64/single"}
	for k, want := range map[string][]string{
		"memstore/plainmap": {"FindHit", "FindMiss", "Commit", "Delete"},
		"pgstore/raw":       pg,
		"scs/raw":           pg,
		"PGStore/raw":       {"Get", "Save", "Mixed/goroutines=8", "Mixed/goroutines=64"},
		"gormstore/pgx":     orm,
		"bunstore/pgx":      orm,
		"redisstore/raw":    redis,
		"goredisstore/raw":  redis,
	} {
		if !slices.Equal(ops[k], want) {
			t.Errorf("%s: operations %q, want %q", k, ops[k], want)
		}
	}
}

// TestCommittedChart regenerates docs/benchmarks.svg with the documented
// command and compares it with the committed file, which must also be
// well-formed XML.
func TestCommittedChart(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "benchmarks.svg"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("docs/benchmarks.svg is not here (a module outside the repository)")
	}
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "chart.svg")
	if err := run(append([]string{"-o", out}, chartArgs...), nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, committed) {
		t.Errorf("docs/benchmarks.svg differs from what the command in docs/benchmarks.md makes of %s: regenerate it", realInput)
	}
	d := xml.NewDecoder(bytes.NewReader(got))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v", err)
		}
	}
	for _, label := range []string{"SCS pgxstore ÷ raw driver", "gormstore ÷ raw pgx", "memstore ÷ map+RWMutex", "gorillastore PGStore ÷ raw driver", "redisstore ÷ raw driver", "CommitNew"} {
		if !bytes.Contains(got, []byte(label)) {
			t.Errorf("the chart has no %q", label)
		}
	}
}

func TestMarkdown(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-md"}, strings.NewReader(pgstoreExcerpt), &out); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"| pgstore / raw | FindHit | 1.04 | 1.04–1.05 | 2 |", "| scs / raw | FindHit | 0.91 | 0.88–0.94 | 2 |"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("-md output has no row %q:\n%s", row, out.String())
		}
	}
}

// TestBadInput checks that what cannot be charted is an error that says
// why, never a panic or an empty chart.
func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		name, input string
		args        []string
		want        string
	}{
		{"empty", "", nil, "benchchart: no ratios in the input: 0 benchmark results"},
		{"no ratios", "BenchmarkX-2 \t 100 \t 5 ns/op\n", nil, "benchchart: no ratios in the input: 1 benchmark results"},
		{"bad value", "pkg: p\nBenchmarkX-2 \t 100 \t 5x ns/op\n", nil, "benchchart: parse: line 2: "},
		{"value without unit", "BenchmarkX-2 \t 100 \t 5 ns/op 7\n", nil, "benchchart: parse: line 1: a value without a unit"},
		{"bad rename", pgstoreExcerpt, []string{"-rename", "scs"}, `benchchart: -rename: "scs" is not old=new`},
		{"bad flag", pgstoreExcerpt, []string{"-nosuchflag"}, "benchchart: flag provided but not defined"},
		{"missing file", "", []string{"testdata/nosuchfile.txt"}, "benchchart: open testdata/nosuchfile.txt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(c.args, strings.NewReader(c.input), &out)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("err = %v, want one starting %q", err, c.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %d bytes on error", out.Len())
			}
		})
	}
}

// TestLogLinesSkipped checks that a benchmark's name printed before its
// log output, and the log itself, are not results.
func TestLogLinesSkipped(t *testing.T) {
	in := "BenchmarkPaired/op=FindHit\n    paired_test.go:10: filling 100000 sessions\n" + pgstoreExcerpt
	res, err := parse(strings.NewReader(in))
	if err != nil || len(res) != 2 {
		t.Fatalf("parse = %d results, %v; want 2", len(res), err)
	}
}
