package main

// The end-to-end simulation of issue 10: suites replayed by "evalpin run"
// against a planted server (internal/stubserver's Planted model, a fresh
// server process per run), compared by "evalpin gate", in-process, exactly
// as a user runs them. It checks that a loss planted at the resolution the
// gate prints is caught at least 80% of the time, that A/A pairs fail at most
// alpha of the time (pass rates, with and without clusters), and that drift
// under correlated repeats fails an A/A gate at most alpha of the time
// against a floor between runs.
//
// By default a fixed-seed subset runs (a few seconds); the full simulation,
// with the figures docs/statistics.md records, is
//
//	make sim
//	(EVALPIN_FULL_SIM=1 go test ./cmd/evalpin -run TestSimE2E -v -timeout 60m)

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/eval/stats"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/stubserver"
)

func fullSimE2E() bool { return os.Getenv("EVALPIN_FULL_SIM") == "1" }

// simE2EReps returns a scenario's repetitions: full in the full simulation,
// else the subset's, and at most 2 under the race detector (which makes
// each run several times slower), where the subset checks the pipeline,
// not the rates.
func simE2EReps(full, subset int) int {
	switch {
	case fullSimE2E():
		return full
	case raceEnabled:
		return min(subset, 2)
	}
	return subset
}

// simWorld is one repetition's store, suite and planted model.
type simWorld struct {
	dir    string
	db     string
	suite  string
	runs   int
	policy string
	extra  []string // more flags of run
}

// newSimWorld makes a repetition's directory under root, with the suite of
// p at samples and the policy; close removes it.
func newSimWorld(root string, p *stubserver.Planted, samples int, policy string, extra ...string) *simWorld {
	dir, err := os.MkdirTemp(root, "rep")
	if err != nil {
		panic(simFailure(err.Error()))
	}
	w := &simWorld{dir: dir, db: filepath.Join(dir, "e.db"), suite: filepath.Join(dir, "suite.jsonl"),
		policy: filepath.Join(dir, "policy.yaml"), extra: extra}
	if err := os.WriteFile(w.suite, []byte(p.SuiteJSONL("planted", samples)), 0o644); err != nil {
		panic(simFailure(err.Error()))
	}
	if err := os.WriteFile(w.policy, []byte(policy), 0o644); err != nil {
		panic(simFailure(err.Error()))
	}
	return w
}

func (w *simWorld) close() { os.RemoveAll(w.dir) }

// run replays the suite with "evalpin run" against a fresh server process
// of model p serving lock, and returns the run's id and how many answers the
// server co-batched. It runs on the repetitions' goroutines, so it fails by
// panicking with a simFailure, which parallelReps reports.
func (w *simWorld) run(p *stubserver.Planted, lock string, process uint64) (int64, int) {
	pr := p.Process(process)
	srv := httptest.NewServer(stubserver.New(stubserver.Config{Lock: lock, Model: "planted", Script: pr}))
	defer srv.Close()
	args := append([]string{"run", "--suite", w.suite, "--endpoint", srv.URL + "/v1", "--db", w.db,
		"--concurrency", "16", "--no-progress", "--fresh"}, w.extra...)
	code, _, stderr := runCmd(context.Background(), args...)
	if code != 0 {
		panic(simFailure(fmt.Sprintf("evalpin run: exit %d\n%s", code, stderr)))
	}
	w.runs++
	return int64(w.runs), pr.CoBatched()
}

// simGate is what a simulation reads of "evalpin gate --format json".
type simGate struct {
	PassRates []struct {
		Detectable *float64 `json:"detectable_effect"`
		Verdict    string   `json:"verdict"`
	} `json:"pass_rates"`
	Drift struct {
		Verdict    string `json:"verdict"`
		LowerBound bool   `json:"floor_lower_bound"`
	} `json:"drift"`
	Gate struct {
		Verdict     string   `json:"verdict"`
		Unconfirmed []string `json:"unconfirmed"`
	} `json:"gate"`
}

