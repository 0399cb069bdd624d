package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
	reports "github.com/evalpin/evalpin/report"
)

var gateUsage = help("gate")

// runGate implements "evalpin gate".
func (a *app) runGate(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("gate", gateUsage)
	f := addDiffFlags(fs, "")
	a.defaults(fs, "db", "baseline", "policy")
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
