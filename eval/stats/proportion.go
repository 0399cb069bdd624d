package stats

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// A Proportion is a share of successes with its Wilson score interval.
type Proportion struct {
	K, N     int     // successes out of trials
	P        float64 // K/N, NaN when N is 0
	CI       Interval
	Warnings []error
}

// Wilson returns the proportion k/n with its Wilson score interval at the
// given confidence level, without continuity correction; R's
// prop.test(k, n, correct = FALSE)$conf.int.
func Wilson(k, n int, level float64) Proportion {
	checkLevel("level", level)
	if k < 0 || k > n {
		panic("stats: Wilson needs 0 ≤ k ≤ n")
	}
	r := Proportion{K: k, N: n, P: math.NaN(), CI: Interval{math.NaN(), math.NaN(), level}}
	if n == 0 {
		r.Warnings = append(r.Warnings, errors.New("no trials: the proportion is undefined"))
		return r
	}
	r.P = float64(k) / float64(n)
	r.CI.Lo, r.CI.Hi = wilson(k, n, zQuantile(level))
	return r
}

// WilsonShare returns Wilson's score interval for a mean share p of n units
// whose values lie in [0, 1] (a case's share of samples that pass), at the
// given level: the interval of a proportion p of n trials. Values in [0, 1]
// with mean p vary no more than pass/fail outcomes would (their variance is
// at most p(1 − p)), so it covers at least as well as for a proportion, and
// it stays sensible where a t interval collapses (every share 1).
func WilsonShare(p float64, n int, level float64) Interval {
	checkLevel("level", level)
	iv := Interval{math.NaN(), math.NaN(), level}
	if n > 0 && p >= 0 && p <= 1 {
		iv.Lo, iv.Hi = wilsonP(p, n, zQuantile(level))
	}
	return iv
}

// wilson returns the Wilson score interval of k/n for the normal quantile z,
// computed as R's prop.test does.
func wilson(k, n int, z float64) (lo, hi float64) {
	return wilsonP(float64(k)/float64(n), n, z)
}

// wilsonP is wilson for the share p of n.
func wilsonP(p float64, n int, z float64) (lo, hi float64) {
	fn := float64(n)
	z22n := z * z / (2 * fn)
	half := z * math.Sqrt(p*(1-p)/fn+z22n/(2*fn))
	lo, hi = 0, 1
	if p > 0 {
		lo = math.Max(0, (p+z22n-half)/(1+2*z22n))
	}
	if p < 1 {
		hi = math.Min(1, (p+z22n+half)/(1+2*z22n))
	}
	return lo, hi
}

// PairCounts is the 2×2 table of paired binary outcomes of the same cases under
// A (the baseline) and B (the candidate).
type PairCounts struct {
	Both    int // passed under A and B
	OnlyA   int // passed under A only: a loss when A is the baseline
	OnlyB   int // passed under B only: a gain
	Neither int // failed under both
}

// CountPairs tabulates paired outcomes; a[i] and b[i] are case i under A and B.
// It panics if the slices differ in length.
func CountPairs(a, b []bool) PairCounts {
	if len(a) != len(b) {
		panic("stats: CountPairs needs slices of equal length")
	}
	var c PairCounts
	for i, x := range a {
		switch y := b[i]; {
		case x && y:
			c.Both++
		case x:
			c.OnlyA++
		case y:
			c.OnlyB++
		default:
			c.Neither++
		}
	}
	return c
}

// N returns the number of pairs.
func (c PairCounts) N() int { return c.Both + c.OnlyA + c.OnlyB + c.Neither }

// Discordant returns the number of pairs whose outcome flipped.
func (c PairCounts) Discordant() int { return c.OnlyA + c.OnlyB }

// MinDiscordant returns the fewest discordant pairs with which McNemar's exact
// two-sided test can reach significance at alpha: all of them flipped the same
// way, p = 2·0.5^k ≤ alpha. At alpha 0.05 it is 6.
func MinDiscordant(alpha float64) int {
	checkLevel("alpha", alpha)
	return int(math.Ceil(math.Log2(2/alpha) - 1e-12))
}

// A McNemar is McNemar's test of paired binary outcomes: did the pass rate
// change between A and B?
type McNemar struct {
	Counts PairCounts
	// P is the exact two-sided p-value: a binomial test of OnlyB successes in
	// OnlyA+OnlyB trials at probability 1/2 (R's binom.test(b, b+c)$p.value).
	P float64
	// ChiSq and ChiSqP are the asymptotic test with continuity correction
	// (R's mcnemar.test); NaN when there are no discordant pairs.
	ChiSq, ChiSqP float64
	Warnings      []error
}

// McNemarTest tests whether the pass rates of A and B differ, using only the
// discordant pairs. Alpha is used only for the warnings.
func McNemarTest(c PairCounts, alpha float64) McNemar {
	k := c.Discordant()
	r := McNemar{Counts: c, P: 1, ChiSq: math.NaN(), ChiSqP: math.NaN()}
	if min := MinDiscordant(alpha); k < min {
		r.Warnings = append(r.Warnings, fmt.Errorf("need ≥ %d discordant pairs to detect a difference at alpha %g, have %d", min, alpha, k))
	}
	if k == 0 {
		return r
	}
	r.P = binomTwoSidedHalf(min(c.OnlyA, c.OnlyB), k)
	yates := 1.0
	if c.OnlyA == c.OnlyB {
		yates = 0 // R applies the correction only when the table is asymmetric
	}
	d := math.Abs(float64(c.OnlyA-c.OnlyB)) - yates
	r.ChiSq = d * d / float64(k)
	r.ChiSqP = distuv.ChiSquared{K: 1}.Survival(r.ChiSq)
	return r
}

