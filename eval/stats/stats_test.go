package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// bruteHL is the Hodges–Lehmann estimate from all Walsh averages.
func bruteHL(d []float64) float64 {
	var w []float64
	for i := range d {
		for j := i; j < len(d); j++ {
			w = append(w, (d[i]+d[j])/2)
		}
	}
	slices.Sort(w)
	m := len(w)
	return (w[(m+1)/2-1] + w[m/2]) / 2
}

func TestHodgesLehmannMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		d    []float64
	}{
		{"one", []float64{3}},
		{"two", []float64{-1, 4}},
		{"three", []float64{5, -2, 0}},
		{"all equal", []float64{2, 2, 2, 2}},
		{"negative zero", []float64{-0.0, 0, 1, -1}},
	}
	for n := 4; n <= 300; n += 37 {
		cont := make([]float64, n)
		ties := make([]float64, n)
		for i := range cont {
			cont[i] = rng.NormFloat64()*3 + 0.5
			ties[i] = float64(rng.IntN(7) - 3) // heavy ties and zeros
		}
		tests = append(tests, struct {
			name string
			d    []float64
		}{fmt.Sprintf("normal n=%d", n), cont}, struct {
			name string
			d    []float64
		}{fmt.Sprintf("ties n=%d", n), ties})
	}
	for _, tt := range tests {
		orig := slices.Clone(tt.d)
		if got, want := HodgesLehmann(tt.d), bruteHL(tt.d); got != want {
			t.Errorf("HodgesLehmann(%s) = %.17g, want %.17g", tt.name, got, want)
		}
		if !slices.Equal(orig, tt.d) {
			t.Errorf("HodgesLehmann(%s) modified its argument", tt.name)
		}
	}
	if got := HodgesLehmann(nil); !math.IsNaN(got) {
		t.Errorf("HodgesLehmann(nil) = %g, want NaN", got)
	}
}