// gate runs "evalpin gate" on runs base and cand under the world's policy.
func (w *simWorld) gate(base, cand int64) simGate {
	code, stdout, stderr := runCmd(context.Background(), "gate", "--db", w.db, "--baseline", strconv.FormatInt(base, 10),
		"--candidate", strconv.FormatInt(cand, 10), "--policy", w.policy, "--format", "json")
	if code != 0 && code != 1 && code != 6 {
		panic(simFailure(fmt.Sprintf("evalpin gate: exit %d\n%s", code, stderr)))
	}
	var g simGate
	if err := json.Unmarshal([]byte(stdout), &g); err != nil {
		panic(simFailure(fmt.Sprintf("gate JSON: %v\n%s", err, stdout)))
	}
	return g
}

// simRate is k of n with its 95% Wilson interval.
func simRate(k, n int) stats.Proportion { return stats.Wilson(k, n, 0.95) }

func simPct(p stats.Proportion) string {
	return fmt.Sprintf("%.1f%% [%.1f, %.1f] (%d of %d)", 100*p.P, 100*p.CI.Lo, 100*p.CI.Hi, p.K, p.N)
}

// The locks of the simulations: the baseline's and the candidate's.
var simLockA, simLockB = runLockA, runLockB

const (
	// simStrict gates the pass rates with no practical threshold: the gate
	// fails on any significant loss, so the simulation measures the test and
	// the resolution the report prints.
	simStrict = "pass_rate: {min_effect: 0}\n"
)

// A simFailure is a repetition's failure, raised on its goroutine and
// reported by parallelReps on the test's.
type simFailure string

// parallelReps runs reps repetitions of f on two goroutines and returns f's
// counts summed; a repetition that panics with a simFailure fails the test
// and the rest are not run.
func parallelReps(t *testing.T, reps int, f func(rep int) [4]int) [4]int {
	t.Helper()
	var failed []string
	var (
		mu  sync.Mutex
		sum [4]int
		wg  sync.WaitGroup
	)
	next := make(chan int)
	one := func(rep int) (c [4]int, ok bool) {
		defer func() {
			if r := recover(); r != nil {
				msg, isSim := r.(simFailure)
				if !isSim {
					panic(r)
				}
				mu.Lock()
				failed = append(failed, fmt.Sprintf("repetition %d: %s", rep, msg))
				mu.Unlock()
			}
		}()
		return f(rep), true
	}
	for range 2 {
		wg.Go(func() {
			for rep := range next {
				c, ok := one(rep)
				if !ok {
					continue
				}
				mu.Lock()
				for i := range c {
					sum[i] += c[i]
				}
				mu.Unlock()
			}
		})
	}
	for rep := range reps {
		mu.Lock()
		stop := len(failed) > 0
		mu.Unlock()
		if stop {
			break
		}
		next <- rep
	}
	close(next)
	wg.Wait()
	for _, f := range failed {
		t.Fatal(f)
	}
	return sum
}

