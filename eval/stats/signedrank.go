package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// exactSignedRankMax is R's default: the exact null distribution is used below
// 50 non-zero differences, when there are no ties and no zeros.
const exactSignedRankMax = 50

// A SignedRank is the Wilcoxon signed-rank test of paired measurements, the
// Hodges–Lehmann estimate of their shift and its distribution-free confidence
// interval.
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
	// Exact reports whether P and CI come from the exact null distribution.
	Exact bool
	// Shift is the Hodges–Lehmann estimate of the shift x − y: the median of the
	// Walsh averages (dᵢ+dⱼ)/2, i ≤ j, of the N non-zero differences, the
	// pairs the test ranks (zeros are left out, as R does). It is 0 when every
	// pair is equal.
	Shift float64
	// CI is the confidence interval for Shift at level 1 − alpha, formed by two
	// order statistics of the Walsh averages: the interval that inverts the
	// test (R's wilcox.test with conf.int = TRUE). It is exact when P is; then,
	// and when the normal approximation cannot reach the level, CI.Level is the
	// level achieved, which a warning states. When no level above 0 can be
	// achieved (very few differing pairs), Lo and Hi are NaN.
	CI       Interval
	Warnings []error
}

// Wilcoxon is the paired Wilcoxon signed-rank test of x against y (differences
// x[i] − y[i]) with R's defaults, the Hodges–Lehmann shift and its confidence
// interval at level 1 − alpha: R's
// wilcox.test(x, y, paired = TRUE, conf.int = TRUE, conf.level = 1 − alpha).
// The p-value and the interval are exact when fewer than 50 pairs differ and
// no two absolute differences tie, and otherwise from the normal approximation
// with tie and continuity correction. Pairs with a non-finite difference are
// left out with a warning. Wilcoxon panics if x and y differ in length.
//
// Where R gives up, Wilcoxon does not: when every pair is equal the shift is 0
// with the interval [0, 0] (R: NaN), and when every differing pair differs by
// the same amount v the interval is [v, v] (R: NaN, "cannot compute confidence
// interval"), which is what the Walsh averages, all equal to v, say; below 50
// such pairs its level is the one the exact distribution achieves, as for an
// exact interval.
func Wilcoxon(x, y []float64, alpha float64) SignedRank {
	return signedRank(x, y, alpha, true)
}

// WilcoxonShift is Wilcoxon without the interval, its most costly part
// on many pairs: for a measure only described, whose interval would be
// dropped. CI's Lo and Hi are NaN.
func WilcoxonShift(x, y []float64, alpha float64) SignedRank {
	return signedRank(x, y, alpha, false)
}

// signedRank is Wilcoxon, with the interval when interval is set.
func signedRank(x, y []float64, alpha float64, interval bool) SignedRank {
	checkLevel("alpha", alpha)
	if len(x) != len(y) {
		panic("stats: Wilcoxon needs slices of equal length")
	}
	// The finite, non-zero differences, sorted: the test ranks their
	// absolute values, the shift and its interval are of them.
	s := make([]float64, 0, len(x))
	dropped, finite := 0, 0
	nan := math.NaN()
	r := SignedRank{Z: nan, P: nan, V: nan, Shift: nan, CI: Interval{nan, nan, 1 - alpha}}
	for i := range x {
		switch v := x[i] - y[i]; {
		case math.IsNaN(v) || math.IsInf(v, 0):
			dropped++
		case v == 0:
			finite++
			r.Zeros++
		default:
			finite++
			s = append(s, v)
		}
	}
	if dropped > 0 {
		r.Warnings = append(r.Warnings, fmt.Errorf("%d pairs with a non-finite difference left out", dropped))
	}
	if finite == 0 {
		r.Warnings = append(r.Warnings, errors.New("no pairs: the test is undefined"))
		return r
	}
	n := len(s)
	r.N = n
	if n == 0 {
		r.P, r.V, r.Shift, r.CI.Lo, r.CI.Hi = 1, 0, 0, 0, 0
		r.Warnings = append(r.Warnings, errors.New("every pair is equal: no difference to test"))
		return r
	}
	slices.Sort(s)
	v, tieSum := signedRanks(s, &r.Ties)
	r.V = v
	fn := float64(n)
	mean := fn * (fn + 1) / 4
	var counts []float64 // the exact null distribution, when used
	if n < exactSignedRankMax && r.Ties == 0 && r.Zeros == 0 {
		r.Exact = true
		counts = signedRankCounts(n)
		r.P = signedRankTwoSided(int(v), n, counts)
	} else {
		sigma := math.Sqrt(fn*(fn+1)*(2*fn+1)/24 - tieSum/48)
		z := v - mean
		z = (z - 0.5*sign(z)) / sigma
		r.Z = z
		r.P = normalTwoSided(z)
	}

	// The shift and its interval, from the sorted non-zero differences.
	r.Shift = hodgesLehmannSorted(s)
	if interval {
		r.shiftInterval(s, alpha, counts)
	}
	if r.Zeros > 0 && float64(r.Zeros) >= 0.5*float64(finite) {
		r.Warnings = append(r.Warnings, fmt.Errorf("%d of %d pairs are equal: the test sees only the %d that differ", r.Zeros, finite, n))
	}
	if r.Ties > 0 && float64(r.Ties) >= 0.5*fn {
		r.Warnings = append(r.Warnings, fmt.Errorf("many ties: %d of %d differences share their size with another", r.Ties, n))
	}
	if min := minSignedRank(alpha); n < min {
		r.Warnings = append(r.Warnings, fmt.Errorf("need ≥ %d differing pairs to detect a difference at alpha %g, have %d", min, alpha, n))
	}
	return r
}

