package stats

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultResamples is the number of bootstrap resamples when a caller has no
// reason to choose: enough for the 2.5% and 97.5% percentiles to be stable to
// a fraction of the interval's width.
const DefaultResamples = 10000

// DefaultSeed seeds the bootstrap, so the same data give the same interval.
const DefaultSeed = 0x65766170696e // "evapin"

// A Bootstrap is the median of paired differences with a percentile bootstrap
// interval.
type Bootstrap struct {
	N      int     // finite differences
	Median float64 // their median
	// CI is the percentile interval: the alpha/2 and 1−alpha/2 empirical
	// quantiles of the medians of Resamples resamples drawn with replacement.
	CI        Interval
	Resamples int
	Seed      uint64
	Warnings  []error
}

// BootstrapMedian returns the median of d with a percentile bootstrap interval
// at the given confidence level, from resamples resamples drawn with the
// pseudo-random generator PCG seeded with seed: the same data (in any order)
// and seed give the same interval on the same platform. Non-finite values are
// left out with a warning.
//
// A resample is never formed. The median of a resample of the sorted data is
// found by descending a binary tree over the data: the number of draws that
// fall into the left half of a range is Binomial(draws, ½-ish), so each
// resample costs O(log n) binomial variates instead of n uniform ones, and has
// exactly the distribution of the median of an ordinary resample.
func BootstrapMedian(d []float64, level float64, resamples int, seed uint64) Bootstrap {
	checkLevel("level", level)
	if resamples < 1 {
		panic("stats: BootstrapMedian needs resamples ≥ 1")
	}
	nan := math.NaN()
	r := Bootstrap{Median: nan, CI: Interval{nan, nan, level}, Resamples: resamples, Seed: seed}
	s := make([]float64, 0, len(d))
	for _, v := range d {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			s = append(s, v)
		}
	}
	if dropped := len(d) - len(s); dropped > 0 {
		r.Warnings = append(r.Warnings, fmt.Errorf("%d non-finite differences left out", dropped))
	}
	n := len(s)
	r.N = n
	if n == 0 {
		r.Warnings = append(r.Warnings, errors.New("no differences: the median is undefined"))
		return r
	}
	slices.Sort(s)
	r.Median = (s[(n+1)/2-1] + s[n/2]) / 2

	meds := resampleMedians(s, resamples, seed)
	slices.Sort(meds)
	alpha := 1 - level
	r.CI.Lo = stat.Quantile(alpha/2, stat.Empirical, meds, nil)
	r.CI.Hi = stat.Quantile(1-alpha/2, stat.Empirical, meds, nil)
	if n < 10 {
		r.Warnings = append(r.Warnings, fmt.Errorf("need ≥ 10 differences for a bootstrap interval, have %d", n))
	}
	if resamples < 1000 {
		r.Warnings = append(r.Warnings, fmt.Errorf("only %d resamples: the interval's ends are noisy", resamples))
	}
	return r
}

// resampleMedians returns the medians of resamples bootstrap resamples of
// sorted s, in the order drawn.
func resampleMedians(s []float64, resamples int, seed uint64) []float64 {
	n := len(s)
	r1, r2 := (n+1)/2, n/2+1 // the middle ranks, equal when n is odd
	b := resampler{s: s, src: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)}
	meds := make([]float64, resamples)
	for i := range meds {
		v1, v2 := b.pick(0, n, n, r1, r2)
		meds[i] = (v1 + v2) / 2
	}
	return meds
}

// A resampler draws order statistics of bootstrap resamples of sorted data.
type resampler struct {
	s   []float64
	src rand.Source
}

// pick returns the values of ranks r1 ≤ r2 (1-based) among count draws that
// fall uniformly on s[lo:hi]. A range of equal values needs no further draws:
// ties and zeros, common in lengths and similarities, end the descent early.
func (b *resampler) pick(lo, hi, count, r1, r2 int) (float64, float64) {
	for hi-lo > 1 && b.s[lo] != b.s[hi-1] {
		mid := lo + (hi-lo)/2
		left := b.binomial(count, float64(mid-lo)/float64(hi-lo))
		switch {
		case r2 <= left:
			hi, count = mid, left
		case r1 > left:
			lo, count, r1, r2 = mid, count-left, r1-left, r2-left
		default: // the ranks part: each continues in its own half
			v1, _ := b.pick(lo, mid, left, r1, r1)
			v2, _ := b.pick(mid, hi, count-left, r2-left, r2-left)
			return v1, v2
		}
	}
	return b.s[lo], b.s[lo]
}

// binomial draws from Binomial(n, p), 0 when n is 0.
func (b *resampler) binomial(n int, p float64) int {
	if n == 0 {
		return 0
	}
	return int(distuv.Binomial{N: float64(n), P: p, Src: b.src}.Rand())
}