func TestWarnings(t *testing.T) {
	ones := func(n int, v float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	tests := []struct {
		name string
		warn []error
		want string // a substring of one warning; "" for none
	}{
		{"McNemar 5 flips", McNemarTest(PairCounts{Both: 50, OnlyB: 5}, 0.05).Warnings, "need ≥ 6 discordant pairs to detect a difference at alpha 0.05, have 5"},
		{"McNemar 6 flips", McNemarTest(PairCounts{Both: 50, OnlyB: 6}, 0.05).Warnings, ""},
		{"McNemar alpha 0.01", McNemarTest(PairCounts{Both: 50, OnlyB: 7}, 0.01).Warnings, "need ≥ 8 discordant pairs"},
		{"DiffPaired no flips", DiffPaired(PairCounts{Both: 9, Neither: 1}, 0.95).Warnings, "no case flipped"},
		{"DiffPaired empty", DiffPaired(PairCounts{}, 0.95).Warnings, "no pairs"},
		{"Wilson empty", Wilson(0, 0, 0.95).Warnings, "no trials"},
		{"Wilcoxon ties", Wilcoxon(pairedData["ties80"].x, pairedData["ties80"].y, 0.05).Warnings, "many ties"},
		{"Wilcoxon few", Wilcoxon([]float64{1, 2, 3}, []float64{0, 0, 0}, 0.05).Warnings, "need ≥ 6 differing pairs"},
		{"Wilcoxon equal", Wilcoxon(ones(10, 1), ones(10, 1), 0.05).Warnings, "every pair is equal"},
		{"Wilcoxon mostly zeros", Wilcoxon(append(ones(20, 1), 2, 3, 4, 5, 6, 7, 8), ones(27, 1), 0.05).Warnings, "20 of 27 pairs are equal"},
		{"Wilcoxon NaN", Wilcoxon([]float64{1, math.NaN(), 3, 4, 5, 6, 7}, ones(7, 0), 0.05).Warnings, "1 pairs with a non-finite difference"},
		{"Wilcoxon four", Wilcoxon([]float64{1.5, 2.25, 3.125, 4.0625}, ones(4, 0), 0.05).Warnings, "4 differing pairs cannot give a 95% interval for the shift: it is 88%"},
		{"Wilcoxon three tied", Wilcoxon([]float64{3, 3, 4}, ones(3, 2), 0.05).Warnings, "3 differing pairs are too few for an interval for the shift"},
		{"Wilcoxon clean", Wilcoxon(pairedData["n30"].x, pairedData["n30"].y, 0.05).Warnings, ""},
		{"t one pair", PairedT([]float64{1}, []float64{2}, 0.95).Warnings, "need ≥ 2 pairs"},
		{"t constant", PairedT([]float64{1, 2}, []float64{0, 1}, 0.95).Warnings, "every difference is the same"},
		{"cluster few", ClusteredMean(ones(10, 1), []string{"a", "a", "b", "b", "c", "c", "d", "d", "e", "e"}, 0.95).Warnings, "only 5 clusters"},
		{"cluster one", ClusteredMean(ones(3, 1), []string{"a", "a", "a"}, 0.95).Warnings, "need ≥ 2 clusters"},
		{"cluster singletons", ClusteredMean(ones(3, 1), []string{"", "", ""}, 0.95).Warnings, ""},
		{"bootstrap small", BootstrapMedian(ones(5, 1), 0.95, 2000, 1).Warnings, "need ≥ 10 differences"},
		{"bootstrap resamples", BootstrapMedian(ones(50, 1), 0.95, 100, 1).Warnings, "only 100 resamples"},
		{"drift few", DriftTest([]bool{true, true, true, false}, []bool{false, false, false, false}, 0.05).Warnings, "need ≥ 5 cases that changed on one side only"},
		{"MDE tiny n", MinDetectable(3, 0.5, 0.05, 0.8, TwoSided).Warnings, "too few to detect any change"},
	}
	for _, tt := range tests {
		var msgs []string
		for _, w := range tt.warn {
			msgs = append(msgs, w.Error())
		}
		all := strings.Join(msgs, " | ")
		if tt.want == "" && len(msgs) > 0 {
			t.Errorf("%s: warnings %q, want none", tt.name, all)
		}
		if tt.want != "" && !strings.Contains(all, tt.want) {
			t.Errorf("%s: warnings %q, want one containing %q", tt.name, all, tt.want)
		}
	}
}

func TestMinDetectable(t *testing.T) {
	tests := []struct {
		n     int
		psi   float64
		alpha float64
		alt   Alternative
	}{
		{100, 0.1, 0.05, TwoSided},
		{500, 0.1, 0.05, Less},
		{1000, 0.02, 0.05, TwoSided},
		{1000, 0, 0.05, Less}, // no flips observed: the change's own flips are the discordance
		{300, 0.01, 0.05, Greater},
		{5000, 0.05, 0.01, Less},
		{100000, 0.1, 0.05, Less},
	}
	for _, tt := range tests {
		d := MinDetectable(tt.n, tt.psi, tt.alpha, 0.8, tt.alt)
		if !(d.Effect > 0 && d.Effect <= 1) || len(d.Warnings) > 0 {
			t.Errorf("MinDetectable(%d, %g, %v) = %+v, want an effect in (0, 1] and no warnings", tt.n, tt.psi, tt.alt, d)
			continue
		}
		// A change adds its own discordant pairs to the observed ones.
		if want := math.Min(1, tt.psi+d.Effect); d.Discordance != want {
			t.Errorf("MinDetectable(%d, %g, %v).Discordance = %g, want ψ + effect = %g", tt.n, tt.psi, tt.alt, d.Discordance, want)
		}
		sign := 1.0
		if tt.alt == Less {
			sign = -1
		}
		// The exact power at the reported effect is the target, and a little
		// less effect falls short of it.
		if p := McNemarPower(tt.n, d.Discordance, sign*d.Effect, tt.alpha, tt.alt); math.Abs(p-0.8) > 1e-6 {
			t.Errorf("MinDetectable(%d, %g, %v): exact power at %g is %g, want 0.8", tt.n, tt.psi, tt.alt, d.Effect, p)
		}
		less := d.Effect * 0.97
		if p := McNemarPower(tt.n, math.Min(1, tt.psi+less), sign*less, tt.alpha, tt.alt); p >= 0.8 {
			t.Errorf("MinDetectable(%d, %g, %v): power %g at 97%% of the effect, want < 0.8", tt.n, tt.psi, tt.alt, p)
		}
		// More cases resolve smaller effects; a one-sided test resolves a
		// smaller one than the two-sided test at the same alpha.
		if more := MinDetectable(4*tt.n, tt.psi, tt.alpha, 0.8, tt.alt); more.Effect >= d.Effect {
			t.Errorf("MinDetectable(%d, %g, %v) = %g, not below %g for %d pairs", 4*tt.n, tt.psi, tt.alt, more.Effect, d.Effect, tt.n)
		}
		if tt.alt != TwoSided {
			if two := MinDetectable(tt.n, tt.psi, tt.alpha, 0.8, TwoSided); two.Effect <= d.Effect {
				t.Errorf("MinDetectable(%d, %g): two-sided %g, not above one-sided %g", tt.n, tt.psi, two.Effect, d.Effect)
			}
		}
	}
}

// TestMinDetectableMean checks the t-based resolution: it solves its own
// equation, grows with the design effect, shrinks with more cases, and
// refuses to state one below MinPowerClusters clusters.
func TestMinDetectableMean(t *testing.T) {
	tests := []struct {
		n         int
		m2, de    float64
		df, alpha float64
		alt       Alternative
	}{
		{300, 0.1, 1, 299, 0.05, Less},
		{300, 0.1, 1.8, 74, 0.05, Less},
		{2000, 0.05, 1, 1999, 0.025, TwoSided},
		{200, 0, 1, 199, 0.05, Less},
		{1000, 0.3, 2.5, 24, 0.05, Greater},
	}
	for _, tt := range tests {
		d := MinDetectableMean(tt.n, tt.m2, tt.de, tt.df, tt.alpha, 0.8, tt.alt)
		if !(d.Effect > 0 && d.Effect < 1) || len(d.Warnings) > 0 {
			t.Errorf("MinDetectableMean(%+v) = %+v, want an effect in (0, 1) and no warnings", tt, d)
			continue
		}
		a := tt.alpha
		if tt.alt == TwoSided {
			a /= 2
		}
		st := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: tt.df}
		ucl := tt.df / distuv.ChiSquared{K: tt.df}.Quantile(0.3)
		se := math.Sqrt(ucl * tt.de * (tt.m2 + d.Effect - d.Effect*d.Effect) / float64(tt.n))
		if want := (st.Quantile(1-a) + st.Quantile(0.8)) * se; math.Abs(d.Effect-want) > 1e-9 {
			t.Errorf("MinDetectableMean(%+v) = %.12g, want the root %.12g", tt, d.Effect, want)
		}
		if more := MinDetectableMean(tt.n, tt.m2, 2*tt.de, tt.df, tt.alpha, 0.8, tt.alt); more.Effect <= d.Effect {
			t.Errorf("MinDetectableMean(%+v): doubling the design effect gives %g, not above %g", tt, more.Effect, d.Effect)
		}
		if more := MinDetectableMean(4*tt.n, tt.m2, tt.de, tt.df, tt.alpha, 0.8, tt.alt); more.Effect >= d.Effect {
			t.Errorf("MinDetectableMean(%+v): 4× the cases gives %g, not below %g", tt, more.Effect, d.Effect)
		}
	}
	if d := MinDetectableMean(100, 0.1, 1.5, MinPowerClusters-2, 0.05, 0.8, Less); !math.IsInf(d.Effect, 1) || len(d.Warnings) == 0 {
		t.Errorf("MinDetectableMean with %d clusters = %+v, want +Inf with a warning", MinPowerClusters-1, d)
	}
}

