package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evalpin/evalpin/eval"
)

// Incident playback: cases of a lock's stored runs, or of a Batch API log,
// asked again of the lock that answered them; identical outputs reproduce,
// changed ones are shown with a word diff, and an endpoint that serves
// another lock is refused before any request, with how to serve the old one.
func TestReplay(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 5)
	db := filepath.Join(dir, "e.db")
	ctx := context.Background()
	fake := newRunFake(runLockA)
	ep := fake.start(t)
	if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", ep, "--db", db); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	requests, outputs := replayLog(t, dir)
	replay := func(extra ...string) []string {
		return append([]string{"replay", "--lock", runLockA, "--endpoint", ep, "--db", db}, extra...)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		requests int64    // suite requests the fake has received after the step
		stdout   []string // in stdout
		stderr   string   // in stderr
		change   string   // the case whose answer changes before this step
		lock     string   // the lock the fake serves from this step on
	}{
		{"no-cases", replay(), 2, 5, nil, "either --cases ID", "", ""},
		{"unknown-case", replay("--cases", "case-000,nope"), 2, 5, nil, "holds case nope", "", ""},
		{"identical", replay("--cases", "case-000,case-001"), 0, 7,
			[]string{"reproduced: 2/2 (100%)", "case-000  identical  1/1 (100%)", "then (run 1): echo: prompt case-000"}, "", "", ""},
		{"changed", replay("--cases", "case-000,case-001", "--samples", "2"), 0, 11,
			[]string{"reproduced: 2/4 (50%)", "noise floor: 4/4 (100%)", "case-001  changed  0/2 (0%)", "diff: [-echo: prompt case-001-]{+the answer changed+}"}, "", "case-001", ""},
		{"json", replay("--cases", "case-001", "--format", "json"), 0, 12, []string{`"verdict": "changed"`, `"reproduced": 0`}, "", "", ""},
		{"batch", replay("--requests", requests, "--outputs", outputs), 0, 15,
			[]string{"from requests " + requests + ", outputs then " + outputs, "req-a  identical  1/1", "req-b  changed  0/1", "diff: [-then-]{+echo:+} prompt", "req-c  no output then"}, "", "", ""},
		{"batch-then-stored", replay("--requests", requests), 0, 18,
			[]string{"req-c  identical  1/1", "then (run 5): echo: prompt req-c"}, "", "", ""},
		{"other-lock-refused", replay("--cases", "case-000"), 3, 18, nil, "evalpin serve --lock LOCKFILE", "", runLockB},
	}
	for _, tt := range tests {
		if tt.change != "" {
			fake.answers.Store(runPrompt(tt.change), "the answer changed")
		}
		if tt.lock != "" {
			fake.setLock(tt.lock)
		}
		code, stdout, stderr := a.cmd(ctx, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) {
			t.Fatalf("%s: exit %d, want %d with %q in stderr\nstdout:\n%s\nstderr:\n%s", tt.name, code, tt.code, tt.stderr, stdout, stderr)
		}
		for _, w := range tt.stdout {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", tt.name, w, stdout)
			}
		}
		if got := fake.cases.Load(); got != tt.requests {
			t.Fatalf("%s: the fake received %d suite requests, want %d", tt.name, got, tt.requests)
		}
	}
}

// replayLog writes an incident log into dir: a Batch input file of three
// requests, and its output file with the outputs of two (one as the fake
// answers it, one not).
func replayLog(t *testing.T, dir string) (requests, outputs string) {
	t.Helper()
	var in, out strings.Builder
	for i, id := range []string{"req-a", "req-b", "req-c"} {
		body := map[string]any{"model": "gpt-x", "temperature": 0, "max_tokens": 8, "seed": 7,
			"messages": []map[string]string{{"role": "system", "content": "Be brief."}, {"role": "user", "content": runPrompt(id)}}}
		line, _ := json.Marshal(map[string]any{"custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": body})
		fmt.Fprintf(&in, "%s\n", line)
		then := []string{"echo: " + runPrompt(id), "then " + runPrompt(id)}
		if i < len(then) {
			line, _ = json.Marshal(map[string]any{"id": fmt.Sprintf("batch_req_%d", i), "custom_id": id, "error": nil,
				"response": map[string]any{"status_code": 200, "body": map[string]any{"object": "chat.completion",
					"choices": []any{map[string]any{"index": 0, "message": map[string]string{"role": "assistant", "content": then[i]}}}}}})
			fmt.Fprintf(&out, "%s\n", line)
		}
	}
	requests, outputs = filepath.Join(dir, "incident.jsonl"), filepath.Join(dir, "incident-out.jsonl")
	for path, data := range map[string]string{requests: in.String(), outputs: out.String()} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return requests, outputs
}

