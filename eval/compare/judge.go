package compare

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/evalpin/evalpin/eval/stats"
)

// A member is one metric of the gated family: its tests in the direction the
// gate fears (loss) and in the other (gain), against no change and against a
// change within the threshold. Holm adjusts each of the four across the
// family.
type member struct {
	loss, lossBeyond, gain, gainBeyond *Test
}

// holm sets the AdjP of the tests to Holm's adjustment of their P.
func holm(ts []*Test) {
	ps := make([]float64, len(ts))
	for i, t := range ts {
		ps[i] = t.P
	}
	for i, q := range stats.Holm(ps) {
		ts[i].AdjP = q
	}
}

// adjustAndJudge forms the two families of tests — the gated metrics, each
// counted once, judged one-sided with Holm, and the reported pass rates,
// two-sided with Benjamini–Hochberg — and sets each metric's interval at the
// level its test matches, its resolution and its verdict; then it records
// the gate's failures and the gated metrics that cannot resolve their
// thresholds.
func (m *comparer) adjustAndJudge() {
	c := m.c
	alpha := m.pol.Alpha

	// The gated family.
	var fam []member
	var measureTests, driftTests []Test // storage for the members' tests
	for _, list := range [][]PassRate{c.PassRates, c.Tags} {
		for i := range list {
			pr := &list[i]
			if !pr.Gated || pr.SameAs != "" {
				continue
			}
			th := pr.Threshold.MinEffect
			pr.Loss = Test{P: pr.pValue(0, stats.Less)}
			pr.Gain = Test{P: pr.pValue(0, stats.Greater)}
			pr.LossBeyond = Test{P: pr.pValue(-th, stats.Less)}
			pr.GainBeyond = Test{P: pr.pValue(th, stats.Greater)}
			fam = append(fam, member{&pr.Loss, &pr.LossBeyond, &pr.Gain, &pr.GainBeyond})
		}
	}
	// A measure's test is two-sided in every role: whether its shift lies
	// beyond the threshold is read off its Bonferroni-level interval.
	measureTests = make([]Test, len(c.Measures))
	for i := range c.Measures {
		if ms := &c.Measures[i]; ms.Gated && ms.Tested {
			measureTests[i] = Test{P: ms.P}
			t := &measureTests[i]
			fam = append(fam, member{t, t, t, t})
		}
	}
	d := &c.Drift
	if d.Measured {
		limit := d.limit()
		// As for pass rates, the larger of McNemar's exact one-sided test of
		// no excess and the test Newcombe's interval inverts.
		d.P = math.Max(d.Test.P, stats.NewcombeP(d.Test.Counts, 0, stats.Greater))
		if d.Gated {
			// Drift has no better direction: its gain tests never reject.
			beyond := math.Max(d.Test.P, stats.NewcombeP(d.Test.Counts, limit, stats.Greater))
			driftTests = []Test{{P: d.P}, {P: beyond}, {P: 1}, {P: 1}}
			fam = append(fam, member{&driftTests[0], &driftTests[1], &driftTests[2], &driftTests[3]})
		}
	}
	for _, role := range []func(member) *Test{
		func(x member) *Test { return x.loss }, func(x member) *Test { return x.lossBeyond },
		func(x member) *Test { return x.gain }, func(x member) *Test { return x.gainBeyond },
	} {
		ts := make([]*Test, len(fam))
		for i, x := range fam {
			ts[i] = role(x)
		}
		holm(ts)
	}
	for _, x := range fam {
		if !math.IsNaN(x.loss.P) {
			c.GatedFamily++
		}
	}
	// bonf is the Bonferroni level of each gated test, Holm's first step.
	bonf := alpha / float64(max(c.GatedFamily, 1))
	gatedCI := CINone
	if c.GatedFamily > 1 {
		gatedCI = CIBonferroni
	}

	for _, list := range [][]PassRate{c.PassRates, c.Tags} {
		for i := range list {
			if pr := &list[i]; pr.Gated && pr.SameAs == "" {
				m.judgeGated(pr, bonf, gatedCI)
			}
		}
	}
	m.judgeReported()
	for i := range c.Measures {
		m.judgeMeasure(&c.Measures[i], measureTests[i], bonf, gatedCI)
	}
	if d.Measured {
		m.judgeDrift(driftTests, bonf, gatedCI)
	}
	c.copyRepeats()
	c.gateFindings()
}

