package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// A Detectable is the resolution of a paired pass-rate comparison: the smallest
// change in pass rate the suite could have detected.
type Detectable struct {
	// Effect is the smallest |B − A| in pass rate that McNemar's test detects
	// with the stated power at two-sided alpha; +Inf when no change can be.
	Effect float64
	// Discordance is the share of discordant pairs the calculation assumed:
	// the observed one, or Effect itself when that is larger (a change of δ
	// flips at least a share δ of the cases).
	Discordance float64
	Warnings    []error
}

// MinDetectable returns the minimum detectable effect of McNemar's test on n
// pairs with the given share of discordant pairs, at two-sided alpha and the
// given power, by Connor's normal approximation (Connor 1987, Biometrics
// 43:207–211) solved for the difference δ:
//
//	√n·δ = z(1−α/2)·√ψ + z(power)·√(ψ − δ²)
//	δ = (z(1−α/2)·√(nψ) + z(power)·√(ψ(n + z(power)² − z(1−α/2)²))) / (n + z(power)²)
//
// where ψ is the discordance. When δ exceeds the observed ψ (few flips), ψ is
// raised to δ and the equation solved again, since a true change of δ flips
// at least a share δ of the cases.
func MinDetectable(n int, discordance, alpha, power float64) Detectable {
	checkLevel("alpha", alpha)
	checkLevel("power", power)
	if n <= 0 {
		return Detectable{Effect: math.Inf(1), Discordance: discordance,
			Warnings: []error{fmt.Errorf("no pairs: no change is detectable")}}
	}
	if !(discordance >= 0 && discordance <= 1) {
		panic("stats: discordance must be in [0, 1]")
	}
	za := distuv.UnitNormal.Quantile(1 - alpha/2)
	zb := distuv.UnitNormal.Quantile(power)
	fn := float64(n)
	r := Detectable{Discordance: discordance}
	psi := discordance
	if d, ok := connor(fn, psi, za, zb); ok && d > 0 && d <= psi {
		r.Effect = d
		return r.refine(n, discordance, alpha, power)
	}
	// ψ = δ: solve g(δ) = √n·δ − za·√δ − zb·√(δ − δ²) = 0 on (0, 1].
	g := func(d float64) float64 { return math.Sqrt(fn)*d - za*math.Sqrt(d) - zb*math.Sqrt(d-d*d) }
	if g(1) < 0 {
		r.Effect, r.Discordance = math.Inf(1), 1
		r.Warnings = append(r.Warnings, tooFewPairs(n, alpha, power))
		return r
	}
	lo, hi := 0.0, 1.0
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
	r.Effect, r.Discordance = hi, hi
	return r.refine(n, discordance, alpha, power)
}

// refine moves r.Effect from Connor's approximation to the root of the exact
// power of the exact test: Connor's normal approximation overstates the
// power of the exact test by a point or two.
func (r Detectable) refine(n int, discordance, alpha, power float64) Detectable {
	f := func(d float64) float64 {
		return McNemarPower(n, math.Max(discordance, d), d, alpha) - power
	}
	lo, hi := r.Effect, r.Effect
	flo := f(lo)
	fhi := flo
	for step := 0; fhi < 0; step++ {
		if hi >= 1 || step > 60 {
			r.Effect, r.Discordance = math.Inf(1), 1
			r.Warnings = append(r.Warnings, tooFewPairs(n, alpha, power))
			return r
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
	for range 60 {
		if hi-lo <= 1e-5*hi || flo >= 0 {
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
	r.Effect, r.Discordance = hi, math.Max(discordance, hi)
	return r
}

// connor solves Connor's equation for δ at discordance psi.
func connor(n, psi, za, zb float64) (float64, bool) {
	m := n + zb*zb - za*za
	if m < 0 {
		return 0, false
	}
	return (za*math.Sqrt(psi*n) + zb*math.Sqrt(psi*m)) / (n + zb*zb), true
}

// McNemarPower returns the exact power of McNemar's exact two-sided test at
// alpha on n pairs when a share discordance of them flips and the pass rate
// changes by diff (|diff| ≤ discordance): the number of discordant pairs is
// Binomial(n, discordance) and, given k of them, the gains are
// Binomial(k, (1 + diff/discordance)/2).
//
// It sums over the k within nine standard deviations of the mean, carrying
// every binomial probability from one k to the next by recurrence, so a call
// costs a few multiplications per k instead of an incomplete beta function:
// the minimum detectable effect solves for it a dozen times per metric.
func McNemarPower(n int, discordance, diff, alpha float64) float64 {
	checkLevel("alpha", alpha)
	if discordance <= 0 || n <= 0 {
		return 0
	}
	diff = math.Abs(diff)
	if diff > discordance {
		panic("stats: McNemarPower needs |diff| ≤ discordance")
	}
	discordance = math.Min(discordance, 1)
	q := (1 + diff/discordance) / 2
	mean, sd := float64(n)*discordance, math.Sqrt(float64(n)*discordance*(1-discordance))
	lo := max(1, int(math.Floor(mean-9*sd-10)))
	hi := min(n, int(math.Ceil(mean+9*sd+10)))
	if discordance == 1 {
		lo = n // every pair is discordant
	}
	count := newBinomialTail(n, lo, discordance) // count.pmf is P(K = k) for the k of the loop
	c := criticalHalf(lo, alpha)
	// next is P(Binomial(k, ½) ≤ c+1): whether the critical value grows.
	next := newBinomialTail(lo, c+1, 0.5)
	// gains and losses are P(gains ≤ c) and P(losses ≤ c), the two ways to
	// reject; valid once c ≥ 0.
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
		for next.c <= (k-1)/2 && 2*next.cdf <= alpha {
			c++
			next.nextC()
			if c == 0 {
				gains, losses = newBinomialTail(k, 0, q), newBinomialTail(k, 0, 1-q)
			} else {
				gains.nextC()
				losses.nextC()
			}
		}
		if c >= 0 {
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

// criticalHalf returns the largest x < k/2 with 2·P(Binomial(k, ½) ≤ x) ≤ alpha,
// or −1 when there is none.
func criticalHalf(k int, alpha float64) int {
	b := distuv.Binomial{N: float64(k), P: 0.5}
	// Start from the normal approximation and walk to the exact boundary.
	x := int(math.Floor(float64(k)/2 - distuv.UnitNormal.Quantile(1-alpha/2)*math.Sqrt(float64(k))/2))
	x = max(-1, min(x, (k-1)/2))
	for x >= 0 && 2*b.CDF(float64(x)) > alpha {
		x--
	}
	for x+1 <= (k-1)/2 && 2*b.CDF(float64(x+1)) <= alpha {
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
