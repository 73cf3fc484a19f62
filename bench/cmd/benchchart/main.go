// Command benchchart draws the ratio of each store's time to its
// baseline's (raw driver, plain map, or the store it replaces) from `go test
// -bench` output, as an SVG bar chart: one bar per store and operation, the
// median of the runs with their range.
//
// It reads the ratio metrics the paired benchmarks report ("pgstore/raw",
// "memstore/plainmap") and, for benchmarks whose sub-benchmarks differ only
// in "impl=<name>", divides each store's ns/op by the baseline's of the same
// round: the n-th result of one by the n-th of the other. go test -count N
// runs a sub-benchmark N times before the next, so run such benchmarks N
// times with -count 1, appending to one file, for the n-th results of the
// store and the baseline to have run one right after the other. The chart of
// docs/benchmarks.md is made with
//
//	cd bench && go run ./cmd/benchchart -o ../docs/benchmarks.svg cmd/benchchart/testdata/2026-12-02.txt
//
// Usage:
//
//	benchchart [-o chart.svg] [-md] [-xmax 2] [-title T] [-subtitle S] [-base raw,pgx,plainmap] [-rename old=new,...] [file ...]
//
// With no file it reads standard input. With -md it writes the same figures
// as a Markdown table.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run is the command with its arguments and standard streams, so that the
// tests run it as a user would.
func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("benchchart", flag.ContinueOnError)
	out := fs.String("o", "", "write the SVG to this file (default: standard output)")
	title := fs.String("title", "Time of each store ÷ its baseline's, same run", "the chart's title")
	subtitle := fs.String("subtitle", "", "a line under the title: machine, date, how it was run")
	base := fs.String("base", "raw,pgx,plainmap", "comma-separated implementation names that are baselines")
	rename := fs.String("rename", "", "comma-separated old=new names shown in the chart, as in scs=SCS pgxstore")
	md := fs.Bool("md", false, "write a Markdown table of the same figures instead of the SVG")
	limit := fs.Float64("xmax", 2, "end the axis here when a ratio goes past it (0: at the largest ratio)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("benchchart: %w", err)
	}
	names, err := parseRename(*rename)
	if err != nil {
		return err
	}

	var input []result
	read := func(r io.Reader) error {
		res, err := parse(r)
		input = append(input, res...)
		return err
	}
	if fs.NArg() == 0 {
		if err := read(stdin); err != nil {
			return err
		}
	}
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("benchchart: %w", err)
		}
		err = read(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%w (in %s)", err, name)
		}
	}

	all := ratios(input, strings.Split(*base, ","))
	if len(all) == 0 {
		return fmt.Errorf("benchchart: no ratios in the input: %d benchmark results, none with a <store>/<baseline> metric or an impl=<baseline> sub-benchmark (baselines: %s)", len(input), *base)
	}
	for i := range all {
		if n, ok := names[all[i].store]; ok {
			all[i].store = n
		}
		if n, ok := names[all[i].base]; ok {
			all[i].base = n
		}
	}

	var svg bytes.Buffer
	if *md {
		writeMarkdown(&svg, all)
	} else if err := writeSVG(&svg, *title, *subtitle, *limit, all); err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(svg.Bytes())
	} else {
		err = os.WriteFile(*out, svg.Bytes(), 0o644)
	}
	if err != nil {
		return fmt.Errorf("benchchart: %w", err)
	}
	return nil
}

// parseRename reads -rename's "old=new,old2=new2".
func parseRename(s string) (map[string]string, error) {
	m := map[string]string{}
	if s == "" {
		return m, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("benchchart: -rename: %q is not old=new", kv)
		}
		m[k] = v
	}
	return m, nil
}
