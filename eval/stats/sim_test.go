package stats

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// simulations is the number of simulated data sets per scenario. A rejection
// rate estimated from it has standard error √(p(1−p)/simulations): 0.0049 at
// p = 0.05 and 0.0089 at p = 0.8; the tests allow three of them.
const simulations = 2000

// slack is three standard errors of a rate p estimated from simulations runs.
func slack(p float64) float64 { return 3 * math.Sqrt(p*(1-p)/simulations) }

// pairs simulates n paired outcomes with P(pass A only) = pA and P(pass B
// only) = pB; the rest pass or fail under both alike.
func pairs(rng *rand.Rand, n int, pA, pB float64) (a, b []bool) {
	a, b = make([]bool, n), make([]bool, n)
	for i := range a {
		switch u := rng.Float64(); {
		case u < pA:
			a[i] = true
		case u < pA+pB:
			b[i] = true
		case u < 0.5+pA+pB:
			a[i], b[i] = true, true
		}
	}
	return a, b
}

// TestMcNemarSize checks that on A/A data (no change, flips equally likely in
// both directions) McNemar's exact test rejects at most alpha of the time.
func TestMcNemarSize(t *testing.T) {
	const alpha = 0.05
	for _, sc := range []struct {
		n   int
		psi float64
	}{{200, 0.1}, {1000, 0.02}, {60, 0.3}} {
		rng := rand.New(rand.NewPCG(uint64(sc.n), 1))
		rejected := 0
		for range simulations {
			a, b := pairs(rng, sc.n, sc.psi/2, sc.psi/2)
			if McNemarTest(CountPairs(a, b), alpha).P <= alpha {
				rejected++
			}
		}
		rate := float64(rejected) / simulations
		t.Logf("A/A n=%d ψ=%g: rejected %.4f (limit %.4f)", sc.n, sc.psi, rate, alpha+slack(alpha))
		if rate > alpha+slack(alpha) || rate < alpha/4 {
			t.Errorf("A/A n=%d ψ=%g: McNemar rejected %.4f of data sets, want ≤ %g (+%.4f) and > %g", sc.n, sc.psi, rate, alpha, slack(alpha), alpha/4)
		}
	}
}

// TestMcNemarPowerAtMinDetectable plants a change of exactly the reported
// minimum detectable effect, with the discordant pairs it adds (the noise ψ
// stays, the change's own flips come on top), and checks that McNemar's exact
// test catches it as often as the power the effect was computed for, within
// simulation error on both sides: one-sided for a loss, two-sided for a loss
// and a gain.
func TestMcNemarPowerAtMinDetectable(t *testing.T) {
	const alpha, power = 0.05, 0.8
	for _, sc := range []struct {
		n   int
		psi float64
		alt Alternative
	}{{500, 0.1, Less}, {2000, 0.03, Less}, {1000, 0, Less}, {150, 0.2, TwoSided}, {300, 0.1, TwoSided}} {
		mde := MinDetectable(sc.n, sc.psi, alpha, power, sc.alt)
		signs := []float64{-1}
		if sc.alt == TwoSided {
			signs = append(signs, 1) // a regression and an improvement
		}
		for _, sign := range signs {
			rng := rand.New(rand.NewPCG(uint64(sc.n), 2))
			caught := 0
			for range simulations {
				// The loss (or gain) comes as extra flips on top of the noise.
				pA, pB := sc.psi/2, sc.psi/2
				if sign < 0 {
					pA += mde.Effect
				} else {
					pB += mde.Effect
				}
				a, b := pairs(rng, sc.n, pA, pB)
				if mcnemarRejects(CountPairs(a, b), alpha, sc.alt) {
					caught++
				}
			}
			rate := float64(caught) / simulations
			t.Logf("n=%d ψ=%g %v: effect %+.5f caught %.4f", sc.n, sc.psi, sc.alt, sign*mde.Effect, rate)
			if math.Abs(rate-power) > slack(power) {
				t.Errorf("n=%d ψ=%g %v: a change of %+.5f (the minimum detectable effect) was caught %.4f of the time, want %g ± %.4f",
					sc.n, sc.psi, sc.alt, sign*mde.Effect, rate, power, slack(power))
			}
		}
	}
}

// mcnemarRejects reports whether McNemar's exact test rejects at alpha in the
// direction alt: R's binom.test(b, b + c, alternative = alt) on the gains b.
func mcnemarRejects(c PairCounts, alpha float64, alt Alternative) bool {
	k := c.Discordant()
	if k == 0 {
		return false
	}
	bin := distuv.Binomial{N: float64(k), P: 0.5}
	switch alt {
	case Less:
		return bin.CDF(float64(c.OnlyB)) <= alpha
	case Greater:
		return bin.CDF(float64(c.OnlyA)) <= alpha
	}
	return McNemarTest(c, alpha).P <= alpha
}

// TestWilcoxonSize checks the signed-rank test at its nominal level on
// symmetric null differences: exact (small, continuous), normal approximation
// (large), and with heavy ties and zeros.
func TestWilcoxonSize(t *testing.T) {
	const alpha = 0.05
	for _, sc := range []struct {
		name  string
		n     int
		exact bool
		draw  func(*rand.Rand) float64
	}{
		{"exact n=20", 20, true, func(r *rand.Rand) float64 { return r.NormFloat64() }},
		{"normal n=200", 200, false, func(r *rand.Rand) float64 { return r.NormFloat64() * 5 }},
		{"ties n=80", 80, false, func(r *rand.Rand) float64 { return float64(r.IntN(7) - 3) }},
	} {
		rng := rand.New(rand.NewPCG(uint64(sc.n), 3))
		x, y := make([]float64, sc.n), make([]float64, sc.n)
		rejected := 0
		for range simulations {
			for i := range x {
				x[i] = sc.draw(rng)
			}
			w := Wilcoxon(x, y, alpha)
			if w.Exact != sc.exact {
				t.Fatalf("%s: Exact = %v, want %v", sc.name, w.Exact, sc.exact)
			}
			if w.P <= alpha {
				rejected++
			}
		}
		rate := float64(rejected) / simulations
		t.Logf("%s: rejected %.4f", sc.name, rate)
		if rate > alpha+slack(alpha) || rate < alpha/2 {
			t.Errorf("%s: Wilcoxon rejected %.4f of null data sets, want ≤ %g (+%.4f) and > %g", sc.name, rate, alpha, slack(alpha), alpha/2)
		}
	}
}