// shiftInterval sets r's interval for the shift from the sorted non-zero
// differences s, with counts, the exact null distribution when r is exact.
func (r *SignedRank) shiftInterval(s []float64, alpha float64, counts []float64) {
	n := len(s)
	switch {
	case r.Exact:
		r.CI = exactShiftInterval(s, alpha, counts)
	case s[0] == s[n-1] && n < exactSignedRankMax:
		// Every differing pair differs by the same amount, and so does every
		// Walsh average. R gives no interval; the exact distribution says at
		// which level this one holds, so that a handful of pairs does not
		// claim 95%.
		r.CI = exactShiftInterval(s, alpha, signedRankCounts(n))
	default:
		r.CI = normalShiftInterval(s, alpha)
	}
	switch {
	case r.CI.Level <= 0:
		// R returns the median of the differences as an interval at level 0,
		// which need not even contain the shift.
		r.CI.Lo, r.CI.Hi = math.NaN(), math.NaN()
		r.Warnings = append(r.Warnings, fmt.Errorf("%d differing pairs are too few for an interval for the shift", n))
	case r.CI.Level < 1-alpha:
		r.Warnings = append(r.Warnings, fmt.Errorf("%d differing pairs cannot give a %s interval for the shift: it is %s",
			n, formatLevel(1-alpha), formatLevel(r.CI.Level)))
	}
}

// signedRanks ranks the absolute values of the sorted non-zero differences
// s, averaging ties as R's rank does, and returns v, the sum of the ranks
// of the positive ones, and the tie correction Σ(t³ − t) over groups of t
// equal absolute values; ties counts the differences in such groups. The
// absolute values are walked in increasing order by merging the negative
// differences, from the last, with the positive ones, from the first.
func signedRanks(s []float64, ties *int) (v, tieSum float64) {
	n := len(s)
	pos, _ := slices.BinarySearch(s, 0) // s[pos:] are positive, s[:pos] negative
	neg := pos - 1
	// next returns the smallest absolute value not yet ranked and whether
	// it belongs to a positive difference, advancing past it.
	next := func() (float64, bool) {
		if neg < 0 || pos < n && s[pos] < -s[neg] {
			pos++
			return s[pos-1], true
		}
		neg--
		return -s[neg+1], false
	}
	a, p := next()
	for i := 0; i < n; {
		// The group of equal absolute values a starts at rank i+1.
		j, positives := i, 0
		for {
			if p {
				positives++
			}
			j++
			if j == n {
				break
			}
			b, q := next()
			if b != a {
				a, p = b, q
				break
			}
			p = q
		}
		rank := float64(i+1+j) / 2 // mean of ranks i+1 … j
		for range positives {
			v += rank
		}
		if t := float64(j - i); t > 1 {
			tieSum += t*t*t - t
			*ties += j - i
		}
		i = j
	}
	return v, tieSum
}

