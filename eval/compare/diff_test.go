package compare_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

const (
	lockA = "sha256:aaaa"
	lockB = "sha256:bbbb"
)

// res is a result of case id, sample s, with one check per scorer in pass
// ("name" passes, "!name" fails).
func res(id string, s int, out string, checks ...string) eval.Result {
	r := eval.Result{CaseID: id, CaseHash: "h-" + id, Sample: s, Output: out, Latency: 100 * time.Millisecond}
	for _, c := range checks {
		name, fail := strings.CutPrefix(c, "!")
		r.Checks = append(r.Checks, eval.Check{Scorer: name, Pass: !fail, Detail: map[bool]string{true: "wrong"}[fail]})
	}
	return r
}

func run(id int64, lock lockid.ID, samples int) eval.Run {
	s := eval.DefaultSettings()
	s.Samples = samples
	return eval.Run{ID: id, Lock: lock, Suite: "t", Settings: s, SettingsHash: s.Hash(), Status: eval.RunComplete}
}

func TestComparePairing(t *testing.T) {
	base := []eval.Result{
		res("both", 0, "a", "s"),
		res("hash", 0, "a", "s"),
		res("onlyA", 0, "a", "s"),
		res("err", 0, "a", "s"),
	}
	cand := []eval.Result{
		res("both", 0, "a", "!s"),
		res("hash", 0, "a", "s"),
		res("onlyB", 0, "a", "s"),
		res("err", 0, "", "s"),
	}
	cand[1].CaseHash = "other"
	cand[3].Error = "timeout"
	c, err := compare.Diff(compare.Side{Run: run(1, lockA, 1), Results: base}, compare.Side{Run: run(2, lockB, 1), Results: cand}, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := compare.Exclusions{OnlyBaseline: 1, OnlyCandidate: 1, HashChanged: 1, CandidateErrored: 1}
	if c.Excluded != want {
		t.Errorf("Excluded = %+v, want %+v", c.Excluded, want)
	}
	if got, want := c.Excluded.String(), "1 only in baseline, 1 only in candidate, 1 case hash changed, 1 errored in candidate"; got != want {
		t.Errorf("Excluded.String() = %q, want %q", got, want)
	}
	if c.Paired != 1 {
		t.Errorf("Paired = %d, want 1", c.Paired)
	}
	if len(c.Flips) != 1 || c.Flips[0].CaseID != "both" || !c.Flips[0].Lost || !slices.Equal(c.Flips[0].Failed, []string{"s: wrong"}) {
		t.Errorf("Flips = %+v, want one loss of case both failing s", c.Flips)
	}
	if !hasWarning(c.Warnings, "4 cases left out") || !hasWarning(c.Warnings, "only 1 paired cases") {
		t.Errorf("Warnings = %v, want left-out and few-cases warnings", c.Warnings)
	}
}

func hasWarning(ws []error, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w.Error(), sub) {
			return true
		}
	}
	return false
}

func TestCompareSettings(t *testing.T) {
	a, b := run(1, lockA, 1), run(2, lockB, 1)
	b.Settings.MaxTokens = 512
	b.SettingsHash = b.Settings.Hash()
	rs := []eval.Result{res("x", 0, "o", "s")}
	_, err := compare.Diff(compare.Side{Run: a, Results: rs}, compare.Side{Run: b, Results: rs}, compare.Options{})
	if !errors.Is(err, compare.ErrSettingsDiffer) || fault.KindOf(err) != fault.Input {
		t.Fatalf("err = %v, want an input error wrapping ErrSettingsDiffer (the command adds the advice)", err)
	}
	c, err := compare.Diff(compare.Side{Run: a, Results: rs}, compare.Side{Run: b, Results: rs}, compare.Options{AllowSettingsMismatch: true})
	if err != nil {
		t.Fatal(err)
	}
	if !hasWarning(c.Warnings, "settings differ") {
		t.Errorf("Warnings = %v, want the settings warning", c.Warnings)
	}
}

