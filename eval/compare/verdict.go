package compare

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// A GateVerdict is the gate's decision on a comparison.
type GateVerdict string

// The verdicts of the gate, in the order they take precedence: a regression
// among the paired cases fails the gate even when the evidence is otherwise
// short; short evidence without one is inconclusive, never a pass.
const (
	GateFail         GateVerdict = "fail"         // a gated metric regressed
	GateInconclusive GateVerdict = "inconclusive" // too little evidence for a verdict (Evidence.Shortfalls)
	GatePass         GateVerdict = "pass"         // no gated metric regressed, on enough evidence
)

// Word returns the verdict as the gate and every report print it: "PASS",
// "FAIL" or "INCONCLUSIVE".
func (v GateVerdict) Word() string { return strings.ToUpper(string(v)) }

// A GateResult is the policy's verdict on a comparison.
type GateResult struct {
	Verdict GateVerdict
	// Regressions hold one line per gated metric that fails the gate; the
	// verdict is GateFail exactly when there is one.
	Regressions []string
	// Repeats hold one line per metric that repeats a failed one (the same
	// cases and outcomes, counted once): a suite's only scorer when all
	// checks regressed. They are not further regressions.
	Repeats []string
	// Underpowered lists the gated metrics that did not fail and whose
	// resolution is coarser than their threshold: a loss as large as the
	// threshold would usually go unseen, so a PASS says little about it. The
	// verdict of a passing gate with any is "PASS, underpowered" (Headline),
	// or GateInconclusive when the policy asks (Policy.Underpowered).
	Underpowered []Resolution
	// Unconfirmed holds gated drift shown above a noise floor measured only
	// within one run (DriftResult.Unconfirmed): a lower bound, so not a
	// regression; a warning, or a shortfall of the evidence when the policy
	// says within_run_floor: inconclusive.
	Unconfirmed []string
	// Evidence is what the verdict rests on, held against the policy's
	// min_paired and max_lost.
	Evidence Evidence
}

// A Resolution is a gated metric whose suite cannot resolve the policy's
// threshold: it could detect changes of Effect or more (with
// stats.DefaultPower), and the policy asks Threshold.
type Resolution struct {
	Metric            string // "all checks", "scorer NAME", "latency", "output drift", …
	Effect, Threshold float64
	Unit              string // UnitPP, or a measure's unit
}

// String says the resolution against the threshold: "could detect ≥ 7.6 pp
// (all checks), the policy asks 2.0 pp".
func (r Resolution) String() string {
	asks := "asks"
	if r.Metric == "output drift" {
		asks = "allows"
	}
	effect := "cannot resolve any change (too few cases or clusters)"
	if !math.IsInf(r.Effect, 1) && !math.IsNaN(r.Effect) {
		effect = "could detect ≥ " + FormatIn(r.Effect, r.Unit)
	}
	return fmt.Sprintf("%s (%s), the policy %s %s", effect, r.Metric, asks, FormatIn(r.Threshold, r.Unit))
}

// Headline returns the verdict as the first line of every report states it:
// "FAIL", "INCONCLUSIVE", "PASS", or "PASS, underpowered: could detect
// ≥ 7.6 pp (all checks), the policy asks 2.0 pp" (and how many more metrics
// are underpowered), so that a suite too small for the policy never shows a
// bare PASS.
func (g *GateResult) Headline() string {
	w := g.Verdict.Word()
	if g.Verdict != GatePass || len(g.Underpowered) == 0 {
		return w
	}
	w += ", underpowered: " + g.Underpowered[0].String()
	if more := len(g.Underpowered) - 1; more == 1 {
		w += "; 1 more metric underpowered"
	} else if more > 1 {
		w += fmt.Sprintf("; %d more metrics underpowered", more)
	}
	return w
}

// Failed reports whether the verdict is GateFail: a gated metric regressed.
// An inconclusive gate has not failed, but it has not passed either.
func (g *GateResult) Failed() bool { return g.Verdict == GateFail }

// evidenceAlsoShort introduces a shortfall of evidence among the reasons of a
// failed gate: the regression stands, and the evidence was short as well.
const evidenceAlsoShort = "evidence is short too (the regression among the paired cases stands): "

// Reasons returns the verdict's reasons, one line each: for GateFail the
// failed metrics and the metrics that repeat them, then each shortfall of
// evidence, marked as such; for GateInconclusive the shortfalls; for
// GatePass the underpowered metrics, if any.
func (g *GateResult) Reasons() []string {
	switch g.Verdict {
	case GateFail:
		rs := slices.Concat(g.Regressions, g.Repeats)
		for _, s := range g.Evidence.Shortfalls {
			rs = append(rs, evidenceAlsoShort+s)
		}
		return rs
	case GateInconclusive:
		return slices.Clone(g.Evidence.Shortfalls)
	}
	var rs []string
	for _, u := range g.Underpowered {
		rs = append(rs, "underpowered: "+u.String())
	}
	return rs
}

// An ErrorCount is the number of cases whose first failed request had one
// error kind.
type ErrorCount struct {
	Kind  string // Result.ErrorKind, or UnknownErrorKind
	Cases int
}

// UnknownErrorKind stands for a failed request stored without an error kind.
const UnknownErrorKind = "unknown"

