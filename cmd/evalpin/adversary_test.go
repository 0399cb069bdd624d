package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/adversary"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/runner"
)

// These tests try to break "what is stored under a lock came from that lock"
// through the CLI, with a server that lies on a plan.

// advCounted counts the suite's completions, not the lock probe's.
func advCounted(prompt string) bool { return strings.HasPrefix(prompt, "prompt ") }

// advStart serves s on loopback and returns its OpenAI base URL.
func advStart(t *testing.T, s *adversary.Server) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// advBatch makes the run check a re-probed lock once n results are held, and
// never sooner: a check then brackets exactly n results.
func advBatch(a *app, n int) *app {
	a.commitInterval, a.commitBatch = time.Hour, n
	return a
}

// advAfterCheck returns a hook that, before completion n+1 is answered,
// waits until the lock was checked after completion n, then calls change.
func advAfterCheck(t *testing.T, s *adversary.Server, n int64, change func()) func(int64) {
	return func(m int64) {
		if m != n+1 {
			return
		}
		if !s.WaitFor(10*time.Second, adversary.CheckAfter(adversary.RouteWellKnown, n)) {
			t.Error("no check of the well-known document after completion", n)
		}
		change()
	}
}

// TestRunAdversaryLockChanges: a server swaps, drops or contradicts its lock
// after the 5th completion of a 20-case run, on each channel. The run exits 3,
// stores exactly the 5 results the lock vouched for (each by its own
// response, or confirmed by a check that started after it arrived), records
// the refusal, and, once the server is healed, the same command requests
// exactly the 15 others and completes.
func TestRunAdversaryLockChanges(t *testing.T) {
	const n = 5
	header := adversary.Channels{Header: true}
	fingerprint := adversary.Channels{Fingerprint: true}
	modelName := adversary.Channels{ModelName: true}
	sidecar := adversary.Channels{WellKnown: true, Header: true}
	tests := []struct {
		name  string
		cfg   adversary.Config
		rules []adversary.Rule
		hook  func(t *testing.T, s *adversary.Server) func(int64)
		msg   string
	}{
		{name: "header swapped", cfg: adversary.Config{Channels: header},
			rules: []adversary.Rule{{After: n, Action: adversary.Action{SetLock: &adversary.LockChange{Lock: runLockB, Channels: header}}}},
			msg:   "carries Evalpin-Lock " + runLockB},
		{name: "header dropped", cfg: adversary.Config{Channels: header},
			rules: []adversary.Rule{{After: n, Action: adversary.Action{Drop: header}}},
			msg:   "carries no Evalpin-Lock header"},
		{name: "fingerprint swapped", cfg: adversary.Config{Channels: fingerprint},
			rules: []adversary.Rule{{After: n, Action: adversary.Action{SetLock: &adversary.LockChange{Lock: runLockB, Channels: fingerprint}}}},
			msg:   "system_fingerprint"},
		// Before, a completion with neither field was taken for an error body
		// and not checked: every swapped output was stored.
		{name: "fingerprint and model dropped", cfg: adversary.Config{Channels: fingerprint},
			rules: []adversary.Rule{{After: n, Action: adversary.Action{Drop: fingerprint, DropModel: true}}},
			msg:   "carries no system_fingerprint"},
		{name: "served name swapped", cfg: adversary.Config{Channels: modelName},
			rules: []adversary.Rule{{After: n, Action: adversary.Action{SetLock: &adversary.LockChange{Lock: runLockB, Channels: modelName}}}},
			msg:   "names model"},
		{name: "served name dropped", cfg: adversary.Config{Channels: modelName},
			rules: []adversary.Rule{{After: n, Action: adversary.Action{DropModel: true}}},
			msg:   "names no model"},
		// Two channels that disagree are a lock change: the header still
		// names A while the well-known document names B.
		{name: "well-known changed, header unchanged", cfg: adversary.Config{Channels: sidecar},
			hook: func(t *testing.T, s *adversary.Server) func(int64) {
				return advAfterCheck(t, s, n, func() { s.SetLock(runLockB, adversary.Channels{WellKnown: true}) })
			},
			msg: "now names lock " + runLockB},
		{name: "sidecar restarted", cfg: adversary.Config{Channels: sidecar, WellKnownModel: "adv", Generation: "g1"},
			hook: func(t *testing.T, s *adversary.Server) func(int64) {
				return advAfterCheck(t, s, n, func() { s.SetGeneration("g2") })
			},
			msg: "established its claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := advBatch(runQuiet(t), n)
			cfg := tt.cfg
			cfg.Lock, cfg.Counted = runLockA, advCounted
			s := adversary.New(cfg)
			s.Plan(tt.rules...)
			if tt.hook != nil {
				s.OnCompletion(tt.hook(t, s))
			}
			dir := t.TempDir()
			dbPath := filepath.Join(dir, "e.db")
			args := []string{"run", "--suite", runSuiteFile(t, dir, 20), "--endpoint", advStart(t, s), "--db", dbPath, "--concurrency", "1", "--no-progress"}
			code, _, stderr := a.cmd(context.Background(), args...)
			if code != fault.ExitLockRefused || !strings.Contains(stderr, tt.msg) {
				t.Fatalf("exit %d, want %d and %q in\n%s", code, fault.ExitLockRefused, tt.msg, stderr)
			}
			if want := fmt.Sprintf("%d of 20 case samples stored", n); !strings.Contains(stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, stderr)
			}
			db := runOpen(t, dbPath)
			ids := runCaseIDs(20)
			lock := runLockA
			if cfg.Channels.ModelName {
				lock = "sha256:" + strings.TrimPrefix(runLockA, "sha256:")
			}
			runCheckStored(t, db, 1, ids[:n], 1, lockid.ID(lock))
			r, err := db.Run(context.Background(), 1)
			if err != nil || r.Status != eval.RunInterrupted || !strings.Contains(r.LockRefusal, tt.msg) {
				t.Fatalf("run %+v, %v: want interrupted with the refusal recorded", r, err)
			}

			if code, out, _ := runCmd(context.Background(), "runs", "--db", dbPath); code != 0 || !strings.Contains(out, "interrupted (lock changed)") {
				t.Errorf("evalpin runs: exit %d, want the run marked:\n%s", code, out)
			}
			if code, out, _ := runCmd(context.Background(), "show", "1", "--db", dbPath); code != 0 || !strings.Contains(out, "Stopped    ") {
				t.Errorf("evalpin show 1: exit %d, want the refusal:\n%s", code, out)
			}

			// Healed, the same command requests exactly the missing cases.
			s.ClearPlan()
			s.SetLock(runLockA, cfg.Channels)
			before := s.Completions()
			code, _, stderr = a.cmd(context.Background(), args...)
			if code != 0 || !strings.Contains(stderr, fmt.Sprintf("resuming run 1 (interrupted): %d of 20", n)) {
				t.Fatalf("resume: exit %d\n%s", code, stderr)
			}
			if got := s.Completions() - before; got != 20-n {
				t.Errorf("the resume requested %d cases, want exactly the %d not stored", got, 20-n)
			}
			runCheckStored(t, db, 1, ids, 1, lockid.ID(lock))
		})
	}
}

