package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
)

// The gate in one command against candidates that lie or fail: none of them
// PASSes, each exits by what went wrong, and nothing is stored under a lock
// it did not come from.
func TestGateRunsAgainstBadCandidates(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 12)
	db, lin := filepath.Join(dir, "e.db"), filepath.Join(dir, "lineage.jsonl")
	ctx := context.Background()
	for _, args := range [][]string{
		{"run", "--suite", suite, "--endpoint", newRunFake(runLockA).start(t), "--db", db},
		{"promote", runLockA, "--lineage", lin, "--db", db},
	} {
		if code, _, stderr := a.cmd(ctx, args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", args, code, stderr)
		}
	}
	runLockC := "sha256:" + strings.Repeat("c3", 32)
	tests := []struct {
		name   string
		fake   func() *runFake
		code   int
		stderr string
	}{
		{"fails every request", func() *runFake {
			f := newRunFake(runLockB)
			for _, id := range runCaseIDs(12) {
				f.setFail(id, 500)
			}
			return f
		}, fault.ExitIncomplete, "no request succeeded"},
		{"swaps lock mid-run", func() *runFake {
			f := newRunFake(runLockB)
			f.setOnCase(func(n int64) {
				if n == 4 {
					f.setLock(runLockC) // another replica behind the balancer
				}
			})
			return f
		}, fault.ExitLockRefused, runLockC},
		{"reports no lock", func() *runFake { return newRunFake("") }, fault.ExitLockRefused, "lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fake()
			code, stdout, stderr := a.cmd(ctx, "gate", "--suite", suite, "--endpoint", f.start(t), "--db", db, "--lineage", lin,
				"--retries", "0", "--concurrency", "1", "--no-progress")
			if code != tt.code || !strings.Contains(stderr, tt.stderr) || strings.Contains(stdout+stderr, "PASS") {
				t.Fatalf("exit %d, want %d with %q and no PASS\nstdout:\n%s\nstderr:\n%s", code, tt.code, tt.stderr, stdout, stderr)
			}
		})
	}
	// Whatever was stored is stored under the lock that answered it.
	s := runOpen(t, db)
	defer s.Close()
	for _, r := range runListRuns(t, s) {
		results, err := s.Results(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range results {
			if res.Error == "" && res.Lock != r.Lock {
				t.Errorf("run %d of lock %s stores case %s answered under %s", r.ID, r.Lock, res.CaseID, res.Lock)
			}
		}
	}
}
