// Package report renders an compare.Comparison — the statistical diff of two
// runs and its gate verdict — as a terminal table, Markdown for pull-request
// comments, JSON with a stable schema, JUnit XML for CI systems, or a
// self-contained HTML page with a forest plot and side-by-side word diffs of
// the flipped cases.
//
// Model outputs, case ids, tags and scorer names are untrusted text: every
// renderer escapes them for its format (terminal control sequences, Markdown
// syntax, XML entities and characters XML cannot hold, HTML).
package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/eval/stats"
	"github.com/evalpin/evalpin/internal/fault"
)

// A Format is one of the report formats.
type Format string

// The report formats.
const (
	Table    Format = "table" // terminal table (tablewriter), the default
	Markdown Format = "md"    // Markdown for pull-request comments
	JSON     Format = "json"  // JSON, schema in docs/diff.md
	JUnit    Format = "junit" // JUnit XML: a testcase per gated metric and per flipped case
	HTML     Format = "html"  // one self-contained HTML file
)

// Formats lists the formats in the order help texts name them.
var Formats = []Format{Table, Markdown, JSON, JUnit, HTML}

// ErrUnknownFormat marks ParseFormat's error for a format it does not know.
var ErrUnknownFormat = errors.New("unknown report format")

// ParseFormat returns the format named s, or an input error listing the
// formats.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fault.Mark(fault.Errorf(fault.Input, "", "unknown report format %q", s), ErrUnknownFormat)
}

// Extensions maps the extensions of report files to their formats.
var Extensions = map[string]Format{".txt": Table, ".md": Markdown, ".json": JSON, ".xml": JUnit, ".html": HTML, ".htm": HTML}

// ErrUnknownExtension marks FormatOf's error for a file whose extension
// names no format.
var ErrUnknownExtension = errors.New("unknown report file extension")

// FormatOf returns the format of the report file path, from its extension
// (Extensions), or an input error listing them.
func FormatOf(path string) (Format, error) {
	if f, ok := Extensions[strings.ToLower(filepath.Ext(path))]; ok {
		return f, nil
	}
	return "", fault.Mark(fault.Errorf(fault.Input, "", "report file %s: its extension names no format (.txt table, .md, .json, .xml JUnit, .html)", path), ErrUnknownExtension)
}

// Write renders c in format f to w.
func Write(w io.Writer, f Format, c *compare.Comparison) error {
	switch f {
	case Table:
		return WriteTable(w, c)
	case Markdown:
		return WriteMarkdown(w, c)
	case JSON:
		return WriteJSON(w, c)
	case JUnit:
		return WriteJUnit(w, c)
	case HTML:
		return WriteHTML(w, c)
	}
	return fmt.Errorf("report: unknown format %q", f)
}

// MaxListed is how many flipped cases the table, Markdown and JUnit reports
// name per direction; JSON and HTML list them all (HTML shows the outputs of
// the first MaxListed).
const MaxListed = 25

// notes numbers warnings as footnotes, each distinct message once.
type notes struct {
	msgs  []string
	index map[string]int
}

// mark returns the superscript footnote numbers of ws, adding new messages.
func (n *notes) mark(ws []error) string {
	if n.index == nil {
		n.index = make(map[string]int)
	}
	var b strings.Builder
	for _, w := range ws {
		msg := w.Error()
		i, ok := n.index[msg]
		if !ok {
			n.msgs = append(n.msgs, msg)
			i = len(n.msgs)
			n.index[msg] = i
		}
		if b.Len() > 0 {
			b.WriteString("˒")
		}
		b.WriteString(superscript(i))
	}
	return b.String()
}

func superscript(i int) string {
	const digits = "⁰¹²³⁴⁵⁶⁷⁸⁹"
	ds := []rune(digits)
	s := fmt.Sprint(i)
	var b strings.Builder
	for _, c := range s {
		b.WriteRune(ds[c-'0'])
	}
	return b.String()
}

// title says which runs are compared.
func title(c *compare.Comparison) string {
	return fmt.Sprintf("%s %s (baseline) vs %s %s (candidate), suite %s",
		c.Baseline.Lock.Short(), sideName(c.Baseline, c.BaselineFile, "run "), c.Candidate.Lock.Short(),
		sideName(c.Candidate, c.CandidateFile, "run "), suiteName(c.Candidate))
}