// judgeGated sets a gated pass rate's interval, resolution and verdict from
// its Holm-adjusted tests; bonf is alpha over the family's size.
func (m *comparer) judgeGated(pr *PassRate, bonf float64, ciAdjust string) {
	alpha := m.pol.Alpha
	// One-sided tests at bonf each way match the two-sided interval at
	// 1 − 2·bonf: its upper end lies below a value exactly when the test for
	// a loss beyond it rejects at bonf, which implies Holm rejects it.
	pr.CI, pr.CIAdjust = pr.interval(1-2*bonf), ciAdjust
	if pr.widen(&pr.CI, bonf) {
		pr.Warnings = append(pr.Warnings, widened)
	}
	pr.Detectable = pr.resolution(bonf, stats.Less)
	pr.Warnings = append(pr.Warnings, pr.Detectable.Warnings...)
	pr.P, pr.AdjP, pr.Alternative, pr.Adjust = pr.Loss.P, pr.Loss.AdjP, stats.Less, AdjustHolm
	if pr.Diff > 0 {
		pr.P, pr.AdjP, pr.Alternative = pr.Gain.P, pr.Gain.AdjP, stats.Greater
	}
	sigLoss, sigGain := pr.Loss.AdjP <= alpha, pr.Gain.AdjP <= alpha
	switch th := pr.Threshold.MinEffect; {
	case sigLoss && pr.LossBeyond.AdjP <= alpha:
		pr.Verdict = Regressed
	case sigGain && pr.GainBeyond.AdjP <= alpha:
		pr.Verdict = Improved
	case sigLoss || sigGain:
		pr.Verdict = Within
	case th > 0 && !(pr.Detectable.Effect <= th):
		pr.Verdict = Underpowered
	default:
		pr.Verdict = NoChange
	}
	if ni := pr.Threshold.NonInferiority; ni > 0 && !(pr.CI.Lo >= -ni) {
		pr.NotNonInferior = true
	}
}

// widened is the footnote of an interval widened to 0 (PassRate.widen).
var widened = errors.New("the interval reaches 0 because the exact test does not reject no change at its level: with so few flips the approximate interval alone would exclude it")

// judgeReported adjusts the two-sided tests of the pass rates that are not
// gated (tags, small scorers) with Benjamini–Hochberg, puts their intervals
// at the false-coverage-rate level of Benjamini & Yekutieli (2005),
// 1 − R·alpha/m for R selected of m (1 − alpha/m when none is), at which an
// interval excludes 0 exactly when its metric is selected, and judges them.
func (m *comparer) judgeReported() {
	c, alpha := m.c, m.pol.Alpha
	var rep []*PassRate
	var ps []float64
	for _, list := range [][]PassRate{c.PassRates, c.Tags} {
		for i := range list {
			if pr := &list[i]; !pr.Gated && pr.SameAs == "" {
				pr.Change = Test{P: pr.pValue(0, stats.TwoSided)}
				rep, ps = append(rep, pr), append(ps, pr.Change.P)
			}
		}
	}
	tested, selected := 0, 0
	for i, q := range stats.BenjaminiHochberg(ps) {
		rep[i].Change.AdjP = q
		if !math.IsNaN(q) {
			tested++
		}
		if q <= alpha {
			selected++
		}
	}
	level := alpha * float64(max(selected, 1)) / float64(max(tested, 1))
	ciAdjust := CINone
	if tested > 1 {
		ciAdjust = CIFCR
	}
	for _, pr := range rep {
		pr.CI, pr.CIAdjust = pr.interval(1-level), ciAdjust
		if pr.widen(&pr.CI, level/2) {
			pr.Warnings = append(pr.Warnings, widened)
		}
		pr.Detectable = pr.resolution(level, stats.TwoSided)
		pr.Warnings = append(pr.Warnings, pr.Detectable.Warnings...)
		pr.P, pr.AdjP, pr.Alternative, pr.Adjust = pr.Change.P, pr.Change.AdjP, stats.TwoSided, AdjustBH
		sig := pr.Change.AdjP <= alpha
		th := pr.Threshold.MinEffect
		switch beyond := th == 0 || pr.CI.Hi < -th || pr.CI.Lo > th; {
		case sig && beyond && pr.Diff < 0:
			pr.Verdict = Regressed
		case sig && beyond && pr.Diff > 0:
			pr.Verdict = Improved
		case sig:
			pr.Verdict = Within
		default:
			pr.Verdict = NoChange
		}
	}
}

