package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"sync"
	"text/tabwriter"

	_ "embed"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/outfile"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// The matrix of forks (evalpin compare): every fork's value of each metric,
// and each fork's paired difference from the first with its interval and
// its p-value adjusted across the matrix, in a table, Markdown, JSON or one
// HTML page with a forest plot per metric.

// MatrixFormats are the formats WriteMatrix renders.
var MatrixFormats = []Format{Table, Markdown, JSON, HTML}

// WriteMatrix renders m in format f.
func WriteMatrix(w io.Writer, f Format, m *compare.Matrix) error {
	switch f {
	case Table:
		return writeMatrixTable(w, m)
	case Markdown:
		return writeMatrixMarkdown(w, m)
	case JSON:
		return untrusted.WriteJSON(w, newJSONMatrix(m), true)
	case HTML:
		return writeMatrixHTML(w, m)
	}
	return fmt.Errorf("%w: %s has no matrix report", ErrUnknownFormat, f)
}

// WriteMatrixAll renders m to each of outs, a file whole or not at all,
// standard output to stdout.
func WriteMatrixAll(m *compare.Matrix, outs []Output, stdout io.Writer) error {
	for _, o := range outs {
		if err := outfile.Write(o.Path, stdout, func(w io.Writer) error { return WriteMatrix(w, o.Format, m) }); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// ForkLine says which run a fork's selector took, for stderr:
// "fork B, fork=nous (a label): run 3 of lock sha256:b2b2…, model m, labels
// fork=nous".
func ForkLine(i int, f compare.Fork) string {
	return fmt.Sprintf("fork %s, %s (a %s): run %d of lock %s%s", forkLetter(i), untrusted.Line(f.Selector), f.By, f.Run.ID,
		untrusted.Line(string(f.Run.Lock)), runWho(f.Run))
}

// ForkPrinter returns a function that writes ForkLine of each fork to w,
// for forks.Options.Picked.
func ForkPrinter(w io.Writer) func(int, compare.Fork) {
	return func(i int, f compare.Fork) { fmt.Fprintln(w, ForkLine(i, f)) }
}

// runWho is ", model M, labels k=v" of the run, where known.
func runWho(r eval.Run) string {
	var s string
	if r.Model != "" {
		s += ", model " + untrusted.Line(r.Model)
	}
	if len(r.Labels) > 0 {
		s += ", labels " + untrusted.Line(Labels(r.Labels))
	}
	return s
}

// forkLetter names fork i: A, B, …, Z, then F27, F28, ….
func forkLetter(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return fmt.Sprintf("F%d", i+1)
}

// A matrixRow is one fork's line of a metric, formatted.
type matrixRow struct {
	Fork, Value, Diff, Level, P, Verdict, Class, Notes string
}

// A matrixBlock is one metric, formatted.
type matrixBlock struct {
	Title string
	Gated bool
	Rows  []matrixRow
	m     *compare.MatrixMetric
}

// matrixBlocks formats every metric of m; forkCut bounds a fork's name.
func matrixBlocks(m *compare.Matrix, forkCut int, n *notes) []matrixBlock {
	var out []matrixBlock
	for i := range m.Metrics {
		mm := &m.Metrics[i]
		b := matrixBlock{Title: metricTitle(mm), Gated: mm.Gated, m: mm}
		for j, c := range mm.Cells {
			r := matrixRow{Fork: forkLetter(j) + " " + untrusted.Cut(untrusted.Line(m.Forks[j].Selector), forkCut), Value: cellText(mm, j, c)}
			if j > 0 {
				t := &mm.Tests[j-1]
				r.Diff, r.Level, r.P, r.Verdict = "—", "—", "—", "—"
				if t.Tested {
					r.Diff, r.Level = diffText(mm, t), levelCell(t.CI, t.CIAdjust)
					r.P, r.Verdict, r.Class = pCell(t.AdjP, t.Adjust), string(t.Verdict), verdictClass(t.Verdict, false)
					if mm.Gated && t.Verdict == compare.Regressed {
						r.Verdict += " ✗"
					}
				}
			}
			b.Rows = append(b.Rows, r)
		}
		out = append(out, b)
	}
	for _, w := range m.Warnings {
		n.mark([]error{w})
	}
	return out
}

// metricTitle names a metric and how it is read.
func metricTitle(mm *compare.MatrixMetric) string {
	var what string
	switch mm.Kind {
	case compare.PassOverall, compare.PassScorer, compare.PassTag:
		what = "pass rate"
	case compare.RowLength:
		what = "median output length; Δ: Hodges–Lehmann shift"
	case compare.RowSimilarity:
		what = "median similarity to A's output (A: its own repeats); Δ: shift"
	case compare.RowDrift:
		what = "outputs that differ from A's (A: between its repeats); Δ: excess over the noise floor"
	}
	role := "exploratory, Benjamini–Hochberg"
	if mm.Gated {
		role = "gated, Holm"
	}
	return fmt.Sprintf("%s — %s (%s)", untrusted.Line(mm.Name), what, role)
}

// cellText formats fork j's value of mm.
func cellText(mm *compare.MatrixMetric, j int, c compare.MatrixCell) string {
	switch mm.Unit {
	case "%":
		if mm.Kind == compare.RowDrift {
			return compare.Percent(c.Value)
		}
		return rateCell(c.Value, c.CI.Lo, c.CI.Hi)
	}
	return compare.FormatValue(c.Value, mm.Unit)
}

// diffText formats a test's difference with its interval.
func diffText(mm *compare.MatrixMetric, t *compare.MatrixTest) string {
	if mm.Unit == "%" {
		return deltaCell(t.Diff, t.CI.Lo, t.CI.Hi)
	}
	return fmt.Sprintf("%s [%s, %s]", signed(t.Diff, mm.Unit), plain(t.CI.Lo, mm.Unit), plain(t.CI.Hi, mm.Unit))
}

// matrixHeader is the lines above the metrics: what is compared, the forks
// and what differs in each deliverable from the first's.
func matrixHeader(m *compare.Matrix) (title string, forks []string, differs []string) {
	title = fmt.Sprintf("evalpin compare: suite %s, %d forks at one setting (samples %d), each against A; alpha %g",
		untrusted.Line(m.Suite), len(m.Forks), m.Settings.Samples, m.Alpha)
	ids := make([]lockid.ID, len(m.Forks))
	for i, f := range m.Forks {
		ids[i] = f.Run.Lock
	}
	short := lockid.Abbrev(ids)
	for i, f := range m.Forks {
		forks = append(forks, fmt.Sprintf("%s %s: %s, run %d, lock %s%s", forkLetter(i), untrusted.Line(f.Selector), f.By, f.Run.ID,
			untrusted.Line(short[f.Run.Lock]), runWho(f.Run)))
		d := ""
		if i > 0 {
			d = untrusted.Line(f.Differs)
			if d == "" {
				d = "unknown (an identity document is missing): the locks differ"
			}
		}
		differs = append(differs, d)
	}
	return title, forks, differs
}

// matrixNote says how the p-values and intervals are to be read.
func matrixNote(m *compare.Matrix) string {
	return fmt.Sprintf("p: adjusted across the whole matrix, Holm over the %d gated tests (one-sided, in the direction of Δ) and Benjamini–Hochberg over the %d others (two-sided); "+
		"intervals at each pair's level (as evalpin diff: Bonferroni for gated metrics, FCR for the others); a verdict stands only where the matrix's p is at most alpha",
		m.GatedFamily, m.ExploratoryFamily)
}

// tableWidth is the width the table fits.
const tableWidth = 120

func writeMatrixTable(w io.Writer, m *compare.Matrix) error {
	var n notes
	title, forks, differs := matrixHeader(m)
	fmt.Fprintln(w, untrusted.Cut(title, tableWidth))
	fmt.Fprintln(w)
	for i, f := range forks {
		fmt.Fprintln(w, "  "+untrusted.Cut(f, tableWidth-2))
		if differs[i] != "" {
			fmt.Fprintln(w, "    differs from A: "+untrusted.Cut(differs[i], tableWidth-20))
		}
	}
	for _, b := range matrixBlocks(m, 14, &n) {
		fmt.Fprintf(w, "\n%s\n", untrusted.Cut(b.Title, tableWidth))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  fork\tvalue\tΔ vs A [CI]\tlevel\tp (matrix)\tverdict")
		for _, r := range b.Rows {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", r.Fork, r.Value, r.Diff, r.Level, r.P, r.Verdict)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	for _, line := range wrap(matrixNote(m), tableWidth) {
		fmt.Fprintln(w, line)
	}
	for i, msg := range n.msgs {
		fmt.Fprintln(w, untrusted.Cut(superscript(i+1)+" "+untrusted.Line(msg), tableWidth))
	}
	return nil
}

// wrap breaks s into lines of at most width runes at spaces.
func wrap(s string, width int) []string {
	var lines []string
	var cur []string
	n := 0
	for _, word := range strings.Fields(s) {
		l := len([]rune(word))
		if n > 0 && n+1+l > width {
			lines = append(lines, strings.Join(cur, " "))
			cur, n = nil, 0
		}
		if n > 0 {
			n++
		}
		cur, n = append(cur, word), n+l
	}
	if len(cur) > 0 {
		lines = append(lines, strings.Join(cur, " "))
	}
	return lines
}

func writeMatrixMarkdown(w io.Writer, m *compare.Matrix) error {
	var n notes
	title, forks, differs := matrixHeader(m)
	fmt.Fprintf(w, "## %s\n\n", mdEscape(title))
	for i, f := range forks {
		fmt.Fprintf(w, "- %s", mdEscape(f))
		if differs[i] != "" {
			fmt.Fprintf(w, "; differs from A: %s", mdEscape(differs[i]))
		}
		fmt.Fprintln(w)
	}
	for _, b := range matrixBlocks(m, 40, &n) {
		fmt.Fprintf(w, "\n### %s\n\n| fork | value | Δ vs A [CI] | level | p (matrix) | verdict |\n|---|---:|---:|---:|---:|---|\n", mdEscape(b.Title))
		for _, r := range b.Rows {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", mdEscape(r.Fork), mdEscape(r.Value), mdEscape(r.Diff), mdEscape(r.Level), mdEscape(r.P), mdEscape(r.Verdict))
		}
	}
	fmt.Fprintf(w, "\n%s\n", mdEscape(matrixNote(m)))
	for i, msg := range n.msgs {
		fmt.Fprintf(w, "\n%d. %s", i+1, mdEscape(msg))
	}
	if len(n.msgs) > 0 {
		fmt.Fprintln(w)
	}
	return nil
}

// The JSON matrix: stable field names (docs/forks.md).
type jsonMatrix struct {
	SchemaVersion     int                `json:"schema_version"`
	Suite             string             `json:"suite"`
	Settings          eval.Settings      `json:"settings"`
	Alpha             number             `json:"alpha"`
	Forks             []jsonFork         `json:"forks"`
	GatedFamily       int                `json:"gated_family"`
	ExploratoryFamily int                `json:"exploratory_family"`
	Metrics           []jsonMatrixMetric `json:"metrics"`
	Warnings          []string           `json:"warnings"`
}

type jsonFork struct {
	Name     string            `json:"name"`
	Selector string            `json:"selector"`
	By       string            `json:"by"`
	Run      int64             `json:"run"`
	Lock     lockid.ID         `json:"lock"`
	Model    string            `json:"model"`
	Labels   map[string]string `json:"labels"`
	Differs  string            `json:"differs"`
}

type jsonMatrixMetric struct {
	Name  string           `json:"name"`
	Kind  string           `json:"kind"`
	Key   string           `json:"key"`
	Unit  string           `json:"unit"`
	Gated bool             `json:"gated"`
	Cells []jsonCell       `json:"cells"`
	Tests []jsonMatrixTest `json:"tests"`
}

type jsonCell struct {
	Fork  string       `json:"fork"`
	Value number       `json:"value"`
	CI    jsonInterval `json:"ci"`
	N     int          `json:"n"`
}

type jsonMatrixTest struct {
	Fork     string       `json:"fork"`
	Against  string       `json:"against"`
	Tested   bool         `json:"tested"`
	Diff     number       `json:"diff"`
	CI       jsonInterval `json:"ci"`
	CIAdjust string       `json:"ci_adjust"`
	P        number       `json:"p"`
	AdjP     number       `json:"adj_p"`
	Adjust   string       `json:"adjust"`
	PairAdjP number       `json:"pair_adj_p"`
	SameAs   string       `json:"same_as"`
	Verdict  string       `json:"verdict"`
}

// MatrixSchemaVersion is the version of the JSON matrix's schema.
const MatrixSchemaVersion = 1

func newJSONMatrix(m *compare.Matrix) jsonMatrix {
	j := jsonMatrix{SchemaVersion: MatrixSchemaVersion, Suite: m.Suite, Settings: m.Settings, Alpha: number(m.Alpha),
		GatedFamily: m.GatedFamily, ExploratoryFamily: m.ExploratoryFamily, Warnings: nonNil(errStrings(m.Warnings))}
	for i, f := range m.Forks {
		labels := f.Run.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		j.Forks = append(j.Forks, jsonFork{Name: forkLetter(i), Selector: f.Selector, By: f.By, Run: f.Run.ID, Lock: f.Run.Lock,
			Model: f.Run.Model, Labels: labels, Differs: f.Differs})
	}
	for i := range m.Metrics {
		mm := &m.Metrics[i]
		jm := jsonMatrixMetric{Name: mm.Name, Kind: mm.Kind, Key: mm.Key, Unit: mm.Unit, Gated: mm.Gated, Cells: []jsonCell{}, Tests: []jsonMatrixTest{}}
		for k, c := range mm.Cells {
			jm.Cells = append(jm.Cells, jsonCell{Fork: forkLetter(k), Value: number(c.Value), CI: newJSONInterval(c.CI), N: c.N})
		}
		for k, t := range mm.Tests {
			jm.Tests = append(jm.Tests, jsonMatrixTest{Fork: forkLetter(k + 1), Against: forkLetter(0), Tested: t.Tested, Diff: number(t.Diff),
				CI: newJSONInterval(t.CI), CIAdjust: t.CIAdjust, P: number(t.P), AdjP: number(t.AdjP), Adjust: t.Adjust,
				PairAdjP: number(t.PairAdjP), SameAs: t.SameAs, Verdict: string(t.Verdict)})
		}
		j.Metrics = append(j.Metrics, jm)
	}
	return j
}

//go:embed matrix.tmpl
var matrixText string

// matrixTemplate is the matrix page, parsed when first used; html/template
// escapes every value.
var matrixTemplate = sync.OnceValue(func() *template.Template { return template.Must(template.New("matrix").Parse(matrixText)) })

type htmlMatrixBlock struct {
	matrixBlock
	Forest                   []htmlForestRow
	ForestHeight, ForestZero float64
	ForestTicks              []htmlTick
}

type htmlMatrixData struct {
	Title   string
	Forks   []string
	Differs []string
	Blocks  []htmlMatrixBlock
	Note    string
	Notes   []string
}

func writeMatrixHTML(w io.Writer, m *compare.Matrix) error {
	var n notes
	d := htmlMatrixData{Note: matrixNote(m)}
	d.Title, d.Forks, d.Differs = matrixHeader(m)
	for _, b := range matrixBlocks(m, 60, &n) {
		hb := htmlMatrixBlock{matrixBlock: b}
		matrixForest(&hb, m)
		d.Blocks = append(d.Blocks, hb)
	}
	for _, msg := range n.msgs {
		d.Notes = append(d.Notes, untrusted.Line(msg))
	}
	return matrixTemplate().Execute(w, d)
}

// matrixForest lays out the forest plot of one metric: each fork's
// difference from A with its interval, on a symmetric axis around zero.
func matrixForest(b *htmlMatrixBlock, m *compare.Matrix) {
	mm := b.m
	scale, unit := 1.0, mm.Unit
	if unit == "%" {
		scale, unit = 100, "pp"
	}
	ext := 0.0
	for _, t := range mm.Tests {
		for _, x := range []float64{t.Diff, t.CI.Lo, t.CI.Hi} {
			if t.Tested && !math.IsNaN(x) && !math.IsInf(x, 0) {
				ext = math.Max(ext, math.Abs(x*scale))
			}
		}
	}
	ext = niceExtent(ext, mm.Unit)
	xOf := func(v float64) float64 {
		v = math.Max(-ext, math.Min(ext, v))
		return forestLabelW + (v+ext)/(2*ext)*forestPlotW
	}
	b.ForestZero = xOf(0)
	for k := -2; k <= 2; k++ {
		v := float64(k) * ext / 2
		b.ForestTicks = append(b.ForestTicks, htmlTick{X: xOf(v), Label: strings.TrimSpace(num(v) + " " + unit)})
	}
	for i, t := range mm.Tests {
		y := forestTop + float64(i)*forestRowH + forestRowH/2
		r := htmlForestRow{Label: b.Rows[i+1].Fork, Y: y, TextY: y + 4, Class: verdictClass(t.Verdict, false), Gated: mm.Gated, X: xOf(0), ValueText: "not tested"}
		if t.Tested && !math.IsNaN(t.Diff) {
			r.X, r.ValueText = xOf(t.Diff*scale), strings.TrimSpace(num(t.Diff*scale)+" "+unit)
			if !math.IsNaN(t.CI.Lo) && !math.IsNaN(t.CI.Hi) {
				r.HasInterval, r.Lo, r.Hi = true, xOf(t.CI.Lo*scale), xOf(t.CI.Hi*scale)
				r.OutOfRangeLo, r.OutOfRangeHi = t.CI.Lo*scale < -ext, t.CI.Hi*scale > ext
			}
		}
		b.Forest = append(b.Forest, r)
	}
	b.ForestHeight = forestTop + float64(len(mm.Tests))*forestRowH + 20
}

// niceExtent rounds an axis half-width up: steps of 5 pp for shares (at
// least ±5, at most ±100), of a power of ten's 1, 2 or 5 otherwise.
func niceExtent(x float64, unit string) float64 {
	if unit == "%" {
		return math.Min(100, math.Max(5, math.Ceil(x/5-1e-9)*5))
	}
	if !(x > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, f := range []float64{1, 2, 5, 10} {
		if f*p >= x {
			return f * p
		}
	}
	return 10 * p
}
