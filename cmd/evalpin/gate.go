package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
	reports "github.com/evalpin/evalpin/report"
)

const gateUsage = `
Usage: evalpin gate --baseline X --candidate Y [--policy FILE] [--format table|md|json|junit|html -o FILE] [--db FILE]

Gate is 'evalpin diff' turned into an exit code for CI. It compares the runs
exactly as diff does, applies the policy (--policy FILE, else the default
policy), prints the verdict with its reasons, and exits by the verdict:

  PASS          exit 0: no gated metric regressed, on enough evidence
  FAIL          exit 1: a gated metric regressed (even when the evidence is
                otherwise short; the reasons say so)
  INCONCLUSIVE  exit 6: no regression, but too little evidence for a verdict:
                fewer paired cases than the policy's min_paired (default 10),
                or more of the cases the baseline answered lost to failed
                candidate requests than its max_lost (default 2%)

A candidate whose requests all failed (a wrong --endpoint, model or API key)
or two runs with no cases in common are INCONCLUSIVE, never a PASS. With
--format, gate also writes that report (to -o FILE, or standard output).

A metric fails the gate when its change is significant after Holm's
adjustment across the gated metrics AND larger than the policy's practical
threshold, or when it has a non-inferiority margin that the interval does not
rule out. The policy file (docs/diff.md) sets alpha, per-metric minimum
effects and non-inferiority margins, the maximum drift above the noise floor,
tags that must never regress, and the least evidence a verdict needs.

X and Y are baseline files, run ids or lock ids, as for 'evalpin diff'.

Examples:

  evalpin gate --baseline 12 --candidate 15
  evalpin gate --baseline sha256:3f2a… --candidate sha256:9c41… --policy ci/gate.yaml
  evalpin gate --baseline 12 --candidate 15 --format junit -o gate.xml
  evalpin gate --baseline 12 --candidate 15 --format md -o comment.md || echo "exit $?: not a pass"
`

// runGate implements "evalpin gate".
func (a *app) runGate(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("gate", gateUsage)
	f := addDiffFlags(fs, "")
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	format := *f.format
	if format == "" {
		*f.format = "table" // validated, but only written when asked for
	}
	c, rf, err := compareFromFlags(ctx, fs, pos, f, stderr)
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
	if err := reports.WriteVerdict(verdictOut, c); err != nil {
		return err
	}
	switch g := &c.Gate; g.Verdict {
	case compare.GateFail:
		return fault.Errorf(fault.GateFailed, "", "gate failed: %d gated metric%s regressed", len(g.Regressions), pluralS(len(g.Regressions)))
	case compare.GateInconclusive:
		e := &g.Evidence
		hint := "compare runs of the same suite that share enough cases, or lower the policy's min_paired (docs/diff.md)"
		if e.FirstLost != "" {
			show := "evalpin show"
			if fl := fs.Lookup("db"); fl.Value.String() != fl.DefValue {
				show += " --db " + fl.Value.String()
			}
			hint = fmt.Sprintf("'%s %d %s' shows a failed request; fix the candidate's endpoint (the OpenAI base URL, ending in /v1), model or API key and run it again with --fresh, or set the policy's min_paired and max_lost (docs/diff.md)",
				show, c.Candidate.ID, e.FirstLost)
		}
		return fault.Errorf(fault.Inconclusive, hint, "gate inconclusive: %s", strings.Join(e.Shortfalls, "; "))
	}
	return nil
}