// TestRunAdversaryFailures: requests that fail say so; a run where nothing
// succeeded is never complete and never exits 0.
func TestRunAdversaryFailures(t *testing.T) {
	sidecar := adversary.Channels{WellKnown: true, Header: true}
	header := adversary.Channels{Header: true}
	tests := []struct {
		name     string
		cfg      adversary.Config
		rules    []adversary.Rule
		endpoint func(base string) string // the --endpoint given; nil: base
		args     []string
		code     int
		msg      string
		status   eval.RunStatus // "" when no run may be created
		kinds    map[string]int // stored error kinds
	}{
		{name: "every request 404", cfg: adversary.Config{Channels: sidecar},
			rules: []adversary.Rule{{Action: adversary.Action{Status: 404, Body: `{"error":{"message":"model not found"}}`}}},
			code:  fault.ExitInput, msg: "no request succeeded: every one was answered 404", status: eval.RunInterrupted,
			kinds: map[string]int{runner.ErrNotFound: 20}},
		{name: "garbage bodies", cfg: adversary.Config{Channels: sidecar},
			rules: []adversary.Rule{{Action: adversary.Action{Status: 200, Body: `<html>oops</html>`}}},
			code:  fault.ExitIncomplete, msg: "no request succeeded (malformed 20)", status: eval.RunInterrupted,
			kinds: map[string]int{runner.ErrMalformed: 20}},
		{name: "one case cut off on every attempt", cfg: adversary.Config{Channels: header},
			rules: []adversary.Rule{{Match: "case-003", Action: adversary.Action{CutBody: true}}},
			args:  []string{"--retries", "1"}, code: 0, status: eval.RunComplete,
			kinds: map[string]int{runner.ErrTruncated: 1}},
		{name: "a 503 without the lock on every attempt is transient", cfg: adversary.Config{Channels: header},
			rules: []adversary.Rule{{Match: "case-003", Action: adversary.Action{Status: 503, Drop: header}}},
			args:  []string{"--retries", "1"}, code: fault.ExitIncomplete, msg: "failed every attempt", status: eval.RunInterrupted,
			kinds: map[string]int{runner.ErrServer: 1}},
		{name: "401 mid-run", cfg: adversary.Config{Channels: header},
			rules: []adversary.Rule{{After: 5, Action: adversary.Action{Status: 401, Body: `{"error":{"message":"key revoked"}}`}}},
			code:  fault.ExitInput, msg: "refused the credentials", status: eval.RunInterrupted},
		{name: "401 to the probe", cfg: adversary.Config{Channels: header},
			rules: []adversary.Rule{{Action: adversary.Action{Status: 401, Body: `{"error":{"message":"no key"}}`}}},
			code:  fault.ExitInput, msg: "refused the credentials"},
		{name: "base URL without /v1", cfg: adversary.Config{Channels: header},
			endpoint: func(base string) string { return strings.TrimSuffix(base, "/v1") },
			code:     fault.ExitInput, msg: "did you mean http://"},
		{name: "base URL with a trailing slash", cfg: adversary.Config{Channels: header},
			endpoint: func(base string) string { return base + "/" },
			code:     0, status: eval.RunComplete},
		{name: "model not served", cfg: adversary.Config{Channels: header},
			args: []string{"--model", "adw"}, code: fault.ExitInput, msg: `does not serve model "adw" (served: adv)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runQuiet(t)
			cfg := tt.cfg
			cfg.Lock = runLockA
			if tt.name != "401 to the probe" {
				cfg.Counted = advCounted
			}
			s := adversary.New(cfg)
			s.Plan(tt.rules...)
			ep := advStart(t, s)
			if tt.endpoint != nil {
				ep = tt.endpoint(ep)
			}
			dir := t.TempDir()
			dbPath := filepath.Join(dir, "e.db")
			args := append([]string{"run", "--suite", runSuiteFile(t, dir, 20), "--endpoint", ep, "--db", dbPath, "--concurrency", "1", "--no-progress"}, tt.args...)
			code, _, stderr := runCmd(context.Background(), args...)
			if code != tt.code || !strings.Contains(stderr, tt.msg) {
				t.Fatalf("exit %d, want %d and %q in\n%s", code, tt.code, tt.msg, stderr)
			}
			if tt.status == "" {
				if fileExists(dbPath) {
					t.Errorf("the database was created; a command refused before its run must not touch it")
				}
				return
			}
			db := runOpen(t, dbPath)
			if got := runStatus(t, db, 1); got != tt.status {
				t.Errorf("status %s, want %s", got, tt.status)
			}
			results, err := db.Results(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, r := range results {
				if r.ErrorKind != "" {
					kinds[r.ErrorKind]++
				}
			}
			if fmt.Sprint(kinds) != fmt.Sprint(orEmpty(tt.kinds)) {
				t.Errorf("stored error kinds %v, want %v", kinds, orEmpty(tt.kinds))
			}
		})
	}
}

func orEmpty(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// A candidate none of whose requests succeeded is never a pass: its run is not
// complete (exit 2 when every answer was 404), gate refuses to use it as is
// (exit 4),
// and asked to (--allow-incomplete) it is INCONCLUSIVE, exit 6.
func TestRunAdversaryGateNeedsEvidence(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "e.db")
	suite := runSuiteFile(t, dir, 20)
	good := adversary.New(adversary.Config{Lock: runLockA, Channels: adversary.Channels{Header: true}, Counted: advCounted})
	bad := adversary.New(adversary.Config{Lock: runLockB, Channels: adversary.Channels{Header: true}, Counted: advCounted})
	bad.Plan(adversary.Rule{Action: adversary.Action{Status: 404, Body: `{"error":{"message":"model not found"}}`}})
	run := func(s *adversary.Server) int {
		code, _, stderr := runCmd(context.Background(), "run", "--suite", suite, "--endpoint", advStart(t, s), "--db", dbPath, "--no-progress")
		t.Log(stderr)
		return code
	}
	if code := run(good); code != 0 {
		t.Fatalf("baseline run: exit %d", code)
	}
	if code := run(bad); code != fault.ExitInput {
		t.Fatalf("candidate run, every request 404: exit %d, want %d", code, fault.ExitInput)
	}
	code, _, stderr := runCmd(context.Background(), "gate", "--baseline", "1", "--candidate", "2", "--db", dbPath)
	if code != fault.ExitIncomplete || !strings.Contains(stderr, "not complete") {
		t.Errorf("gate on the incomplete candidate: exit %d, want %d saying it is not complete\n%s", code, fault.ExitIncomplete, stderr)
	}
	code, stdout, stderr := runCmd(context.Background(), "gate", "--baseline", "1", "--candidate", "2", "--db", dbPath, "--allow-incomplete")
	if code != fault.ExitInconclusive || !strings.Contains(stdout+stderr, "INCONCLUSIVE") {
		t.Errorf("gate --allow-incomplete: exit %d, want %d and INCONCLUSIVE\n%s%s", code, fault.ExitInconclusive, stdout, stderr)
	}
}
