package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// exactSignedRankMax is R's default: the exact null distribution is used below
// 50 non-zero differences, when there are no ties and no zeros.
const exactSignedRankMax = 50

// A SignedRank is the Wilcoxon signed-rank test of paired measurements and the
// Hodges–Lehmann estimate of their shift.
type SignedRank struct {
	N     int // pairs with finite, non-zero differences: the ones the test ranks
	Zeros int // pairs with no difference, left out of the test as R does
	Ties  int // differences whose absolute value is shared with another
	// V is R's statistic: the sum of the ranks of |x−y| over the pairs with x > y.
	V float64
	// Z is the normal statistic with tie and continuity correction, or NaN when
	// P is exact.
	Z float64
	P float64 // two-sided p-value
	// Exact reports whether P comes from the exact null distribution.
	Exact bool
	// Shift is the Hodges–Lehmann estimate of the shift x − y: the median of the
	// Walsh averages (dᵢ+dⱼ)/2, i ≤ j, of all finite differences, zeros included.
	Shift    float64
	Warnings []error
}

// Wilcoxon is the paired Wilcoxon signed-rank test of x against y (differences
// x[i] − y[i]) with R's defaults: R's wilcox.test(x, y, paired = TRUE). The
// p-value is exact when fewer than 50 pairs differ and no two absolute
// differences tie, and otherwise from the normal approximation with tie and
// continuity correction. Pairs with a non-finite difference are left out with a
// warning. Alpha is used only for the warnings. Wilcoxon panics if x and y
// differ in length.
func Wilcoxon(x, y []float64, alpha float64) SignedRank {
	checkLevel("alpha", alpha)
	if len(x) != len(y) {
		panic("stats: Wilcoxon needs slices of equal length")
	}
	d := make([]float64, 0, len(x))
	dropped := 0
	for i := range x {
		v := x[i] - y[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			dropped++
			continue
		}
		d = append(d, v)
	}
	r := SignedRank{Z: math.NaN(), P: math.NaN(), V: math.NaN(), Shift: math.NaN()}
	if dropped > 0 {
		r.Warnings = append(r.Warnings, fmt.Errorf("%d pairs with a non-finite difference left out", dropped))
	}
	if len(d) == 0 {
		r.Warnings = append(r.Warnings, errors.New("no pairs: the test is undefined"))
		return r
	}
	r.Shift = HodgesLehmann(d)

	// Rank |d| over the non-zero differences, averaging ties as R's rank does.
	type item struct {
		abs float64
		pos bool
	}
	nz := make([]item, 0, len(d))
	for _, v := range d {
		if v == 0 {
			r.Zeros++
			continue
		}
		nz = append(nz, item{math.Abs(v), v > 0})
	}
	n := len(nz)
	r.N = n
	if n == 0 {
		r.P, r.V = 1, 0
		r.Warnings = append(r.Warnings, errors.New("every pair is equal: no difference to test"))
		return r
	}
	slices.SortFunc(nz, func(a, b item) int {
		switch {
		case a.abs < b.abs:
			return -1
		case a.abs > b.abs:
			return 1
		}
		return 0
	})
	v, tieSum := 0.0, 0.0
	for i := 0; i < n; {
		j := i + 1
		for j < n && nz[j].abs == nz[i].abs {
			j++
		}
		rank := float64(i+1+j) / 2 // mean of ranks i+1 … j
		for k := i; k < j; k++ {
			if nz[k].pos {
				v += rank
			}
		}
		if t := float64(j - i); t > 1 {
			tieSum += t*t*t - t
			r.Ties += j - i
		}
		i = j
	}
	r.V = v
	fn := float64(n)
	mean := fn * (fn + 1) / 4
	if n < exactSignedRankMax && r.Ties == 0 && r.Zeros == 0 {
		r.Exact = true
		r.P = signedRankTwoSided(int(v), n)
	} else {
		sigma := math.Sqrt(fn*(fn+1)*(2*fn+1)/24 - tieSum/48)
		z := v - mean
		z = (z - 0.5*sign(z)) / sigma
		r.Z = z
		r.P = normalTwoSided(z)
	}
	if r.Zeros > 0 && float64(r.Zeros) >= 0.5*float64(len(d)) {
		r.Warnings = append(r.Warnings, fmt.Errorf("%d of %d pairs are equal: the test sees only the %d that differ", r.Zeros, len(d), n))
	}
	if r.Ties > 0 && float64(r.Ties) >= 0.5*fn {
		r.Warnings = append(r.Warnings, fmt.Errorf("many ties: %d of %d differences share their size with another", r.Ties, n))
	}
	if min := minSignedRank(alpha); n < min {
		r.Warnings = append(r.Warnings, fmt.Errorf("need ≥ %d differing pairs to detect a difference at alpha %g, have %d", min, alpha, n))
	}
	return r
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// minSignedRank is the fewest non-zero differences with which the exact test
// can reach alpha: all of one sign, p = 2·2⁻ⁿ.
func minSignedRank(alpha float64) int {
	return int(math.Ceil(math.Log2(2/alpha) - 1e-12))
}

// signedRankCounts returns the number of subsets of {1, …, n} with each sum
// 0 … n(n+1)/2; below 50 they are exact in a float64.
func signedRankCounts(n int) []float64 {
	m := n * (n + 1) / 2
	c := make([]float64, m+1)
	c[0] = 1
	top := 0
	for k := 1; k <= n; k++ {
		top += k
		for s := top; s >= k; s-- {
			c[s] += c[s-k]
		}
	}
	return c
}

// signedRankTwoSided is R's exact two-sided p-value for the statistic v.
func signedRankTwoSided(v, n int) float64 {
	c := signedRankCounts(n)
	total := math.Ldexp(1, n)
	var tail float64
	if float64(v) > float64(n*(n+1))/4 {
		for s := v; s < len(c); s++ { // P(V ≥ v)
			tail += c[s]
		}
	} else {
		for s := 0; s <= v; s++ { // P(V ≤ v)
			tail += c[s]
		}
	}
	return math.Min(1, 2*tail/total)
}

// HodgesLehmann returns the median of the Walsh averages (d[i]+d[j])/2, i ≤ j:
// the Hodges–Lehmann estimate of the centre of d (the pseudomedian R's
// wilcox.test reports with conf.int = TRUE when its p-value is exact). It runs
// in O(n log n) without forming the n(n+1)/2 averages. HodgesLehmann returns
// NaN for empty d, needs finite values and does not modify d.
func HodgesLehmann(d []float64) float64 {
	n := len(d)
	if n == 0 {
		return math.NaN()
	}
	s := slices.Clone(d)
	slices.Sort(s)
	m := n * (n + 1) / 2
	if m%2 == 1 {
		return walshSelect(s, (m+1)/2)
	}
	lo := walshSelect(s, m/2)
	hi := lo
	if walshCount(s, lo) < m/2+1 {
		hi = walshNext(s, lo)
	}
	return (lo + hi) / 2
}

// walsh is the Walsh average of a and b as R computes it.
func walsh(a, b float64) float64 { return (a + b) / 2 }

// walshCount returns how many Walsh averages of sorted s are ≤ t. The averages
// are non-decreasing along rows and columns, so two pointers suffice.
func walshCount(s []float64, t float64) int {
	n := len(s)
	count, j := 0, n-1
	for i := 0; i < n; i++ {
		for j >= i && walsh(s[i], s[j]) > t {
			j--
		}
		if j < i {
			break
		}
		count += j - i + 1
	}
	return count
}

// walshNext returns the smallest Walsh average of sorted s that exceeds t.
func walshNext(s []float64, t float64) float64 {
	n := len(s)
	best := math.Inf(1)
	j := n // first index with walsh(s[i], s[j]) > t, for the current i
	for i := 0; i < n; i++ {
		// As i grows the boundary moves left.
		for j > i && walsh(s[i], s[j-1]) > t {
			j--
		}
		k := max(j, i)
		if k < n {
			best = math.Min(best, walsh(s[i], s[k]))
		}
	}
	return best
}

// walshSelect returns the k-th smallest (1-based) Walsh average of sorted s by
// bisecting over the ordered float64 values: at most 64 counting passes.
func walshSelect(s []float64, k int) float64 {
	n := len(s)
	lo, hi := orderedKey(walsh(s[0], s[0])), orderedKey(walsh(s[n-1], s[n-1]))
	for lo < hi {
		mid := lo + (hi-lo)/2
		if walshCount(s, fromOrderedKey(mid)) >= k {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return fromOrderedKey(lo)
}

// orderedKey maps a float64 to a uint64 that sorts in the same order.
func orderedKey(f float64) uint64 {
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func fromOrderedKey(k uint64) float64 {
	if k>>63 == 1 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}
