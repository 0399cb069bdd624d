package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
)

// A suite spread over three machines (run --shard i/3, one database each)
// comes back as three baseline files that import into one complete run of
// the whole suite, which the gate takes as a baseline; the engine answered
// each case exactly once over the three shards. Files that are not the
// shards of one run are refused, naming the files.
func TestShardsMergeAndGate(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	ctx := context.Background()
	const n = 30
	suite := runSuiteFile(t, dir, n)
	fake := newRunFake(runLockA)
	ep := fake.start(t)

	files := make([]string, 3)
	for i := range files {
		db := filepath.Join(dir, fmt.Sprintf("shard%d.db", i+1))
		files[i] = filepath.Join(dir, fmt.Sprintf("shard%d.jsonl", i+1))
		shard := fmt.Sprintf("%d/3", i+1)
		code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", ep, "--db", db, "--shard", shard, "--no-progress")
		if code != 0 || !strings.Contains(stderr, "of 30 cases (shard="+shard+")") {
			t.Fatalf("run --shard %s: exit %d\n%s", shard, code, stderr)
		}
		if code, _, stderr := a.cmd(ctx, "baseline", "export", "1", "--db", db, "-o", files[i]); code != 0 {
			t.Fatalf("export shard %s: exit %d\n%s", shard, code, stderr)
		}
	}
	for _, id := range runCaseIDs(n) {
		if got := fake.requests(id); got != 1 {
			t.Errorf("case %s was requested %d times over the shards, want once", id, got)
		}
	}
	if got := fake.cases.Load(); got != n {
		t.Errorf("the shards requested %d cases, want %d", got, n)
	}

	merged := filepath.Join(dir, "merged.db")
	refusals := []struct {
		files []string
		want  string
	}{
		{files[:2], "merge shards: shard 3/3 missing"},
		{[]string{files[0], files[1], files[1], files[2]}, "are both shard 2/3"},
	}
	for _, tt := range refusals {
		code, stdout, stderr := a.cmd(ctx, append([]string{"baseline", "import", "--db", merged}, tt.files...)...)
		if code != fault.ExitInput || stdout != "" || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "Try: import the files of all the shards") {
			t.Errorf("import %v: exit %d, want %d with %q:\n%s", tt.files, code, fault.ExitInput, tt.want, stderr)
		}
	}

	// In any order.
	code, stdout, stderr := a.cmd(ctx, "baseline", "import", "--db", merged, files[2], files[0], files[1])
	if code != 0 || strings.TrimSpace(stdout) != "1" || !strings.Contains(stderr, "imported 3 shards ("+files[2]) || !strings.Contains(stderr, "complete, 30 cases, 30 results, 0 failed") {
		t.Fatalf("import the shards: exit %d %q\n%s", code, stdout, stderr)
	}
	if code, stdout, stderr := a.cmd(ctx, "baseline", "import", "--db", merged, files[0], files[1], files[2]); code != 0 || strings.TrimSpace(stdout) != "1" || !strings.Contains(stderr, "is already stored as run 1") {
		t.Fatalf("import the shards again: exit %d %q\n%s", code, stdout, stderr)
	}

	// The merged run is the lock's complete run of the whole suite: the same
	// run again requests nothing.
	before := fake.cases.Load()
	if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", ep, "--db", merged, "--no-progress"); code != 0 || !strings.Contains(stderr, "run 1 is complete") {
		t.Fatalf("run of the whole suite on the merged database: exit %d\n%s", code, stderr)
	}
	if got := fake.cases.Load(); got != before {
		t.Errorf("the merged run was not taken for complete: %d more requests", got-before)
	}

	// A candidate of another lock, run whole, passes the gate against it.
	candidate := newRunFake(runLockB)
	if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", candidate.start(t), "--db", merged, "--no-progress"); code != 0 {
		t.Fatalf("candidate run: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = a.cmd(ctx, "gate", "--db", merged, "--baseline", "1", "--candidate", "2")
	if code != 0 || !strings.Contains(stdout+stderr, "PASS") {
		t.Fatalf("gate of the merged baseline: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// More shards than a suite has cases leaves some shards empty: their runs
// request nothing and are complete, and all of them still merge into the
// whole run.
func TestShardsEmpty(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	ctx := context.Background()
	suite := runSuiteFile(t, dir, 3)
	fake := newRunFake(runLockA)
	ep := fake.start(t)
	const n = 8
	var files []string
	for i := 1; i <= n; i++ {
		db := filepath.Join(dir, fmt.Sprintf("shard%d.db", i))
		file := filepath.Join(dir, fmt.Sprintf("shard%d.jsonl", i))
		shard := fmt.Sprintf("%d/%d", i, n)
		if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", ep, "--db", db, "--shard", shard, "--no-progress"); code != 0 {
			t.Fatalf("run --shard %s: exit %d\n%s", shard, code, stderr)
		}
		if code, _, stderr := a.cmd(ctx, "baseline", "export", "1", "--db", db, "-o", file); code != 0 {
			t.Fatalf("export shard %s: exit %d\n%s", shard, code, stderr)
		}
		files = append(files, file)
	}
	if got := fake.cases.Load(); got != 3 {
		t.Errorf("the shards requested %d cases, want 3", got)
	}
	code, stdout, stderr := a.cmd(ctx, append([]string{"baseline", "import", "--db", filepath.Join(dir, "merged.db")}, files...)...)
	if code != 0 || strings.TrimSpace(stdout) != "1" || !strings.Contains(stderr, "complete, 3 cases, 3 results, 0 failed") {
		t.Fatalf("import the shards: exit %d %q\n%s", code, stdout, stderr)
	}
}
