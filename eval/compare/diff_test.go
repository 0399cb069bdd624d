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

// TestAggregation checks how samples are aggregated: by default a case
// counts by the share of its samples that pass; a policy can ask for a
// strict majority instead.
func TestAggregation(t *testing.T) {
	for _, tt := range []struct {
		samples  []bool
		majority bool    // the case passes by majority vote
		share    float64 // its pass share
	}{
		{[]bool{true}, true, 1},
		{[]bool{false}, false, 0},
		{[]bool{true, false}, false, 0.5}, // a tie is not a majority
		{[]bool{true, true, false}, true, 2.0 / 3},
		{[]bool{true, false, false}, false, 1.0 / 3},
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
		for _, agg := range []string{compare.AggregateMajority, compare.AggregateMean} {
			pol := compare.DefaultPolicy()
			pol.Aggregate = agg
			c, err := compare.Diff(compare.Side{Run: run(1, lockA, k), Results: base}, compare.Side{Run: run(2, lockB, k), Results: cand}, compare.Options{Policy: &pol})
			if err != nil {
				t.Fatal(err)
			}
			overall := c.PassRates[0]
			want := tt.share
			if agg == compare.AggregateMajority || k == 1 {
				want = b2f(tt.majority)
			}
			if got := overall.Candidate.P; math.Abs(got-want) > 1e-12 {
				t.Errorf("samples %v, %s: candidate pass rate %g, want %g", tt.samples, agg, got, want)
			}
			wantMethod := compare.MethodNewcombe
			if agg == compare.AggregateMean && k > 1 {
				wantMethod = compare.MethodMean
			}
			if overall.Method != wantMethod {
				t.Errorf("samples %v, %s: Method %q, want %q", tt.samples, agg, overall.Method, wantMethod)
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
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
	// One gated metric (the scorer repeats all checks) judged one-sided at
	// 0.05: the matching two-sided interval is at 90%.
	if overall.CI.Lo != -1 || overall.CI.Hi != 1 || overall.CI.Level != 0.9 {
		t.Errorf("CI = %+v, want [−1, 1] at 0.9 (the unbounded t interval cut to the possible range)", overall.CI)
	}
	if !(overall.Cluster.CI.Hi > 1) {
		t.Errorf("the raw cluster interval %+v should reach beyond 1 in this case", overall.Cluster.CI)
	}
}
