package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/report"
)

// update makes the golden tests rewrite their files: go test ./report -update.
var update = flag.Bool("update", false, "rewrite golden files")

// hostile are outputs that try to escape every format.
var hostile = []string{
	"<script>alert('x')</script>",
	"a | b | `code` **bold** [link](http://evil.example) @someone",
	"\x1b[31mred\x1b[0m and \x1b]0;title\x07 bell",
	"nul \x00 and form \x0c feed & ]]> <!-- -->",
	"right-to-left \u202egnp.exe",
	"line one\nline two\r\n\ttabbed",
}

// fixture builds a fixed comparison of two runs of 48 cases with two samples
// each: flips both ways (a regression of the "format" scorer and of the tag
// "safety"), ties in length, a case only in each run, a changed case, an
// errored case, hostile outputs and ids, a failing gate and warnings.
func fixture(t testing.TB) *compare.Comparison { return fixtureAt(t, 0.05) }

// fixtureAt is fixture under a policy of the given alpha.
func fixtureAt(t testing.TB, alpha float64) *compare.Comparison {
	t.Helper()
	settings := eval.DefaultSettings()
	settings.Samples = 2
	mkRun := func(id int64, lock lockid.ID) eval.Run {
		return eval.Run{ID: id, Lock: lock, Suite: "smoke", SuiteVersion: "3", SuiteHash: "5e1f", Settings: settings,
			SettingsHash: settings.Hash(), Status: eval.RunComplete}
	}
	base := compare.Side{Run: mkRun(7, "sha256:aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111")}
	cand := compare.Side{Run: mkRun(9, "sha256:bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222")}
	cases := map[string]eval.Case{}
	add := func(side *compare.Side, id string, s int, out string, fmtOK, factOK bool, lat int) {
		r := eval.Result{CaseID: id, CaseHash: "h-" + id, Sample: s, Output: out, Latency: time.Duration(lat) * time.Millisecond,
			Checks: []eval.Check{{Scorer: "format", Pass: fmtOK}, {Scorer: "fact", Pass: factOK}}}
		if !fmtOK {
			r.Checks[0].Detail = "not JSON: " + strings.ToUpper(out[:min(len(out), 8)])
		}
		side.Results = append(side.Results, r)
	}
	for i := range 44 {
		id := fmt.Sprintf("case-%02d", i)
		tags := []string{[]string{"math", "geo"}[i%2]}
		if i < 12 {
			tags = append(tags, "safety")
		}
		cases[id] = eval.Case{ID: id, Tags: tags}
		out := fmt.Sprintf("The answer to question %d is %d.", i, i*7)
		if i < len(hostile) {
			out = hostile[i]
		}
		bFmt, cFmt := true, true
		bFact, cFact := i%5 != 0, i%5 != 0
		switch {
		case i < 10: // lost the format check
			cFmt = false
		case i == 40 || i == 41: // gained the fact check
			bFact = false
			cFact = true
		}
		candOut := out
		if i < 10 || i%4 == 0 {
			candOut = out + " (revised)"
		}
		for s := range 2 {
			bo := out
			if s == 1 && i%9 == 0 {
				bo = out + " again"
			}
			add(&base, id, s, bo, bFmt, bFact, 100+i)
			add(&cand, id, s, candOut, cFmt, cFact, 130+i)
		}
	}
	// Left out: one case only in each run, one changed, one errored.
	add(&base, "only-base", 0, "x", true, true, 1)
	add(&base, "only-base", 1, "x", true, true, 1)
	add(&cand, "only-cand", 0, "x", true, true, 1)
	add(&cand, "only-cand", 1, "x", true, true, 1)
	add(&base, "changed", 0, "x", true, true, 1)
	add(&base, "changed", 1, "x", true, true, 1)
	add(&cand, "changed", 0, "x", true, true, 1)
	add(&cand, "changed", 1, "x", true, true, 1)
	cand.Results[len(cand.Results)-1].CaseHash = "h-other"
	cand.Results[len(cand.Results)-2].CaseHash = "h-other"
	add(&base, "errored", 0, "x", true, true, 1)
	add(&cand, "errored", 0, "", true, true, 1)
	cand.Results[len(cand.Results)-1].Error = "HTTP 503"
	// A hostile case id and tag.
	evil := "<img src=x onerror=alert(1)>|`x`\x1b[2J"
	cases[evil] = eval.Case{ID: evil, Tags: []string{"<b>tag</b>|"}}
	for s := range 2 {
		add(&base, evil, s, "fine", true, true, 100)
		add(&cand, evil, s, "</div><script>document.write(1)</script>", false, true, 100)
	}

	pol := compare.DefaultPolicy()
	pol.Alpha = alpha
	pol.NeverRegress = []string{"safety"}
	pol.Measures = map[string]compare.Threshold{compare.MeasureLatency: {MinEffect: 0.1}}
	drift := 0.05
	pol.MaxDrift = &drift
	c, err := compare.Diff(base, cand, compare.Options{
		Policy: &pol, Cases: cases, Resamples: 500,
		LockDiff: "weights same; tokenizer same; template changed (chat_template.jinja)",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// inconclusiveFixture builds the comparison of a baseline of 20 cases with a
// candidate whose every request failed (an endpoint without /v1 answers 404):
// nothing is paired, so the gate is inconclusive, never a pass.
func inconclusiveFixture(t testing.TB) *compare.Comparison {
	t.Helper()
	settings := eval.DefaultSettings()
	mkRun := func(id int64, lock lockid.ID) eval.Run {
		return eval.Run{ID: id, Lock: lock, Suite: "testbed", SuiteVersion: "1", SuiteHash: "7e57", Settings: settings,
			SettingsHash: settings.Hash(), Status: eval.RunComplete}
	}
	base := compare.Side{Run: mkRun(1, "sha256:aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111")}
	cand := compare.Side{Run: mkRun(2, "sha256:bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222")}
	for i := range 20 {
		id := fmt.Sprintf("q%02d", i)
		base.Results = append(base.Results, eval.Result{CaseID: id, CaseHash: "h-" + id, Output: fmt.Sprintf("answer %d", i),
			Latency: 120 * time.Millisecond, Checks: []eval.Check{{Scorer: "contains", Pass: i%4 != 0}}})
		cand.Results = append(cand.Results, eval.Result{CaseID: id, CaseHash: "h-" + id, Latency: 3 * time.Millisecond,
			ErrorKind: "not_found", Error: "HTTP 404: 404 page not found"})
	}
	c, err := compare.Diff(base, cand, compare.Options{Resamples: 500})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var goldenFiles = []struct {
	format report.Format
	ext    string
}{
	{report.Table, "txt"},
	{report.Markdown, "md"},
	{report.JSON, "json"},
	{report.JUnit, "xml"},
	{report.HTML, "html"},
}

func TestGolden(t *testing.T) {
	for _, fx := range []struct {
		name    string
		fixture func(testing.TB) *compare.Comparison
	}{
		{"diff", fixture},
		{"inconclusive", inconclusiveFixture},
		{"alpha20", func(t testing.TB) *compare.Comparison { return fixtureAt(t, 0.2) }},
	} {
		c := fx.fixture(t)
		for _, g := range goldenFiles {
			t.Run(fx.name+"/"+string(g.format), func(t *testing.T) {
				var buf bytes.Buffer
				if err := report.Write(&buf, g.format, c); err != nil {
					t.Fatal(err)
				}
				golden(t, fx.name+"."+g.ext, buf.Bytes())
			})
		}
	}
}

// Every interval is printed with the level its numbers have, which its test
// sets: under a policy of alpha 0.2 none is a 95% one, and each level the
// comparison holds appears in every format.
func TestIntervalLabels(t *testing.T) {
	c := fixtureAt(t, 0.2)
	levels := map[string]bool{}
	for _, list := range [][]compare.PassRate{c.PassRates, c.Tags} {
		for i := range list {
			if !math.IsNaN(list[i].CI.Lo) {
				levels[compare.LevelPercent(list[i].CI.Level)] = true
			}
		}
	}
	for i := range c.Measures {
		if c.Measures[i].Tested {
			levels[compare.LevelPercent(c.Measures[i].CI.Level)] = true
		}
	}
	levels[compare.LevelPercent(c.Drift.CI.Level)] = true
	if len(levels) < 3 {
		t.Fatalf("levels %v: want the fixture to hold several", levels)
	}
	for _, f := range []report.Format{report.Table, report.Markdown, report.HTML} {
		var buf bytes.Buffer
		if err := report.Write(&buf, f, c); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, "95%") {
			t.Errorf("%s: claims a 95%% level under alpha 0.2", f)
		}
		for l := range levels {
			if !strings.Contains(out, l) {
				t.Errorf("%s: level %s of an interval is not printed", f, l)
			}
		}
	}
}

// TestInconclusiveVerdict checks that every format states an inconclusive
// verdict and its reason, and that none of them looks like a pass.
func TestInconclusiveVerdict(t *testing.T) {
	c := inconclusiveFixture(t)
	if c.Gate.Verdict != compare.GateInconclusive {
		t.Fatalf("verdict %q, want inconclusive", c.Gate.Verdict)
	}
	const reason = "0 cases paired, the policy needs ≥ 10: 20 errored in candidate (not_found 20)"
	for _, tt := range []struct {
		format    report.Format
		want      []string
		forbidden []string
	}{
		{report.Table, []string{"Gate: INCONCLUSIVE at alpha 0.05", "  - " + reason}, []string{"Gate: PASS"}},
		{report.Markdown, []string{"### evalpin diff: ⚠️ Gate&#58; INCONCLUSIVE", "- 0 cases paired, the policy needs ≥ 10&#58; 20 errored in candidate \\(not\\_found 20\\)"}, []string{"✅"}},
		{report.JSON, []string{`"verdict": "inconclusive"`, `"failed": false`, `"candidate_errored": 20`, `"lost": 20`, `"not_found": 20`, reason}, nil},
		{report.JUnit, []string{`errors="1"`, `<error message="too little evidence for a verdict: ` + reason, `type="inconclusive"`, `<property name="verdict" value="inconclusive">`}, nil},
		{report.HTML, []string{`<div class="gate inconclusive">Gate: INCONCLUSIVE`, "<li>" + reason}, []string{`class="gate pass"`}},
	} {
		var buf bytes.Buffer
		if err := report.Write(&buf, tt.format, c); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s report lacks %q", tt.format, w)
			}
		}
		for _, bad := range tt.forbidden {
			if strings.Contains(out, bad) {
				t.Errorf("%s report contains %q", tt.format, bad)
			}
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gotPath := path + ".got"
		os.WriteFile(gotPath, got, 0o644)
		t.Errorf("%s differs from the golden file; see %s", path, gotPath)
	}
}

// TestEscaping checks that no format lets untrusted text through raw.
func TestEscaping(t *testing.T) {
	c := fixture(t)
	render := func(f report.Format) string {
		var buf bytes.Buffer
		if err := report.Write(&buf, f, c); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	for _, tt := range []struct {
		format    report.Format
		forbidden []string // raw text that must not appear
		want      []string // the escaped form that must
	}{
		{report.Table, []string{"\x1b", "\x00", "\x07", "\u202e", "\r"}, []string{`\x1b[31mred`, `\u202e`}},
		{report.Markdown, []string{"<script>", "<img", "\x1b", "| b |", "`code`", "](http", "@someone"},
			[]string{`&lt;script&gt;`, `a \| b`, "\\`code\\`"}},
		{report.JUnit, []string{"<script>", "\x1b", "\x00", "]]>"}, []string{"&lt;script&gt;", "\uFFFD"}},
		{report.HTML, []string{"<script>", "<img src", "\x1b", "\x00", "</div><script"}, []string{"&lt;script&gt;", `\x1b[31mred`}},
		{report.JSON, []string{"<script>", "\x1b", "\x00", "\u202e"}, []string{`\u003cscript\u003e`, `\u001b[31mred`, `\u202e`}},
	} {
		out := render(tt.format)
		for _, bad := range tt.forbidden {
			if strings.Contains(out, bad) {
				t.Errorf("%s report contains raw %q", tt.format, bad)
			}
		}
		for _, good := range tt.want {
			if !strings.Contains(out, good) {
				t.Errorf("%s report lacks %q", tt.format, good)
			}
		}
	}
}

// TestWellFormed checks that the JSON and XML reports parse and carry the
// gate's decision.
func TestWellFormed(t *testing.T) {
	c := fixture(t)
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, c); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Gate          struct {
			Failed bool `json:"failed"`
		} `json:"gate"`
		Flips []struct {
			CaseID          string `json:"case_id"`
			CandidateOutput string `json:"candidate_output"`
		} `json:"flips"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JSON report does not parse: %v", err)
	}
	if doc.SchemaVersion != report.SchemaVersion || doc.Gate.Failed != c.Gate.Failed() || len(doc.Flips) != len(c.Flips) {
		t.Errorf("JSON: schema %d, gate failed %v, %d flips; want %d, %v, %d",
			doc.SchemaVersion, doc.Gate.Failed, len(doc.Flips), report.SchemaVersion, c.Gate.Failed(), len(c.Flips))
	}
	if doc.Flips[0].CandidateOutput != c.Flips[0].Candidate {
		t.Errorf("JSON output %q does not round-trip %q", doc.Flips[0].CandidateOutput, c.Flips[0].Candidate)
	}

	buf.Reset()
	if err := report.WriteJUnit(&buf, c); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	failures, errs := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("JUnit report is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "failure" {
			failures++
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "error" {
			errs++
		}
	}
	if want := len(c.Gate.Regressions); failures != want {
		t.Errorf("JUnit failures = %d, want %d (the failed gated metrics; a flip is evidence, not a failure)", failures, want)
	}
	if want := b2i(c.Gate.Evidence.Short()); errs != want {
		t.Errorf("JUnit errors = %d, want %d (the evidence testcase, when the evidence is short)", errs, want)
	}
}

func TestFixtureVerdicts(t *testing.T) {
	c := fixture(t)
	if !c.Gate.Failed() {
		t.Fatalf("gate passed, want the format regression to fail it")
	}
	byName := map[string]*compare.PassRate{}
	for i := range c.PassRates {
		byName[c.PassRates[i].Name()] = &c.PassRates[i]
	}
	for i := range c.Tags {
		byName[c.Tags[i].Name()] = &c.Tags[i]
	}
	for _, tt := range []struct {
		name string
		want compare.Verdict
	}{
		{"scorer format", compare.Regressed},
		{"all checks", compare.Underpowered}, // 9 lost, 2 gained of 45: not significant after Holm, far from resolving 2 pp
		{"scorer fact", compare.Underpowered},
		{"tag safety", compare.Regressed},
	} {
		if p := byName[tt.name]; p == nil || p.Verdict != tt.want {
			t.Errorf("%s verdict = %q, want %q", tt.name, p.Verdict, tt.want)
		}
	}
	if got, want := c.Excluded, (compare.Exclusions{OnlyBaseline: 1, OnlyCandidate: 1, HashChanged: 1, CandidateErrored: 1}); got != want {
		t.Errorf("Excluded = %+v, want %+v", got, want)
	}
}

func TestWordDiff(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want string // chunks as [-del-] {+ins+}
	}{
		{"the cat sat", "the cat sat", "the cat sat"},
		{"the cat sat", "the dog sat", "the [-cat-]{+dog+} sat"},
		{"", "new words", "{+new words+}"},
		{"a b c", "a c", "a [-b -]c"},
		{"Paris is the capital.", "Lyon is the capital.", "[-Paris-]{+Lyon+} is the capital."},
	} {
		var b strings.Builder
		for _, c := range report.WordDiff(tt.a, tt.b) {
			switch c.Op {
			case -1:
				b.WriteString("[-" + c.Text + "-]")
			case 1:
				b.WriteString("{+" + c.Text + "+}")
			default:
				b.WriteString(c.Text)
			}
		}
		if got := b.String(); got != tt.want {
			t.Errorf("WordDiff(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range report.Formats {
		if got, err := report.ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := report.ParseFormat("csv"); fault.KindOf(err) != fault.Input {
		t.Errorf("ParseFormat(csv) err = %v, want an input error", err)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The history views show hostile outputs, case ids and lock refusals
// escaped, as table and as JSON.
func TestHistoryEscaping(t *testing.T) {
	run := eval.Run{ID: 7, Lock: lockid.ID("sha256:" + strings.Repeat("ab", 32)), Suite: "s\x1b[2J", Status: eval.RunInterrupted,
		LockRefusal: "changed \u202e!", Endpoints: []string{"http://h/v1"}}
	row := report.RunRow{Run: run, Results: len(hostile), Errors: 1}
	var results []eval.Result
	for i, out := range hostile {
		results = append(results, eval.Result{CaseID: fmt.Sprint("c\x1b", i), Output: out, Error: []string{"", "boom \x07"}[b2i(i == 1)]})
	}
	c := eval.Case{ID: "c\x1b0", Prompt: hostile[2], Tags: []string{hostile[4]}}
	for _, asJSON := range []bool{false, true} {
		var buf bytes.Buffer
		if err := report.WriteRuns(&buf, []report.RunRow{row}, asJSON); err != nil {
			t.Fatal(err)
		}
		if err := report.WriteRun(&buf, row, results, 60, asJSON); err != nil {
			t.Fatal(err)
		}
		if err := report.WriteCase(&buf, row, c.ID, &c, results[:2], asJSON); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"\x1b", "\x07", "\x00", "\u202e"} {
			if strings.Contains(buf.String(), bad) {
				t.Errorf("json=%v: output carries %q raw", asJSON, bad)
			}
		}
	}
}

// TestUnderpoweredPass checks that a pass the suite cannot back is never
// printed bare: every format says "PASS, underpowered" with the resolution
// and the threshold, and a policy can make it inconclusive.
func TestUnderpoweredPass(t *testing.T) {
	settings := eval.DefaultSettings()
	mkRun := func(id int64, lock lockid.ID) eval.Run {
		return eval.Run{ID: id, Lock: lock, Suite: "smoke", SuiteVersion: "1", SuiteHash: "5e1f", Settings: settings,
			SettingsHash: settings.Hash(), Status: eval.RunComplete}
	}
	base := compare.Side{Run: mkRun(1, "sha256:aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111")}
	cand := compare.Side{Run: mkRun(2, "sha256:bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222")}
	for i := range 40 {
		r := eval.Result{CaseID: fmt.Sprintf("q%02d", i), CaseHash: fmt.Sprintf("h%02d", i), Output: "answer",
			Latency: 100 * time.Millisecond, Checks: []eval.Check{{Scorer: "contains", Pass: i%5 != 0}}}
		base.Results, cand.Results = append(base.Results, r), append(cand.Results, r)
	}
	c, err := compare.Diff(base, cand, compare.Options{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	if c.Gate.Verdict != compare.GatePass || len(c.Gate.Underpowered) == 0 {
		t.Fatalf("gate %q, underpowered %v: want a pass the 40 cases cannot back", c.Gate.Verdict, c.Gate.Underpowered)
	}
	want := map[report.Format][]string{
		report.Table:    {"Gate: PASS, underpowered: could detect ≥ ", "(all checks), the policy asks 2.0 pp"},
		report.Markdown: {"⚠️ Gate&#58; PASS, underpowered&#58; could detect ≥ "},
		report.JSON:     {`"headline": "PASS, underpowered: could detect ≥ `, `"metric": "all checks"`},
		report.JUnit:    {`<property name="headline" value="PASS, underpowered: could detect ≥ `, `<skipped message="no significant change; underpowered: could detect ≥ `},
		report.HTML:     {`<div class="gate underpowered">Gate: PASS, underpowered: could detect ≥ `},
	}
	for f, subs := range want {
		var buf bytes.Buffer
		if err := report.Write(&buf, f, c); err != nil {
			t.Fatal(err)
		}
		for _, sub := range subs {
			if !strings.Contains(buf.String(), sub) {
				t.Errorf("%s lacks %q", f, sub)
			}
		}
	}
	var buf bytes.Buffer
	if err := report.WriteVerdict(&buf, c); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "gate: PASS at alpha 0.05\n  underpowered: could detect ≥ ") {
		t.Errorf("the gate's verdict does not say underpowered first:\n%s", out)
	}

	pol := compare.DefaultPolicy()
	pol.Underpowered = compare.UnderpoweredInconclusive
	if c, err = compare.Diff(base, cand, compare.Options{Policy: &pol, Resamples: 100}); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := report.Write(&buf, report.JSON, c); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); c.Gate.Verdict != compare.GateInconclusive || !strings.Contains(out, `"verdict": "inconclusive"`) ||
		!strings.Contains(out, "the suite cannot resolve the policy's threshold") {
		t.Errorf("underpowered: inconclusive gave %q:\n%s", c.Gate.Verdict, out)
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]report.Format{
		"gate.md": report.Markdown, "out/junit.XML": report.JUnit, "r.json": report.JSON, "a.html": report.HTML, "t.txt": report.Table,
		"gate": "", "gate.yaml": "",
	} {
		got, err := report.FormatOf(path)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", path, got, err, want)
		}
		if err != nil && !errors.Is(err, report.ErrUnknownExtension) {
			t.Errorf("FormatOf(%q): %v does not match ErrUnknownExtension", path, err)
		}
	}
}

func TestOutputs(t *testing.T) {
	tests := []struct {
		format string
		forced bool
		files  []string
		want   []report.Output
		err    string
	}{
		{"table", false, nil, []report.Output{{"", report.Table}}, ""},
		{"", false, nil, nil, ""},
		{"", false, []string{"a.md", "b.xml"}, []report.Output{{"a.md", report.Markdown}, {"b.xml", report.JUnit}}, ""},
		{"table", false, []string{"a.json"}, []report.Output{{"a.json", report.JSON}}, ""}, // a default format yields to the extension
		{"md", true, []string{"comment.txt", "x"}, []report.Output{{"comment.txt", report.Markdown}, {"x", report.Markdown}}, ""},
		{"", false, []string{"gate"}, nil, "its extension names no format"},
		{"xml", true, nil, nil, "unknown report format"},
	}
	for _, tt := range tests {
		got, err := report.Outputs(tt.format, tt.forced, tt.files)
		if !reflect.DeepEqual(got, tt.want) || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Outputs(%q, %v, %q) = %v, %v; want %v, %q", tt.format, tt.forced, tt.files, got, err, tt.want, tt.err)
		}
	}
}
