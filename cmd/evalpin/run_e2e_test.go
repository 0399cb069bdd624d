package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/testbed"
	"github.com/evalpin/evalpin/suites"
)

// "evalpin run" on the real Ollama test bed: the bundled testbed suite runs
// twice against one model (--fresh the second time) with byte-identical
// stored outputs for every case; another model (another seed) answers
// differently under another lock; and --expect-lock of the other model
// refuses with exit 3 and creates no run.
func TestRunOllamaEndToEnd(t *testing.T) {
	runQuiet(t)
	ol := testbed.Ollama(t)
	ol.Create(t, "tiny-a", testbed.Generate(t, testbed.ModelOptions{Seed: 1}))
	ol.Create(t, "tiny-b", testbed.Generate(t, testbed.ModelOptions{Seed: 2}))
	suite, err := suites.LoadExample("testbed")
	if err != nil {
		t.Fatal(err)
	}
	dbPath := t.TempDir() + "/e2e.db"
	ctx := context.Background()

	runJSON := func(model string, extra ...string) eval.RunSummary {
		t.Helper()
		args := append([]string{"run", "--suite", "testbed", "--endpoint", ol.BaseURL(), "--model", model,
			"--db", dbPath, "--format", "json", "--no-progress"}, extra...)
		start := time.Now()
		code, stdout, stderr := runCmd(ctx, args...)
		elapsed := time.Since(start)
		if code != 0 {
			t.Fatalf("evalpin %s: exit %d\n%s\nserver log:\n%s", strings.Join(args, " "), code, stderr, ol.Log())
		}
		var s eval.RunSummary
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("summary: %v\n%s", err, stdout)
		}
		if s.Status != eval.RunComplete || s.Stored != len(suite.Cases) || s.Requested != len(suite.Cases) || len(s.Errors) != 0 {
			t.Fatalf("summary %+v: want complete, all %d cases requested and stored, no errors", s, len(suite.Cases))
		}
		if !strings.HasPrefix(string(s.Lock), lockid.OllamaPrefix) || s.LockSource != string(endpoint.SourceOllama) {
			t.Errorf("lock %s from %s, want Ollama's derived lock", s.Lock, s.LockSource)
		}
		t.Logf("%s: %d cases in %v (command), %.3fs in the runner: %.1f cases/s, %.0f tokens/s, p50 %.1fms p95 %.1fms",
			model, s.Stored, elapsed.Round(time.Millisecond), s.Elapsed, float64(s.Stored)/elapsed.Seconds(),
			s.TokensPerSec, s.LatencyP50*1000, s.LatencyP95*1000)
		return s
	}

	first := runJSON("tiny-a")
	second := runJSON("tiny-a", "--fresh")
	if second.Run == first.Run || second.Lock != first.Lock {
		t.Fatalf("runs %d and %d of locks %s and %s: want two runs of one lock", first.Run, second.Run, first.Lock, second.Lock)
	}
	other := runJSON("tiny-b")
	if other.Lock == first.Lock {
		t.Fatalf("tiny-b reports tiny-a's lock %s", other.Lock)
	}

	db := runOpen(t, dbPath)
	outputs := func(id int64) map[string]eval.Result {
		t.Helper()
		rs, err := db.Results(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]eval.Result{}
		for _, r := range rs {
			m[r.CaseID] = r
		}
		if len(m) != len(suite.Cases) || len(rs) != len(suite.Cases) {
			t.Fatalf("run %d stored %d results of %d cases, want %d", id, len(rs), len(m), len(suite.Cases))
		}
		return m
	}
	a1, a2, b := outputs(first.Run), outputs(second.Run), outputs(other.Run)
	differ := 0
	for _, c := range suite.Cases {
		r1, r2 := a1[c.ID], a2[c.ID]
		if r1.Output == "" || r1.Error != "" || r1.Lock != first.Lock || r1.CompletionTokens == 0 {
			t.Errorf("%s: output %q error %q lock %s tokens %d; want an output under %s", c.ID, r1.Output, r1.Error, r1.Lock, r1.CompletionTokens, first.Lock)
		}
		if r1.Output != r2.Output || r1.FinishReason != r2.FinishReason {
			t.Errorf("%s: the two runs of one lock differ:\n%q (%s)\n%q (%s)", c.ID, r1.Output, r1.FinishReason, r2.Output, r2.FinishReason)
		}
		if b[c.ID].Output != r1.Output {
			differ++
		}
	}
	if differ == 0 {
		t.Errorf("tiny-b answered every case as tiny-a did; another seed must change the outputs")
	}

	code, stdout, stderr := runCmd(ctx, "run", "--suite", "testbed", "--endpoint", ol.BaseURL(), "--model", "tiny-a",
		"--expect-lock", string(other.Lock), "--db", dbPath, "--no-progress")
	if code != fault.ExitLockRefused || stdout != "" || !strings.Contains(stderr, string(other.Lock)) {
		t.Errorf("--expect-lock of tiny-b against tiny-a: exit %d, want %d\n%s%s", code, fault.ExitLockRefused, stdout, stderr)
	}
	if runs := runListRuns(t, db); len(runs) != 3 {
		t.Errorf("%d runs stored, want 3: a refused run creates none", len(runs))
	}
}
