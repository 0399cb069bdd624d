package main

import (
	"context"
	"fmt"
	"io"

	"github.com/evalpin/evalpin/eval"
)

func init() {
	commands["gate"] = command{summary: "diff two runs under a policy and exit 1 on a regression (for CI)", run: runGate}
}

const gateUsage = `
Usage: evalpin gate --baseline X --candidate Y [--policy FILE] [--format table|md|json|junit|html -o FILE] [--db FILE]

Gate is 'evalpin diff' turned into an exit code for CI. It compares the runs
exactly as diff does, applies the policy (--policy FILE, else the default
policy), prints the verdict and the reason for each failed metric, and exits
1 when a gated metric regressed. With --format, it also writes that report
(to -o FILE, or standard output).

A metric fails the gate when its change is significant after Holm's
adjustment across the gated metrics AND larger than the policy's practical
threshold, or when it has a non-inferiority margin that the interval does not
rule out. The policy file (docs/diff.md) sets alpha, per-metric minimum
effects and non-inferiority margins, the maximum drift above the noise floor,
and tags that must never regress.

X and Y are run ids or lock ids, as for 'evalpin diff'.

Examples:

  evalpin gate --baseline 12 --candidate 15
  evalpin gate --baseline sha256:3f2a… --candidate sha256:9c41… --policy ci/gate.yaml
  evalpin gate --baseline 12 --candidate 15 --format junit -o gate.xml
  evalpin gate --baseline 12 --candidate 15 --format md -o comment.md || echo "regressed"
`

// runGate implements "evalpin gate".
func runGate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("gate", gateUsage, stderr)
	f := addDiffFlags(fs, "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	format := *f.format
	if format == "" {
		*f.format = "table" // validated, but only written when asked for
	}
	c, rf, err := compareFromFlags(ctx, fs, f, stderr)
	if err != nil {
		return err
	}
	if format != "" {
		if err := writeReport(c, rf, *f.out, stdout); err != nil {
			return err
		}
	}
	verdictOut := stdout
	if format != "" && *f.out == "" {
		verdictOut = stderr // keep a machine-readable report alone on stdout
	}
	writeGateVerdict(verdictOut, c)
	if c.Gate.Failed {
		return eval.Errorf(eval.KindGateFailed, "", "gate failed: %d gated metric%s regressed", len(c.Gate.Reasons), pluralS(len(c.Gate.Reasons)))
	}
	return nil
}

// writeGateVerdict prints the gate's verdict, its reasons and the comparison's
// warnings.
func writeGateVerdict(w io.Writer, c *eval.Comparison) {
	lockLine := c.LockDiff
	if lockLine == "" {
		lockLine = c.Baseline.Lock + " → " + c.Candidate.Lock
	}
	fmt.Fprintf(w, "lock: %s\n", eval.Printable(lockLine))
	fmt.Fprintf(w, "runs: %d (baseline) vs %d (candidate); %d cases paired, %d left out (%s)\n",
		c.Baseline.ID, c.Candidate.ID, c.Paired, c.Excluded.Total(), c.Excluded)
	if !c.Gate.Failed {
		fmt.Fprintf(w, "gate: PASS at alpha %g\n", c.Policy.Alpha)
		for _, list := range [][]eval.PassRate{c.PassRates, c.Tags} {
			for i := range list {
				if p := &list[i]; p.Gated {
					fmt.Fprintf(w, "  pass rate (%s): %s → %s, %s\n", eval.Printable(p.Name()), eval.Percent(p.Baseline.P), eval.Percent(p.Candidate.P), p.Words())
				}
			}
		}
		for i := range c.Measures {
			if m := &c.Measures[i]; m.Gated {
				fmt.Fprintf(w, "  %s: median %s → %s, %s\n", m.Name, eval.FormatValue(m.Baseline, m.Unit), eval.FormatValue(m.Candidate, m.Unit), m.Verdict)
			}
		}
		if d := &c.Drift; d.Gated && d.Measured {
			fmt.Fprintf(w, "  output drift: %s of outputs changed against a noise floor of %s, %s\n", eval.Percent(d.Test.Between), eval.Percent(d.Test.Within), d.Verdict)
		}
	} else {
		fmt.Fprintf(w, "gate: FAIL at alpha %g\n", c.Policy.Alpha)
		for _, r := range c.Gate.Reasons {
			fmt.Fprintf(w, "  - %s\n", eval.Printable(r))
		}
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(w, "warning: %s\n", eval.Printable(warn.Error()))
	}
}
