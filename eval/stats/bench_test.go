package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// benchN is the size of the largest diff evalpin must handle: all of its
// statistics together must finish within 2 s and 300 MB.
const benchN = 100_000

// benchData is a paired 100,000-case diff: pass/fail outcomes with 10% flips,
// output lengths in tokens (ties and zeros), and clusters of five cases.
type benchData struct {
	passA, passB   []bool
	lenA, lenB     []float64
	cluster        []string
	flips          []float64
	changed, noise []bool
}

func newBenchData() *benchData {
	rng := rand.New(rand.NewPCG(42, 42))
	d := &benchData{
		passA: make([]bool, benchN), passB: make([]bool, benchN),
		lenA: make([]float64, benchN), lenB: make([]float64, benchN),
		cluster: make([]string, benchN), flips: make([]float64, benchN),
		changed: make([]bool, benchN), noise: make([]bool, benchN),
	}
	for i := range benchN {
		d.passA[i] = rng.Float64() < 0.8
		d.passB[i] = d.passA[i]
		if rng.Float64() < 0.1 {
			d.passB[i] = !d.passB[i]
		}
		d.lenA[i] = float64(50 + rng.IntN(400))
		d.lenB[i] = d.lenA[i]
		if rng.Float64() < 0.3 {
			d.lenB[i] += float64(rng.IntN(41) - 18)
		}
		d.cluster[i] = fmt.Sprintf("passage-%d", i/5)
		if d.passB[i] != d.passA[i] {
			d.flips[i] = 1
			if d.passA[i] {
				d.flips[i] = -1
			}
		}
		d.changed[i] = rng.Float64() < 0.2
		d.noise[i] = rng.Float64() < 0.18
	}
	return d
}

func BenchmarkMcNemar100k(b *testing.B) {
	d := newBenchData()
	for b.Loop() {
		McNemarTest(CountPairs(d.passA, d.passB), DefaultAlpha)
	}
}

func BenchmarkDiffPaired100k(b *testing.B) {
	d := newBenchData()
	for b.Loop() {
		DiffPaired(CountPairs(d.passA, d.passB), 0.95)
	}
}

func BenchmarkMinDetectable100k(b *testing.B) {
	for b.Loop() {
		MinDetectable(benchN, 0.1, DefaultAlpha, PlannedPower, Less)
	}
}

func BenchmarkWilcoxon100k(b *testing.B) {
	d := newBenchData()
	for b.Loop() {
		Wilcoxon(d.lenB, d.lenA, DefaultAlpha)
	}
}

// BenchmarkWilcoxonLatency100k is the test, shift and interval of 100,000
// continuous, untied differences (latencies), where every Walsh average is
// distinct.
func BenchmarkWilcoxonLatency100k(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	x, y := make([]float64, benchN), make([]float64, benchN)
	for i := range x {
		y[i] = 400 * math.Exp(rng.NormFloat64()*0.4)
		x[i] = y[i] * math.Exp(0.02+rng.NormFloat64()*0.1)
	}
	for b.Loop() {
		Wilcoxon(x, y, DefaultAlpha)
	}
}

func BenchmarkPairedT100k(b *testing.B) {
	d := newBenchData()
	for b.Loop() {
		PairedT(d.lenB, d.lenA, 0.95)
	}
}

func BenchmarkClusteredMean100k(b *testing.B) {
	d := newBenchData()
	for b.Loop() {
		ClusteredMean(d.flips, d.cluster, 0.95)
	}
}

func BenchmarkDriftTest100k(b *testing.B) {
	d := newBenchData()
	for b.Loop() {
		DriftTest(d.changed, d.noise, DefaultAlpha)
	}
}

func BenchmarkBootstrapMedian100k(b *testing.B) {
	d := newBenchData()
	diffs := make([]float64, benchN)
	for i := range diffs {
		diffs[i] = d.lenB[i] - d.lenA[i]
	}
	for b.Loop() {
		BootstrapMedian(diffs, 0.95, DefaultResamples, DefaultSeed)
	}
}

func BenchmarkAdjust1000(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	p := make([]float64, 1000)
	for i := range p {
		p[i] = rng.Float64()
	}
	for b.Loop() {
		Holm(p)
		BenjaminiHochberg(p)
	}
}

// BenchmarkDiff100k is every statistic a diff of 100,000 cases computes for
// one pass-rate metric and three continuous measures, to hold against the
// 2 s budget.
func BenchmarkDiff100k(b *testing.B) {
	d := newBenchData()
	diffs := make([]float64, benchN)
	for i := range diffs {
		diffs[i] = d.lenB[i] - d.lenA[i]
	}
	for b.Loop() {
		c := CountPairs(d.passA, d.passB)
		m := McNemarTest(c, DefaultAlpha)
		DiffPaired(c, 0.95)
		MinDetectable(c.N(), float64(c.Discordant())/float64(c.N()), DefaultAlpha, PlannedPower, Less)
		ClusteredMean(d.flips, d.cluster, 0.95)
		DriftTest(d.changed, d.noise, DefaultAlpha)
		ps := []float64{m.P}
		for range 3 {
			w := Wilcoxon(d.lenB, d.lenA, DefaultAlpha)
			PairedT(d.lenB, d.lenA, 0.95)
			BootstrapMedian(diffs, 0.95, DefaultResamples, DefaultSeed)
			ps = append(ps, w.P)
		}
		Holm(ps)
		BenjaminiHochberg(ps)
	}
}
