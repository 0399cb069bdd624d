package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// A Drift compares how often a case's output changed between two runs with how
// often it changed between repeats within a run: the noise floor the engine's
// own non-determinism sets.
type Drift struct {
	Counts PairCounts // A: changed within a run; B: changed between runs
	// Between and Within are the shares of cases whose output changed.
	Between, Within float64
	// Excess is Between − Within with Newcombe's paired interval (see
	// DiffPaired) at confidence 1 − alpha.
	Excess float64
	CI     Interval
	// P is the one-sided exact p-value of "outputs change between runs more
	// often than between repeats": McNemar's exact test in one direction,
	// R's binom.test(b, b + c, alternative = "greater") with b the cases that
	// changed between runs only and c those that changed within only.
	P        float64
	Warnings []error
}

// DriftTest tests whether outputs changed between runs more often than the
// noise floor. between[i] says whether case i's output differs between the
// baseline and the candidate, within[i] whether it differs between two repeats
// of one lock (compare like with like: one pair of outputs per case on each
// side). With no change of model the two are exchangeable, so the test is
// valid whatever the correlation between a case's two indicators. DriftTest
// panics if the slices differ in length.
func DriftTest(between, within []bool, alpha float64) Drift {
	checkLevel("alpha", alpha)
	c := CountPairs(within, between)
	d := DiffPaired(c, 1-alpha)
	r := Drift{Counts: c, Between: d.B, Within: d.A, Excess: d.Diff, CI: d.CI, P: 1, Warnings: d.Warnings}
	k := c.Discordant()
	if k > 0 {
		// P(X ≥ OnlyB) for X ~ Binomial(k, ½).
		r.P = math.Min(1, distuv.Binomial{N: float64(k), P: 0.5}.Survival(float64(c.OnlyB-1)))
	}
	if min := int(math.Ceil(math.Log2(1/alpha) - 1e-12)); k < min && c.N() > 0 {
		r.Warnings = append(r.Warnings, fmt.Errorf("need ≥ %d cases that changed on one side only to detect drift at alpha %g, have %d", min, alpha, k))
	}
	return r
}