// binomTwoSidedHalf is the two-sided p-value of x (the smaller tail) successes
// in k trials at probability 1/2: the distribution is symmetric, so R's rule of
// summing the outcomes no more likely than x doubles the smaller tail.
func binomTwoSidedHalf(x, k int) float64 {
	if 2*x == k {
		return 1
	}
	return math.Min(1, 2*distuv.Binomial{N: float64(k), P: 0.5}.CDF(float64(x)))
}

// A PairedDiff is the change in pass rate from A to B on the same cases.
type PairedDiff struct {
	Counts PairCounts
	A, B   float64 // pass rates
	Diff   float64 // B − A
	// CI is Newcombe's hybrid score interval for paired data (his method 10):
	// the Wilson intervals of A and B combined by square-and-add with the
	// estimated correlation of the pairs.
	CI       Interval
	Warnings []error
}

// DiffPaired returns the paired difference in pass rate, B − A, with Newcombe's
// method 10 interval at the given confidence level (Newcombe 1998, Statist. Med.
// 17:2635–2650; as in Fagerland, Lydersen & Laake 2014, Statist. Med.
// 33:2850–2875, which recommends it).
func DiffPaired(c PairCounts, level float64) PairedDiff {
	checkLevel("level", level)
	n := c.N()
	nan := math.NaN()
	r := PairedDiff{Counts: c, A: nan, B: nan, Diff: nan, CI: Interval{nan, nan, level}}
	if n == 0 {
		r.Warnings = append(r.Warnings, errors.New("no pairs: the difference is undefined"))
		return r
	}
	r.A, r.B = float64(c.Both+c.OnlyA)/float64(n), float64(c.Both+c.OnlyB)/float64(n)
	r.Diff = float64(c.OnlyB-c.OnlyA) / float64(n)
	r.CI.Lo, r.CI.Hi = newcombe(c, zQuantile(level))
	if c.Discordant() == 0 {
		r.Warnings = append(r.Warnings, errors.New("no case flipped: the interval reflects the sample size only"))
	}
	return r
}

// newcombe returns the ends of Newcombe's method 10 interval for B − A with
// the normal quantile z; n must be positive.
func newcombe(c PairCounts, z float64) (lo, hi float64) {
	n := c.N()
	fn := float64(n)
	// In Newcombe's notation process 1 is B and process 2 is A.
	k1, k2 := c.Both+c.OnlyB, c.Both+c.OnlyA
	p1, p2 := float64(k1)/fn, float64(k2)/fn
	l1, u1 := wilson(k1, n, z)
	l2, u2 := wilson(k2, n, z)
	phi := newcombePhi(c)
	d := float64(c.OnlyB-c.OnlyA) / fn
	lo = d - math.Sqrt(sq(p1-l1)-2*phi*(p1-l1)*(u2-p2)+sq(u2-p2))
	hi = d + math.Sqrt(sq(u1-p1)-2*phi*(u1-p1)*(p2-l2)+sq(p2-l2))
	return lo, hi
}

// NewcombeP returns the p-value of the test that Newcombe's interval
// (DiffPaired) inverts, for the null value null of B − A and the alternative
// alt: for Less, the one-sided level 1 − Φ(z) of the quantile z at which the
// interval's upper end reaches null, so that the upper end at level 1 − 2α
// lies below null exactly when NewcombeP(c, null, Less) < α; Greater
// likewise with the lower end; two-sided, twice the smaller of the two. When
// B − A equals null the one-sided p-values are ½. The test and the interval
// the reports print are thereby one: a verdict read from the p-value is the
// one the interval shows. NaN when there are no pairs.
//
// TestNewcombeSize checks its level by simulation: with no change, and with a
// loss of exactly the null value, the one-sided test at 5% rejects at most 5%
// of the time, conservatively with few pairs (docs/statistics.md has the
// figures, and McNemar's exact test's beside them).
func NewcombeP(c PairCounts, null float64, alt Alternative) float64 {
	if c.N() == 0 || math.IsNaN(null) {
		return math.NaN()
	}
	d := float64(c.OnlyB-c.OnlyA) / float64(c.N())
	// tail is the one-sided p-value towards the side of null that d lies on:
	// the level at which the interval's end on that side reaches null.
	tail := func(upper bool) float64 {
		end := func(z float64) float64 {
			lo, hi := newcombe(c, z)
			if upper {
				return hi - null
			}
			return null - lo
		}
		const zMax = 38 // Φ(−38) underflows to 0 in float64
		if end(zMax) < 0 {
			return distuv.UnitNormal.Survival(zMax)
		}
		return distuv.UnitNormal.Survival(bisect(end, 0, zMax))
	}
	var less, greater float64
	switch {
	case d == null:
		less, greater = 0.5, 0.5
	case d < null:
		less = tail(true)
		greater = 1 - less
	default:
		greater = tail(false)
		less = 1 - greater
	}
	switch alt {
	case Less:
		return less
	case Greater:
		return greater
	}
	return math.Min(1, 2*math.Min(less, greater))
}

// newcombePhi is Newcombe's continuity-corrected estimate of the correlation
// between the two outcomes of a pair, 0 when a margin is empty.
func newcombePhi(c PairCounts) float64 {
	a, b, cc, d := float64(c.Both), float64(c.OnlyB), float64(c.OnlyA), float64(c.Neither)
	if a+b == 0 || cc+d == 0 || a+cc == 0 || b+d == 0 {
		return 0
	}
	n := a + b + cc + d
	den := math.Sqrt((a + b) * (cc + d) * (a + cc) * (b + d))
	switch x := a*d - b*cc; {
	case x > n/2:
		return (x - n/2) / den
	case x >= 0:
		return 0
	default:
		return x / den
	}
}

func sq(x float64) float64 { return x * x }
