package compare_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/eval/stats"
)

// The pre-registered simulations of docs/statistics.md ("What the
// simulations check"). By default a fixed-seed subset runs in a few seconds;
// EVALPIN_FULL_SIM=1 runs the full one, whose figures the page records:
//
//	EVALPIN_FULL_SIM=1 go test ./eval/compare -run Sim -v -timeout 30m
func fullSim() bool { return os.Getenv("EVALPIN_FULL_SIM") == "1" }

// simReps returns the repetitions of a scenario: full in the full
// simulation, else the subset's.
func simReps(full, subset int) int {
	if fullSim() {
		return full
	}
	return subset
}

// A planting is how a simulated regression of δ reaches the cases.
type planting int

const (
	// extraFailures turns a share δ of the cases that pass on both sides
	// into failures of the candidate: every lost case is a new discordant
	// pair (the most discordance a loss of δ can add).
	extraFailures planting = iota
	// proportionalLoss fails every case the candidate passes with the same
	// probability δ/pass: a loss that also removes some of the noise's gains.
	proportionalLoss
)

func (p planting) String() string {
	if p == proportionalLoss {
		return "proportional losses"
	}
	return "extra failures"
}

// cells returns the probabilities that a case passes on both sides, on the
// baseline only and on the candidate only, for a baseline pass rate pass,
// noise discordance psi (flips both ways, as between two runs of one model)
// and a loss delta planted as plant.
func cells(pass, psi, delta float64, plant planting) (both, onlyA, onlyB float64) {
	both, onlyA, onlyB = pass-psi/2, psi/2, psi/2
	switch plant {
	case extraFailures:
		both, onlyA = both-delta, onlyA+delta
	case proportionalLoss:
		r := delta / pass // the candidate's pass rate, pass, falls by δ
		both, onlyA, onlyB = both*(1-r), onlyA+both*r, onlyB*(1-r)
	}
	return both, onlyA, onlyB
}

// A simulator draws pairs of runs of n cases with one scorer whose
// (baseline, candidate) outcomes are drawn with the probabilities of cells.
// With clusterSize > 0, consecutive cases form clusters of that size and half
// of a cluster's cases share one draw, so outcomes and flips correlate within
// a cluster. It reuses its results between draws: a comparison of an earlier
// draw must not be used after the next.
type simulator struct {
	rng         *rand.Rand
	clusterSize int
	cases       map[string]eval.Case
	base, cand  []eval.Result
}

func newSimulator(rng *rand.Rand, n, clusterSize int) *simulator {
	s := &simulator{rng: rng, clusterSize: clusterSize, cases: make(map[string]eval.Case, n),
		base: make([]eval.Result, n), cand: make([]eval.Result, n)}
	for i := range n {
		id := fmt.Sprintf("c%05d", i)
		cl := ""
		if clusterSize > 0 {
			cl = fmt.Sprint(i / clusterSize)
		}
		s.cases[id] = eval.Case{ID: id, Cluster: cl}
		s.base[i] = eval.Result{CaseID: id, CaseHash: "h-" + id, Output: "out", Latency: 100 * time.Millisecond}
		s.cand[i] = s.base[i]
	}
	return s
}

// The checks of a simulated result, shared read-only by every result.
var (
	simPass = []eval.Check{{Scorer: "s", Pass: true}}
	simFail = []eval.Check{{Scorer: "s", Detail: "wrong"}}
)

func (s *simulator) draw(both, onlyA, onlyB float64) (compare.Side, compare.Side) {
	var shared float64
	check := func(ok bool) []eval.Check {
		if ok {
			return simPass
		}
		return simFail
	}
	for i := range s.base {
		u := s.rng.Float64()
		if s.clusterSize > 0 {
			if i%s.clusterSize == 0 {
				shared = s.rng.Float64()
			}
			if s.rng.IntN(2) == 0 {
				u = shared
			}
		}
		a, b := false, false
		switch {
		case u < both:
			a, b = true, true
		case u < both+onlyA:
			a = true
		case u < both+onlyA+onlyB:
			b = true
		}
		s.base[i].Checks, s.cand[i].Checks = check(a), check(b)
	}
	return compare.Side{Run: run(1, lockA, 1), Results: s.base}, compare.Side{Run: run(2, lockB, 1), Results: s.cand}
}

// strictPolicy gates the pass rates with no practical threshold: the gate
// fails on any significant loss, so the simulation measures the test and
// the resolution it prints.
func strictPolicy() *compare.Policy {
	p := compare.DefaultPolicy()
	p.PassRate.MinEffect = 0
	return &p
}

// rate is k of n with its 95% Wilson interval, as the figures state it.
func rate(k, n int) stats.Proportion { return stats.Wilson(k, n, 0.95) }

func pct(p stats.Proportion) string {
	return fmt.Sprintf("%.1f%% [%.1f, %.1f] (%d of %d)", 100*p.P, 100*p.CI.Lo, 100*p.CI.Hi, p.K, p.N)
}

