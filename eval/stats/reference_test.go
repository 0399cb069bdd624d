package stats

import (
	"math"
	"testing"
)

// nan stands for R's NA in the generated tables.
var nan = math.NaN()

// closeP reports whether a p-value agrees with R's to 1e-6, relative to its
// size (a p-value of 1e-12 must be right to 1e-18).
func closeP(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= 1e-6*math.Max(math.Abs(want), 1e-12)
}

// closeAbs reports whether an estimate or interval end agrees with R's to
// 1e-6 absolute.
func closeAbs(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= 1e-6
}

func TestMcNemarMatchesR(t *testing.T) {
	for _, tt := range mcnemarRef {
		c := PairCounts{Both: 10, OnlyA: tt.onlyA, OnlyB: tt.onlyB, Neither: 10}
		got := McNemarTest(c, DefaultAlpha)
		if !closeP(got.P, tt.p) {
			t.Errorf("McNemarTest(%+v).P = %.17g, want %.17g", c, got.P, tt.p)
		}
		if !closeAbs(got.ChiSq, tt.chisq) || !closeP(got.ChiSqP, tt.chisqP) {
			t.Errorf("McNemarTest(%+v) chi-squared = %.17g (p %.17g), want %.17g (p %.17g)", c, got.ChiSq, got.ChiSqP, tt.chisq, tt.chisqP)
		}
	}
}

func TestWilsonMatchesR(t *testing.T) {
	for _, tt := range wilsonRef {
		got := Wilson(tt.k, tt.n, tt.level)
		if !closeAbs(got.CI.Lo, tt.lo) || !closeAbs(got.CI.Hi, tt.hi) {
			t.Errorf("Wilson(%d, %d, %g).CI = [%.17g, %.17g], want [%.17g, %.17g]", tt.k, tt.n, tt.level, got.CI.Lo, got.CI.Hi, tt.lo, tt.hi)
		}
	}
}

func TestDiffPairedMatchesR(t *testing.T) {
	for _, tt := range newcombeRef {
		c := PairCounts{Both: tt.both, OnlyA: tt.onlyA, OnlyB: tt.onlyB, Neither: tt.neither}
		got := DiffPaired(c, tt.level)
		if !closeAbs(got.Diff, tt.diff) || !closeAbs(got.CI.Lo, tt.lo) || !closeAbs(got.CI.Hi, tt.hi) {
			t.Errorf("DiffPaired(%+v, %g) = %.17g [%.17g, %.17g], want %.17g [%.17g, %.17g]",
				c, tt.level, got.Diff, got.CI.Lo, got.CI.Hi, tt.diff, tt.lo, tt.hi)
		}
		if !got.CI.Contains(got.Diff) {
			t.Errorf("DiffPaired(%+v, %g): interval [%g, %g] misses the estimate %g", c, tt.level, got.CI.Lo, got.CI.Hi, got.Diff)
		}
	}
}

func TestWilcoxonMatchesR(t *testing.T) {
	for _, tt := range wilcoxonRef {
		data := pairedData[tt.name]
		got := Wilcoxon(data.x, data.y, DefaultAlpha)
		if got.V != tt.v || !closeP(got.P, tt.p) || got.Exact != tt.exact {
			t.Errorf("Wilcoxon(%s) = V %g p %.17g exact %v, want V %g p %.17g exact %v", tt.name, got.V, got.P, got.Exact, tt.v, tt.p, tt.exact)
		}
		if !closeAbs(got.Shift, tt.shift) {
			t.Errorf("Wilcoxon(%s).Shift = %.17g, want %.17g", tt.name, got.Shift, tt.shift)
		}
	}
	for _, tt := range hlExactRef {
		data := pairedData[tt.name]
		if got := Wilcoxon(data.x, data.y, DefaultAlpha).Shift; !closeAbs(got, tt.shift) {
			t.Errorf("Wilcoxon(%s).Shift = %.17g, want R's estimate %.17g", tt.name, got, tt.shift)
		}
	}
}

