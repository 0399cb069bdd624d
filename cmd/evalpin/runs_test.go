package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
)

// historyT0 is the fixed clock of the history fixture.
var historyT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	histLockA = "sha256:aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111"
	histLockB = "sha256:bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222"
)

// histScorer is a scorer that only has a name, for storing a suite.
type histScorer string

func (s histScorer) Name() string            { return string(s) }
func (s histScorer) Score(string) eval.Check { return eval.Check{Scorer: string(s)} }

// mustHistoryDB builds a database with three runs at fixed times and returns
// its path:
//
//	run 1: lock A, suite smoke 1, complete; a pass, a fail whose output has
//	       terminal escapes, an error, a long multi-line output, two samples
//	run 2: lock B, suite smoke 1, interrupted, one result
//	run 3: lock B, suite math 2, running, no results; its suite is not stored
func mustHistoryDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db, path, now := openClockedDB(t, historyT0)
	defer db.Close()

	smoke := eval.Suite{
		Name: "smoke", Version: "1", Hash: "5e1f0c0ffee5e1f0c0ffee5e1f0c0ffee5e1f0c0ffee5e1f0c0ffee5e1f0c0ff",
		Settings: eval.DefaultSettings(),
		Cases: []eval.Case{
			{ID: "capital", Messages: []eval.Message{{Role: "system", Content: "Answer briefly."}, {Role: "user", Content: "Capital of France?"}},
				Tags: []string{"geo", "easy"}, Scorers: []eval.Scorer{histScorer("contains")}, Hash: "c1c1c1c1c1c1c1c1"},
			{ID: "colour", Prompt: "Say red.\nIn colour: \x1b[31m", Scorers: []eval.Scorer{histScorer("equals")}, Hash: "c2c2c2c2c2c2c2c2"},
			{ID: "essay", Messages: []eval.Message{{Role: "user", Content: "Write three lines."}}, Hash: "c3c3c3c3c3c3c3c3"},
			{ID: "timeout", Prompt: "Count to a million.", Hash: "c4c4c4c4c4c4c4c4"},
		},
	}
	if err := db.PutLock(ctx, histLockA, []byte(`{"source":{"repo":"org/model"}}`), "manifest"); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSuite(ctx, smoke); err != nil {
		t.Fatal(err)
	}
	newRun := func(lock lockid.ID, suite, version, hash string) eval.Run {
		t.Helper()
		r := eval.Run{Lock: lock, Suite: suite, SuiteVersion: version, SuiteHash: hash, Settings: eval.DefaultSettings(),
			Endpoints: []string{"http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1"}, Version: "v0.1.0"}
		if err := db.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	put := func(runID int64, rs ...eval.Result) {
		t.Helper()
		w := db.NewWriter(ctx, runID, store.WriterOptions{})
		for _, r := range rs {
			if err := w.Put(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	res := func(id, hash string, sample int, out string, latency time.Duration, pass bool) eval.Result {
		return eval.Result{CaseID: id, CaseHash: hash, Sample: sample, Output: out, FinishReason: "stop",
			PromptTokens: 12, CompletionTokens: 5, Latency: latency, Lock: histLockA, Endpoint: "http://127.0.0.1:8000/v1",
			Checks: []eval.Check{{Scorer: "contains", Pass: pass}}}
	}

	r1 := newRun(histLockA, "smoke", "1", smoke.Hash)
	colour := res("colour", "c2c2c2c2c2c2c2c2", 0, "\x1b[31mred\x1b[0m\u202e!dlrow", 250*time.Millisecond, false)
	colour.Checks = []eval.Check{{Scorer: "equals", Pass: false, Detail: "want \"red\", got \"\x1b[31mred\""}}
	timeout := eval.Result{CaseID: "timeout", CaseHash: "c4c4c4c4c4c4c4c4", Latency: 30 * time.Second, Lock: histLockA,
		Endpoint: "http://127.0.0.1:8001/v1", ErrorKind: "timeout", Error: "context deadline exceeded after 30s"}
	put(r1.ID,
		res("capital", "c1c1c1c1c1c1c1c1", 0, "Paris.", 12*time.Millisecond, true),
		res("capital", "c1c1c1c1c1c1c1c1", 1, "Paris", 14*time.Millisecond, true),
		colour,
		res("essay", "c3c3c3c3c3c3c3c3", 0, "The first line is long enough to be cut in the table of results.\nSecond line.\n\tThird, indented.", 1234*time.Millisecond, true),
		timeout,
	)
	*now = historyT0.Add(90 * time.Second)
	if err := db.SetRunStatus(ctx, r1.ID, eval.RunComplete); err != nil {
		t.Fatal(err)
	}

	*now = historyT0.Add(time.Hour)
	r2 := newRun(histLockB, "smoke", "1", smoke.Hash)
	b := res("capital", "c1c1c1c1c1c1c1c1", 0, "Lyon?", 20*time.Millisecond, false)
	b.Lock = histLockB
	put(r2.ID, b)
	*now = historyT0.Add(time.Hour + 5*time.Minute)
	if err := db.SetRunStatus(ctx, r2.ID, eval.RunInterrupted); err != nil {
		t.Fatal(err)
	}

	*now = historyT0.Add(2 * time.Hour)
	newRun(histLockB, "math", "2", "0a7b0a7b0a7b0a7b0a7b0a7b0a7b0a7b0a7b0a7b0a7b0a7b0a7b0a7b0a7b0a7b")
	return path
}

// historyReplace hides the fixture's temporary directory in golden output.
func historyReplace(path string) []string {
	return []string{filepath.Dir(path), "$TMP"}
}

func TestRunsGolden(t *testing.T) {
	t.Setenv(dbEnv, "")
	db := mustHistoryDB(t)
	missing := filepath.Join(filepath.Dir(db), "none.db")
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"runs", []string{"runs", "--db", db}},
		{"runs-json", []string{"runs", "--db", db, "--format", "json"}},
		{"runs-lock-prefix", []string{"runs", "--db", db, "--lock", "sha256:bbbb"}},
		{"runs-suite-status", []string{"runs", "--db", db, "--suite", "smoke", "--status", "complete"}},
		{"runs-none", []string{"runs", "--db", db, "--suite", "nope"}},
		{"runs-none-json", []string{"runs", "--db", db, "--suite", "nope", "--format", "json"}},
		{"runs-bad-format", []string{"runs", "--db", db, "--format", "xml"}},
		{"runs-bad-status", []string{"runs", "--db", db, "--status", "done"}},
		{"runs-extra-arg", []string{"runs", "--db", db, "12"}},
		{"runs-no-db", []string{"runs", "--db", missing}},
		{"runs-help", []string{"help", "runs"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, historyReplace(db), tt.args...)
		})
	}
}

