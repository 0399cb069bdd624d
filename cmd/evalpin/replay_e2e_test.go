package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/testbed"
)

// "evalpin replay" on the real Ollama test bed: an incident recorded under
// lock A (a model behind "evalpin serve") is played back against A, from its
// stored cases (by a prefix of A's id) and from a Batch API log with its
// outputs file, one of whose outputs was not A's; the endpoint of B (the same
// weights with another chat template) is refused before any request, with
// how to serve A again.
func TestReplayOllamaEndToEnd(t *testing.T) {
	runQuiet(t)
	t.Setenv(dbEnv, "")
	t.Setenv(lock.CacheDirEnv, t.TempDir())
	ol := testbed.Ollama(t)
	dirA := testbed.Generate(t, testbed.ModelOptions{Template: "chat"})
	dirB := testbed.Generate(t, testbed.ModelOptions{Template: "compact"})
	ol.Create(t, "tiny-a", dirA)
	ol.Create(t, "tiny-b", dirB)
	epA, epB := gateSidecar(t, ol, dirA, "tiny-a"), gateSidecar(t, ol, dirB, "tiny-b")

	ctx := context.Background()
	work := t.TempDir()
	dbPath := filepath.Join(work, "replay.db")
	evalpin := func(want int, args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := runCmd(ctx, args...)
		if code != want {
			t.Fatalf("evalpin %s: exit %d, want %d\n%s%s\nserver log:\n%s", strings.Join(args, " "), code, want, stdout, stderr, ol.Log())
		}
		return stdout, stderr
	}
	prompts := []string{"What did the farmer see on the road?", "What did the sailor see on the hill?", "What did the child see on the river?"}
	suite := writeGateSuite(t, work, "incident", prompts, func(int) string { return "{kind: length, min_chars: 1}" })
	out, _ := evalpin(fault.ExitOK, "run", "--suite", suite, "--endpoint", epA, "--model", "tiny-a", "--db", dbPath, "--format", "json", "--no-progress")
	var rec eval.RunSummary
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("summary: %v\n%s", err, out)
	}
	db := runOpen(t, dbPath)
	rs, err := db.Results(ctx, rec.Run)
	db.Close()
	if err != nil || len(rs) != len(prompts) {
		t.Fatalf("recorded: %d results, %v", len(rs), err)
	}

	// From the stored cases, by a prefix of A's id: every output reproduces.
	prefix := strings.TrimPrefix(string(rec.Lock), "sha256:")[:12]
	out, _ = evalpin(fault.ExitOK, "replay", "--lock", prefix, "--cases", "q00,q02", "--endpoint", epA, "--model", "tiny-a", "--db", dbPath, "--no-progress")
	if !strings.Contains(out, "reproduced: 2/2 (100%)") || !strings.Contains(out, "q00  identical") {
		t.Errorf("replay --cases:\n%s", out)
	}

	// From a Batch log at the suite's settings, with its outputs file; the
	// output then of q01 is not what A answered.
	var in, outs strings.Builder
	for i, r := range rs {
		body := map[string]any{"model": "tiny-a", "temperature": 0, "top_p": 1, "max_tokens": 24, "seed": 42,
			"messages": []map[string]string{{"role": "user", "content": prompts[i]}}}
		line, _ := json.Marshal(map[string]any{"custom_id": r.CaseID, "method": "POST", "url": "/v1/chat/completions", "body": body})
		fmt.Fprintf(&in, "%s\n", line)
		then := r.Output
		if r.CaseID == "q01" {
			then = "an answer the incident saw"
		}
		line, _ = json.Marshal(map[string]any{"id": "batch_req_" + r.CaseID, "custom_id": r.CaseID, "error": nil,
			"response": map[string]any{"status_code": 200, "body": map[string]any{"choices": []any{
				map[string]any{"index": 0, "message": map[string]string{"role": "assistant", "content": then}}}}}})
		fmt.Fprintf(&outs, "%s\n", line)
	}
	reqFile, outFile := filepath.Join(work, "incident.jsonl"), filepath.Join(work, "incident-out.jsonl")
	for path, data := range map[string]string{reqFile: in.String(), outFile: outs.String()} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, _ = evalpin(fault.ExitOK, "replay", "--lock", string(rec.Lock), "--requests", reqFile, "--outputs", outFile,
		"--endpoint", epA, "--model", "tiny-a", "--db", dbPath, "--no-progress")
	t.Logf("replay --requests:\n%s", out)
	for _, want := range []string{"reproduced: 2/3 (67%)", "q00  identical  1/1", "q01  changed  0/1", "diff: [-an answer the incident saw-]{+", "q02  identical  1/1"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay --requests lacks %q:\n%s", want, out)
		}
	}

	// Side by side with B, the current lock: the template change shows.
	out, _ = evalpin(fault.ExitOK, "replay", "--lock", string(rec.Lock), "--cases", "q00,q01,q02", "--endpoint", epA, "--model", "tiny-a",
		"--against-endpoint", epB, "--db", dbPath, "--no-progress")
	t.Logf("replay --against-endpoint:\n%s", out)
	if !strings.Contains(out, "reproduced: 3/3 (100%)") || !strings.Contains(out, "against lock sha256:") || !strings.Contains(out, "model tiny-b") {
		t.Errorf("replay --against-endpoint:\n%s", out)
	}

	// B's endpoint does not serve A: refused, with how to serve A again.
	_, stderr := evalpin(fault.ExitLockRefused, "replay", "--lock", string(rec.Lock), "--cases", "q00", "--endpoint", epB, "--model", "tiny-b", "--db", dbPath)
	if !strings.Contains(stderr, "evalpin serve --lock LOCKFILE") || !strings.Contains(stderr, "evalpin lock verify") {
		t.Errorf("refusal:\n%s", stderr)
	}
}