// TestShiftIntervalMatchesR checks the Hodges–Lehmann shift and its interval
// against R's wilcox.test(x, y, paired = TRUE, conf.int = TRUE). The interval
// ends and the achieved level must agree to 1e-6. The shift is the mean of the
// two middle Walsh averages; R's estimate, a root found by iteration, is some
// point between them, so the two agree to 1e-6 whenever those averages do (the
// exact case, an odd number of averages, or a tie in the middle). Where R can
// achieve no level above 0 it returns the median as the interval; Wilcoxon
// returns none (NaN).
func TestShiftIntervalMatchesR(t *testing.T) {
	for _, tt := range shiftRef {
		data, ok := pairedData[tt.name]
		if !ok {
			data = shiftData[tt.name]
		}
		got := Wilcoxon(data.x, data.y, 1-tt.level)
		if got.Exact != tt.exact {
			t.Errorf("Wilcoxon(%s).Exact = %v, want %v", tt.name, got.Exact, tt.exact)
		}
		lo, hi := tt.lo, tt.hi
		if tt.achieved == 0 { // R's "interval" at level 0 is the median; Wilcoxon says there is none
			lo, hi = nan, nan
		}
		if !closeAbs(got.CI.Lo, lo) || !closeAbs(got.CI.Hi, hi) || !closeAbs(got.CI.Level, tt.achieved) {
			t.Errorf("Wilcoxon(%s, level %g).CI = [%.17g, %.17g] at %g, want [%.17g, %.17g] at %g",
				tt.name, tt.level, got.CI.Lo, got.CI.Hi, got.CI.Level, lo, hi, tt.achieved)
		}
		if want := (tt.midlo + tt.midhi) / 2; !closeAbs(got.Shift, want) {
			t.Errorf("Wilcoxon(%s).Shift = %.17g, want the Hodges–Lehmann estimate %.17g", tt.name, got.Shift, want)
		}
		if !(tt.estimate >= tt.midlo-1e-6 && tt.estimate <= tt.midhi+1e-6) {
			t.Errorf("%s: R's estimate %.17g lies outside the middle Walsh averages [%.17g, %.17g]", tt.name, tt.estimate, tt.midlo, tt.midhi)
		}
		if tt.midlo == tt.midhi && !closeAbs(got.Shift, tt.estimate) {
			t.Errorf("Wilcoxon(%s).Shift = %.17g, want R's estimate %.17g", tt.name, got.Shift, tt.estimate)
		}
		if tt.achieved > 0 && !got.CI.Contains(got.Shift) {
			t.Errorf("Wilcoxon(%s, level %g): interval [%g, %g] misses the shift %g", tt.name, tt.level, got.CI.Lo, got.CI.Hi, got.Shift)
		}
	}
}

func TestPairedTMatchesR(t *testing.T) {
	for _, tt := range tRef {
		data := pairedData[tt.name]
		got := PairedT(data.x, data.y, tt.level)
		if !closeAbs(got.T, tt.t) || got.DF != tt.df || !closeP(got.P, tt.p) || !closeAbs(got.CI.Lo, tt.lo) || !closeAbs(got.CI.Hi, tt.hi) {
			t.Errorf("PairedT(%s, %g) = t %.17g df %g p %.17g [%.17g, %.17g], want t %.17g df %g p %.17g [%.17g, %.17g]",
				tt.name, tt.level, got.T, got.DF, got.P, got.CI.Lo, got.CI.Hi, tt.t, tt.df, tt.p, tt.lo, tt.hi)
		}
	}
}

func TestAdjustMatchesR(t *testing.T) {
	for _, tt := range adjustRef {
		for _, m := range []struct {
			name string
			f    func([]float64) []float64
			want []float64
		}{{"Holm", Holm, tt.holm}, {"BenjaminiHochberg", BenjaminiHochberg, tt.bh}} {
			got := m.f(tt.p)
			for i := range got {
				if !closeP(got[i], m.want[i]) {
					t.Errorf("%s(%v) = %v, want %v", m.name, tt.p, got, m.want)
					break
				}
			}
		}
	}
}

func TestClusteredMeanMatchesR(t *testing.T) {
	for i, tt := range clusterRef {
		got := ClusteredMean(tt.d, tt.cluster, tt.level)
		if !closeAbs(got.Mean, tt.mean) || !closeAbs(got.SE, tt.se) || !closeAbs(got.CI.Lo, tt.lo) || !closeAbs(got.CI.Hi, tt.hi) {
			t.Errorf("ClusteredMean(set %d, %g) = %.17g ± %.17g [%.17g, %.17g], want %.17g ± %.17g [%.17g, %.17g]",
				i, tt.level, got.Mean, got.SE, got.CI.Lo, got.CI.Hi, tt.mean, tt.se, tt.lo, tt.hi)
		}
	}
}

func TestDriftMatchesR(t *testing.T) {
	for _, tt := range driftRef {
		between := make([]bool, 0)
		within := make([]bool, 0)
		for range tt.onlyA {
			within, between = append(within, true), append(between, false)
		}
		for range tt.onlyB {
			within, between = append(within, false), append(between, true)
		}
		for range 7 { // concordant cases do not enter the test
			within, between = append(within, true), append(between, true)
		}
		got := DriftTest(between, within, DefaultAlpha)
		if !closeP(got.P, tt.p) {
			t.Errorf("DriftTest(onlyA %d, onlyB %d).P = %.17g, want %.17g", tt.onlyA, tt.onlyB, got.P, tt.p)
		}
	}
}

