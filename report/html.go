package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"sync"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/untrusted"
)

//go:embed html.tmpl
var htmlText string

// htmlTemplate is the page, parsed when first used rather than at every
// command's start; html/template escapes every value it prints
// according to its context, so untrusted text cannot add markup or script.
var htmlTemplate = sync.OnceValue(func() *template.Template { return template.Must(template.New("diff").Parse(htmlText)) })

// MaxHTMLDiffs is how many flipped cases the HTML report shows with their
// outputs side by side; it lists the ids of the others.
const MaxHTMLDiffs = 50

type htmlRow struct {
	Name, Baseline, Candidate, Delta, Level, Flips, P, Verdict string
	Class                                                      string // "regressed", "improved" or ""
	Gated                                                      bool
	Notes                                                      string
}

type htmlForestRow struct {
	Label                      string
	Y, TextY                   float64
	X, Lo, Hi                  float64
	Class                      string
	ValueText                  string
	OutOfRangeLo, OutOfRangeHi bool
	HasInterval                bool
	Gated                      bool
}

type htmlTick struct {
	X     float64
	Label string
}

type htmlFlip struct {
	CaseID    string
	Lost      bool
	Direction string
	Tags      string
	Failed    []string
	Baseline  []Chunk
	Candidate []Chunk
}

type htmlData struct {
	Title, LockLine, Paired, Gate string
	GateClass                     string // the verdict: "pass", "fail" or "inconclusive"
	Reasons                       []string
	PassRates, Tags               []htmlRow
	Measures                      []htmlRow
	MeasuresNote, PassNote        string
	Drift                         htmlRow
	Forest                        []htmlForestRow
	ForestHeight                  float64
	ForestZero                    float64
	ForestTicks                   []htmlTick
	ForestThreshold               []float64
	FlipsTitle                    string
	Flips                         []htmlFlip
	MoreFlips                     []string
	Notes                         []string
	Aggregation                   string
}

// WriteHTML renders c as one self-contained HTML page (inline CSS, inline SVG,
// no script, no external assets): the summary, a forest plot of the pass-rate
// differences per metric and per tag with their intervals, the measures and
// drift, and the flipped cases with their outputs side by side as a word
// diff.
func WriteHTML(w io.Writer, c *compare.Comparison) error {
	var n notes
	d := htmlData{
		MeasuresNote: measuresNote, PassNote: passNote(c),
		Title: untrusted.Line(title(c)), LockLine: untrusted.Line(lockLine(c)), Paired: untrusted.Line(pairedLine(c)) + n.mark(c.Warnings),
		Gate: gateLine(c), GateClass: gateClass(&c.Gate), Aggregation: c.Aggregation,
	}
	for _, r := range c.Gate.Reasons() {
		d.Reasons = append(d.Reasons, untrusted.Line(r))
	}
	rows := func(list []compare.PassRate) []htmlRow {
		var out []htmlRow
		for i := range list {
			p := &list[i]
			out = append(out, htmlRow{
				Name:      untrusted.Line(p.Name()),
				Baseline:  rateCell(p.Baseline.P, p.Baseline.CI.Lo, p.Baseline.CI.Hi),
				Candidate: rateCell(p.Candidate.P, p.Candidate.CI.Lo, p.Candidate.CI.Hi),
				Delta:     deltaCell(p.Diff, p.CI.Lo, p.CI.Hi),
				Level:     levelCell(p.CI, p.CIAdjust),
				Flips:     fmt.Sprintf("%d / %d", p.Counts.OnlyA, p.Counts.OnlyB),
				P:         pCell(p.AdjP, p.Adjust), Verdict: verdictWords(p), Class: verdictClass(p.Verdict, p.Failed()),
				Gated: p.Gated, Notes: n.mark(p.Warnings),
			})
		}
		return out
	}
	d.PassRates = rows(c.PassRates)
	d.Tags = rows(c.Tags)
	for i := range c.Measures {
		m := &c.Measures[i]
		base := compare.FormatValue(m.Baseline, m.Unit)
		if m.Name == compare.MeasureSimilarity {
			base = "repeats " + base
		}
		d.Measures = append(d.Measures, htmlRow{Name: m.Name, Baseline: base, Candidate: compare.FormatValue(m.Candidate, m.Unit),
			Delta: measureDelta(m), Level: levelCell(m.CI, m.CIAdjust), P: pCell(m.AdjP, m.Adjust), Verdict: m.Words(),
			Class: verdictClass(m.Verdict, m.Failed()), Gated: m.Gated, Notes: n.mark(m.Warnings)})
	}
	ch, fl, ex, lv, p, v := driftCells(&c.Drift)
	d.Drift = htmlRow{Baseline: fl, Candidate: ch, Delta: ex, Level: lv, P: p, Verdict: v, Gated: c.Drift.Gated,
		Class: verdictClass(c.Drift.Verdict, c.Drift.Failed()), Notes: n.mark(c.Drift.Warnings)}
	forest(&d, c)
	if len(c.Flips) > 0 {
		d.FlipsTitle = flipsTitle(c)
	}

	shown := 0
	for _, f := range c.Flips {
		if shown >= MaxHTMLDiffs {
			d.MoreFlips = append(d.MoreFlips, untrusted.Line(f.CaseID))
			continue
		}
		shown++
		hf := htmlFlip{CaseID: untrusted.Line(f.CaseID), Lost: f.Lost, Direction: f.Direction(), Tags: untrusted.Line(strings.Join(f.Tags, ", "))}
		for _, s := range f.Failed {
			hf.Failed = append(hf.Failed, untrusted.Line(s))
		}
		for _, ch := range WordDiff(f.Baseline, f.Candidate) {
			if ch.Op <= 0 {
				hf.Baseline = append(hf.Baseline, Chunk{Op: ch.Op, Text: untrusted.Block(ch.Text)})
			}
			if ch.Op >= 0 {
				hf.Candidate = append(hf.Candidate, Chunk{Op: ch.Op, Text: untrusted.Block(ch.Text)})
			}
		}
		d.Flips = append(d.Flips, hf)
	}
	for _, m := range n.msgs {
		d.Notes = append(d.Notes, untrusted.Line(m))
	}
	return htmlTemplate().Execute(w, d)
}

