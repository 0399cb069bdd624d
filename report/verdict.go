package report

import (
	"bufio"
	"fmt"
	"io"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// WriteVerdict writes the gate's verdict as evalpin gate prints it on a
// terminal: the locks and runs, the verdict at the policy's alpha; for a pass
// the gated metrics whose resolution is coarser than the policy's threshold
// ("underpowered: could detect ≥ 7.6 pp (all checks), the policy asks
// 2.0 pp"), each gated metric with its words and the evidence; the reasons of
// a fail or an inconclusive verdict; and the comparison's warnings.
func WriteVerdict(w io.Writer, c *compare.Comparison) error {
	bw := bufio.NewWriter(w)
	w = bw
	lockLine := c.LockDiff
	if lockLine == "" {
		lockLine = string(c.Baseline.Lock) + " → " + string(c.Candidate.Lock)
	}
	fmt.Fprintf(w, "lock: %s\n", untrusted.Line(lockLine))
	fmt.Fprintf(w, "runs: %s (baseline) vs %s (candidate); %d cases paired, %d left out (%s)\n",
		untrusted.Line(sideName(c.Baseline, c.BaselineFile, "")), untrusted.Line(sideName(c.Candidate, c.CandidateFile, "")),
		c.Paired, c.Excluded.Total(), c.Excluded)
	fmt.Fprintf(w, "gate: %s at alpha %g\n", c.Gate.Verdict.Word(), c.Policy.Alpha)
	if c.Gate.Verdict == compare.GatePass {
		// A pass the suite cannot back says so first: "PASS, underpowered".
		for _, u := range c.Gate.Underpowered {
			fmt.Fprintf(w, "  underpowered: %s\n", untrusted.Line(u.String()))
		}
		for _, list := range [][]compare.PassRate{c.PassRates, c.Tags} {
			for i := range list {
				if p := &list[i]; p.Gated {
					fmt.Fprintf(w, "  pass rate (%s): %s → %s, %s\n", untrusted.Line(p.Name()), compare.Percent(p.Baseline.P), compare.Percent(p.Candidate.P), p.Words())
				}
			}
		}
		for i := range c.Measures {
			if m := &c.Measures[i]; m.Gated {
				fmt.Fprintf(w, "  %s: median %s → %s, %s\n", m.Name, compare.FormatValue(m.Baseline, m.Unit), compare.FormatValue(m.Candidate, m.Unit), m.Words())
			}
		}
		if d := &c.Drift; d.Gated && d.Measured {
			fmt.Fprintf(w, "  output drift: %s of outputs changed against a noise floor of %s, %s\n", compare.Percent(d.Test.Between), compare.Percent(d.Test.Within), d.Words())
		}
		fmt.Fprintf(w, "  evidence: %s\n", untrusted.Line(c.Gate.Evidence.String()))
	} else {
		for _, r := range c.Gate.Reasons() {
			fmt.Fprintf(w, "  - %s\n", untrusted.Line(r))
		}
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(w, "warning: %s\n", untrusted.Line(warn.Error()))
	}
	return bw.Flush()
}
