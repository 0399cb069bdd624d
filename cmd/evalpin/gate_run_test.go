package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The gate in one command: it picks the baseline (the lock before the
// candidate's on its track, or a baseline file), runs the suite against the
// endpoint at the baseline's settings, compares, writes every report and
// exits by the verdict; what it refuses, it refuses before any request.
func TestGateRuns(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 40)
	db, lin, base := filepath.Join(dir, "e.db"), filepath.Join(dir, "lineage.jsonl"), filepath.Join(dir, "base.jsonl")
	ctx := context.Background()
	old, cand := newRunFake(runLockA), newRunFake(runLockB)
	oldEP, candEP := old.start(t), cand.start(t)
	steps := [][]string{
		{"run", "--suite", suite, "--endpoint", oldEP, "--db", db},
		{"promote", runLockA, "--lineage", lin, "--db", db},
		{"baseline", "export", "1", "--db", db, "-o", base},
	}
	for _, args := range steps {
		if code, _, stderr := a.cmd(ctx, args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", args, code, stderr)
		}
	}
	gate := func(extra ...string) []string {
		return append([]string{"gate", "--suite", suite, "--endpoint", candEP, "--db", db, "--lineage", lin}, extra...)
	}
	md, xml := filepath.Join(dir, "gate.md"), filepath.Join(dir, "junit.xml")
	tests := []struct {
		name     string
		args     []string
		code     int
		requests int64  // suite requests the candidate has received after the step
		stderr   string // in stderr
		stdout   string // in stdout
		wrong    int    // candidate cases answered wrongly from this step on
	}{
		{"refused-extension", gate("-o", filepath.Join(dir, "gate.yaml")), 2, 0, "its extension names no format", "", 0},
		{"refused-settings", gate("--samples", "2"), 2, 0, "samples 1 → 2", "", 0},
		{"refused-no-previous", gate("--lineage", filepath.Join(dir, "none.jsonl")), 2, 0, "track main has no promotion", "", 0},
		{"previous", gate("-o", md, "-o", xml), 0, 40, "baseline: run 1 of lock " + runLockA + ", the lock before " + runLockB + " on track main", "PASS", 0},
		{"again-requests-nothing", gate(), 0, 40, "run 2 is complete", "PASS", 0},
		{"baseline-file-empty-db", gate("--baseline", base, "--db", filepath.Join(dir, "ci.db")), 0, 80, "baseline: baseline file " + base, "PASS", 0},
		{"regression-fails", gate("--fresh"), 1, 120, "gate failed", "FAIL", 12},
	}
	for _, tt := range tests {
		if tt.wrong > 0 {
			for _, id := range runCaseIDs(tt.wrong) {
				cand.answers.Store(runPrompt(id), "wrong")
			}
		}
		code, stdout, stderr := a.cmd(ctx, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) || !strings.Contains(stdout, tt.stdout) {
			t.Fatalf("%s: %s: exit %d, want %d with %q in stderr and %q in stdout\nstdout:\n%s\nstderr:\n%s", tt.name, tt.args, code, tt.code, tt.stderr, tt.stdout, stdout, stderr)
		}
		if got := cand.cases.Load(); got != tt.requests {
			t.Fatalf("%s: the candidate received %d suite requests, want %d", tt.name, got, tt.requests)
		}
	}
	for path, want := range map[string]string{md: "PASS", xml: "<testsuite"} {
		if data, err := os.ReadFile(path); err != nil || !strings.Contains(string(data), want) {
			t.Errorf("%s: %v, want a report with %q:\n%s", path, err, want, data)
		}
	}
}

// A baseline file of another lock than the lineage's previous one is used,
// with a warning that says which lock the lineage expected.
func TestGateBaselineFileNotPrevious(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 12)
	db, lin, base := filepath.Join(dir, "e.db"), filepath.Join(dir, "lineage.jsonl"), filepath.Join(dir, "base.jsonl")
	ctx := context.Background()
	other := "sha256:" + strings.Repeat("c3", 32)
	for _, args := range [][]string{
		{"run", "--suite", suite, "--endpoint", newRunFake(runLockA).start(t), "--db", db},
		{"baseline", "export", "1", "--db", db, "-o", base},
		{"promote", other, "--lineage", lin, "--db", db},
	} {
		if code, _, stderr := a.cmd(ctx, args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", args, code, stderr)
		}
	}
	code, _, stderr := a.cmd(ctx, "gate", "--suite", suite, "--endpoint", newRunFake(runLockB).start(t), "--db", db, "--lineage", lin, "--baseline", base)
	want := "evalpin: warning: the baseline file is of lock " + runLockA + ", but the lineage's lock before " + runLockB + " on track main is " + other
	if code != 0 || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, want 0 with %q:\n%s", code, want, stderr)
	}
}
