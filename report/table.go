package report

import (
	"bufio"
	"fmt"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// WriteTable renders c as terminal tables: the lock line, the gated pass
// rates, the tags, the measures and drift, the flipped cases, the gate and
// the footnotes. Untrusted text is escaped so that it cannot move the cursor,
// change colours or reorder the line.
func WriteTable(w io.Writer, c *compare.Comparison) error {
	bw := bufio.NewWriter(w)
	var n notes
	fmt.Fprintln(bw, untrusted.Line(lockLine(c)))
	fmt.Fprintln(bw, untrusted.Line(title(c)))
	fmt.Fprintln(bw, untrusted.Line(pairedLine(c))+n.mark(c.Warnings))
	fmt.Fprintln(bw)

	passTable := func(rows []compare.PassRate) error {
		t := newTable(bw)
		t.Header("METRIC", "BASELINE", "CANDIDATE", "Δ [CI]", "LEVEL", "FLIPS −/+", "P", "VERDICT")
		for i := range rows {
			p := &rows[i]
			name := untrusted.Line(p.Name())
			if p.Gated {
				name += " (gated)"
			}
			if err := t.Append(
				name,
				rateCell(p.Baseline.P, p.Baseline.CI.Lo, p.Baseline.CI.Hi),
				rateCell(p.Candidate.P, p.Candidate.CI.Lo, p.Candidate.CI.Hi),
				deltaCell(p.Diff, p.CI.Lo, p.CI.Hi),
				levelCell(p.CI, p.CIAdjust),
				fmt.Sprintf("%d/%d", p.Counts.OnlyA, p.Counts.OnlyB),
				pCell(p.AdjP, p.Adjust),
				verdictWords(p)+n.mark(p.Warnings),
			); err != nil {
				return err
			}
		}
		return t.Render()
	}
	fmt.Fprintln(bw, "Pass rates")
	if err := passTable(c.PassRates); err != nil {
		return err
	}
	fmt.Fprintln(bw, untrusted.Line(passNote(c)))
	if len(c.Tags) > 0 {
		fmt.Fprintln(bw, "\nTags (exploratory, Benjamini–Hochberg; gated tags Holm)")
		if err := passTable(c.Tags); err != nil {
			return err
		}
	}

	fmt.Fprintf(bw, "\nMeasures (%s)\n", measuresNote)
	t := newTable(bw)
	t.Header("MEASURE", "BASELINE", "CANDIDATE", "SHIFT [CI]", "LEVEL", "P", "VERDICT")
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
		if err := t.Append(name, base, compare.FormatValue(m.Candidate, m.Unit), measureDelta(m), levelCell(m.CI, m.CIAdjust),
			pCell(m.AdjP, m.Adjust), m.Words()+n.mark(m.Warnings)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}

	fmt.Fprintln(bw, "\nOutput drift")
	t = newTable(bw)
	t.Header("CHANGED", "NOISE FLOOR", "EXCESS [CI]", "LEVEL", "P", "VERDICT")
	ch, fl, ex, lv, p, v := driftCells(&c.Drift)
	if err := t.Append(ch, fl, ex, lv, p, v+n.mark(c.Drift.Warnings)); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}

	if len(c.Flips) > 0 {
		fmt.Fprintf(bw, "\n%s\n", flipsTitle(c))
		t = newTable(bw)
		t.Header("CASE", "FLIP", "BASELINE OUTPUT", "CANDIDATE OUTPUT", "FAILED CHECKS")
		for _, f := range listed(c.Flips) {
			dir := f.Direction()
			failed := ""
			for i, s := range f.Failed {
				if i > 0 {
					failed += "; "
				}
				failed += s
			}
			if err := t.Append(untrusted.Line(untrusted.Cut(f.CaseID, 40)), dir, untrusted.Line(untrusted.Cut(f.Baseline, 40)),
				untrusted.Line(untrusted.Cut(f.Candidate, 40)), untrusted.Line(untrusted.Cut(failed, 50))); err != nil {
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
		fmt.Fprintln(bw, "  - "+untrusted.Line(r))
	}
	if len(n.msgs) > 0 {
		fmt.Fprintln(bw)
		for i, m := range n.msgs {
			fmt.Fprintf(bw, "%s %s\n", superscript(i+1), untrusted.Line(m))
		}
	}
	return bw.Flush()
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

func newTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
}