func verdictClass(v compare.Verdict, failed bool) string {
	switch {
	case failed || v == compare.Regressed:
		return "regressed"
	case v == compare.Improved:
		return "improved"
	case v == compare.Changed:
		return "changed"
	case v == compare.Within || v == compare.Underpowered:
		return "changed" // noteworthy, not failing: the same amber
	}
	return ""
}

// The forest plot's geometry, in SVG user units.
const (
	forestLabelW = 300.0
	forestPlotW  = 560.0
	forestRowH   = 24.0
	forestTop    = 34.0
)

// forest lays out the forest plot of the pass-rate differences: every metric,
// then every tag, each a point at its difference with its interval.
func forest(d *htmlData, c *compare.Comparison) {
	var list []*compare.PassRate
	for i := range c.PassRates {
		list = append(list, &c.PassRates[i])
	}
	for i := range c.Tags {
		list = append(list, &c.Tags[i])
	}
	// A symmetric axis around zero that holds every interval, at least ±5 pp,
	// in steps of 5 pp, at most ±100 pp.
	ext := 0.05
	for _, p := range list {
		for _, x := range []float64{p.CI.Lo, p.CI.Hi, p.Diff, p.Threshold.MinEffect} {
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				ext = math.Max(ext, math.Abs(x))
			}
		}
	}
	ext = math.Min(1, math.Ceil(ext*20-1e-9)/20)
	xOf := func(v float64) float64 {
		v = math.Max(-ext, math.Min(ext, v))
		return forestLabelW + (v+ext)/(2*ext)*forestPlotW
	}
	d.ForestZero = xOf(0)
	step := ext / 4
	for k := -4; k <= 4; k++ {
		v := float64(k) * step
		d.ForestTicks = append(d.ForestTicks, htmlTick{X: xOf(v), Label: num(100*v) + " pp"})
	}
	if t := c.Policy.PassRate.MinEffect; t > 0 {
		d.ForestThreshold = []float64{xOf(-t), xOf(t)}
	}
	for i, p := range list {
		y := forestTop + float64(i)*forestRowH + forestRowH/2
		r := htmlForestRow{Label: untrusted.Line(untrusted.Cut(p.Name(), 40)), Y: y, TextY: y + 4, Class: verdictClass(p.Verdict, p.Failed()), Gated: p.Gated}
		if math.IsNaN(p.Diff) {
			r.ValueText = "no cases"
			r.X = xOf(0)
		} else {
			r.X = xOf(p.Diff)
			r.ValueText = compare.PP(p.Diff)
			if !math.IsNaN(p.CI.Lo) && !math.IsNaN(p.CI.Hi) {
				r.HasInterval = true
				r.Lo, r.Hi = xOf(p.CI.Lo), xOf(p.CI.Hi)
				r.OutOfRangeLo, r.OutOfRangeHi = p.CI.Lo < -ext, p.CI.Hi > ext
			}
		}
		d.Forest = append(d.Forest, r)
	}
	d.ForestHeight = forestTop + float64(len(list))*forestRowH + 30
}