// TestDriftSize checks the drift test when the model did not change: each case
// has its own instability, and whether it changed between runs and between
// repeats are independent draws of it.
func TestDriftSize(t *testing.T) {
	const alpha, n = 0.05, 400
	rng := rand.New(rand.NewPCG(7, 8))
	between, within := make([]bool, n), make([]bool, n)
	rejected := 0
	for range simulations {
		for i := range between {
			u := 0.0
			if rng.Float64() < 0.3 { // 30% of cases are unstable, to varying degree
				u = rng.Float64()
			}
			between[i], within[i] = rng.Float64() < u, rng.Float64() < u
		}
		if DriftTest(between, within, alpha).P <= alpha {
			rejected++
		}
	}
	rate := float64(rejected) / simulations
	t.Logf("drift null: rejected %.4f", rate)
	if rate > alpha+slack(alpha) || rate < alpha/4 {
		t.Errorf("DriftTest rejected %.4f of null data sets, want ≤ %g (+%.4f) and > %g", rate, alpha, slack(alpha), alpha/4)
	}
}

// TestNewcombeSize checks the one-sided test that Newcombe's interval inverts
// (NewcombeP) at its nominal level: with no change (null 0) and with a loss
// of exactly the null value θ (the boundary of "a loss of at most θ", which
// the gate's threshold rule tests), it rejects at most alpha of the time plus
// simulation error, from 20 pairs (where it is conservative) to 2,000.
func TestNewcombeSize(t *testing.T) {
	const alpha = 0.05
	for _, sc := range []struct {
		n          int
		psi, theta float64
	}{{20, 0.15, 0}, {50, 0.2, 0}, {300, 0.1, 0}, {2000, 0.05, 0}, {300, 0.1, 0.02}, {2000, 0.05, 0.02}} {
		rng := rand.New(rand.NewPCG(uint64(sc.n), 5))
		rejected := 0
		for range simulations {
			a, b := pairs(rng, sc.n, sc.psi/2+sc.theta, sc.psi/2)
			if NewcombeP(CountPairs(a, b), -sc.theta, Less) <= alpha {
				rejected++
			}
		}
		rate := float64(rejected) / simulations
		t.Logf("n=%d ψ=%g loss θ=%g: rejected %.4f", sc.n, sc.psi, sc.theta, rate)
		if rate > alpha+slack(alpha) {
			t.Errorf("n=%d ψ=%g θ=%g: NewcombeP rejected %.4f of data sets with a loss of θ, want ≤ %g (+%.4f)", sc.n, sc.psi, sc.theta, rate, alpha, slack(alpha))
		}
	}
}

// TestSignFlipSize checks the exact sign-flip test of cluster sums at its
// level, one-sided for a loss, on pass/fail cases with no change whose
// outcomes correlate within clusters (half the cases of a cluster share one
// draw), next to the cluster-robust t test, whose level is nominal only
// asymptotically: the sign-flip test rejects at most alpha of the time.
func TestSignFlipSize(t *testing.T) {
	const alpha = 0.05
	for _, sc := range []struct {
		n, size int // cases, cases per cluster (1: none)
		psi     float64
	}{{300, 1, 0.1}, {300, 4, 0.1}, {300, 15, 0.1}, {2000, 4, 0.05}} {
		rng := rand.New(rand.NewPCG(uint64(sc.n), uint64(sc.size)))
		d := make([]float64, sc.n)
		labels := make([]string, sc.n)
		for i := range labels {
			if sc.size > 1 {
				labels[i] = strconv.Itoa(i / sc.size)
			}
		}
		sums := make([]int, (sc.n+sc.size-1)/sc.size)
		exact, tTest := 0, 0
		for range simulations {
			clear(sums)
			var shared float64
			for i := range d {
				u := rng.Float64()
				if i%sc.size == 0 {
					shared = rng.Float64()
				}
				if sc.size > 1 && rng.IntN(2) == 0 {
					u = shared
				}
				switch {
				case u < sc.psi/2:
					d[i] = -1
				case u < sc.psi:
					d[i] = 1
				default:
					d[i] = 0
				}
				sums[i/sc.size] += int(d[i])
			}
			if SignFlipP(sums, Less) <= alpha {
				exact++
			}
			if sc.size > 1 && ClusteredMean(d, labels, 0.95).P(0, Less) <= alpha {
				tTest++
			}
		}
		rate := float64(exact) / simulations
		if sc.size > 1 {
			t.Logf("n=%d clusters of %d ψ=%g: sign-flip rejected %.4f, cluster-robust t %.4f", sc.n, sc.size, sc.psi, rate, float64(tTest)/simulations)
		} else {
			t.Logf("n=%d independent ψ=%g: sign-flip (McNemar's exact) rejected %.4f", sc.n, sc.psi, rate)
		}
		if rate > alpha+slack(alpha) {
			t.Errorf("n=%d clusters of %d: SignFlipP rejected %.4f of null data sets, want ≤ %g (+%.4f)", sc.n, sc.size, rate, alpha, slack(alpha))
		}
	}
}