// TestMajority checks how samples are aggregated: a case passes when a strict
// majority of its samples pass.
func TestMajority(t *testing.T) {
	for _, tt := range []struct {
		samples []bool
		want    bool
	}{
		{[]bool{true}, true},
		{[]bool{false}, false},
		{[]bool{true, false}, false}, // a tie is not a majority
		{[]bool{true, true, false}, true},
		{[]bool{true, false, false}, false},
	} {
		var base, cand []eval.Result
		for s, ok := range tt.samples {
			chk := "s"
			if !ok {
				chk = "!s"
			}
			base = append(base, res("c", s, "x", "s"))
			cand = append(cand, res("c", s, "x", chk))
		}
		k := len(tt.samples)
		c, err := compare.Diff(compare.Side{Run: run(1, lockA, k), Results: base}, compare.Side{Run: run(2, lockB, k), Results: cand}, compare.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.PassRates[0].Counts.Both == 1; got != tt.want {
			t.Errorf("samples %v: case passes = %v, want %v", tt.samples, got, tt.want)
		}
	}
}

// A simulator draws pairs of runs of n cases with one scorer whose
// (baseline, candidate) outcomes are drawn with probabilities both, onlyA and
// onlyB (the rest fail on both sides). With clusterSize > 0, consecutive cases
// form clusters of that size and half of a cluster's cases share one draw.
// It reuses its results between draws: a comparison of an earlier draw must
// not be used after the next.
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
		s.base[i] = eval.Result{CaseID: id, CaseHash: "h-" + id, Output: "out"}
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
		s.base[i].Latency = time.Duration(100+s.rng.IntN(50)) * time.Millisecond
		s.cand[i].Latency = time.Duration(100+s.rng.IntN(50)) * time.Millisecond
	}
	return compare.Side{Run: run(1, lockA, 1), Results: s.base}, compare.Side{Run: run(2, lockB, 1), Results: s.cand}
}

// simPolicy gates the pass rates with no practical threshold, so the
// simulations measure the statistics of the gate alone.
func simPolicy() *compare.Policy {
	p := compare.DefaultPolicy()
	p.PassRate.MinEffect = 0
	return &p
}

// TestGateSimulation runs the gate over synthetic pairs of runs of 200 cases:
// with no change it fails at most alpha of the time (plus three simulation
// standard errors), and a loss planted at the minimum detectable effect the
// comparison reports is caught at least 80% of the time (minus three standard
// errors). Each scenario draws 1,000 A/A pairs and 1,000 planted losses.
func TestGateSimulation(t *testing.T) {
	const (
		n     = 200
		reps  = 1000
		psi   = 0.10 // discordance
		pass  = 0.80
		alpha = 0.05
	)
	for _, tt := range []struct {
		name     string
		clusters int
	}{
		{"independent", 0},
		{"clustered", 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := newSimulator(rand.New(rand.NewPCG(1, uint64(tt.clusters))), n, tt.clusters)
			opts := compare.Options{Policy: simPolicy(), Cases: sim.cases, Resamples: 50}
			// The effect the suite reports it could detect, from an A/A run.
			a, b := sim.draw(pass-psi/2, psi/2, psi/2)
			c, err := compare.Diff(a, b, opts)
			if err != nil {
				t.Fatal(err)
			}
			delta := c.PassRates[0].Detectable.Effect
			if !(delta > 0 && delta < 0.2) {
				t.Fatalf("detectable effect = %v, want a finite effect", delta)
			}

			alarms, caught := 0, 0
			for range reps {
				a, b := sim.draw(pass-psi/2, psi/2, psi/2)
				c, err := compare.Diff(a, b, opts)
				if err != nil {
					t.Fatal(err)
				}
				if c.Gate.Failed() {
					alarms++
				}
				a, b = sim.draw(pass-(psi+delta)/2, (psi+delta)/2, (psi-delta)/2)
				if c, err = compare.Diff(a, b, opts); err != nil {
					t.Fatal(err)
				}
				if c.Gate.Failed() {
					caught++
				}
			}
			falseAlarm := float64(alarms) / reps
			power := float64(caught) / reps
			t.Logf("%s: detectable effect %.2f pp; A/A false alarms %.1f%%; planted loss caught %.1f%% (%d pairs each)",
				tt.name, 100*delta, 100*falseAlarm, 100*power, reps)
			if limit := alpha + 3*math.Sqrt(alpha*(1-alpha)/reps); falseAlarm > limit {
				t.Errorf("false-alarm rate %.3f > %.3f", falseAlarm, limit)
			}
			if limit := 0.8 - 3*math.Sqrt(0.8*0.2/reps); power < limit {
				t.Errorf("power at the detectable effect %.3f < %.3f", power, limit)
			}
		})
	}
}

