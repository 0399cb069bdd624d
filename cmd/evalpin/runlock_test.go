package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/nobody"
)

// Two "evalpin run" commands that would resume one run: the second fails at
// once with exit 7, naming the run and the process that runs it, and sends
// no completion request; the first stores every case once; afterwards the
// same command finds the run complete.
func TestRunLockedByAnotherRun(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	const n = 20
	suite := runSuiteFile(t, dir, n)
	dbPath := filepath.Join(dir, "e.db")
	slow := newRunFake(runLockA)
	slow.latency.Store(int64(50 * time.Millisecond))
	other := newRunFake(runLockA) // another replica of the same lock
	args := func(ep string) []string {
		return []string{"run", "--suite", suite, "--endpoint", ep, "--db", dbPath, "--concurrency", "2", "--no-progress"}
	}

	type result struct {
		code           int
		stdout, stderr string
	}
	first := make(chan result, 1)
	go func() {
		code, stdout, stderr := runCmd(context.Background(), args(slow.start(t))...)
		first <- result{code, stdout, stderr}
	}()
	for deadline := time.Now().Add(30 * time.Second); slow.cases.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first run sent no request in 30s")
		}
	}

	otherEP := other.start(t)
	code, stdout, stderr := runCmd(context.Background(), args(otherEP)...)
	if code != fault.ExitBusy {
		t.Errorf("second run: exit %d, want %d\n%s", code, fault.ExitBusy, stderr)
	}
	want := fmt.Sprintf("evalpin: run 1 is being run by another evalpin process (pid %d)\nTry: wait for it to end", os.Getpid())
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "--fresh") {
		t.Errorf("second run: stderr lacks %q and --fresh:\n%s", want, stderr)
	}
	if stdout != "" {
		t.Errorf("second run: stdout %q, want nothing", stdout)
	}
	if got := other.cases.Load(); got != 0 {
		t.Errorf("the second run sent %d completion requests, want none", got)
	}
	// Refused, it left the run as it was: the first run's endpoint.
	if rn, err := runOpen(t, dbPath).Run(context.Background(), 1); err != nil || len(rn.Endpoints) != 1 || rn.Endpoints[0] == otherEP {
		t.Errorf("run 1's endpoints after the refused command: %v, %v; want the first run's only", rn.Endpoints, err)
	}

	r := <-first
	if r.code != fault.ExitOK {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	db := runOpen(t, dbPath)
	runCheckStored(t, db, 1, runCaseIDs(n), 1, lockid.ID(runLockA))
	if got := slow.cases.Load(); got != n {
		t.Errorf("the first run sent %d requests, want %d", got, n)
	}

	// The lock went with the first run.
	code, _, stderr = runCmd(context.Background(), args(otherEP)...)
	if code != fault.ExitOK || !strings.Contains(stderr, "run 1 is complete") {
		t.Errorf("after the first run: exit %d\n%s", code, stderr)
	}
	if got := other.cases.Load(); got != 0 {
		t.Errorf("the complete run sent %d requests, want none", got)
	}
}

// A run lock file evalpin cannot write is an input error with the fix, not
// an internal error.
func TestRunLockFileReadOnly(t *testing.T) {
	if !nobody.Rerun(t) {
		return
	}
	runQuiet(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	args := []string{"run", "--suite", runSuiteFile(t, dir, 3), "--endpoint", fake.start(t), "--db", dbPath, "--no-progress"}
	if code, _, stderr := runCmd(context.Background(), args...); code != fault.ExitOK {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	if err := os.Chmod(dbPath+"-runlock", 0o444); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(context.Background(), append(args, "--fresh")...)
	if code != fault.ExitInput || !strings.Contains(stderr, "e.db-runlock: permission denied") || !strings.Contains(stderr, "Try: make the run lock file writable") {
		t.Errorf("exit %d, want %d naming the lock file and the fix\n%s", code, fault.ExitInput, stderr)
	}
}
