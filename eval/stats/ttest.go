package stats

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// A TTest is the paired t-test of the mean difference x − y.
type TTest struct {
	N        int     // pairs
	Mean     float64 // mean of x[i] − y[i]
	SE       float64 // its standard error, sd/√n
	T, DF, P float64 // statistic, degrees of freedom n−1, two-sided p-value
	CI       Interval
	Warnings []error
}

// PairedT is R's t.test(x, y, paired = TRUE) at the given confidence level.
// It panics if x and y differ in length.
func PairedT(x, y []float64, level float64) TTest {
	checkLevel("level", level)
	if len(x) != len(y) {
		panic("stats: PairedT needs slices of equal length")
	}
	nan := math.NaN()
	r := TTest{N: len(x), Mean: nan, SE: nan, T: nan, DF: nan, P: nan, CI: Interval{nan, nan, level}}
	if r.N < 2 {
		r.Warnings = append(r.Warnings, errors.New("need ≥ 2 pairs for a t-test"))
		return r
	}
	d := make([]float64, r.N)
	for i := range x {
		d[i] = x[i] - y[i]
	}
	mean, sd := stat.MeanStdDev(d, nil)
	r.Mean, r.DF = mean, float64(r.N-1)
	r.SE = sd / math.Sqrt(float64(r.N))
	if r.SE == 0 {
		r.Warnings = append(r.Warnings, errors.New("every difference is the same: the t statistic is undefined"))
		return r
	}
	r.T = mean / r.SE
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: r.DF}
	r.P = 2 * t.CDF(-math.Abs(r.T))
	q := t.Quantile(1 - (1-level)/2)
	r.CI.Lo, r.CI.Hi = mean-q*r.SE, mean+q*r.SE
	return r
}
