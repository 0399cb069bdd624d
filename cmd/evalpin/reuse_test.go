package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/lockid"
)

// A suite grown by a case, run again against the same lock at the same
// settings, requests the new case only: the results of unchanged cases are
// copied from the earlier version's complete run. A changed case, another
// lock, other settings and --fresh request again.
func TestRunReusesUnchangedCases(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "e.db")
	fake, other := newRunFake(runLockA), newRunFake(runLockB)
	ep, otherEP := fake.start(t), other.start(t)
	ctx := context.Background()
	// run returns the command line of a run of the suite of n cases, which
	// it writes when called: each step writes its version of the suite.
	run := func(n int, endpoint string, extra ...string) func() []string {
		return func() []string {
			return append([]string{"run", "--suite", runSuiteFile(t, dir, n), "--endpoint", endpoint, "--db", db}, extra...)
		}
	}
	tests := []struct {
		name     string
		edit     func()
		args     func() []string
		requests int64 // suite requests fake has received after the step
		stderr   string
	}{
		{"first", nil, run(20, ep), 20, "run 1: 20 cases × 1 sample"},
		{"grown-by-one", nil, run(21, ep), 21, "run 2: 21 cases × 1 sample, settings "},
		{"other-settings", nil, run(22, ep, "--max-tokens", "9"), 43, "run 3: 22 cases"},
		{"changed-case", func() {
			path := runSuiteFile(t, dir, 22)
			data, _ := os.ReadFile(path)
			os.WriteFile(path, []byte(strings.Replace(string(data), `"prompt case-000"`, `"prompt case-000 "`, 1)), 0o644)
		}, func() []string {
			return []string{"run", "--suite", filepath.Join(dir, "suite.yaml"), "--endpoint", ep, "--db", db}
		}, 45, "20 results of unchanged cases reused from run 2"},
		{"fresh", nil, run(22, ep, "--fresh"), 67, "run 5: 22 cases"},
	}
	for _, tt := range tests {
		if tt.edit != nil {
			tt.edit()
		}
		code, _, stderr := a.cmd(ctx, tt.args()...)
		if code != 0 || !strings.Contains(stderr, tt.stderr) {
			t.Fatalf("%s: exit %d, want 0 with %q:\n%s", tt.name, code, tt.stderr, stderr)
		}
		if got := fake.cases.Load(); got != tt.requests {
			t.Fatalf("%s: %d suite requests in all, want %d:\n%s", tt.name, got, tt.requests, stderr)
		}
		if tt.name == "grown-by-one" && !strings.Contains(stderr, "20 results of unchanged cases reused from run 1") {
			t.Fatalf("grown-by-one does not say what it reused:\n%s", stderr)
		}
	}
	if code, _, stderr := a.cmd(ctx, run(22, otherEP)()...); code != 0 || other.cases.Load() != 22 || strings.Contains(stderr, "reused") {
		t.Fatalf("another lock: exit %d, %d requests, want 22 and nothing reused:\n%s", code, other.cases.Load(), stderr)
	}
	db2 := runOpen(t, db)
	defer db2.Close()
	runCheckStored(t, db2, 2, runCaseIDs(21), 1, lockid.ID(runLockA))
}

// run --label labels the run it finds complete as well as a new one: labels
// are not a run's identity.
func TestRunLabelsAFoundRun(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "e.db")
	args := []string{"run", "--suite", runSuiteFile(t, dir, 5), "--endpoint", newRunFake(runLockA).start(t), "--db", db}
	ctx := context.Background()
	for _, extra := range [][]string{{"--label", "team=x"}, {"--label", "fork=base"}} {
		if code, _, stderr := a.cmd(ctx, append(args, extra...)...); code != 0 {
			t.Fatal(stderr)
		}
	}
	s := runOpen(t, db)
	defer s.Close()
	run, err := s.Run(ctx, 1)
	if err != nil || run.Labels["team"] != "x" || run.Labels["fork"] != "base" || len(runListRuns(t, s)) != 1 {
		t.Fatalf("run 1: %v, labels %v; want one run labelled team=x and fork=base", err, run.Labels)
	}
}