// judgeMeasure sets a measure's interval, resolution and verdict. A gated
// measure's interval is at the Bonferroni level 1 − bonf (its test is
// two-sided), recomputed from its data; one reported alone keeps 1 − alpha.
func (m *comparer) judgeMeasure(ms *Measure, t Test, bonf float64, ciAdjust string) {
	alpha := m.pol.Alpha
	ms.AdjP, ms.Adjust, ms.CIAdjust = math.NaN(), AdjustNone, CINone
	ms.Resolution = math.NaN()
	if ms.Descriptive {
		ms.Verdict = Descriptive
		return
	}
	if !ms.Tested {
		ms.Verdict = NoChange
		return
	}
	ms.AdjP = ms.P
	if ms.Gated {
		ms.AdjP, ms.Adjust, ms.CIAdjust = t.AdjP, AdjustHolm, ciAdjust
		if bonf < alpha {
			ms.Test = stats.Wilcoxon(ms.x, ms.y, bonf)
			ms.CI = ms.Test.CI
		}
	}
	ms.Resolution = shiftResolution(ms.CI, ms.Test.N)
	sig, lim := ms.AdjP <= alpha, ms.Limit()
	beyond := sig
	if lim > 0 {
		beyond = ms.CI.Lo > lim || ms.CI.Hi < -lim
	}
	better := -1.0 // latency: lower is better
	switch ms.Name {
	case MeasureLength:
		better = 0
	case MeasureSimilarity:
		better = 1 // closer to the baseline than its own repeats is not worse
	}
	switch {
	case sig && beyond && better == 0:
		ms.Verdict = Changed
	case sig && beyond && ms.Shift*better > 0:
		ms.Verdict = Improved
	case sig && beyond:
		ms.Verdict = Regressed
	case sig:
		ms.Verdict = Within
	case ms.Gated && lim > 0 && !(ms.Resolution <= lim):
		ms.Verdict = Underpowered
	default:
		ms.Verdict = NoChange
	}
}

// minDiffering is the fewest differing pairs with which the signed-rank test
// can reach 5% (all six the same way: p = 2/64).
const minDiffering = 6

// shiftResolution is the smallest shift a signed-rank test detects with
// stats.PlannedPower, from its interval: the interval's half-width is
// z·SE at its level, and a shift is detected with power P when it is
// (z + z(P))·SE. NaN when the interval cannot tell (see below).
func shiftResolution(ci stats.Interval, differing int) float64 {
	// With fewer differing pairs than the test needs to reach significance,
	// or all of them equal (an interval of no width), the interval's width
	// says nothing about the shift's standard error.
	if differing < minDiffering || math.IsNaN(ci.Lo) || math.IsNaN(ci.Hi) || !(ci.Hi > ci.Lo) || !(ci.Level > 0 && ci.Level < 1) {
		return math.NaN()
	}
	z := distuv.UnitNormal.Quantile(1 - (1-ci.Level)/2)
	return (ci.Hi - ci.Lo) / 2 * (1 + distuv.UnitNormal.Quantile(stats.PlannedPower)/z)
}

// limit returns the excess over the noise floor the policy allows: MaxExcess,
// or 0 when drift is not gated.
func (d *DriftResult) limit() float64 {
	if d.MaxExcess == nil {
		return 0
	}
	return *d.MaxExcess
}