// sideName names a side of a comparison: "run 12" (prefix "run ") for a
// stored run, "file base.jsonl" for a baseline file.
func sideName(r eval.Run, file, prefix string) string {
	if file != "" {
		return "file " + file
	}
	return prefix + strconv.FormatInt(r.ID, 10)
}

func suiteName(r eval.Run) string {
	name := r.Suite
	if r.SuiteVersion != "" {
		name += " " + r.SuiteVersion
	}
	if r.Selection != "" {
		name += " [" + r.Selection + "]"
	}
	return name
}

// lockLine is the first line of every report: the manifest diff in words, or
// the two lock ids when a manifest is unknown.
func lockLine(c *compare.Comparison) string {
	if c.LockDiff != "" {
		return "Lock: " + c.LockDiff
	}
	if c.Baseline.Lock == c.Candidate.Lock {
		return "Lock: same lock " + string(c.Baseline.Lock)
	}
	return "Locks: " + string(c.Baseline.Lock) + " → " + string(c.Candidate.Lock) + " (manifests unknown)"
}

// pairedLine says how many cases were compared and left out.
func pairedLine(c *compare.Comparison) string {
	return fmt.Sprintf("%d cases paired, %d left out (%s); %d sample(s) per case", c.Paired, c.Excluded.Total(), c.Excluded, c.Samples)
}

// gateLine is the verdict of the gate; its reasons (c.Gate.Reasons) follow
// it in every format. A pass the suite cannot back (a gated metric's
// resolution coarser than its threshold) says so: "Gate: PASS, underpowered:
// could detect ≥ 7.6 pp (all checks), the policy asks 2.0 pp (alpha 0.05)".
func gateLine(c *compare.Comparison) string {
	g := &c.Gate
	switch {
	case g.Verdict == compare.GateFail:
		return fmt.Sprintf("Gate: %s — %d regression(s) at alpha %g", g.Verdict.Word(), len(g.Regressions), c.Policy.Alpha)
	case g.Verdict == compare.GateInconclusive:
		return fmt.Sprintf("Gate: %s at alpha %g — too little evidence for a verdict", g.Verdict.Word(), c.Policy.Alpha)
	case len(g.Underpowered) > 0:
		return fmt.Sprintf("Gate: %s (alpha %g)", g.Headline(), c.Policy.Alpha)
	}
	return fmt.Sprintf("Gate: %s at alpha %g", g.Verdict.Word(), c.Policy.Alpha)
}

// gateClass is the gate's verdict as the HTML and Markdown reports mark it:
// "pass", "fail", "inconclusive", or "underpowered" for a pass the suite
// cannot back.
func gateClass(g *compare.GateResult) string {
	if g.Verdict == compare.GatePass && len(g.Underpowered) > 0 {
		return "underpowered"
	}
	return string(g.Verdict)
}

// rateCell formats a pass rate with its Wilson interval (the rate alone when
// there is no interval).
func rateCell(p, lo, hi float64) string {
	switch {
	case math.IsNaN(p):
		return "—"
	case math.IsNaN(lo) || math.IsNaN(hi):
		return compare.Percent(p)
	}
	return fmt.Sprintf("%s [%.1f, %.1f]", compare.Percent(p), 100*lo, 100*hi)
}

// deltaCell formats a pass-rate difference with its interval.
func deltaCell(d, lo, hi float64) string {
	if math.IsNaN(d) {
		return "—"
	}
	return fmt.Sprintf("%s [%s, %s]", compare.PP(d), num(100*lo), num(100*hi))
}

// num formats x with one decimal and a true minus sign.
func num(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	s := fmt.Sprintf("%.1f", x)
	if s == "-0.0" {
		s = "0.0"
	}
	return strings.Replace(s, "-", "−", 1)
}

// pCell formats an adjusted p-value with its adjustment.
func pCell(p float64, adjust string) string {
	s := compare.FormatP(p)
	if adjust != "" && !math.IsNaN(p) {
		s += " " + adjust
	}
	return s
}