func TestRuns_EnvDB(t *testing.T) {
	// EVALPIN_DB names the database when --db is not given.
	db := mustHistoryDB(t)
	t.Setenv(dbEnv, db)
	var stdout, stderr strings.Builder
	if err := run(context.Background(), []string{"runs", "--lock", histLockA}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "aaaa11 ") || strings.Contains(stdout.String(), "bbbb") {
		t.Fatalf("runs with %s=%s printed:\n%s", dbEnv, db, stdout.String())
	}
}

// The lock prefix that `runs` prints is what another command reads back.
func TestRunsPrefixReadBack(t *testing.T) {
	db := mustHistoryDB(t)
	a, _ := testApp()
	code, out, stderr := a.cmd(context.Background(), "runs", "--db", db, "--status", "complete")
	if code != 0 {
		t.Fatalf("runs: exit %d: %s", code, stderr)
	}
	var prefix string
	for line := range strings.Lines(out) {
		if f := strings.Split(line, "│"); len(f) > 3 && strings.TrimSpace(f[1]) == "1" {
			prefix = strings.TrimSpace(f[2])
		}
	}
	if len(prefix) < 6 || strings.Contains(prefix, ":") {
		t.Fatalf("runs printed lock %q for run 1:\n%s", prefix, out)
	}
	file := filepath.Join(t.TempDir(), "b.jsonl")
	code, _, stderr = a.cmd(context.Background(), "baseline", "export", prefix, "--db", db, "-o", file)
	if code != 0 || !strings.Contains(stderr, "exported run 1 ") {
		t.Fatalf("baseline export %s: exit %d: %s", prefix, code, stderr)
	}
}
