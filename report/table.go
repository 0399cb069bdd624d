package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/mattn/go-runewidth"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// WriteTable renders c as terminal tables of at most MaxWidth columns
// (TableOptions{}): WriteTableOptions.
func WriteTable(w io.Writer, c *compare.Comparison) error {
	return WriteTableOptions(w, c, TableOptions{})
}

// TableOptions say how much a terminal report shows.
type TableOptions struct {
	// All shows every row: without it, the rows that could not be tested
	// (too few cases) are collapsed into one line under their table.
	All bool
}

// WriteTableOptions renders c as terminal tables: the lock line, the gated
// pass rates, the tags, the measures and drift, the flipped cases, the gate
// and the footnotes. Each table holds the numbers; the verdict of each row,
// in words, follows it on a line of its own, so that a table fits MaxWidth
// columns. Rows that regressed come first after the overall pass rate.
// Untrusted text is escaped so that it cannot move the cursor, change
// colours or reorder the line.
func WriteTableOptions(w io.Writer, c *compare.Comparison, opts TableOptions) error {
	bw := bufio.NewWriter(w)
	var n notes
	writeLines(bw, []string{untrusted.Line(lockLine(c)), untrusted.Line(title(c)), untrusted.Line(pairedLine(c)) + n.mark(c.Warnings), ""})

	passTable := func(rows []compare.PassRate) error {
		rows = regressionsFirst(rows)
		t := newTable(bw)
		t.Header("METRIC", "BASELINE", "CANDIDATE", "Δ [CI]", "FLIPS −/+", "P")
		var verdicts, untested []string
		for i := range rows {
			p := &rows[i]
			name := untrusted.Cut(untrusted.Line(p.Name()), 40)
			if math.IsNaN(p.AdjP) && !p.Gated && !opts.All {
				untested = append(untested, name)
				continue
			}
			label := name
			if p.Gated {
				label += " (gated)"
			}
			if err := t.Append(untrusted.Cut(label, 28), compare.Percent(p.Baseline.P), compare.Percent(p.Candidate.P),
				deltaCell(p.Diff, p.CI.Lo, p.CI.Hi), fmt.Sprintf("%d/%d", p.Counts.OnlyA, p.Counts.OnlyB), pCell(p.AdjP, p.Adjust),
			); err != nil {
				return err
			}
			verdicts = append(verdicts, verdictLine(name, levelCell(p.CI, p.CIAdjust), verdictWords(p)+n.mark(p.Warnings)))
		}
		if err := t.Render(); err != nil {
			return err
		}
		writeLines(bw, verdicts)
		if len(untested) > 0 {
			writeLines(bw, []string{verdictLine(fmt.Sprintf("%d not tested", len(untested)), "",
				"too few cases to test: "+strings.Join(untested, ", ")+" (--all shows them)")})
		}
		return nil
	}
	fmt.Fprintln(bw, "Pass rates")
	if err := passTable(c.PassRates); err != nil {
		return err
	}
	writeLines(bw, []string{untrusted.Line(passNote(c))})
	if len(c.Tags) > 0 {
		fmt.Fprintln(bw, "\nTags (exploratory, Benjamini–Hochberg; gated tags Holm)")
		if err := passTable(c.Tags); err != nil {
			return err
		}
	}

	fmt.Fprintf(bw, "\nMeasures (%s)\n", measuresNote)
	t := newTable(bw)
	t.Header("MEASURE", "BASELINE", "CANDIDATE", "SHIFT [CI]", "P")
	var verdicts []string
	for i := range c.Measures {
		m := &c.Measures[i]
		name := m.Name
		if m.Gated {
			name += " (gated)"
		}
		base := compare.FormatValue(m.Baseline, m.Unit)
		if m.Name == compare.MeasureSimilarity {
			base = "repeats " + base
		}
		if err := t.Append(name, base, compare.FormatValue(m.Candidate, m.Unit), measureDelta(m), pCell(m.AdjP, m.Adjust)); err != nil {
			return err
		}
		verdicts = append(verdicts, verdictLine(m.Name, levelCell(m.CI, m.CIAdjust), m.Words()+n.mark(m.Warnings)))
	}
	if err := t.Render(); err != nil {
		return err
	}
	writeLines(bw, verdicts)

	fmt.Fprintln(bw, "\nOutput drift")
	t = newTable(bw)
	t.Header("CHANGED", "NOISE FLOOR", "EXCESS [CI]", "P")
	ch, fl, ex, lv, p, v := driftCells(&c.Drift)
	if err := t.Append(ch, fl, ex, p); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}
	writeLines(bw, []string{verdictLine("drift", lv, v+n.mark(c.Drift.Warnings))})

	if len(c.Flips) > 0 {
		fmt.Fprintf(bw, "\n%s\n", flipsTitle(c))
		t = newTable(bw)
		t.Header("CASE", "FLIP", "BASELINE OUTPUT", "CANDIDATE OUTPUT", "FAILED CHECKS")
		for _, f := range listed(c.Flips) {
			if err := t.Append(untrusted.Cut(untrusted.Line(f.CaseID), 16), f.Direction(), untrusted.Cut(untrusted.Line(f.Baseline), 26),
				untrusted.Cut(untrusted.Line(f.Candidate), 26), untrusted.Cut(untrusted.Line(strings.Join(f.Failed, "; ")), 18)); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		if more := len(c.Flips) - len(listed(c.Flips)); more > 0 {
			fmt.Fprintf(bw, "… and %d more flipped cases (the JSON report lists them all)\n", more)
		}
	}

	fmt.Fprintln(bw)
	fmt.Fprintln(bw, gateLine(c))
	for _, r := range c.Gate.Reasons() {
		writeLines(bw, []string{"  - " + untrusted.Line(r)})
	}
	if len(n.msgs) > 0 {
		fmt.Fprintln(bw)
		for i, m := range n.msgs {
			writeLines(bw, []string{superscript(i+1) + " " + untrusted.Line(m)})
		}
	}
	return bw.Flush()
}