func TestMcNemarPowerMatchesR(t *testing.T) {
	for _, tt := range powerRef {
		if got := McNemarPower(tt.n, tt.psi, tt.diff, tt.alpha, TwoSided); !closeP(got, tt.power) {
			t.Errorf("McNemarPower(%d, %g, %g, %g) = %.17g, want %.17g", tt.n, tt.psi, tt.diff, tt.alpha, got, tt.power)
		}
	}
}

func TestMcNemarPowerOneSidedMatchesR(t *testing.T) {
	for _, tt := range power1Ref {
		if got := McNemarPower(tt.n, tt.psi, tt.diff, tt.alpha, tt.alt); !closeP(got, tt.power) {
			t.Errorf("McNemarPower(%d, %g, %g, %g, %v) = %.17g, want %.17g", tt.n, tt.psi, tt.diff, tt.alpha, tt.alt, got, tt.power)
		}
	}
}

// TestMinDetectableMatchesR checks the minimum detectable effect, the root of
// the exact power at a discordance that grows with the effect, against R's
// uniroot of the same power (tolerance 1e-13).
func TestMinDetectableMatchesR(t *testing.T) {
	for _, tt := range mdeRef {
		got := MinDetectable(tt.n, tt.psi, tt.alpha, tt.power, tt.alt)
		if !closeAbs(got.Effect, tt.effect) {
			t.Errorf("MinDetectable(%d, %g, %g, %g, %v) = %.17g, want %.17g", tt.n, tt.psi, tt.alpha, tt.power, tt.alt, got.Effect, tt.effect)
		}
		if want := math.Min(1, tt.psi+tt.effect); !closeAbs(got.Discordance, want) {
			t.Errorf("MinDetectable(%d, %g, …).Discordance = %g, want ψ + effect = %g", tt.n, tt.psi, got.Discordance, want)
		}
	}
}

func TestNewcombePMatchesR(t *testing.T) {
	for _, tt := range newcombePRef {
		c := PairCounts{Both: tt.both, OnlyB: tt.onlyB, OnlyA: tt.onlyA, Neither: tt.neither}
		if got := NewcombeP(c, tt.null, tt.alt); !closeP(got, tt.p) {
			t.Errorf("NewcombeP(%+v, %g, %v) = %.17g, want %.17g", c, tt.null, tt.alt, got, tt.p)
		}
	}
}

func TestClusterPMatchesR(t *testing.T) {
	for _, tt := range clusterPRef {
		set := clusterRef[tt.set]
		cm := ClusteredMean(set.d, set.cluster, 0.95)
		if got := cm.P(tt.null, tt.alt); !closeP(got, tt.p) {
			t.Errorf("ClusteredMean(set %d).P(%g, %v) = %.17g, want %.17g", tt.set, tt.null, tt.alt, got, tt.p)
		}
	}
	// At gives R's interval at the other level of each set.
	for i := 0; i+1 < len(clusterRef); i += 2 {
		a, b := clusterRef[i], clusterRef[i+1]
		iv := ClusteredMean(a.d, a.cluster, a.level).At(b.level)
		if !closeAbs(iv.Lo, b.lo) || !closeAbs(iv.Hi, b.hi) {
			t.Errorf("ClusteredMean(set %d, %g).At(%g) = [%.17g, %.17g], want [%.17g, %.17g]", i, a.level, b.level, iv.Lo, iv.Hi, b.lo, b.hi)
		}
	}
}

func TestSignFlipMatchesR(t *testing.T) {
	for _, tt := range signFlipRef {
		if got := SignFlipP(tt.sums, tt.alt); !closeP(got, tt.p) {
			t.Errorf("SignFlipP(%v, %v) = %.17g, want %.17g", tt.sums, tt.alt, got, tt.p)
		}
	}
	// With every cluster one pass/fail case it is McNemar's exact test.
	for _, tt := range mcnemarRef {
		sums := make([]int, 0, tt.onlyA+tt.onlyB+20)
		for range tt.onlyA {
			sums = append(sums, -1)
		}
		for range tt.onlyB {
			sums = append(sums, 1)
		}
		sums = append(sums, make([]int, 20)...) // concordant pairs
		if got := SignFlipP(sums, TwoSided); !closeP(got, tt.p) {
			t.Errorf("SignFlipP(%d losses, %d gains) = %.17g, want McNemar's %.17g", tt.onlyA, tt.onlyB, got, tt.p)
		}
	}
}