func TestBootstrapMedianDeterministic(t *testing.T) {
	d := slices.Clone(pairedData["n60"].x)
	a := BootstrapMedian(d, 0.95, DefaultResamples, DefaultSeed)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
	b := BootstrapMedian(d, 0.95, DefaultResamples, DefaultSeed)
	if a.CI != b.CI || a.Median != b.Median {
		t.Errorf("same data, same seed: %+v then %+v", a, b)
	}
	if !(a.CI.Lo <= a.Median && a.Median <= a.CI.Hi && a.CI.Lo < a.CI.Hi) {
		t.Errorf("BootstrapMedian(n60) = %+v, want Lo ≤ Median ≤ Hi and a proper interval", a)
	}
}

// TestBootstrapMedianDistribution checks the tree descent against the exact
// bootstrap distribution of the median of an odd sample (Efron 1982): the
// resampled median is at most the k-th order statistic when at least (n+1)/2
// of the n draws fall on the first k values, P = P(Binomial(n, k/n) ≥ (n+1)/2).
// For an even sample it compares with a plain resampling bootstrap.
func TestBootstrapMedianDistribution(t *testing.T) {
	const resamples = 20000
	tol := 4 * math.Sqrt(0.25/resamples) * 1.5 // ≈ 4 standard errors of two estimates
	for _, n := range []int{1, 7, 25, 101} {
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(i)
		}
		meds := resampleMedians(s, resamples, 11)
		for k := 1; k <= n; k++ {
			got := 0
			for _, m := range meds {
				if m <= s[k-1] {
					got++
				}
			}
			want := distuv.Binomial{N: float64(n), P: float64(k) / float64(n)}.Survival(float64((n+1)/2 - 1))
			if math.Abs(float64(got)/resamples-want) > tol {
				t.Errorf("n=%d: P(median ≤ s[%d]) = %g, want %g", n, k, float64(got)/resamples, want)
			}
		}
	}
	// Even n against plain resampling.
	rng := rand.New(rand.NewPCG(5, 6))
	s := []float64{-3, -1, 0, 0.5, 2, 2, 4, 7, 8, 12}
	meds := resampleMedians(s, resamples, 12)
	plain := make([]float64, resamples)
	r := make([]float64, len(s))
	for i := range plain {
		for j := range r {
			r[j] = s[rng.IntN(len(s))]
		}
		slices.Sort(r)
		plain[i] = (r[4] + r[5]) / 2
	}
	for _, x := range []float64{-1, 0, 0.25, 1, 2, 3, 4.5, 6} {
		var a, b int
		for i := range meds {
			if meds[i] <= x {
				a++
			}
			if plain[i] <= x {
				b++
			}
		}
		if math.Abs(float64(a-b))/resamples > tol {
			t.Errorf("even n: P(median ≤ %g) = %g by descent, %g by resampling", x, float64(a)/resamples, float64(b)/resamples)
		}
	}
}