// TestSimE2EPassRates: each repetition runs a 300-case suite (80% pass, 10%
// of the cases flipping between runs) through the CLI: the baseline and an
// A/A re-run of lock A (a false alarm when the gate fails), then, in the
// first 400 repetitions, two runs of lock B with a loss of exactly the
// resolution the A/A gate printed for the overall pass rate, planted as
// extra failures in one and as a proportional loss in the other (each
// caught when its gate fails). The A/A pairs do not depend on how a loss is
// planted, so the full simulation runs 2,000 of them a scenario: at a true
// rate near 4%, fewer cannot bound the false alarms below 5%.
func TestSimE2EPassRates(t *testing.T) {
	runQuiet(t)
	root := t.TempDir()
	const n, alpha = 300, 0.05
	for i, sc := range []struct {
		clusterSize int
		subset      int
	}{
		{0, 5},
		{4, 4},
	} {
		name := "independent"
		if sc.clusterSize > 1 {
			name = fmt.Sprintf("%d clusters of %d", n/sc.clusterSize, sc.clusterSize)
		}
		reps, planted := simE2EReps(2000, sc.subset), simE2EReps(400, sc.subset)
		if reps == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var mdeSum float64
			var mu sync.Mutex
			got := parallelReps(t, reps, func(rep int) [4]int {
				p := &stubserver.Planted{Seed: uint64(1000*(i+1) + rep), Cases: n, StablePass: 0.7, StableFail: 0.1,
					ClusterSize: sc.clusterSize, ClusterShare: 0.5}
				w := newSimWorld(root, p, 1, simStrict)
				defer w.close()
				a, _ := w.run(p, simLockA, 1)
				b, _ := w.run(p, simLockA, 2)
				var r [4]int
				g := w.gate(a, b)
				if g.Gate.Verdict == string(compare.GateFail) {
					r[0] = 1
				}
				d := g.PassRates[0].Detectable
				if d == nil || !(*d > 0 && *d < 0.8) {
					panic(simFailure(fmt.Sprintf("printed resolution %v, want a finite loss", d)))
				}
				if rep >= planted {
					return r
				}
				mu.Lock()
				mdeSum += *d
				mu.Unlock()
				r[3] = 1
				for k, proportional := range []bool{false, true} {
					lossy := *p
					lossy.Loss, lossy.Proportional = *d, proportional
					c, _ := w.run(&lossy, simLockB, uint64(3+k))
					if w.gate(a, c).Gate.Verdict == string(compare.GateFail) {
						r[1+k] = 1
					}
				}
				return r
			})
			fa := simRate(got[0], reps)
			t.Logf("%s: A/A false alarms %s; mean printed resolution %.2f pp over %d planted repetitions",
				name, simPct(fa), 100*mdeSum/float64(got[3]), got[3])
			for k, plant := range []string{"extra failures", "proportional loss"} {
				power := simRate(got[1+k], got[3])
				t.Logf("%s, %s: loss at the printed resolution caught %s", name, plant, simPct(power))
				switch {
				case fullSimE2E() && power.CI.Lo < stats.DefaultPower:
					t.Errorf("%s: caught %s: the lower bound is below %g", plant, simPct(power), stats.DefaultPower)
				case !fullSimE2E() && !raceEnabled && power.P < 0.5:
					// A few repetitions bound nothing tightly; they catch
					// a broken pipeline, not a small bias.
					t.Errorf("%s: caught %s", plant, simPct(power))
				}
			}
			switch {
			case fullSimE2E() && fa.CI.Hi > alpha:
				t.Errorf("false alarms %s: the upper bound is above alpha %g", simPct(fa), alpha)
			case !fullSimE2E() && !raceEnabled && got[0] > 1:
				t.Errorf("false alarms %s", simPct(fa))
			}
		})
	}
}