// TestSimResolution is the pre-registered check of the resolution evalpin
// prints. For each scenario, each repetition draws an A/A pair of 300-case
// runs (80% pass, 10% of cases flipping both ways), counts a false alarm when
// the gate fails, reads the smallest loss the comparison says it could have
// detected, and plants a loss of exactly that size in a fresh pair, counting
// it caught when the gate fails. It passes when the lower end of the 95%
// Wilson interval of the catch rate is at least 0.80 (the power the
// resolution is stated at), and, in the full simulation, the upper end of the
// false-alarm rate's is at most alpha; the default subset, with too few
// repetitions for that bound, requires the false-alarm rate itself to be at
// most alpha.
func TestSimResolution(t *testing.T) {
	const (
		n     = 300
		pass  = 0.80
		psi   = 0.10
		alpha = 0.05
	)
	for i, sc := range []struct {
		clusterSize int
		plant       planting
		subset      int // repetitions in the default run
	}{
		{0, extraFailures, 400},
		{0, proportionalLoss, 0},
		{4, extraFailures, 0},
		{4, proportionalLoss, 400},
		{10, extraFailures, 0},   // 30 clusters
		{15, extraFailures, 0},   // 20 clusters: the fewest with which a resolution is stated
		{25, extraFailures, 200}, // 12 clusters: none is
	} {
		name := fmt.Sprintf("n=%d clusters of %d, %v", n, sc.clusterSize, sc.plant)
		if sc.clusterSize == 0 {
			name = fmt.Sprintf("n=%d independent, %v", n, sc.plant)
		}
		reps := simReps(4000, sc.subset)
		if reps == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sim := newSimulator(rand.New(rand.NewPCG(2025, uint64(i))), n, sc.clusterSize)
			opts := compare.Options{Policy: strictPolicy(), Cases: sim.cases, Resamples: 20}
			alarms, caught, sumMDE := 0, 0, 0.0
			for range reps {
				a, b := sim.draw(cells(pass, psi, 0, sc.plant))
				c, err := compare.Diff(a, b, opts)
				if err != nil {
					t.Fatal(err)
				}
				if c.Gate.Failed() {
					alarms++
				}
				delta := c.PassRates[0].Detectable.Effect
				if few := n/max(sc.clusterSize, 1) < stats.MinPowerClusters; few {
					// Too few clusters to state a resolution: the comparison
					// must say so, and there is no loss to plant.
					v := c.PassRates[0].Verdict
					if !math.IsInf(delta, 1) || (v == compare.NoChange || v == compare.Underpowered) && !strings.Contains(c.PassRates[0].Words(), "clusters: too few to state a resolution") {
						t.Fatalf("%d clusters: resolution %v, words %q; want none stated", n/sc.clusterSize, delta, c.PassRates[0].Words())
					}
					continue
				}
				if !(delta > 0 && delta < pass) {
					t.Fatalf("printed resolution %v, want a finite loss", delta)
				}
				sumMDE += delta
				a, b = sim.draw(cells(pass, psi, delta, sc.plant))
				if c, err = compare.Diff(a, b, opts); err != nil {
					t.Fatal(err)
				}
				if c.Gate.Failed() {
					caught++
				}
			}
			power, fa := rate(caught, reps), rate(alarms, reps)
			if sumMDE == 0 {
				t.Logf("%s: no resolution stated; A/A false alarms %s", name, pct(fa))
			} else {
				t.Logf("%s: mean printed resolution %.2f pp; loss at it caught %s; A/A false alarms %s",
					name, 100*sumMDE/float64(reps), pct(power), pct(fa))
			}
			if sumMDE > 0 && power.CI.Lo < stats.DefaultPower {
				t.Errorf("a loss at the printed resolution was caught %s: the lower bound is below %g", pct(power), stats.DefaultPower)
			}
			if fullSim() && fa.CI.Hi > alpha {
				t.Errorf("false alarms %s: the upper bound is above alpha %g", pct(fa), alpha)
			}
			if !fullSim() && fa.P > alpha {
				t.Errorf("false alarms %s, above alpha %g", pct(fa), alpha)
			}
		})
	}
}

// TestSimThreshold checks that the policy's threshold means what
// docs/diff.md says: with the default policy (a 2 pp threshold), a true loss
// of 1.8 pp on 2,000 cases fails the gate at most alpha of the time (upper
// end of the 95% interval, in the full simulation), however often it is
// significant; and that the words follow the numbers in every comparison: an
// interval that excludes 0 is never "no significant change", and one wholly
// below −2 pp is always "regressed".
func TestSimThreshold(t *testing.T) {
	const (
		n     = 2000
		pass  = 0.80
		psi   = 0.05
		loss  = 0.018
		alpha = 0.05
	)
	reps := simReps(4000, 60)
	sim := newSimulator(rand.New(rand.NewPCG(2025, 99)), n, 0)
	opts := compare.Options{Cases: sim.cases, Resamples: 20}
	failed, significant := 0, 0
	for range reps {
		a, b := sim.draw(cells(pass, psi, loss, extraFailures))
		c, err := compare.Diff(a, b, opts)
		if err != nil {
			t.Fatal(err)
		}
		pr := &c.PassRates[0]
		if c.Gate.Failed() {
			failed++
		}
		if pr.Verdict == compare.Within || pr.Verdict == compare.Regressed {
			significant++
		}
		checkWords(t, pr)
	}
	fails, sig := rate(failed, reps), rate(significant, reps)
	t.Logf("true loss %.1f pp on %d cases, threshold 2 pp: gate failed %s; significant loss %s", 100*loss, n, pct(fails), pct(sig))
	if fullSim() && fails.CI.Hi > alpha || !fullSim() && fails.P > alpha {
		t.Errorf("a loss within the threshold failed the gate %s, want at most alpha %g", pct(fails), alpha)
	}
}