func TestCountPairs(t *testing.T) {
	a := []bool{true, true, false, false, true}
	b := []bool{true, false, true, false, false}
	if got, want := CountPairs(a, b), (PairCounts{Both: 1, OnlyA: 2, OnlyB: 1, Neither: 1}); got != want {
		t.Errorf("CountPairs = %+v, want %+v", got, want)
	}
}

func TestMinDiscordant(t *testing.T) {
	for _, tt := range []struct {
		alpha float64
		want  int
	}{{0.05, 6}, {0.01, 8}, {0.1, 5}, {0.5, 2}, {0.0625, 5}} {
		if got := MinDiscordant(tt.alpha); got != tt.want {
			t.Errorf("MinDiscordant(%g) = %d, want %d", tt.alpha, got, tt.want)
		}
		// All k flips in one direction reach alpha; k−1 do not.
		k := MinDiscordant(tt.alpha)
		if p := McNemarTest(PairCounts{OnlyA: k}, tt.alpha).P; p > tt.alpha {
			t.Errorf("alpha %g: %d flips give p %g", tt.alpha, k, p)
		}
		if p := McNemarTest(PairCounts{OnlyA: k - 1}, tt.alpha).P; p <= tt.alpha {
			t.Errorf("alpha %g: %d flips already give p %g", tt.alpha, k-1, p)
		}
	}
}

