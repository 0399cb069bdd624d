package report_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/forks"
	"github.com/evalpin/evalpin/report"
)

// matrixFixture sets three forks side by side: the diff fixture's baseline
// (A) and candidate (B), and the candidate again as C, with hostile
// selectors, labels and lock words.
func matrixFixture(t testing.TB) *compare.Matrix {
	t.Helper()
	c1, c2 := fixture(t), fixture(t)
	fs := []compare.Fork{
		{Selector: "fork=base", By: compare.SelectLabel, Run: c1.Baseline},
		{Selector: "<b>nous</b>|`x`", By: compare.SelectModel, Run: c1.Candidate, Differs: c1.LockDiff},
		{Selector: "#9", By: compare.SelectRun, Run: c2.Candidate, Differs: "same lock \x1b[31mred"},
	}
	fs[1].Run.Model = "<script>alert(1)</script>"
	fs[1].Run.Labels = map[string]string{"fork": "nous\u202e|*x*"}
	m := forks.Build(fs, []*compare.Comparison{c1, c2})
	m.Warnings = append(m.Warnings, errors.New("a warning with <html> & | pipes"))
	return m
}

func TestMatrixGolden(t *testing.T) {
	m := matrixFixture(t)
	for _, g := range []struct {
		format report.Format
		ext    string
	}{{report.Table, "txt"}, {report.Markdown, "md"}, {report.JSON, "json"}, {report.HTML, "html"}} {
		t.Run(string(g.format), func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.WriteMatrix(&buf, g.format, m); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			golden(t, "matrix."+g.ext, buf.Bytes())
			for _, bad := range []string{"<script>", "<b>nous", "\x1b", "\u202e"} {
				if strings.HasPrefix(bad, "<") && g.format == report.Table {
					continue // markup is text on a terminal
				}
				if strings.Contains(out, bad) {
					t.Errorf("%s lets %q through", g.format, bad)
				}
			}
			if g.format == report.Table {
				for _, line := range strings.Split(out, "\n") {
					if n := len([]rune(line)); n > 120 {
						t.Errorf("a line of %d columns: %q", n, line)
					}
				}
			}
		})
	}
	if err := report.WriteMatrix(&bytes.Buffer{}, report.JUnit, m); !errors.Is(err, report.ErrUnknownFormat) {
		t.Errorf("JUnit: %v, want ErrUnknownFormat", err)
	}
}