// judgeDrift sets the drift's interval, resolution and verdict from its
// one-sided tests (tests holds them when gated: against no excess and
// against the allowed excess, Holm-adjusted).
func (m *comparer) judgeDrift(tests []Test, bonf float64, ciAdjust string) {
	alpha := m.pol.Alpha
	d := &m.c.Drift
	limit := d.limit()
	a, sig, beyond := alpha, d.P <= alpha, d.P <= alpha
	d.AdjP, d.Adjust, d.CIAdjust = d.P, AdjustNone, CINone
	if d.Gated {
		a = bonf
		d.AdjP, d.Adjust, d.CIAdjust = tests[0].AdjP, AdjustHolm, ciAdjust
		sig, beyond = tests[0].AdjP <= alpha, tests[1].AdjP <= alpha
	}
	d.CI = stats.DiffPaired(d.Test.Counts, 1-2*a).CI
	if d.CI.Lo > 0 && d.Test.P > a {
		d.CI.Lo = 0 // as PassRate.widen: the exact test does not reject no excess
		d.Warnings = append(d.Warnings, widened)
	}
	n := d.Test.Counts.N()
	psi := 0.0
	if n > 0 {
		psi = float64(d.Test.Counts.Discordant()) / float64(n)
	}
	d.Resolution = stats.MinDetectable(n, psi, a, stats.PlannedPower, stats.Greater).Effect
	switch {
	case sig && beyond:
		d.Verdict = Regressed
	case sig:
		d.Verdict = Within
	case d.Gated && limit > 0 && !(d.Resolution <= limit):
		d.Verdict = Underpowered
	default:
		d.Verdict = NoChange
	}
}

// copyRepeats gives every pass rate that repeats another (SameAs) the
// other's tests, interval, resolution and verdict.
func (c *Comparison) copyRepeats() {
	byName := make(map[string]*PassRate)
	for _, list := range [][]PassRate{c.PassRates, c.Tags} {
		for i := range list {
			pr := &list[i]
			if pr.SameAs == "" {
				byName[pr.Name()] = pr
				continue
			}
			rep := byName[pr.SameAs]
			pr.Loss, pr.Gain, pr.LossBeyond, pr.GainBeyond, pr.Change = rep.Loss, rep.Gain, rep.LossBeyond, rep.GainBeyond, rep.Change
			pr.P, pr.AdjP, pr.Alternative, pr.Adjust = rep.P, rep.AdjP, rep.Alternative, rep.Adjust
			pr.CI, pr.CIAdjust, pr.Detectable, pr.Verdict = rep.CI, rep.CIAdjust, rep.Detectable, rep.Verdict
		}
	}
}

// gateFindings records, for the gate, one reason per gated metric that
// fails, a line for each metric that repeats a failed one, and the gated
// metrics whose resolution is coarser than their threshold.
func (c *Comparison) gateFindings() {
	alpha := c.Policy.Alpha
	g := &c.Gate
	failed := make(map[string]*PassRate)
	for _, list := range [][]PassRate{c.PassRates, c.Tags} {
		for i := range list {
			pr := &list[i]
			switch {
			case pr.Failed():
				failed[pr.Name()] = pr
				g.Regressions = append(g.Regressions, pr.reason(alpha))
			case pr.SameAs != "" && failed[pr.SameAs] != nil:
				g.Repeats = append(g.Repeats, fmt.Sprintf("pass rate (%s): %s → %s, the same cases and outcomes as %s: %s with it",
					pr.Name(), Percent(pr.Baseline.P), Percent(pr.Candidate.P), pr.SameAs, failed[pr.SameAs].Words()))
			}
			if th := pr.Threshold.MinEffect; pr.Gated && !pr.Failed() && th > 0 && !(pr.Detectable.Effect <= th) {
				g.Underpowered = append(g.Underpowered, Resolution{Metric: pr.Name(), Effect: pr.Detectable.Effect, Threshold: th, Unit: UnitPP})
			}
		}
	}
	for i := range c.Measures {
		ms := &c.Measures[i]
		if ms.Failed() {
			g.Regressions = append(g.Regressions, ms.reason())
		} else if lim := ms.Limit(); ms.Gated && ms.Tested && lim > 0 && !(ms.Resolution <= lim) {
			g.Underpowered = append(g.Underpowered, Resolution{Metric: ms.Name, Effect: ms.Resolution, Threshold: lim, Unit: ms.Unit})
		}
	}
	if d := &c.Drift; d.Failed() {
		g.Regressions = append(g.Regressions, d.reason())
	} else if d.Unconfirmed() {
		g.Unconfirmed = append(g.Unconfirmed, d.reason()+", but the floor is within one run, a lower bound: not a regression on its own; run the baseline's lock twice to test it")
	} else if lim := d.limit(); d.Gated && d.Measured && lim > 0 && !(d.Resolution <= lim) {
		g.Underpowered = append(g.Underpowered, Resolution{Metric: "output drift", Effect: d.Resolution, Threshold: lim, Unit: UnitPP})
	}
}
