package compare_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
)

// TestMeasureShift checks the shift of the continuous measures and its
// interval: when a minority of cases change, the median difference is 0 but
// the shift is the typical change of the cases that changed, its interval
// excludes 0 as the signed-rank test does, and the verdict follows.
func TestMeasureShift(t *testing.T) {
	const n = 200
	tests := []struct {
		name    string
		changed int     // cases whose output grows by grow characters and whose latency grows by slow
		grow    int     // characters
		slow    float64 // milliseconds
		// want
		lenShift, latShift float64
		lenVerdict         compare.Verdict
		latVerdict         compare.Verdict
	}{
		{"nothing changed", 0, 0, 0, 0, 0, compare.NoChange, compare.Descriptive},
		{"a tenth grew", 20, 60, 300, 60, 300, compare.Changed, compare.Descriptive},
		{"a tenth grew a little", 20, 2, 5, 2, 5, compare.Within, compare.Descriptive}, // length: significant, within the threshold
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var base, cand []eval.Result
			for i := range n {
				id := fmt.Sprintf("case-%03d", i)
				out := strings.Repeat("x", 100+i%50)
				lat := time.Duration(400+i%37) * time.Millisecond
				a, b := res(id, 0, out, "s"), res(id, 0, out, "s")
				a.Latency, b.Latency = lat, lat
				if i >= n-tt.changed {
					b.Output += strings.Repeat("y", tt.grow+i%3-1)
					b.Latency += time.Duration((tt.slow + float64(i%5-2)) * float64(time.Millisecond))
				}
				base, cand = append(base, a), append(cand, b)
			}
			c, err := compare.Diff(compare.Side{Run: run(1, lockA, 1), Results: base}, compare.Side{Run: run(2, lockB, 1), Results: cand}, compare.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range c.Measures[:2] {
				want, verdict := tt.lenShift, tt.lenVerdict
				if m.Name == compare.MeasureLatency {
					want, verdict = tt.latShift, tt.latVerdict
				}
				if math.Abs(m.Shift-want) > 1e-9 {
					t.Errorf("%s: Shift = %g, want %g", m.Name, m.Shift, want)
				}
				if m.Name == compare.MeasureLatency {
					// Latency is run-level: described, never tested
					// (item 7 of issue 10).
					if !m.Descriptive || m.Tested || !math.IsNaN(m.P) || !math.IsNaN(m.CI.Lo) || m.Verdict != compare.Descriptive {
						t.Errorf("latency: descriptive %v, tested %v, p %g, CI %+v, verdict %q; want described only", m.Descriptive, m.Tested, m.P, m.CI, m.Verdict)
					}
					continue
				}
				if !m.CI.Contains(m.Shift) || m.CI.Level != 1-c.Policy.Alpha {
					t.Errorf("%s: CI = %+v, want a %g interval around the shift %g", m.Name, m.CI, 1-c.Policy.Alpha, m.Shift)
				}
				if excludes, rejects := !m.CI.Contains(0), m.P <= c.Policy.Alpha; tt.changed > 0 && excludes != rejects {
					t.Errorf("%s: p = %g but the interval [%g, %g] excludes 0: %v", m.Name, m.P, m.CI.Lo, m.CI.Hi, excludes)
				}
				if significant := m.P <= c.Policy.Alpha; significant != (tt.changed > 0) {
					t.Errorf("%s: p = %g, want significant: %v", m.Name, m.P, tt.changed > 0)
				}
				if m.Verdict != verdict {
					t.Errorf("%s: Verdict = %q (shift %g, p %g), want %q", m.Name, m.Verdict, m.Shift, m.AdjP, verdict)
				}
				if tt.changed > 0 && m.Bootstrap.Median != 0 {
					t.Errorf("%s: median difference %g, want 0 (most cases did not change)", m.Name, m.Bootstrap.Median)
				}
			}
		})
	}
}