// TestSimE2EDrift: drift of A/A pairs under correlated repeats (800
// repetitions a scenario in the full simulation). Each repetition runs a 300-case suite three times on lock A with samples 2 and
// --batch 4 (the baseline, a re-run, the candidate), each on a server process
// of its own whose repeats are correlated both persistently (a share rho of
// the cases varies once per process) and time-locally (an answer co-batched
// with one of its prompt copies it, with probability rho). The gate through
// the CLI judges drift (max_drift: 0) against the baseline's within-run
// floor, a lower bound: it must never FAIL on it, and the simulation counts
// how often that floor alone would have called drift (Unconfirmed).
// Against the floor between runs (runs.LoadPair's Floor, into
// compare.Options.Floor) drift must fail at most alpha of the time. The
// server must never have co-batched two repeats.
func TestSimE2EDrift(t *testing.T) {
	runQuiet(t)
	root := t.TempDir()
	const n, alpha = 300, 0.05
	for i, sc := range []struct {
		rho    float64
		subset int
	}{
		{0.2, 0},
		{0.7, 6},
	} {
		reps := simE2EReps(800, sc.subset)
		if reps == 0 {
			continue
		}
		name := fmt.Sprintf("rho=%.1f", sc.rho)
		t.Run(name, func(t *testing.T) {
			var gateFails, driftFails, unconfirmed, cobatched int
			var mu sync.Mutex
			got := parallelReps(t, reps, func(rep int) [4]int {
				p := &stubserver.Planted{Seed: uint64(5000*(i+1) + rep), Cases: n, StablePass: 0.7, StableFail: 0.1,
					Unstable: 0.3, Vary: 0.5, Persistent: sc.rho, CoBatch: sc.rho}
				w := newSimWorld(root, p, 2, "max_drift: 0\n", "--batch", "4")
				defer w.close()
				a, ca := w.run(p, simLockA, 1)
				_, cf := w.run(p, simLockA, 2)
				c, cc := w.run(p, simLockA, 3)
				g := w.gate(a, c)
				if g.Drift.LowerBound {
					panic(simFailure("the CLI's drift floor is not the floor between runs of the baseline's lock (run 2)"))
				}
				var r [4]int
				if g.Gate.Verdict == string(compare.GateFail) {
					r[0] = 1
				}
				if len(g.Gate.Unconfirmed) > 0 {
					r[1] = 1
				}
				if floorDriftFails(w.db, a, c) {
					r[2] = 1
				}
				mu.Lock()
				cobatched += ca + cf + cc
				mu.Unlock()
				return r
			})
			gateFails, unconfirmed, driftFails = got[0], got[1], got[2]
			gf, un, df := simRate(gateFails, reps), simRate(unconfirmed, reps), simRate(driftFails, reps)
			t.Logf("%s: %d repetitions; gate FAIL through the CLI (any metric, floor between runs) %s; drift above the within-run floor alone %s; "+
				"drift FAIL against the floor between runs %s; answers co-batched %d",
				name, reps, simPct(gf), simPct(un), simPct(df), cobatched)
			if cobatched > 0 {
				t.Errorf("the server co-batched %d repeats: the runner sent two samples of a case together", cobatched)
			}
			bound := df.P
			if fullSimE2E() {
				bound = df.CI.Hi
			}
			if bound > alpha && (fullSimE2E() || driftFails > 1 && !raceEnabled) {
				t.Errorf("drift against the floor between runs failed %s: above alpha %g", simPct(df), alpha)
			}
			if fullSimE2E() && gf.CI.Hi > alpha {
				t.Errorf("the gate failed %s of A/A pairs: above alpha %g", simPct(gf), alpha)
			}
		})
	}
}

// floorDriftFails compares runs base and cand of the store at path as the
// gate does, with the noise floor between runs that runs.LoadPair finds
// (the wiring of compare.Options.Floor), and reports whether drift fails.
func floorDriftFails(path string, base, cand int64) bool {
	fail := func(err error) { panic(simFailure(err.Error())) }
	db, err := store.Open(path)
	if err != nil {
		fail(err)
	}
	defer db.Close()
	b, _ := runs.ParseRef(strconv.FormatInt(base, 10))
	c, _ := runs.ParseRef(strconv.FormatInt(cand, 10))
	p, err := runs.LoadPair(context.Background(), db, b, c, runs.PairOptions{})
	if err != nil {
		fail(err)
	}
	if p.Floor == nil {
		fail(errors.New("no floor between runs: the baseline's lock was run once"))
	}
	md := 0.0
	pol := compare.DefaultPolicy()
	pol.MaxDrift = &md
	cmp, err := compare.Diff(simSide(p.Base), simSide(p.Cand), compare.Options{Policy: &pol, Label: p.Label,
		Floor: &compare.Side{Run: p.Floor.Run, Rows: p.Floor.Results}, Warnings: p.Warnings})
	if err != nil {
		fail(err)
	}
	if cmp.Drift.LowerBound || cmp.Drift.FloorRun != compare.FloorRerun {
		fail(fmt.Errorf("floor %q (lower bound %v), want the re-run", cmp.Drift.FloorRun, cmp.Drift.LowerBound))
	}
	return cmp.Drift.Failed()
}

// simSide is the comparison's side of a loaded side.
func simSide(s runs.Side) compare.Side {
	return compare.Side{Run: s.Run, Rows: s.Results, File: s.File}
}