// TestNewcombePInvertsInterval checks that NewcombeP is the test Newcombe's
// interval inverts: at the one-sided p-value p of a null value, the interval
// at level 1 − 2p has that null value as its end.
func TestNewcombePInvertsInterval(t *testing.T) {
	for _, c := range []PairCounts{
		{Both: 59, OnlyB: 6, OnlyA: 16, Neither: 80},
		{Both: 800, OnlyB: 30, OnlyA: 52, Neither: 118},
		{Both: 14, OnlyA: 3, Neither: 3},
		{Both: 36, OnlyB: 12, OnlyA: 2},
	} {
		d := DiffPaired(c, 0.9).Diff
		for _, null := range []float64{-0.1, -0.02, 0, 0.02, 0.1} {
			for _, alt := range []Alternative{Less, Greater} {
				p := NewcombeP(c, null, alt)
				if p >= 0.5 || p < 1e-12 {
					continue // the null value lies on the other side of the estimate
				}
				iv := DiffPaired(c, 1-2*p).CI
				end := iv.Hi
				if alt == Greater {
					end = iv.Lo
				}
				if math.Abs(end-null) > 1e-9 {
					t.Errorf("NewcombeP(%+v, %g, %v) = %g, but the interval at %g has end %g (estimate %g)", c, null, alt, p, 1-2*p, end, d)
				}
			}
		}
	}
}

// TestSignFlipNormal checks the normal approximation SignFlipP uses for
// large problems against the exact distribution, on 3,000 clusters whose
// sums range over −3…3, and the exact distribution against the binomial for
// equal sums.
func TestSignFlipNormal(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, shift := range []int{0, -60, -150, 40} {
		var abs []int
		tot, sum := 0, shift
		for range 3000 {
			s := rng.IntN(7) - 3
			sum += s
			if s != 0 {
				abs = append(abs, max(s, -s))
				tot += max(s, -s)
			}
		}
		el, eg := signFlipExact(abs, sum, 1, tot)
		nl, ng := signFlipNormal(abs, sum, 1)
		if math.Abs(el-nl) > 2e-3 || math.Abs(eg-ng) > 2e-3 {
			t.Errorf("T = %d: exact tails %.5f, %.5f; normal %.5f, %.5f", sum, el, eg, nl, ng)
		}
	}
	abs := []int{2, 2, 2, 2, 2, 2, 2, 2, 2}
	for _, x := range []int{-18, -6, 2, 10} { // on the lattice: 2·(2·positives − 9)
		el, eg := signFlipExact(abs, x, 2, 18)
		pos := (x/2 + 9) / 2
		b := distuv.Binomial{N: 9, P: 0.5}
		if math.Abs(el-b.CDF(float64(pos))) > 1e-12 || math.Abs(eg-b.Survival(float64(pos-1))) > 1e-12 {
			t.Errorf("T = %d: exact tails %g, %g, want the binomial's", x, el, eg)
		}
	}
}

// TestWilsonShare checks that the interval of a share is Wilson's interval of
// the proportion it equals.
func TestWilsonShare(t *testing.T) {
	for _, kn := range [][2]int{{0, 10}, {10, 10}, {3, 12}, {45, 50}} {
		want := Wilson(kn[0], kn[1], 0.95).CI
		if got := WilsonShare(float64(kn[0])/float64(kn[1]), kn[1], 0.95); math.Abs(got.Lo-want.Lo) > 1e-15 || math.Abs(got.Hi-want.Hi) > 1e-15 {
			t.Errorf("WilsonShare(%d/%d) = %+v, want %+v", kn[0], kn[1], got, want)
		}
	}
	if got := WilsonShare(0.5, 0, 0.95); !math.IsNaN(got.Lo) {
		t.Errorf("WilsonShare of no units = %+v, want NaN ends", got)
	}
}