// BenchmarkCompare100k compares two runs of 100,000 cases with two scorers,
// three tags and two samples each (so drift and similarity are tested).
func BenchmarkCompare100k(b *testing.B) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(7, 7))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while seven wizards quietly hex a jovial ox")
	sentence := func() string {
		k := 20 + rng.IntN(40)
		var sb strings.Builder
		for i := range k {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[rng.IntN(len(words))])
		}
		return sb.String()
	}
	var base, cand []eval.Result
	cases := make(map[string]eval.Case, n)
	for i := range n {
		id := fmt.Sprintf("case-%06d", i)
		out := sentence()
		for s := range 2 {
			ca, cb := "a", "b"
			if rng.Float64() < 0.1 {
				ca = "!a"
			}
			if rng.Float64() < 0.12 {
				cb = "!b"
			}
			ob := out
			if rng.Float64() < 0.2 {
				ob = sentence()
			}
			ra := res(id, s, out, ca, "b")
			rb := res(id, s, ob, ca, cb)
			ra.Latency = time.Duration(rng.IntN(2000)) * time.Millisecond
			rb.Latency = time.Duration(rng.IntN(2000)) * time.Millisecond
			base, cand = append(base, ra), append(cand, rb)
		}
		cases[id] = eval.Case{ID: id, Tags: []string{"t" + fmt.Sprint(i%3)}, Cluster: fmt.Sprint(i / 10)}
	}
	sa, sb := compare.Side{Run: run(1, lockA, 2), Results: base}, compare.Side{Run: run(2, lockB, 2), Results: cand}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		if _, err := compare.Diff(sa, sb, compare.Options{Cases: cases}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/1e6, "MB-alloc/op")
	b.ReportMetric(float64(after.HeapSys)/1e6, "MB-heap-sys")
}

// With two clusters the cluster-robust t interval has one degree of freedom and
// reaches far beyond ±100 pp; a difference of pass rates cannot, so the
// interval is cut to [−1, 1].
func TestClusteredIntervalBounded(t *testing.T) {
	base := []eval.Result{res("a1", 0, "x", "s"), res("a2", 0, "x", "!s"), res("b1", 0, "x", "!s"), res("b2", 0, "x", "s")}
	cand := []eval.Result{res("a1", 0, "y", "!s"), res("a2", 0, "x", "!s"), res("b1", 0, "y", "s"), res("b2", 0, "x", "s")}
	cases := map[string]eval.Case{
		"a1": {ID: "a1", Cluster: "A"}, "a2": {ID: "a2", Cluster: "A"},
		"b1": {ID: "b1", Cluster: "B"}, "b2": {ID: "b2", Cluster: "B"},
	}
	c, err := compare.Diff(compare.Side{Run: run(1, lockA, 1), Results: base}, compare.Side{Run: run(2, lockB, 1), Results: cand},
		compare.Options{Cases: cases})
	if err != nil {
		t.Fatal(err)
	}
	overall := c.PassRates[0]
	if overall.Method != compare.MethodClustered {
		t.Fatalf("Method = %q, want %q", overall.Method, compare.MethodClustered)
	}
	if overall.CI.Lo != -1 || overall.CI.Hi != 1 || overall.CI.Level != 0.95 {
		t.Errorf("CI = %+v, want [−1, 1] at 0.95 (the unbounded t interval cut to the possible range)", overall.CI)
	}
	if !(overall.Cluster.CI.Hi > 1) {
		t.Errorf("the raw cluster interval %+v should reach beyond 1 in this case", overall.Cluster.CI)
	}
}