// formatLevel formats a confidence level as a percentage: "95%", "87.5%".
func formatLevel(level float64) string {
	return strconv.FormatFloat(math.Round(level*1e4)/100, 'f', -1, 64) + "%"
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

// signedRankTwoSided is R's exact two-sided p-value for the statistic v, given
// c = signedRankCounts(n).
func signedRankTwoSided(v, n int, c []float64) float64 {
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
// the Hodges–Lehmann estimate of the centre of d, every value included. (The
// shift of a paired diff, SignedRank.Shift, leaves zero differences out, as R
// does.) It runs in O(n log n) without forming the n(n+1)/2 averages.
// HodgesLehmann returns NaN for empty d, needs finite values and does not
// modify d.
func HodgesLehmann(d []float64) float64 {
	if len(d) == 0 {
		return math.NaN()
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return hodgesLehmannSorted(s)
}

// hodgesLehmannSorted is HodgesLehmann of sorted, non-empty s.
func hodgesLehmannSorted(s []float64) float64 {
	n := len(s)
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

// exactShiftInterval is R's exact interval for the shift of sorted s, with no
// ties or zeros, at level 1 − alpha, given c = signedRankCounts(len(s)): the
// q-th smallest and q-th largest Walsh averages, q = qsignrank(alpha/2, n)
// (at least 1). When even q = 1 misses the level by more than alpha/2, the
// level is the one achieved, rounded to two digits as R does.
func exactShiftInterval(s []float64, alpha float64, c []float64) Interval {
	n := len(s)
	m := n * (n + 1) / 2
	q := signedRankQuantile(alpha/2, n, c)
	if q == 0 {
		q = 1
	}
	iv := Interval{Lo: walshSelect(s, q), Hi: walshSelect(s, m-q+1), Level: 1 - alpha}
	achieved := 2 * signedRankCDF(q-1, n, c)
	if achieved-alpha > alpha/2 {
		iv.Level = 1 - signif2(achieved)
	}
	return iv
}

// signedRankCDF is R's psignrank(q, n): P(V ≤ q), given c = signedRankCounts(n).
func signedRankCDF(q, n int, c []float64) float64 {
	var sum float64
	for s := 0; s <= q && s < len(c); s++ {
		sum += c[s]
	}
	return math.Ldexp(sum, -n)
}

// signedRankQuantile is R's qsignrank(p, n) for p ≤ ½: the smallest q with
// P(V ≤ q) ≥ p, with R's allowance of 10 machine epsilons.
func signedRankQuantile(p float64, n int, c []float64) int {
	p -= 10 * 0x1p-52
	var sum float64
	for q := range c {
		sum += c[q]
		if math.Ldexp(sum, -n) >= p {
			return q
		}
	}
	return len(c) - 1
}

// signif2 rounds x to two significant digits, as R's signif(x, 2).
func signif2(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'e', 1, 64), 64)
	return v
}

// normalShiftInterval is R's interval for the shift of sorted, non-zero s at
// level 1 − alpha when the test uses the normal approximation.
//
// R finds the ends as roots, in d, of the continuity-corrected statistic
// W(d) of the differences s − d against ±z₁₋α/₂ (uniroot, tolerance 1e-4).
// Between two consecutive distinct Walsh averages W(d) is constant: the sum of
// the positive ranks of s − d is the number N(d) of Walsh averages above d,
// and its variance n(n+1)(2n+1)/24 − Σ(t³−t)/48 depends only on the groups t of
// equal values in s. So each root is a Walsh average, found here by its rank
// instead of by iteration: with μ = n(n+1)/4 and σ that standard deviation,
// W(d) = (N(d) − μ − ½·sign(N(d) − μ))/σ falls below z just after the j-th
// smallest Walsh average with j = ⌊μ − ½ − zσ⌋ + 1, and below −z just after
// the one of rank ⌊μ + ½ + zσ⌋ + 1. Before that, R checks W at the smallest
// and largest difference (where it drops them as zeros) and, while the level
// cannot be reached there, doubles alpha; the level is then the one achieved.
// When every value of s is equal R returns NaN; the interval here is that
// value (Wilcoxon handles fewer than 50 such values as exact).
func normalShiftInterval(s []float64, alpha float64) Interval {
	n := len(s)
	if s[0] == s[n-1] {
		return Interval{Lo: s[0], Hi: s[0], Level: 1 - alpha}
	}
	// Σ(t³ − t) over the groups of equal values, and the sizes of the lowest
	// and highest group.
	var tieSum float64
	first, last := 0, 0
	for i := 0; i < n; {
		j := i + 1
		for j < n && s[j] == s[i] {
			j++
		}
		t := float64(j - i)
		tieSum += t*t*t - t
		if i == 0 {
			first = j - i
		}
		last = j - i
		i = j
	}
	// W at an end of the range, where that end's group are zeros and dropped and
	// every other difference lies on one side: its magnitude.
	edge := func(group int) float64 {
		k := float64(n - group)
		t := float64(group)
		sd := math.Sqrt(k*(k+1)*(2*k+1)/24 - (tieSum-(t*t*t-t))/48)
		e := k * (k + 1) / 4
		return (e - 0.5) / sd
	}
	wMin, wMax := edge(first), -edge(last)
	a := alpha
	for a < 1 {
		z := zQuantile(1 - a)
		if wMin-z < 0 || wMax+z > 0 {
			a *= 2
			continue
		}
		break
	}
	level := 1 - alpha
	if a >= 1 || alpha < 0.75*a {
		level = 1 - math.Min(1, a)
	}
	if a >= 1 {
		med := (s[(n+1)/2-1] + s[n/2]) / 2
		return Interval{Lo: med, Hi: med, Level: level}
	}
	fn := float64(n)
	m := n * (n + 1) / 2
	mu := fn * (fn + 1) / 4
	zs := zQuantile(1-a) * math.Sqrt(fn*(fn+1)*(2*fn+1)/24-tieSum/48)
	rank := func(x float64) int { return min(max(int(math.Floor(x))+1, 1), m) }
	return Interval{Lo: walshSelect(s, rank(mu-0.5-zs)), Hi: walshSelect(s, rank(mu+0.5+zs)), Level: level}
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

// walshSelect returns the k-th smallest (1-based) Walsh average of sorted s.
// It bisects between a value with fewer than k averages at or below it and
// one with at least k, at the midpoint of their values (each step halves the
// averages left between them when they are spread smoothly) or, where that
// midpoint does not fall strictly between, of their ordered float64 keys (at
// most 64 such steps). Once few averages lie between the two (a sixteenth of
// len(s)), they are listed and the one sought is picked from them. Each step
// counts in O(n): O(n log n) overall.
func walshSelect(s []float64, k int) float64 {
	n := len(s)
	m := n * (n + 1) / 2
	// lo has cLo < k averages at or below it, hi has cHi ≥ k.
	lo, hi := orderedKey(walsh(s[0], s[0]))-1, orderedKey(walsh(s[n-1], s[n-1]))
	cLo, cHi := 0, m
	for hi-lo > 1 {
		if cHi-cLo <= max(n/16, 64) {
			return walshPick(s, fromOrderedKey(lo), fromOrderedKey(hi), k-cLo, cHi-cLo)
		}
		mid := orderedKey((fromOrderedKey(lo) + fromOrderedKey(hi)) / 2)
		if mid <= lo || mid >= hi {
			mid = lo + (hi-lo)/2
		}
		if c := walshCount(s, fromOrderedKey(mid)); c >= k {
			hi, cHi = mid, c
		} else {
			lo, cLo = mid, c
		}
	}
	return fromOrderedKey(hi)
}

// walshPick returns the k-th smallest (1-based) of the count Walsh averages
// of sorted s that lie in (lo, hi], by listing them: rows i, columns j ≥ i,
// with two boundaries that only move left as i grows.
func walshPick(s []float64, lo, hi float64, k, count int) float64 {
	n := len(s)
	w := make([]float64, 0, count)
	a, b := n, n // per row i: walsh(s[i], s[j]) > lo for j ≥ a, > hi for j ≥ b
	for i := 0; i < n; i++ {
		for a > i && walsh(s[i], s[a-1]) > lo {
			a--
		}
		for b > i && walsh(s[i], s[b-1]) > hi {
			b--
		}
		for j := max(a, i); j < b; j++ {
			w = append(w, walsh(s[i], s[j]))
		}
	}
	slices.Sort(w)
	return w[k-1]
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