// regressionsFirst returns rows with the overall pass rate first, then the
// rows that fail the gate, then those with a significant change, then the
// rest, each group in its order.
func regressionsFirst(rows []compare.PassRate) []compare.PassRate {
	rank := func(p *compare.PassRate) int {
		switch {
		case p.Kind == compare.PassOverall:
			return 0
		case p.Failed():
			return 1
		case p.Verdict != compare.NoChange:
			return 2
		}
		return 3
	}
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b compare.PassRate) int { return rank(&a) - rank(&b) })
	return out
}

// verdictLine says a row's verdict under its table: "  name (level
// interval): words".
func verdictLine(name, level, words string) string {
	if level != "" && level != "—" {
		name += " (" + level + " interval)"
	}
	return "  " + name + ": " + words
}

// writeLines writes each line to w, wrapped at MaxWidth on spaces, its
// continuations indented.
func writeLines(w io.Writer, lines []string) {
	for _, l := range lines {
		for first := true; ; first = false {
			if !first {
				l = "      " + l
			}
			if runewidth.StringWidth(l) <= MaxWidth {
				fmt.Fprintln(w, l)
				break
			}
			cut := lastSpaceWithin(l, MaxWidth)
			if cut <= 6 {
				fmt.Fprintln(w, l)
				break
			}
			fmt.Fprintln(w, l[:cut])
			l = strings.TrimLeft(l[cut:], " ")
		}
	}
}

// lastSpaceWithin returns the byte index of the last space of s that falls
// within width columns; -1 when there is none.
func lastSpaceWithin(s string, width int) int {
	col, cut := 0, -1
	for i, r := range s {
		col += runewidth.RuneWidth(r)
		if col > width {
			break
		}
		if r == ' ' {
			cut = i
		}
	}
	return cut
}

// listed returns the flips a short report shows: the first MaxListed losses,
// then the first MaxListed gains.
func listed(fs []compare.Flip) []compare.Flip {
	var lost, gained []compare.Flip
	for _, f := range fs {
		if f.Lost && len(lost) < MaxListed {
			lost = append(lost, f)
		} else if !f.Lost && len(gained) < MaxListed {
			gained = append(gained, f)
		}
	}
	return append(lost, gained...)
}

// MaxWidth is the widest a terminal report is drawn, in columns.
const MaxWidth = 120

func newTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
}
