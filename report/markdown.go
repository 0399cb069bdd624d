package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// WriteMarkdown renders c as GitHub-flavoured Markdown for a pull-request
// comment: a verdict line, tables of pass rates, tags, measures and drift, the
// flipped cases and the footnotes. Untrusted text is escaped so that it cannot
// break a table (pipes, line breaks), open code spans (backticks) or inject
// HTML, links or emphasis.
func WriteMarkdown(w io.Writer, c *compare.Comparison) error {
	bw := bufio.NewWriter(w)
	var n notes
	verdict := "✅ " + gateLine(c)
	switch gateClass(&c.Gate) {
	case "fail":
		verdict = "❌ " + gateLine(c)
	case "inconclusive", "underpowered":
		verdict = "⚠️ " + gateLine(c)
	}
	fmt.Fprintf(bw, "### evalpin diff: %s\n\n", mdEscape(verdict))
	fmt.Fprintf(bw, "**%s**\n\n", mdEscape(lockLine(c)))
	fmt.Fprintf(bw, "%s  \n%s%s\n\n", mdEscape(title(c)), mdEscape(pairedLine(c)), n.mark(c.Warnings))
	reasons := c.Gate.Reasons()
	for _, r := range reasons {
		fmt.Fprintf(bw, "- %s\n", mdEscape(r))
	}
	if len(reasons) > 0 {
		fmt.Fprintln(bw)
	}

	passTable := func(rows []compare.PassRate) {
		fmt.Fprintln(bw, "| Metric | Baseline | Candidate | Δ [CI] | Level | Flips −/+ | p | Verdict |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|---|")
		for i := range rows {
			p := &rows[i]
			name := mdEscape(p.Name())
			if p.Gated {
				name = "**" + name + "**"
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %d/%d | %s | %s%s |\n", name,
				rateCell(p.Baseline.P, p.Baseline.CI.Lo, p.Baseline.CI.Hi),
				rateCell(p.Candidate.P, p.Candidate.CI.Lo, p.Candidate.CI.Hi),
				deltaCell(p.Diff, p.CI.Lo, p.CI.Hi), levelCell(p.CI, p.CIAdjust), p.Counts.OnlyA, p.Counts.OnlyB,
				pCell(p.AdjP, p.Adjust), mdEscape(verdictWords(p)), n.mark(p.Warnings))
		}
		fmt.Fprintln(bw)
	}
	fmt.Fprintln(bw, "#### Pass rates (bold: gated, Holm)")
	fmt.Fprintln(bw)
	passTable(c.PassRates)
	fmt.Fprintf(bw, "%s\n\n", mdEscape(passNote(c)))
	if len(c.Tags) > 0 {
		fmt.Fprintln(bw, "#### Tags (exploratory, Benjamini–Hochberg; bold: never-regress, Holm)")
		fmt.Fprintln(bw)
		passTable(c.Tags)
	}

	fmt.Fprintf(bw, "#### Measures (%s)\n", measuresNote)
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "| Measure | Baseline | Candidate | Shift [CI] | Level | p | Verdict |")
	fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---|")
	for i := range c.Measures {
		m := &c.Measures[i]
		base := compare.FormatValue(m.Baseline, m.Unit)
		if m.Name == compare.MeasureSimilarity {
			base = "repeats " + base
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s%s |\n", m.Name, base, compare.FormatValue(m.Candidate, m.Unit),
			measureDelta(m), levelCell(m.CI, m.CIAdjust), pCell(m.AdjP, m.Adjust), mdEscape(m.Words()), n.mark(m.Warnings))
	}
	fmt.Fprintln(bw)
	ch, fl, ex, lv, p, v := driftCells(&c.Drift)
	fmt.Fprintln(bw, "| Output drift | Noise floor | Excess [CI] | Level | p | Verdict |")
	fmt.Fprintln(bw, "|---:|---:|---:|---:|---:|---|")
	fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s%s |\n\n", ch, fl, ex, lv, p, mdEscape(v), n.mark(c.Drift.Warnings))

	if len(c.Flips) > 0 {
		fmt.Fprintf(bw, "<details><summary>%s</summary>\n\n", flipsTitle(c)) // our words, no untrusted text
		fmt.Fprintln(bw, "| Case | Flip | Baseline output | Candidate output |")
		fmt.Fprintln(bw, "|---|---|---|---|")
		for _, f := range listed(c.Flips) {
			dir := f.Direction()
			fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", mdEscape(f.CaseID), dir,
				mdEscape(untrusted.Cut(f.Baseline, 80)), mdEscape(untrusted.Cut(f.Candidate, 80)))
		}
		if more := len(c.Flips) - len(listed(c.Flips)); more > 0 {
			fmt.Fprintf(bw, "\n… and %d more.\n", more)
		}
		fmt.Fprintln(bw, "\n</details>")
		fmt.Fprintln(bw)
	}
	for i, m := range n.msgs {
		fmt.Fprintf(bw, "%s %s  \n", superscript(i+1), mdEscape(m))
	}
	return bw.Flush()
}

// mdReplacer escapes every character that Markdown or the HTML it allows could
// read as syntax. untrusted.Line runs first: it makes control characters visible
// and turns line breaks into a visible \n, so a table row stays one line.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `|`, `\|`, `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`(`, `\(`, `)`, `\)`, `#`, `\#`, `~`, `\~`, `!`, `\!`, `>`, `&gt;`, `<`, `&lt;`,
	`&`, `&amp;`, `{`, `\{`, `}`, `\}`, `+`, `\+`, `=`, `\=`, `:`, `&#58;`, `@`, `&#64;`,
)

// mdEscape escapes untrusted text for a Markdown table cell or paragraph.
// Colons and at signs are escaped too, so that a URL is never auto-linked and
// no one is @-mentioned.
func mdEscape(s string) string {
	return mdReplacer.Replace(untrusted.Line(s))
}
