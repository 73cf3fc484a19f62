package main

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// Layout of the chart, in pixels.
const (
	charW   = 7   // a generous width of one character at font-size 12
	plotW   = 420 // the bars: 0 to xmax
	valueW  = 170 // the figures, right of the bars
	rowH    = 18
	headH   = 26 // a group's heading
	topH    = 56 // title and subtitle
	bottomH = 46 // axis labels and legend
)

// palette colours the groups in turn.
var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"}

// writeSVG draws one horizontal bar per series, grouped by store and
// baseline in the order the groups first appear: the bar is the median
// ratio, the line across it runs from the lowest to the highest, and a
// dashed line marks 1 (as fast as the baseline). The output depends only
// on its arguments, so the same input gives the same file.
//
// The axis ends at the largest ratio, or at limit if that is smaller and
// positive: a bar or line that goes past it ends in an arrow, and the
// figures beside it are the real ones.
func writeSVG(w io.Writer, title, subtitle string, limit float64, all []series) error {
	if len(all) == 0 {
		return fmt.Errorf("benchchart: svg: no ratios to draw")
	}
	groups := groupSeries(all)

	hi := 1.0
	for _, s := range all {
		_, _, h := median(s.ratios)
		hi = math.Max(hi, h)
	}
	if limit > 0 {
		hi = math.Min(hi, limit)
	}
	xmax := math.Max(1.5, math.Ceil(hi*4)/4)
	step := 0.25
	if xmax > 2 {
		step = 0.5
	}
	labelW := 120 // operation labels, left of the bars, as wide as the longest
	for _, s := range all {
		labelW = max(labelW, utf8.RuneCountInString(s.op)*charW+16)
	}
	x := func(v float64) float64 { return float64(labelW) + plotW*math.Min(v, xmax)/xmax }

	height := topH + bottomH
	for _, g := range groups {
		height += headH + rowH*len(g.rows)
	}
	width := max(labelW+plotW+valueW+8, utf8.RuneCountInString(subtitle)*charW+20)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="16" font-weight="bold">%s</text>`+"\n", esc(title))
	fmt.Fprintf(&b, `<text x="10" y="42" fill="#555">%s</text>`+"\n", esc(subtitle))

	plotTop, plotBottom := topH, height-bottomH
	for v := 0.0; v <= xmax+1e-9; v += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e5e5"/>`+"\n", x(v), plotTop, x(v), plotBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x(v), plotBottom+14, trim(v))
	}

	y := topH
	for gi, g := range groups {
		colour := palette[gi%len(palette)]
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold" fill="%s">%s ÷ %s</text>`+"\n", y+18, colour, esc(g.store), esc(g.base))
		y += headH
		for _, s := range g.rows {
			med, lo, h := median(s.ratios)
			mid := float64(y) + rowH/2
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", labelW-8, mid, esc(s.op))
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="12" fill="%s" fill-opacity="0.8"/>`+"\n", labelW, mid-6, x(med)-x(0), colour)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`+"\n", x(lo), mid, x(h), mid)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`+"\n", x(lo), mid-3, x(lo), mid+3)
			if h > xmax {
				end := x(xmax)
				fmt.Fprintf(&b, `<path d="M%.1f %.1fl6 4l-6 4z" fill="#222"/>`+"\n", end, mid-4)
			} else {
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`+"\n", x(h), mid-3, x(h), mid+3)
			}
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" dominant-baseline="middle">%.2f (%.2f–%.2f, %d runs)</text>`+"\n", labelW+plotW+8, mid, med, lo, h, len(s.ratios))
			y += rowH
		}
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c00" stroke-dasharray="4 3"/>`+"\n", x(1), plotTop, x(1), plotBottom)
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">bar: median of the runs; line: lowest to highest; dashed: 1, as fast as the baseline in the same run</text>`+"\n", height-10)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("benchchart: svg: %w", err)
	}
	return nil
}

// A group is the series of one store against one baseline.
type group struct {
	store, base string
	rows        []series
}

// groupSeries groups the series by store and baseline, in the order each
// group first appears, keeping the order of the series within a group.
func groupSeries(all []series) []*group {
	var groups []*group
	for _, s := range all {
		var g *group
		for _, x := range groups {
			if x.store == s.store && x.base == s.base {
				g = x
			}
		}
		if g == nil {
			g = &group{store: s.store, base: s.base}
			groups = append(groups, g)
		}
		g.rows = append(g.rows, s)
	}
	return groups
}

// writeMarkdown writes one table row per series: the median ratio, its
// range and the number of runs.
func writeMarkdown(w *bytes.Buffer, all []series) {
	w.WriteString("| store / baseline | operation | median | range | runs |\n|---|---|---:|---:|---:|\n")
	for _, g := range groupSeries(all) {
		for _, s := range g.rows {
			med, lo, hi := median(s.ratios)
			fmt.Fprintf(w, "| %s / %s | %s | %.2f | %.2f–%.2f | %d |\n", s.store, s.base, s.op, med, lo, hi, len(s.ratios))
		}
	}
}

func esc(s string) string { return html.EscapeString(s) }

// trim formats an axis value without trailing zeros: 1, 1.25, 1.5.
func trim(v float64) string {
	s := strings.TrimRight(fmt.Sprintf("%.2f", v), "0")
	return strings.TrimSuffix(s, ".")
}
