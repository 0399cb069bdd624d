// Package stats holds the statistics of a paired diff: tests, confidence
// intervals, multiple-comparison adjustments, cluster-robust standard errors and
// the power of a suite to detect a change.
//
// Every function takes the candidate and the baseline as the same cases, paired
// by position, and every result carries Warnings: conditions under which its
// numbers should not be trusted or cannot show a difference, in the manner of
// golang.org/x/perf/benchmath. The package imports only the standard library
// and gonum, and nothing else from evalpin.
//
// The methods, their references and the R calls that reproduce them are listed
// in docs/statistics.md; the reference values the tests check against were
// produced by testdata/reference.R.
package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultAlpha is the significance level used when a caller has no policy:
// two-sided 0.05.
const DefaultAlpha = 0.05

// DefaultPower is the power at which a minimum detectable effect is stated:
// a change of that size is detected at least this often.
const DefaultPower = 0.8

// PlannedPower is the power a minimum detectable effect is computed for, a
// little above DefaultPower, the one it is stated at: the resolution rests on
// the discordance and design effect of one comparison, estimates that vary
// from suite to suite, and the margin keeps the stated power true on average
// over them (docs/statistics.md gives the simulation that checks it).
const PlannedPower = 0.88

// An Alternative is the direction in which a test looks for a change of the
// difference B − A (candidate minus baseline) from its null value, as R's
// alternative argument.
type Alternative int

// The alternatives.
const (
	TwoSided Alternative = iota // B − A differs from the null value
	Less                        // B − A is below it: the candidate is worse
	Greater                     // B − A is above it: the candidate is better
)

// String returns R's name of the alternative: "two.sided", "less" or
// "greater".
func (a Alternative) String() string {
	switch a {
	case Less:
		return "less"
	case Greater:
		return "greater"
	}
	return "two.sided"
}

// zAlpha returns the standard normal quantile a test at level alpha rejects
// beyond: z(1 − alpha) one-sided, z(1 − alpha/2) two-sided.
func zAlpha(alpha float64, alt Alternative) float64 {
	if alt == TwoSided {
		alpha /= 2
	}
	return distuv.UnitNormal.Quantile(1 - alpha)
}

// An Interval is a two-sided confidence interval [Lo, Hi] at confidence Level
// (for example 0.95).
type Interval struct {
	Lo, Hi float64
	Level  float64
}

// Contains reports whether x lies in the closed interval.
func (iv Interval) Contains(x float64) bool { return iv.Lo <= x && x <= iv.Hi }

// zQuantile returns the standard normal quantile for two-sided confidence level.
func zQuantile(level float64) float64 {
	return distuv.UnitNormal.Quantile(1 - (1-level)/2)
}

// checkLevel panics on a confidence level or alpha outside (0, 1): that is a
// programming error, not a property of the data.
func checkLevel(name string, v float64) {
	if !(v > 0 && v < 1) {
		panic("stats: " + name + " must be in (0, 1)")
	}
}

// normalTwoSided returns the two-sided p-value of a standard normal statistic.
func normalTwoSided(z float64) float64 {
	if math.IsNaN(z) {
		return math.NaN()
	}
	return 2 * distuv.UnitNormal.CDF(-math.Abs(z))
}