// Evidence is what a comparison's verdict rests on: how many cases were
// paired, and how many the candidate lost to failed requests, each held
// against the policy's floor (Policy.MinPaired, Policy.MaxLost).
type Evidence struct {
	Paired    int // cases compared
	MinPaired int // the policy's min_paired
	// Answered counts the cases that both runs hold with the same case hash
	// and that the baseline answered (no request of theirs failed): the paired
	// cases and the lost ones.
	Answered int
	// Lost counts the cases of Answered with a failed candidate request; they
	// are left out of every metric (Exclusions.CandidateErrored).
	Lost    int
	MaxLost float64 // the policy's max_lost, a share of Answered
	// LostKinds counts the lost cases by the error kind of their first failed
	// candidate request, most cases first.
	LostKinds []ErrorCount
	// FirstLost is the id of the first lost case by id, "" when none: a case
	// whose stored error tells what went wrong.
	FirstLost string
	// Shortfalls say in words how the evidence falls short of the policy, one
	// line each; empty when it suffices.
	Shortfalls []string
}

// LostShare returns Lost as a share of Answered (0 when nothing was
// answered).
func (e *Evidence) LostShare() float64 {
	if e.Answered == 0 {
		return 0
	}
	return float64(e.Lost) / float64(e.Answered)
}

// Short reports whether the evidence falls short of the policy.
func (e *Evidence) Short() bool { return len(e.Shortfalls) > 0 }

// String says what the evidence is against the policy's floor: "40 cases
// paired (the policy needs ≥ 10); 1 of 41 cases the baseline answered lost
// to failed candidate requests (the policy allows 2.0%): timeout 1".
func (e *Evidence) String() string {
	s := fmt.Sprintf("%d cases paired (the policy needs ≥ %d); %d of %d cases the baseline answered lost to failed candidate requests (the policy allows %s)",
		e.Paired, e.MinPaired, e.Lost, e.Answered, Percent(e.MaxLost))
	if e.Lost > 0 {
		s += ": " + e.kinds()
	}
	return s
}

// kinds lists LostKinds in words: "not_found 18, auth 2".
func (e *Evidence) kinds() string {
	parts := make([]string, len(e.LostKinds))
	for i, k := range e.LostKinds {
		parts[i] = fmt.Sprintf("%s %d", k.Kind, k.Cases)
	}
	return strings.Join(parts, ", ")
}

// countKinds turns a tally of error kinds into ErrorCounts, most cases first,
// then by kind.
func countKinds(tally map[string]int) []ErrorCount {
	out := make([]ErrorCount, 0, len(tally))
	for k, n := range tally {
		out = append(out, ErrorCount{Kind: k, Cases: n})
	}
	slices.SortFunc(out, func(a, b ErrorCount) int {
		if c := cmp.Compare(b.Cases, a.Cases); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out
}

// judgeGate holds the comparison's evidence against the policy, records each
// shortfall in words, and decides the verdict from the regressions already
// found and the evidence. tally counts the lost cases by error kind.
func (c *Comparison) judgeGate(tally map[string]int, firstLost string) {
	e := &c.Gate.Evidence
	*e = Evidence{
		Paired: c.Paired, MinPaired: c.Policy.MinPaired,
		Answered: c.Paired + c.Excluded.CandidateErrored, Lost: c.Excluded.CandidateErrored,
		MaxLost: c.Policy.MaxLost, LostKinds: countKinds(tally), FirstLost: firstLost,
	}
	if e.Paired < e.MinPaired {
		why := c.Excluded.words(e.kinds())
		if c.Excluded.Total() == 0 {
			why = fmt.Sprintf("the runs have only %d cases in common", e.Paired)
		}
		if c.Baseline.Suite != c.Candidate.Suite {
			why += fmt.Sprintf("; the runs are of different suites (%s, %s)", c.Baseline.Suite, c.Candidate.Suite)
		}
		e.Shortfalls = append(e.Shortfalls, fmt.Sprintf("%d cases paired, the policy needs ≥ %d: %s", e.Paired, e.MinPaired, why))
	}
	if c.Policy.Underpowered == UnderpoweredInconclusive {
		for _, u := range c.Gate.Underpowered {
			e.Shortfalls = append(e.Shortfalls, "the suite cannot resolve the policy's threshold (underpowered: inconclusive): "+u.String())
		}
	}
	for _, u := range c.Gate.Unconfirmed {
		if c.Policy.WithinRunFloor == WithinFloorInconclusive {
			e.Shortfalls = append(e.Shortfalls, u+" (within_run_floor: inconclusive)")
		} else {
			c.Warnings = append(c.Warnings, errors.New(u))
		}
	}
	if e.LostShare() > e.MaxLost {
		e.Shortfalls = append(e.Shortfalls, fmt.Sprintf("%d of %d cases the baseline answered failed in the candidate (%s), more than the policy allows (max_lost %s): %s",
			e.Lost, e.Answered, Percent(e.LostShare()), Percent(e.MaxLost), e.kinds()))
	}
	switch {
	case len(c.Gate.Regressions) > 0:
		c.Gate.Verdict = GateFail
	case e.Short():
		c.Gate.Verdict = GateInconclusive
	default:
		c.Gate.Verdict = GatePass
	}
}