// checkWords fails t when a pass rate's verdict and words do not follow its
// interval and threshold.
func checkWords(t *testing.T, pr *compare.PassRate) {
	t.Helper()
	w := pr.Words()
	excludes0 := pr.CI.Hi < 0 || pr.CI.Lo > 0
	if excludes0 && (pr.Verdict == compare.NoChange || pr.Verdict == compare.Underpowered || strings.Contains(w, "no significant change")) {
		t.Errorf("%s: interval [%g, %g] excludes 0 but the words are %q", pr.Name(), pr.CI.Lo, pr.CI.Hi, w)
	}
	if th := pr.Threshold.MinEffect; pr.CI.Hi < -th && pr.Verdict != compare.Regressed {
		t.Errorf("%s: interval [%g, %g] lies below −%g but the verdict is %q", pr.Name(), pr.CI.Lo, pr.CI.Hi, th, pr.Verdict)
	}
	if pr.Verdict == compare.NoChange && !strings.Contains(w, "resolution ≥") && !strings.Contains(w, "too few cases") {
		t.Errorf("%s: %q states no resolution", pr.Name(), w)
	}
}

// TestSimSamples compares the two ways of counting samples on suites run
// three times per case, where cases differ in how reliably they pass: a
// 3 pp loss on 300 cases is caught far more often when the samples are
// averaged (and the paired differences of the pass shares tested) than by
// majority vote, and with no change neither raises more false alarms than
// alpha.
func TestSimSamples(t *testing.T) {
	const (
		n, k  = 300, 3
		loss  = 0.03
		alpha = 0.05
	)
	reps := simReps(6000, 40)
	rng := rand.New(rand.NewPCG(2025, 7))
	// Each case has its own pass probability: most pass reliably, some are
	// coin flips, some fail reliably.
	probs := make([]float64, n)
	mean := 0.0
	for i := range probs {
		switch u := rng.Float64(); {
		case u < 0.6:
			probs[i] = 0.9 + 0.1*rng.Float64()
		case u < 0.85:
			probs[i] = 0.3 + 0.4*rng.Float64()
		default:
			probs[i] = 0.1 * rng.Float64()
		}
		mean += probs[i] / n
	}
	base, cand := make([]eval.Result, n*k), make([]eval.Result, n*k)
	for i := range n {
		id := fmt.Sprintf("c%05d", i)
		for s := range k {
			r := eval.Result{CaseID: id, CaseHash: "h-" + id, Sample: s, Output: "out", Latency: 100 * time.Millisecond}
			base[i*k+s], cand[i*k+s] = r, r
		}
	}
	draw := func(delta float64) (compare.Side, compare.Side) {
		for i, p := range probs {
			q := p * (1 - delta/mean) // a proportional loss of delta in pass rate
			for s := range k {
				base[i*k+s].Checks = simFail
				if rng.Float64() < p {
					base[i*k+s].Checks = simPass
				}
				cand[i*k+s].Checks = simFail
				if rng.Float64() < q {
					cand[i*k+s].Checks = simPass
				}
			}
		}
		return compare.Side{Run: run(1, lockA, k), Results: base}, compare.Side{Run: run(2, lockB, k), Results: cand}
	}
	power := make(map[string]stats.Proportion)
	for _, agg := range []string{compare.AggregateMean, compare.AggregateMajority} {
		pol := strictPolicy()
		pol.Aggregate = agg
		opts := compare.Options{Policy: pol, Resamples: 20}
		alarms, caught := 0, 0
		for range reps {
			a, b := draw(0)
			c, err := compare.Diff(a, b, opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.Gate.Failed() {
				alarms++
			}
			a, b = draw(loss)
			if c, err = compare.Diff(a, b, opts); err != nil {
				t.Fatal(err)
			}
			if c.Gate.Failed() {
				caught++
			}
		}
		fa := rate(alarms, reps)
		power[agg] = rate(caught, reps)
		t.Logf("%d samples, %s: a %.0f pp loss caught %s; A/A false alarms %s", k, agg, 100*loss, pct(power[agg]), pct(fa))
		if fullSim() && fa.CI.Hi > alpha || !fullSim() && fa.P > alpha {
			t.Errorf("%s: false alarms %s, above alpha %g", agg, pct(fa), alpha)
		}
	}
	if fullSim() && !(power[compare.AggregateMean].CI.Lo > power[compare.AggregateMajority].CI.Hi) {
		t.Errorf("averaging caught %s, majority vote %s: want averaging clearly ahead",
			pct(power[compare.AggregateMean]), pct(power[compare.AggregateMajority]))
	}
}
