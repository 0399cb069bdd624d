package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// A Detectable is the resolution of a paired comparison: the smallest change
// the suite could have detected.
type Detectable struct {
	// Effect is the smallest |B − A| the test detects with the given power at
	// level alpha, in the direction of its alternative; +Inf when no change
	// can be detected.
	Effect float64
	// Discordance is the share of discordant pairs (for a mean, the mean
	// squared difference) under the alternative: the observed one plus
	// Effect, since a real change of δ adds discordant pairs.
	Discordance float64
	Warnings    []error
}

// MinDetectable returns the minimum detectable effect of McNemar's exact test
// on n pairs at level alpha in the direction alt, with the given power, when
// the comparison without the change has the given share of discordant pairs
// (its noise).
//
// A real change adds discordant pairs: a loss of δ planted as extra failures
// turns a share δ of the cases that passed on both sides into losses, so the
// test sees discordance ψ(δ) = ψ + δ, not ψ. Holding the discordance fixed at
// the observed ψ, as Connor's formula is usually applied, overstates the power
// at the effect it reports (a regression planted at it was caught 60% of the
// time, not 80%). MinDetectable solves for δ with ψ(δ) = min(1, ψ + δ),
// starting from Connor's normal approximation (Connor 1987, Biometrics
// 43:207–211),
//
//	√n·δ = z(α)·√ψ(δ) + z(power)·√(ψ(δ) − δ²)
//
// (z(α) the one- or two-sided quantile), and then refining δ to the root of
// the exact power of the exact test, McNemarPower. A loss planted as a
// proportional loss (every passing case fails with the same probability)
// adds less discordance, so the effect holds for it too.
func MinDetectable(n int, discordance, alpha, power float64, alt Alternative) Detectable {
	checkLevel("alpha", alpha)
	checkLevel("power", power)
	if !(discordance >= 0 && discordance <= 1) {
		panic("stats: discordance must be in [0, 1]")
	}
	r := Detectable{Effect: math.Inf(1), Discordance: 1}
	if n <= 0 {
		r.Warnings = append(r.Warnings, fmt.Errorf("no pairs: no change is detectable"))
		return r
	}
	psi := func(d float64) float64 { return math.Min(1, discordance+d) }
	za, zb, fn := zAlpha(alpha, alt), distuv.UnitNormal.Quantile(power), float64(n)
	g := func(d float64) float64 {
		p := psi(d)
		return math.Sqrt(fn)*d - za*math.Sqrt(p) - zb*math.Sqrt(math.Max(0, p-d*d))
	}
	if g(1) < 0 {
		r.Warnings = append(r.Warnings, tooFewPairs(n, alpha, power))
		return r
	}
	d := bisect(g, 0, 1)
	sign := 1.0
	if alt == Less {
		sign = -1
	}
	exact := func(d float64) float64 { return McNemarPower(n, psi(d), sign*d, alpha, alt) - power }
	d, ok := refine(exact, d, n)
	if !ok {
		r.Warnings = append(r.Warnings, tooFewPairs(n, alpha, power))
		return r
	}
	r.Effect, r.Discordance = d, psi(d)
	return r
}