// --against-endpoint asks the same cases of the current lock at the same
// settings, side by side; one that does not serve --against's lock is
// refused before it is asked anything.
func TestReplayAgainst(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 3)
	db := filepath.Join(dir, "e.db")
	ctx := context.Background()
	old, cur := newRunFake(runLockA), newRunFake(runLockB)
	oldEP, curEP := old.start(t), cur.start(t)
	if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", oldEP, "--db", db); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	cur.answers.Store(runPrompt("case-001"), "a new answer")
	replay := []string{"replay", "--lock", runLockA, "--cases", "case-000,case-001", "--endpoint", oldEP, "--db", db,
		"--against-endpoint", curEP, "--samples", "2"}
	code, stdout, stderr := a.cmd(ctx, append(replay, "--against", runLockB)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{"reproduced: 4/4 (100%)", "against lock " + runLockB + ", model fake-model, run 3: 2/4 (50%)",
		"  new  (2 of 2): a new answer\n  diff: [-echo: prompt case-001-]{+a new answer+}"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	if got := cur.cases.Load(); got != 4 {
		t.Errorf("the current lock's endpoint received %d suite requests, want 4 (2 cases × 2 samples)", got)
	}
	// The current endpoint serves B, not the A --against names.
	code, _, stderr = a.cmd(ctx, append(replay, "--against", runLockA)...)
	if code != 3 || !strings.Contains(stderr, "against: ") || cur.cases.Load() != 4 {
		t.Errorf("exit %d, %d requests: %s", code, cur.cases.Load(), stderr)
	}
}

// An interrupted playback is resumed by the same command, which asks only
// what is missing; a complete one is not: the same command plays back anew.
func TestReplayResume(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 6)
	db := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	ep := fake.start(t)
	if code, _, stderr := a.cmd(context.Background(), "run", "--suite", suite, "--endpoint", ep, "--db", db); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake.setOnCase(func(n int64) {
		if n == 9 { // the third of the playback's six
			cancel()
		}
	})
	args := []string{"replay", "--lock", runLockA, "--cases", strings.Join(runCaseIDs(6), ","), "--endpoint", ep, "--db", db, "--concurrency", "1"}
	code, _, stderr := a.cmd(ctx, args...)
	if code != 130 || !strings.Contains(stderr, "run 2 interrupted") || !strings.Contains(stderr, "resume it with the same command: evalpin replay --lock") {
		t.Fatalf("exit %d, want 130 and how to resume:\n%s", code, stderr)
	}
	fake.setOnCase(nil)
	code, stdout, stderr := a.cmd(context.Background(), args...)
	if code != 0 || !strings.Contains(stdout, "run 2\n") || !strings.Contains(stdout, "reproduced: 6/6 (100%)") {
		t.Fatalf("resume: exit %d:\n%s\n%s", code, stdout, stderr)
	}
	if got := fake.cases.Load(); got < 12 || got > 13 {
		t.Errorf("the fake received %d suite requests, want the run's 6 and the playback's 6 (one in flight at the interrupt may be asked again)", got)
	}
	if code, stdout, _ = a.cmd(context.Background(), args...); code != 0 || !strings.Contains(stdout, "run 3\n") {
		t.Errorf("again: exit %d, want a new playback, run 3:\n%s", code, stdout)
	}
}

// On an endpoint that serves several models, each under a lock of its own
// (names ending in @sha256:…), replay asks the model whose lock is OLD; none
// is a refusal that names the models.
func TestReplayPicksModel(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "e.db")
	models := []string{"tiny@" + runLockB, "tiny@" + runLockA}
	var asked sync.Map // model → requests of the incident's prompt
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/models":
			json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []any{map[string]string{"id": models[0]}, map[string]string{"id": models[1]}}})
		case "/v1/chat/completions":
			var req struct {
				Model    string         `json:"model"`
				Messages []eval.Message `json:"messages"`
			}
			json.NewDecoder(r.Body).Decode(&req)
			if req.Messages[len(req.Messages)-1].Content == "hello" {
				n, _ := asked.LoadOrStore(req.Model, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
			json.NewEncoder(w).Encode(map[string]any{"id": "c", "object": "chat.completion", "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
					"message": map[string]string{"role": "assistant", "content": "echo: " + req.Messages[len(req.Messages)-1].Content}}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	log := filepath.Join(dir, "incident.jsonl")
	if err := os.WriteFile(log, []byte(`{"messages": [{"role": "user", "content": "hello"}], "temperature": 0}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := a.cmd(context.Background(), "replay", "--lock", runLockA, "--requests", log, "--endpoint", srv.URL+"/v1", "--db", db)
	if code != 0 || !strings.Contains(stdout, "model tiny@"+runLockA) || !strings.Contains(stdout, "line-1  no output then") {
		t.Fatalf("exit %d:\n%s\n%s", code, stdout, stderr)
	}
	if n, ok := asked.Load(models[1]); !ok || n.(*atomic.Int64).Load() != 1 {
		t.Errorf("the model of lock A was asked the prompt %v times, want 1", n)
	}
	if _, ok := asked.Load(models[0]); ok {
		t.Error("the model of lock B was asked the prompt")
	}
	code, _, stderr = a.cmd(context.Background(), "replay", "--lock", "sha256:"+strings.Repeat("c3", 32), "--requests", log, "--endpoint", srv.URL+"/v1", "--db", db)
	if code != 3 || !strings.Contains(stderr, "serves 2 models (tiny@") || !strings.Contains(stderr, "evalpin serve") {
		t.Errorf("exit %d, want 3 naming the models:\n%s", code, stderr)
	}
}

// A run of a part of the suite holds every case but answered only its part:
// the output then of another case comes from the older whole run.
func TestReplaySkipsPartRuns(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 3)
	db := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	ep := fake.start(t)
	ctx := context.Background()
	for _, args := range [][]string{
		{"run", "--suite", suite, "--endpoint", ep, "--db", db},
		{"run", "--suite", suite, "--endpoint", ep, "--db", db, "--cases", "case-002"},
	} {
		if code, _, stderr := a.cmd(ctx, args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", args, code, stderr)
		}
	}
	code, stdout, stderr := a.cmd(ctx, "replay", "--lock", runLockA, "--cases", "case-000", "--endpoint", ep, "--db", db)
	if code != 0 || !strings.Contains(stdout, "from cases of run 1 (suite fake)") || !strings.Contains(stdout, "then (run 1)") {
		t.Errorf("exit %d:\n%s\n%s", code, stdout, stderr)
	}
}