// measuresNote says what the measures table shows: which medians, which
// shift and which interval.
const measuresNote = "medians; shift: Hodges–Lehmann estimate over the pairs that differ; CI: its Wilcoxon signed-rank interval"

// passNote says how a pass-rate table's intervals and p-values are to be
// read: each row's interval is at the level its test matches.
func passNote(c *compare.Comparison) string {
	gated := fmt.Sprintf("gated rows: one-sided tests (p in the direction of Δ, Holm), intervals at 1 − 2·alpha/m for the m = %d gated metrics (Bonferroni; Holm may call a row whose interval touches its threshold)", c.GatedFamily)
	if c.GatedFamily <= 1 {
		gated = "gated rows: one-sided tests (p in the direction of Δ), intervals at 1 − 2·alpha"
	}
	return gated + "; other rows: two-sided tests (Benjamini–Hochberg), intervals at the false-coverage-rate level (Benjamini–Yekutieli); " +
		"resolution: the smallest change detected with " + fmt.Sprintf("%.0f%%", 100*stats.DefaultPower) + " power"
}

// levelCell says the level of an interval and the adjustment it follows:
// "98.33% Bonferroni", "97.5% FCR", "90%"; "—" when there is none.
func levelCell(iv stats.Interval, adjust string) string {
	if !(iv.Level > 0 && iv.Level < 1) || math.IsNaN(iv.Lo) {
		return "—"
	}
	s := compare.LevelPercent(iv.Level)
	switch adjust {
	case compare.CIBonferroni:
		s += " Bonferroni"
	case compare.CIFCR:
		s += " FCR"
	}
	return s
}

// flipsTitle heads the list of flipped cases: "9 pass→fail, 2 fail→pass",
// or with averaged samples "9 worse, 2 better".
func flipsTitle(c *compare.Comparison) string {
	pr := &c.PassRates[0]
	if pr.Method == compare.MethodMean {
		return fmt.Sprintf("Cases whose pass share changed (all checks): %d worse, %d better", pr.Counts.OnlyA, pr.Counts.OnlyB)
	}
	return fmt.Sprintf("Flipped cases (all checks): %d pass→fail, %d fail→pass", pr.Counts.OnlyA, pr.Counts.OnlyB)
}

// measureDelta formats a measure's shift with its interval.
func measureDelta(m *compare.Measure) string {
	if m.Descriptive {
		return signed(m.Shift, m.Unit) + " (no interval)"
	}
	if !m.Tested {
		return "—"
	}
	return fmt.Sprintf("%s [%s, %s]", signed(m.Shift, m.Unit), plain(m.CI.Lo, m.Unit), plain(m.CI.Hi, m.Unit))
}

func signed(x float64, unit string) string {
	if math.IsNaN(x) {
		return "—"
	}
	f := "%+.1f"
	if unit == "" {
		f = "%+.3f"
	}
	s := strings.Replace(fmt.Sprintf(f, x), "-", "−", 1)
	if unit != "" {
		s += " " + unit
	}
	return s
}

func plain(x float64, unit string) string {
	if math.IsNaN(x) {
		return "—"
	}
	f := "%.1f"
	if unit == "" {
		f = "%.3f"
	}
	return strings.Replace(fmt.Sprintf(f, x), "-", "−", 1)
}

// driftCells returns the drift row: changed share, noise floor, excess, its
// level, p, verdict.
func driftCells(d *compare.DriftResult) (changed, floor, excess, level, p, verdict string) {
	changed = fmt.Sprintf("%s (%d of %d)", compare.Percent(d.Share), d.Changed, d.Cases)
	if !d.Measured {
		return changed, "unmeasured", "—", "—", "—", d.Words()
	}
	floor = fmt.Sprintf("%s (%s)", compare.Percent(d.Test.Within), d.FloorWords())
	excess = deltaCell(d.Test.Excess, d.CI.Lo, d.CI.Hi)
	return changed, floor, excess, levelCell(d.CI, d.CIAdjust), pCell(d.AdjP, d.Adjust), d.Words()
}

// verdictWords says a pass rate's verdict with its markers.
func verdictWords(p *compare.PassRate) string {
	w := p.Words()
	if p.Gated && p.Failed() {
		w += " ✗"
	}
	return w
}