// MinDetectableMean returns the minimum detectable effect of a t test of the
// mean of n paired differences in [−1, 1] (pass shares of cases averaged over
// their samples, or pass/fail outcomes with clusters) at level alpha in the
// direction alt, with the given power. secondMoment is the mean squared
// difference of the comparison without the change (for pass/fail outcomes,
// the discordance), designEffect the variance inflation of clustering (at
// least 1 is used), and df the degrees of freedom of the test (G − 1 with G
// clusters, n − 1 without).
//
// As in MinDetectable, a change of δ adds δ to the mean squared difference,
// so the standard error under the alternative is
// SE(δ) = √(c·DE·(m₂ + δ − δ²)/n), and δ solves δ = (t(α) + t(power))·SE(δ)
// with Student's t quantiles on df degrees of freedom. Two small-sample
// corrections make the resolution hold with few clusters, where the variance
// is itself a noisy estimate (a resolution computed from a low one is too
// small): the t quantiles, and c = df/χ²(0.3; df), the 70% upper confidence
// limit of the variance over its estimate (as Browne 1995 advises for a
// variance taken from a pilot study); c is 1.14 at 30 clusters and 1.04 at
// 300. Below MinPowerClusters clusters no resolution is stated (+Inf with a
// warning): the cluster-robust standard error is too unreliable there.
func MinDetectableMean(n int, secondMoment, designEffect, df, alpha, power float64, alt Alternative) Detectable {
	checkLevel("alpha", alpha)
	checkLevel("power", power)
	r := Detectable{Effect: math.Inf(1), Discordance: math.NaN()}
	if n <= 0 {
		r.Warnings = append(r.Warnings, fmt.Errorf("no pairs: no change is detectable"))
		return r
	}
	if !(df >= 1) {
		r.Warnings = append(r.Warnings, tooFewPairs(n, alpha, power))
		return r
	}
	if df+1 < MinPowerClusters {
		r.Warnings = append(r.Warnings, fmt.Errorf("only %.0f independent units (clusters, or cases where none share one): too few to state the smallest detectable change (need ≥ %d)", df+1, MinPowerClusters))
		return r
	}
	de := designEffect
	if !(de >= 1) {
		de = 1 // NaN (no variation) or a chance value below 1
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	a := alpha
	if alt == TwoSided {
		a /= 2
	}
	k := t.Quantile(1-a) + t.Quantile(power)
	// The variance is estimated from df + 1 clusters: plan with its upper
	// confidence limit, so that a resolution printed from a low estimate
	// still holds (Browne 1995).
	de *= df / distuv.ChiSquared{K: df}.Quantile(1-varianceUCL)
	fn := float64(n)
	m2 := func(d float64) float64 { return math.Min(1, secondMoment+d) }
	g := func(d float64) float64 { return d - k*math.Sqrt(de*math.Max(0, m2(d)-d*d)/fn) }
	if g(1) < 0 {
		r.Warnings = append(r.Warnings, tooFewPairs(n, alpha, power))
		return r
	}
	r.Effect = bisect(g, 0, 1)
	r.Discordance = m2(r.Effect)
	return r
}

// varianceUCL is the confidence of the upper limit of the estimated variance
// MinDetectableMean plans with.
const varianceUCL = 0.7

// MinPowerClusters is the fewest clusters with which MinDetectableMean states
// a resolution. With fewer, the CR1 standard error is biased low by a factor
// that depends on how unequal the clusters are (Cameron & Miller 2015), and
// no t correction makes a stated power trustworthy.
const MinPowerClusters = 20

// bisect returns the root of g in [lo, hi], where g(lo) < 0 ≤ g(hi) and g is
// increasing, to 1e-12.
func bisect(g func(float64) float64, lo, hi float64) float64 {
	for range 200 {
		mid := (lo + hi) / 2
		if g(mid) < 0 {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-12 {
			break
		}
	}
	return hi
}

// refine moves the effect d0 from the normal approximation to the root of f,
// the exact power of the exact test less the target: Connor's approximation
// overstates the power of the exact test by a point or two. It reports false
// when no effect up to 1 reaches the power.
func refine(f func(float64) float64, d0 float64, n int) (float64, bool) {
	lo, hi := d0, d0
	flo := f(lo)
	fhi := flo
	for step := 0; fhi < 0; step++ {
		if hi >= 1 || step > 60 {
			return math.Inf(1), false
		}
		lo, flo = hi, fhi
		hi = math.Min(1, hi*1.05+1/float64(n))
		fhi = f(hi)
	}
	for step := 0; flo >= 0; step++ {
		if step > 60 {
			break
		}
		hi, fhi = lo, flo
		lo = lo * 0.95
		flo = f(lo)
	}
	// Illinois regula falsi on a continuous, increasing function.
	side := 0
	for range 100 {
		if hi-lo <= 1e-10*hi || flo >= 0 {
			break
		}
		m := hi - fhi*(hi-lo)/(fhi-flo)
		if !(m > lo && m < hi) {
			m = (lo + hi) / 2
		}
		fm := f(m)
		if fm >= 0 {
			hi, fhi = m, fm
			if side == -1 {
				flo /= 2
			}
			side = -1
		} else {
			lo, flo = m, fm
			if side == 1 {
				fhi /= 2
			}
			side = 1
		}
	}
	return hi, true
}

// McNemarPower returns the exact power of McNemar's exact test at level alpha
// in the direction alt on n pairs when a share discordance of them flips and
// the pass rate changes by diff = B − A (|diff| ≤ discordance): the number of
// discordant pairs is Binomial(n, discordance) and, given k of them, the
// gains are Binomial(k, (1 + diff/discordance)/2). The one-sided test for a
// loss (Less) rejects when the gains are at most the largest c with
// P(Binomial(k, ½) ≤ c) ≤ alpha; the two-sided test rejects in either tail at
// alpha/2, R's binom.test rule for a symmetric distribution.
//
// It sums over the k within nine standard deviations of the mean, carrying
// every binomial probability from one k to the next by recurrence, so a call
// costs a few multiplications per k instead of an incomplete beta function:
// the minimum detectable effect solves for it a dozen times per metric.
func McNemarPower(n int, discordance, diff, alpha float64, alt Alternative) float64 {
	checkLevel("alpha", alpha)
	if discordance <= 0 || n <= 0 {
		return 0
	}
	if math.Abs(diff) > discordance {
		panic("stats: McNemarPower needs |diff| ≤ discordance")
	}
	tail := alpha
	if alt == TwoSided {
		tail = alpha / 2
	}
	discordance = math.Min(discordance, 1)
	q := (1 + diff/discordance) / 2 // P(a discordant pair is a gain)
	mean, sd := float64(n)*discordance, math.Sqrt(float64(n)*discordance*(1-discordance))
	lo := max(1, int(math.Floor(mean-9*sd-10)))
	hi := min(n, int(math.Ceil(mean+9*sd+10)))
	if discordance == 1 {
		lo = n // every pair is discordant
	}
	count := newBinomialTail(n, lo, discordance) // count.pmf is P(K = k) for the k of the loop
	c := criticalTail(lo, tail)
	// next is P(Binomial(k, ½) ≤ c+1): whether the critical value grows.
	next := newBinomialTail(lo, c+1, 0.5)
	// gains and losses are P(gains ≤ c) and P(losses ≤ c): the test for a
	// loss rejects on few gains, the test for a gain on few losses; valid
	// once c ≥ 0.
	var gains, losses binomialTail
	if c >= 0 {
		gains, losses = newBinomialTail(lo, c, q), newBinomialTail(lo, c, 1-q)
	}
	power := 0.0
	for k := lo; k <= hi; k++ {
		if k > lo {
			count.nextC()
			next.nextK()
			if c >= 0 {
				gains.nextK()
				losses.nextK()
			}
		}
		for next.c <= (k-1)/2 && next.cdf <= tail {
			c++
			next.nextC()
			if c == 0 {
				gains, losses = newBinomialTail(k, 0, q), newBinomialTail(k, 0, 1-q)
			} else {
				gains.nextC()
				losses.nextC()
			}
		}
		if c < 0 {
			continue
		}
		switch alt {
		case Less:
			power += count.pmf * gains.cdf
		case Greater:
			power += count.pmf * losses.cdf
		default:
			power += count.pmf * (gains.cdf + losses.cdf)
		}
	}
	return math.Min(power, 1)
}

// A binomialTail holds P(X = c) and P(X ≤ c) for X ~ Binomial(k, p) and moves
// them to k+1 or c+1 by the binomial recurrences, exactly up to rounding: each
// step adds or removes a term no larger than the tail, so no precision is lost
// to cancellation.
type binomialTail struct {
	k, c     int
	p        float64
	pmf, cdf float64
}

func newBinomialTail(k, c int, p float64) binomialTail {
	t := binomialTail{k: k, c: c, p: p}
	switch {
	case c < 0:
	case c >= k:
		t.pmf, t.cdf = binomialPMF(k, c, p), 1
	default:
		t.pmf = binomialPMF(k, c, p)
		t.cdf = distuv.Binomial{N: float64(k), P: p}.CDF(float64(c))
	}
	return t
}

// binomialPMF is P(X = c) for X ~ Binomial(k, p), p in [0, 1].
func binomialPMF(k, c int, p float64) float64 {
	switch {
	case c < 0 || c > k:
		return 0
	case p == 0:
		return b2f(c == 0)
	case p == 1:
		return b2f(c == k)
	}
	return math.Exp(distuv.Binomial{N: float64(k), P: p}.LogProb(float64(c)))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// nextK moves from Binomial(k, p) to Binomial(k+1, p): the tail loses the
// outcomes at c followed by a success.
func (t *binomialTail) nextK() {
	t.cdf -= t.p * t.pmf
	t.k++
	t.pmf *= float64(t.k) / float64(t.k-t.c) * (1 - t.p)
}

// nextC moves the tail's end from c to c+1 < k.
func (t *binomialTail) nextC() {
	if t.pmf != 0 {
		t.pmf *= float64(t.k-t.c) / float64(t.c+1) * t.p / (1 - t.p)
	}
	t.c++
	t.cdf += t.pmf
}

// criticalTail returns the largest x < k/2 with P(Binomial(k, ½) ≤ x) ≤ tail,
// or −1 when there is none.
func criticalTail(k int, tail float64) int {
	b := distuv.Binomial{N: float64(k), P: 0.5}
	// Start from the normal approximation and walk to the exact boundary.
	x := int(math.Floor(float64(k)/2 - distuv.UnitNormal.Quantile(1-tail)*math.Sqrt(float64(k))/2))
	x = max(-1, min(x, (k-1)/2))
	for x >= 0 && b.CDF(float64(x)) > tail {
		x--
	}
	for x+1 <= (k-1)/2 && b.CDF(float64(x+1)) <= tail {
		x++
	}
	return x
}

// tooFewPairs is the warning that n pairs cannot detect any change.
func tooFewPairs(n int, alpha, power float64) error {
	pairs := fmt.Sprintf("%d pairs are", n)
	if n == 1 {
		pairs = "1 pair is"
	}
	return fmt.Errorf("%s too few to detect any change at alpha %.3g with power %.3g", pairs, alpha, power)
}
