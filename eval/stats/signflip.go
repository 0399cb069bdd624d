package stats

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// maxSignFlipWork bounds the exact distribution's work, clusters times the
// range of the statistic; beyond it SignFlipP uses the normal approximation.
const maxSignFlipWork = 20_000_000

// SignFlipP returns the p-value of the exact randomization test of paired
// differences grouped in clusters, against the alternative alt: sums[g] is
// cluster g's sum of differences B − A, scaled to integers (a pass/fail case
// contributes −1, 0 or 1; a case's pass share over k samples, k times it).
//
// If the candidate and the baseline are exchangeable — the same model, run
// twice — swapping the two sides of every case of a cluster leaves the
// distribution unchanged, so each cluster sum is as likely to have its sign as
// the other. The statistic T = Σ sums is held against the 2^G sums
// Σ ±|sums[g]| (Fisher's randomization test, with clusters as its units): for
// Less, p = P(Σ ±|sums| ≤ T). With every cluster a single pass/fail case this
// is McNemar's exact test, R's binom.test(gains, discordant); with cases
// averaged over samples and no clusters it is the paired permutation test of
// the shares.
//
// The test is exact, never above its level, whatever the correlation inside
// a cluster or the distribution of the differences, which is why the gate
// uses it next to the cluster-robust t test: the t test's size is nominal
// only asymptotically. The distribution is computed exactly (by convolution
// of the clusters' two-point distributions) while clusters × range ≤ 2·10⁷;
// beyond, it is normal with variance Σ sums² and a continuity correction of
// half its lattice step. NaN when sums is empty; 1 when every sum is 0.
func SignFlipP(sums []int, alt Alternative) float64 {
	if len(sums) == 0 {
		return math.NaN()
	}
	var abs []int
	t, total, step := 0, 0, 0
	for _, s := range sums {
		t += s
		if s == 0 {
			continue
		}
		a := s
		if a < 0 {
			a = -a
		}
		abs = append(abs, a)
		total += a
		step = gcd(step, a)
	}
	if total == 0 {
		return 1 // every cluster sum is 0: T is 0 under every flip, both tails hold them all
	}
	var less, greater float64 // P(T' ≤ t), P(T' ≥ t) under the flips
	switch g := len(abs); {
	case slices.Min(abs) == slices.Max(abs):
		// Equal sums (pass/fail cases without clusters): the number of
		// positive signs is Binomial(G, ½).
		x := (t/abs[0] + g) / 2 // positive signs in the observed T
		b := distuv.Binomial{N: float64(g), P: 0.5}
		less, greater = b.CDF(float64(x)), b.Survival(float64(x-1))
	case float64(g)*float64(total/step) <= maxSignFlipWork:
		less, greater = signFlipExact(abs, t, step, total)
	default:
		less, greater = signFlipNormal(abs, t, step)
	}
	return signFlipSided(math.Min(less, 1), math.Min(greater, 1), alt)
}

// signFlipSided combines the two tails into the p-value for alt; two-sided
// is twice the smaller tail, as binom.test does for a symmetric distribution.
func signFlipSided(less, greater float64, alt Alternative) float64 {
	switch alt {
	case Less:
		return less
	case Greater:
		return greater
	}
	return math.Min(1, 2*math.Min(less, greater))
}

// signFlipExact returns P(T' ≤ t) and P(T' ≥ t) for T' = Σ ±abs[g] with
// independent fair signs, by convolving the clusters' distributions on the
// lattice of multiples of step between −total and total.
func signFlipExact(abs []int, t, step, total int) (less, greater float64) {
	m := total / step
	// p[i] is P(T' = (2i − m)·step): T' + total is even multiples of step.
	p := make([]float64, m+1)
	p[0] = 1 // every sign negative
	reach := 0
	for _, a := range abs {
		k := a / step // flipping cluster g to positive adds 2a, k steps of 2·step
		for i := reach; i >= 0; i-- {
			if p[i] == 0 {
				continue
			}
			p[i+k] += p[i] / 2
			p[i] /= 2
		}
		reach += k
	}
	for i, pi := range p {
		v := (2*i - m) * step
		if v <= t {
			less += pi
		}
		if v >= t {
			greater += pi
		}
	}
	return less, greater
}

// signFlipNormal approximates signFlipExact by the normal distribution of
// mean 0 and variance Σ abs², with a continuity correction of half the
// lattice step 2·step.
func signFlipNormal(abs []int, t, step int) (less, greater float64) {
	ss := 0.0
	for _, a := range abs {
		ss += float64(a) * float64(a)
	}
	sd := math.Sqrt(ss)
	return distuv.UnitNormal.CDF((float64(t) + float64(step)) / sd), distuv.UnitNormal.Survival((float64(t) - float64(step)) / sd)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
