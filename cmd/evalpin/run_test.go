package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
)

// runChildEnv holds the JSON arguments of an "evalpin run" the re-executed
// test binary runs until TestRunKillResume kills it.
const runChildEnv = "EVALPIN_TEST_RUN_CHILD"

// TestMain lets the test binary act as the evalpin child of
// TestRunKillResume.
func TestMain(m *testing.M) {
	if spec := os.Getenv(runChildEnv); spec != "" {
		var args []string
		if err := json.Unmarshal([]byte(spec), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(fault.ExitInternal)
		}
		// Results are confirmed and stored in small steps, so that the
		// kill finds some stored and more in flight.
		a := newApp(io.Discard, os.Stderr)
		a.commitInterval = 20 * time.Millisecond
		os.Exit(report(os.Stderr, a.run(context.Background(), args)))
	}
	os.Exit(m.Run())
}

// The locks the fake engine serves.
var (
	runLockA = "sha256:" + strings.Repeat("a1", 32)
	runLockB = "sha256:" + strings.Repeat("b2", 32)
)

// A runFake is an OpenAI-compatible engine that reports its lock in the
// well-known document and the Evalpin-Lock header, and answers each chat
// completion with "echo: " and the last message, after a delay.
type runFake struct {
	wellKnown atomic.Pointer[string] // the well-known document's lock; "" answers 404
	header    atomic.Pointer[string] // the header's lock; "" sends none
	manifest  []byte                 // published with the well-known lock when set
	latency   atomic.Int64           // how long a suite request is held, in nanoseconds
	// wellKnownGets counts the requests of the well-known document.
	wellKnownGets atomic.Int64

	// onCase, if set, is called with the 1-based count of suite requests
	// before each is answered, and may change the locks.
	onCase atomic.Pointer[func(n int64)]

	cases  atomic.Int64 // suite requests received (not the probe's)
	mu     sync.Mutex
	counts map[string]int // suite requests by prompt
	fail   map[string]int // the error status to answer a prompt with, if any
	// answers are the outputs of the prompts that are not echoed.
	answers sync.Map // prompt → output
}

func newRunFake(lock string) *runFake {
	f := &runFake{counts: map[string]int{}}
	f.setLock(lock)
	return f
}

// setOnCase sets the hook called before each suite request is answered.
func (f *runFake) setOnCase(fn func(n int64)) {
	if fn == nil {
		f.onCase.Store(nil)
		return
	}
	f.onCase.Store(&fn)
}

// setLock makes the fake report lock everywhere.
func (f *runFake) setLock(lock string) {
	f.wellKnown.Store(&lock)
	f.header.Store(&lock)
}

// setFail makes the fake answer the prompt of caseID with an error of the
// given status (with the lock header), or normally again when status is 0.
func (f *runFake) setFail(caseID string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string]int{}
	}
	f.fail[runPrompt(caseID)] = status
}

func (f *runFake) start(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// requests returns how many suite requests the fake received, in all and
// for the prompt of caseID.
func (f *runFake) requests(caseID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[runPrompt(caseID)]
}

func (f *runFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.Method + " " + r.URL.Path {
	case "GET " + lockid.WellKnownPath:
		f.wellKnownGets.Add(1)
		lock := *f.wellKnown.Load()
		if lock == "" {
			http.NotFound(w, r)
			return
		}
		doc := map[string]any{"lock": lock}
		if f.manifest != nil {
			doc["manifest"] = json.RawMessage(f.manifest)
		}
		json.NewEncoder(w).Encode(doc)
	case "GET /v1/models":
		fmt.Fprint(w, `{"object":"list","data":[{"id":"fake-model","object":"model"}]}`)
	case "POST /v1/chat/completions":
		var req struct {
			Model    string         `json:"model"`
			Messages []eval.Message `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		prompt := req.Messages[len(req.Messages)-1].Content
		if strings.HasPrefix(prompt, "prompt ") {
			n := f.cases.Add(1)
			f.mu.Lock()
			f.counts[prompt]++
			fail := f.fail[prompt]
			f.mu.Unlock()
			if fail != 0 {
				w.Header().Set(lockid.Header, *f.header.Load())
				w.WriteHeader(fail)
				fmt.Fprintf(w, `{"error":{"message":"failure %d"}}`, fail)
				return
			}
			if on := f.onCase.Load(); on != nil {
				(*on)(n)
			}
			select {
			case <-time.After(time.Duration(f.latency.Load())):
			case <-r.Context().Done():
				return
			}
		}
		if lock := *f.header.Load(); lock != "" {
			w.Header().Set(lockid.Header, lock)
		}
		out := "echo: " + prompt
		if a, ok := f.answers.Load(prompt); ok {
			out = a.(string)
		}
		json.NewEncoder(w).Encode(map[string]any{
			"id": "c", "object": "chat.completion", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]string{"role": "assistant", "content": out}}},
			"usage": map[string]int{"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
		})
	default:
		http.NotFound(w, r)
	}
}

// runPrompt is the prompt of case id in the suites runSuiteFile writes.
func runPrompt(id string) string { return "prompt " + id }

// runCaseIDs returns the ids of the n cases runSuiteFile writes.
func runCaseIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("case-%03d", i)
	}
	return ids
}

// runSuiteFile writes a suite of n chat cases into dir and returns its path.
func runSuiteFile(t testing.TB, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: fake\nversion: \"1\"\ndefaults: {max_tokens: 8, seed: 7}\ncases:\n")
	for _, id := range runCaseIDs(n) {
		fmt.Fprintf(&b, "  - id: %s\n    messages: [{role: user, content: %q}]\n    scorers: [{kind: contains, value: echo}]\n", id, runPrompt(id))
	}
	path := filepath.Join(dir, "suite.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testApp returns an app for tests: the process's, but with signals that
// only sigs delivers and an exit that does nothing.
func testApp() (*app, chan os.Signal) {
	a := newApp(io.Discard, io.Discard)
	sigs := make(chan os.Signal, 2)
	a.signals = func() (<-chan os.Signal, func()) { return sigs, func() {} }
	a.hardExit = func() {}
	a.progressEvery = 0 // no progress lines in the golden files; TestRunProgressLines turns them on
	return a, sigs
}

// runQuiet prepares a test of commands: no EVALPIN_DB or OpenAI variables
// from the environment, and an app whose second-interrupt exit fails the
// test. It returns the app; runCmd uses one of its own.
func runQuiet(t testing.TB) *app {
	t.Helper()
	t.Setenv(dbEnv, "")
	noOpenAIEnv(t)
	a, _ := testApp()
	a.hardExit = func() { t.Error("the run did not stop within the grace period after the second interrupt") }
	return a
}

// runCmd runs evalpin with args in a test app and returns the exit code,
// stdout and stderr.
func runCmd(ctx context.Context, args ...string) (int, string, string) {
	a, _ := testApp()
	return a.cmd(ctx, args...)
}

// cmd runs evalpin with args in a and returns the exit code, stdout and
// stderr.
func (a *app) cmd(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	b := *a
	b.stdout, b.stderr = &stdout, &stderr
	code := report(&stderr, b.run(ctx, args))
	return code, stdout.String(), stderr.String()
}

// runOpen opens the database at path for checking.
func runOpen(t testing.TB, path string) *store.DB {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// runCheckStored checks that run id stored every case of ids exactly once
// per sample, under lock, with the fake's echo as its output.
func runCheckStored(t testing.TB, db *store.DB, id int64, ids []string, samples int, lock lockid.ID) {
	t.Helper()
	results, err := db.Results(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range results {
		seen[fmt.Sprintf("%s/%d", r.CaseID, r.Sample)]++
		if r.Lock != lock || r.Output != "echo: "+runPrompt(r.CaseID) || r.Error != "" {
			t.Errorf("run %d: %s/%d stored lock %s output %q error %q; want %s, the echo, no error", id, r.CaseID, r.Sample, r.Lock, r.Output, r.Error, lock)
		}
	}
	for _, c := range ids {
		for s := range samples {
			if n := seen[fmt.Sprintf("%s/%d", c, s)]; n != 1 {
				t.Errorf("run %d: %s/%d stored %d times, want once", id, c, s, n)
			}
		}
	}
	if got, want := len(results), len(ids)*samples; got != want {
		t.Errorf("run %d: %d results stored, want %d", id, got, want)
	}
}

func runListRuns(t testing.TB, db *store.DB) []eval.Run {
	t.Helper()
	runs, err := db.Runs(context.Background(), store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// A run stores every case; the same command again resumes the complete run
// and requests nothing; --fresh makes a new run; other settings are another
// run.
func TestRunStoresResumesFresh(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 25)
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	ep := fake.start(t)
	args := []string{"run", "--suite", suite, "--endpoint", ep, "--db", dbPath, "--concurrency", "8"}
	ids := runCaseIDs(25)
	ctx := context.Background()

	tests := []struct {
		name     string
		args     []string
		requests int64 // suite requests the fake has received after the step
		runs     int   // runs stored after the step
		stderr   string
	}{
		{"first", args, 25, 1, "run 1: 25 cases × 1 sample,"},
		{"again", args, 25, 1, "run 1 is complete"},
		{"fresh", append(slices.Clone(args), "--fresh"), 50, 2, "run 2: 25 cases"},
		{"again after fresh", args, 50, 2, "run 2 is complete"},
		{"other settings", append(slices.Clone(args), "--samples", "2", "--seed", "9"), 100, 3, "run 3: 25 cases × 2 samples"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCmd(ctx, tt.args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", tt.name, code, stderr)
		}
		if got := fake.cases.Load(); got != tt.requests {
			t.Errorf("%s: the fake received %d suite requests in all, want %d", tt.name, got, tt.requests)
		}
		if !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%s: stderr lacks %q:\n%s", tt.name, tt.stderr, stderr)
		}
		if !strings.Contains(stdout, "complete") {
			t.Errorf("%s: the summary does not say complete:\n%s", tt.name, stdout)
		}
		db := runOpen(t, dbPath)
		runs := runListRuns(t, db)
		if len(runs) != tt.runs {
			t.Fatalf("%s: %d runs stored, want %d", tt.name, len(runs), tt.runs)
		}
		last := runs[len(runs)-1]
		if last.Status != eval.RunComplete || string(last.Lock) != runLockA || last.Suite != "fake" || last.Finished.IsZero() {
			t.Errorf("%s: run %+v, want complete, of %s and suite fake, with a finish time", tt.name, last, runLockA)
		}
		samples := last.Settings.Samples
		runCheckStored(t, db, last.ID, ids, samples, lockid.ID(runLockA))
		db.Close()
	}
	db := runOpen(t, dbPath)
	runs := runListRuns(t, db)
	if runs[0].SettingsHash != runs[1].SettingsHash || runs[2].SettingsHash == runs[0].SettingsHash {
		t.Errorf("settings hashes %s %s %s: want the first two equal, the third another", runs[0].SettingsHash, runs[1].SettingsHash, runs[2].SettingsHash)
	}
	if s := runs[2].Settings; s.Samples != 2 || s.Seed != 9 || s.MaxTokens != 8 {
		t.Errorf("run 3 settings %+v: want samples 2 and seed 9 from the flags, max_tokens 8 from the suite", s)
	}
	for _, id := range ids {
		if n := fake.requests(id); n != 4 {
			t.Errorf("%s requested %d times, want 4 (runs 1 and 2 once, run 3 twice)", id, n)
		}
	}
	l, err := db.Lock(ctx, lockid.ID(runLockA))
	if err != nil || l.Source != string(endpoint.SourceWellKnown) {
		t.Errorf("stored lock %+v, %v; want it with source well-known", l, err)
	}
}

// The manifest of the well-known document is stored with the lock.
func TestRunStoresManifest(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	manifest, id := testManifest(t, "weights")
	fake := newRunFake(id)
	fake.manifest = manifest
	dbPath := filepath.Join(dir, "e.db")
	code, _, stderr := runCmd(context.Background(), "run", "--suite", runSuiteFile(t, dir, 3), "--endpoint", fake.start(t), "--db", dbPath)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	l, err := runOpen(t, dbPath).Lock(context.Background(), lockid.ID(id))
	if err != nil {
		t.Fatal(err)
	}
	if l.Source != string(endpoint.SourceWellKnown) || !json.Valid(l.Manifest) || !bytes.Contains(l.Manifest, []byte(`"model.gguf"`)) {
		t.Errorf("stored lock: source %q manifest %s; want well-known with the published manifest", l.Source, l.Manifest)
	}
}

// Refusals before the run exit 3 and create no run, nor even the database.
func TestRunRefusedBeforeRun(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 3)
	none := newRunFake("")
	noneEP := none.start(t)
	a := newRunFake(runLockA)
	aEP := a.start(t)
	b := newRunFake(runLockB)
	bEP := b.start(t)
	tests := []struct {
		name string
		args []string
		code int
		want error // errors.Is of the refusal, checked in the message
		msg  string
	}{
		{"no lock", []string{"--endpoint", noneEP}, fault.ExitLockRefused, endpoint.ErrNoLock, "no lock reported"},
		{"wrong lock", []string{"--endpoint", aEP, "--expect-lock", runLockB}, fault.ExitLockRefused, endpoint.ErrWrongLock, runLockB},
		{"replicas disagree", []string{"--endpoint", aEP, "--endpoint", bEP}, fault.ExitLockRefused, endpoint.ErrDisagree, "serves"},
		{"unreachable", []string{"--endpoint", "http://127.0.0.1:1/v1"}, fault.ExitInput, nil, "endpoint http://127.0.0.1:1/v1 unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "e.db")
			args := append([]string{"run", "--suite", suite, "--db", dbPath}, tt.args...)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, &stdout, &stderr)
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if code := report(&stderr, err); code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.msg) || !strings.Contains(stderr.String(), "Try: ") {
				t.Errorf("stderr lacks %q or a Try: line:\n%s", tt.msg, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			if _, err := os.Stat(dbPath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the database was created (%v); a refused run must not touch it", err)
			}
		})
	}
	if n := none.cases.Load() + a.cases.Load() + b.cases.Load(); n != 0 {
		t.Errorf("%d suite requests sent to refused endpoints, want 0", n)
	}
}

// A response of another lock mid-run stops the run: it exits 3, the run is
// interrupted, and nothing of the refused response (or after it) is stored.
// Back on the right lock, the same command completes the run.
func TestRunLockChangedMidRun(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 20)
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	// The lock (the well-known document's) is checked once 7 results are
	// held; the change waits for that check, so that exactly 7 are
	// confirmed before it.
	advBatch(a, 7)
	var before int64
	fake.setOnCase(func(n int64) {
		switch n {
		case 1:
			before = fake.wellKnownGets.Load()
		case 8:
			for range 1000 {
				if fake.wellKnownGets.Load() > before {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			fake.setLock(runLockB) // a replica of another lock behind the balancer
		}
	})
	args := []string{"run", "--suite", suite, "--endpoint", fake.start(t), "--db", dbPath, "--concurrency", "1", "--no-progress"}
	code, stdout, stderr := a.cmd(context.Background(), args...)
	if code != fault.ExitLockRefused {
		t.Fatalf("exit %d, want %d\n%s", code, fault.ExitLockRefused, stderr)
	}
	if !strings.Contains(stderr, runLockB) || !strings.Contains(stderr, "Try: ") || !strings.Contains(stdout, "interrupted") {
		t.Errorf("stderr should name the other lock and the fix, stdout the interrupted run:\n%s\n%s", stdout, stderr)
	}
	db := runOpen(t, dbPath)
	runs := runListRuns(t, db)
	if len(runs) != 1 || runs[0].Status != eval.RunInterrupted {
		t.Fatalf("runs %+v, want one, interrupted", runs)
	}
	ids := runCaseIDs(20)
	// One request at a time, in suite order: cases 0–6 were answered under
	// lock A, case 7 carried lock B.
	runCheckStored(t, db, 1, ids[:7], 1, lockid.ID(runLockA))

	fake.setLock(runLockA)
	fake.setOnCase(nil)
	code, _, stderr = a.cmd(context.Background(), args...)
	if code != 0 || !strings.Contains(stderr, "resuming run 1 (interrupted): 7 of 20") {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	runCheckStored(t, db, 1, ids, 1, lockid.ID(runLockA))
	if r, _ := db.Run(context.Background(), 1); r.Status != eval.RunComplete {
		t.Errorf("status %s after the resume, want complete", r.Status)
	}
}

// A lock that changes after the last response is caught by the re-check:
// exit 3 and the run is not called complete.
func TestRunLockChangedAtEnd(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	fake.setOnCase(func(n int64) {
		if n == 5 {
			lock := runLockB
			fake.wellKnown.Store(&lock) // redeployed; this response still carries A
		}
	})
	code, _, stderr := runCmd(context.Background(), "run", "--suite", runSuiteFile(t, dir, 5), "--endpoint", fake.start(t), "--db", dbPath, "--concurrency", "1")
	if code != fault.ExitLockRefused || !strings.Contains(stderr, "now names lock "+runLockB) || !strings.Contains(stderr, "0 of 5 case samples stored") {
		t.Fatalf("exit %d, want %d and the re-check's refusal\n%s", code, fault.ExitLockRefused, stderr)
	}
	if r, err := runOpen(t, dbPath).Run(context.Background(), 1); err != nil || r.Status != eval.RunInterrupted {
		t.Errorf("run %+v %v, want interrupted", r, err)
	}
}

// A request that failed every attempt with a transient error leaves the run
// incomplete (exit 4), and the same command requests it again, replacing the
// stored failure; a permanent failure (400) is an answer and stays.
func TestRunRetriesTransientFailures(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	fake.setFail("case-001", http.StatusInternalServerError)
	fake.setFail("case-002", http.StatusRequestTimeout)
	fake.setFail("case-003", http.StatusBadRequest)
	args := []string{"run", "--suite", runSuiteFile(t, dir, 6), "--endpoint", fake.start(t), "--db", dbPath, "--retries", "0", "--format", "json"}
	ctx := context.Background()

	code, stdout, stderr := runCmd(ctx, args...)
	if code != fault.ExitIncomplete || !strings.Contains(stderr, "run 1 incomplete: 2 of 6 case samples have no result (2 failed every attempt") {
		t.Fatalf("exit %d, want %d naming the 2 transient failures\n%s", code, fault.ExitIncomplete, stderr)
	}
	var sum eval.RunSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Status != eval.RunInterrupted || sum.Stored != 4 || sum.StoredErrors != 1 || sum.Transient != 2 || sum.Errors["server"] != 1 || sum.Errors["timeout"] != 1 {
		t.Errorf("summary %+v: want interrupted, 4 of 6 stored, 1 failed for good, 2 transient (server, timeout)", sum)
	}

	fake.setFail("case-001", 0)
	fake.setFail("case-002", 0)
	code, _, stderr = runCmd(ctx, args...)
	if code != 0 || !strings.Contains(stderr, "resuming run 1 (interrupted): 4 of 6 case samples stored") {
		t.Fatalf("resume: exit %d, want 0\n%s", code, stderr)
	}
	for id, want := range map[string]int{"case-000": 1, "case-001": 2, "case-002": 2, "case-003": 1} {
		if got := fake.requests(id); got != want {
			t.Errorf("%s requested %d times, want %d", id, got, want)
		}
	}
	db := runOpen(t, dbPath)
	if r, _ := db.Run(ctx, 1); r.Status != eval.RunComplete {
		t.Errorf("status %s after the resume, want complete", r.Status)
	}
	results, err := db.Results(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 6 {
		t.Fatalf("%d results stored, want 6: one per case", len(results))
	}
	for _, r := range results {
		wantKind := ""
		if r.CaseID == "case-003" {
			wantKind = "bad_request"
		}
		if r.ErrorKind != wantKind || (wantKind == "" && r.Output != "echo: "+runPrompt(r.CaseID)) {
			t.Errorf("%s stored %q %q %q, want error kind %q", r.CaseID, r.ErrorKind, r.Error, r.Output, wantKind)
		}
	}
}

// Cancelling the context (Ctrl-C) stops dispatching and finishes the
// requests in flight: their results are stored, the run is interrupted and
// exits 130 saying how to resume, and the same command completes it with
// every case requested and stored exactly once.
func TestRunInterruptResume(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 40)
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	fake.latency.Store(int64(20 * time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake.setOnCase(func(n int64) {
		if n == 10 {
			cancel()
		}
	})
	args := []string{"run", "--suite", suite, "--endpoint", fake.start(t), "--db", dbPath, "--concurrency", "4", "--fresh"}
	code, stdout, stderr := runCmd(ctx, args...)
	if code != fault.ExitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, fault.ExitInterrupted, stderr)
	}
	resume := "evalpin run --suite " + suite + " --endpoint " + args[4] + " --db " + dbPath + " --concurrency 4\n"
	if !strings.Contains(stderr, "resume it with the same command: "+resume) || !strings.Contains(stdout, "interrupted") {
		t.Errorf("stderr should say how to resume without --fresh (%q):\n%s\n%s", resume, stdout, stderr)
	}
	db := runOpen(t, dbPath)
	results, err := db.Results(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := db.Run(context.Background(), 1); r.Status != eval.RunInterrupted || len(results) < 10 || len(results) >= 40 {
		t.Fatalf("status %s with %d results; want interrupted with the 10 or more requests sent stored, not all 40", r.Status, len(results))
	}
	if got := fake.cases.Load(); int(got) != len(results) {
		t.Errorf("%d requests sent but %d results stored: the requests in flight must be stored", got, len(results))
	}

	code, _, stderr = runCmd(context.Background(), strings.Fields(strings.TrimSuffix(resume, "\n"))[1:]...)
	if code != 0 || !strings.Contains(stderr, fmt.Sprintf("resuming run 1 (interrupted): %d of 40", len(results))) {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	runCheckStored(t, db, 1, runCaseIDs(40), 1, lockid.ID(runLockA))
	for _, id := range runCaseIDs(40) {
		if n := fake.requests(id); n != 1 {
			t.Errorf("%s requested %d times, want once", id, n)
		}
	}
}

// A second interrupt abandons the requests in flight at once; the run is
// interrupted, and resuming it stores every case exactly once.
func TestRunSecondInterrupt(t *testing.T) {
	a := runQuiet(t)
	sigs := make(chan os.Signal, 2)
	a.signals = func() (<-chan os.Signal, func()) { return sigs, func() {} }
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 30)
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	fake.latency.Store(int64(time.Minute)) // only the hard stop ends these requests
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake.setOnCase(func(n int64) {
		if n == 4 {
			cancel()
			sigs <- os.Interrupt
			sigs <- os.Interrupt
		}
	})
	args := []string{"run", "--suite", suite, "--endpoint", fake.start(t), "--db", dbPath, "--concurrency", "4"}
	start := time.Now()
	code, _, stderr := a.cmd(ctx, args...)
	if code != fault.ExitInterrupted || !strings.Contains(stderr, "abandoning the requests in flight") {
		t.Fatalf("exit %d, want %d after abandoning the requests\n%s", code, fault.ExitInterrupted, stderr)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the hard stop took %v", d)
	}
	db := runOpen(t, dbPath)
	if r, _ := db.Run(context.Background(), 1); r.Status != eval.RunInterrupted {
		t.Errorf("status %s, want interrupted", r.Status)
	}
	fake.latency.Store(int64(0))
	fake.setOnCase(nil)
	if code, _, stderr := runCmd(context.Background(), args...); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	runCheckStored(t, db, 1, runCaseIDs(30), 1, lockid.ID(runLockA))
}

// The test binary runs "evalpin run" as a child against a slow fake and is
// killed (SIGKILL) mid-run; the same command, run here, resumes the crashed
// run: every case is stored exactly once, none is lost, and only the
// missing ones are requested.
func TestRunKillResume(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	const n = 60
	suite := runSuiteFile(t, dir, n)
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	fake.latency.Store(int64(30 * time.Millisecond))
	args := []string{"run", "--suite", suite, "--endpoint", fake.start(t), "--db", dbPath, "--concurrency", "4", "--no-progress"}
	spec, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runChildEnv+"="+string(spec), dbEnv+"=")
	var childErr bytes.Buffer
	cmd.Stderr = &childErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once some results are committed and more are in flight.
	var db *store.DB
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the child stored nothing in 30s; stderr:\n%s", childErr.String())
		}
		if db == nil {
			if _, err := os.Stat(dbPath); err != nil {
				continue
			}
			db = runOpen(t, dbPath)
		}
		c, err := db.Counts(context.Background(), 1)
		if err == nil && c.Results >= 12 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the child finished before it was killed")
	}
	before, err := db.Counts(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	// Requests the child wrote before it died may still be read by the
	// fake: count them once the count has settled.
	sent := fake.cases.Load()
	for range 40 {
		time.Sleep(50 * time.Millisecond)
		if now := fake.cases.Load(); now != sent {
			sent = now
			continue
		}
		break
	}
	if r, _ := db.Run(context.Background(), 1); r.Status != eval.RunRunning || before.Results >= n {
		t.Fatalf("after the kill: status %s, %d stored; want running (crashed) with cases missing", r.Status, before.Results)
	}
	t.Logf("killed after %d requests, %d results committed", sent, before.Results)

	code, _, stderr := runCmd(context.Background(), args...)
	if code != 0 || !strings.Contains(stderr, fmt.Sprintf("resuming run 1 (running): %d of %d", before.Results, n)) {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	runCheckStored(t, db, 1, runCaseIDs(n), 1, lockid.ID(runLockA))
	if got, want := fake.cases.Load()-sent, int64(n-before.Results); got != want {
		t.Errorf("the resume sent %d requests, want %d (the missing cases only)", got, want)
	}
	if runs := runListRuns(t, db); len(runs) != 1 || runs[0].Status != eval.RunComplete {
		t.Errorf("runs %+v, want the one run, complete", runs)
	}
}

// What run prints: help, input errors, refusals and summaries.
func TestRunGolden(t *testing.T) {
	// Results are confirmed by the last check only, so that what the
	// lock-changed golden counts does not depend on the machine's speed.
	a := advBatch(runQuiet(t), 1<<20)
	a.runClock = func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }
	if err := os.MkdirAll(filepath.Join("testdata", "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 4)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: bad\ncases:\n  - id: a\n    prompt: x\n  - id: a\n    scorers: [{kind: nope}]\n"), 0o644)
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	ep := fake.start(t)
	none := newRunFake("")
	noneEP := none.start(t)
	changing := newRunFake(runLockA)
	changing.setOnCase(func(n int64) {
		if n == 3 {
			changing.setLock(runLockB)
		}
	})
	changingEP := changing.start(t)
	replace := []string{ep, "http://FAKE/v1", noneEP, "http://NOLOCK/v1", changingEP, "http://CHANGING/v1", dir, "$TMP"}
	for i := 0; i < 6; i += 2 {
		replace = append(replace, strings.TrimSuffix(replace[i], "/v1"), strings.TrimSuffix(replace[i+1], "/v1"))
	}
	base := []string{"run", "--suite", suite, "--db", dbPath, "--concurrency", "1"}
	tests := []struct {
		name string
		args []string
	}{
		{"help", []string{"help", "run"}},
		{"no-suite", []string{"run", "--endpoint", ep}},
		{"no-endpoint", []string{"run", "--suite", suite}},
		{"bad-flag", []string{"run", "--suite", suite, "--endpoint", ep, "--concurrency", "0"}},
		{"bad-format", []string{"run", "--suite", suite, "--endpoint", ep, "--format", "xml"}},
		{"bad-expect", []string{"run", "--suite", suite, "--endpoint", ep, "--expect-lock", "latest"}},
		{"unknown-suite", []string{"run", "--suite", "nonesuch", "--endpoint", ep}},
		{"bad-suite", []string{"run", "--suite", bad, "--endpoint", ep}},
		{"no-api-key", []string{"run", "--suite", suite, "--endpoint", ep, "--api-key-env", "EVALPIN_TEST_UNSET_KEY"}},
		{"no-lock", append(slices.Clone(base), "--endpoint", noneEP)},
		{"wrong-lock", append(slices.Clone(base), "--endpoint", ep, "--expect-lock", runLockB)},
		{"table", append(slices.Clone(base), "--endpoint", ep, "--expect-lock", runLockA)},
		{"complete", append(slices.Clone(base), "--endpoint", ep, "--expect-lock", runLockA)},
		{"json", append(slices.Clone(base), "--endpoint", ep, "--fresh", "--format", "json")},
		{"lock-changed", append(slices.Clone(base), "--endpoint", changingEP, "--fresh")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			goldenApp(t, a, "run/"+tt.name, replace, tt.args...)
		})
	}
}

// Outputs are untrusted: the command line of the resume hint is quoted for
// a shell and leaves out --fresh.
func TestRunCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--suite", "s.yaml", "--fresh", "--endpoint", "http://h:8000/v1"}, "evalpin run --suite s.yaml --endpoint http://h:8000/v1"},
		{[]string{"-fresh=true", "--suite", "my suite.yaml"}, "evalpin run --suite 'my suite.yaml'"},
		{[]string{"--suite", "it's.yaml", "--model", ""}, `evalpin run --suite 'it'\''s.yaml' --model ''`},
		{[]string{"--suite", "$(rm -rf ~).yaml"}, `evalpin run --suite '$(rm -rf ~).yaml'`},
	}
	for _, tt := range tests {
		if got := runCommandLine("run", tt.args); got != tt.want {
			t.Errorf("runCommandLine(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

// On a terminal the progress bar is drawn on stderr from the runner's
// counters; with --no-progress, or off a terminal, nothing is drawn.
func TestRunProgress(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 20)
	fake := newRunFake(runLockA)
	fake.latency.Store(int64(40 * time.Millisecond))
	ep := fake.start(t)
	tests := []struct {
		name     string
		extra    []string
		terminal bool
		every    time.Duration // progress lines off a terminal
		want     bool          // a bar drawn
		lines    bool          // progress lines written
	}{
		{"terminal", nil, true, 0, true, false},
		{"no-progress", []string{"--no-progress"}, true, 0, false, false},
		{"not a terminal", nil, false, 0, false, false},
		{"CI log", nil, false, 50 * time.Millisecond, false, true},
		{"CI log quiet", []string{"--no-progress"}, false, 50 * time.Millisecond, false, false},
	}
	for _, tt := range tests {
		a.isTerminal = func(io.Writer) bool { return tt.terminal }
		a.progressEvery = tt.every
		args := append([]string{"run", "--suite", suite, "--endpoint", ep, "--db", filepath.Join(dir, tt.name+".db"), "--concurrency", "2"}, tt.extra...)
		code, _, stderr := a.cmd(context.Background(), args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", tt.name, code, stderr)
		}
		drawn := strings.Contains(stderr, "in flight (limit") && strings.Contains(stderr, "/20")
		if drawn != tt.want {
			t.Errorf("%s: progress drawn %v, want %v; stderr:\n%q", tt.name, drawn, tt.want, stderr)
		}
		if lines := strings.Contains(stderr, "case samples ("); lines != tt.lines {
			t.Errorf("%s: progress lines %v, want %v; stderr:\n%q", tt.name, lines, tt.lines, stderr)
		}
	}
}

// BenchmarkRunCommand measures the whole command against a fake engine that
// answers at once (resolve, store, replay, count): what evalpin itself costs
// per case. Reported as cases/s.
func BenchmarkRunCommand(b *testing.B) {
	runQuiet(b)
	dir := b.TempDir()
	const n = 2000
	suite := runSuiteFile(b, dir, n)
	ep := newRunFake(runLockA).start(b)
	args := []string{"run", "--suite", suite, "--endpoint", ep, "--db", filepath.Join(dir, "b.db"), "--concurrency", "64", "--fresh", "--no-progress"}
	b.ResetTimer()
	for b.Loop() {
		if code, _, stderr := runCmd(context.Background(), args...); code != 0 {
			b.Fatalf("exit %d\n%s", code, stderr)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "cases/s")
}

// The suite is loaded while the endpoints are probed, and the errors keep
// their order: a bad suite first (and it stops a probe still waiting for
// an answer), then a missing API key, then the endpoint's refusal.
func TestRunErrorPrecedence(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	good := runSuiteFile(t, dir, 2)
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\ncases:\n  - id: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := newRunFake(runLockA).start(t)
	noLock := newRunFake("").start(t)
	// hanging answers nothing until the client gives up, or the test
	// releases it because the client did not.
	release := make(chan struct{})
	var released atomic.Bool
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() {
		if released.CompareAndSwap(false, true) {
			close(release)
		}
	})
	t.Setenv("EVALPIN_TEST_SET_KEY", "k")

	tests := []struct {
		name     string
		suite    string
		endpoint string
		keyEnv   string
		expect   string // --expect-lock, if set
		code     int
		stderr   string
	}{
		{"bad suite, good endpoint", bad, ok, "", "", fault.ExitInput, "invalid suite"},
		{"bad suite, no lock", bad, noLock, "", "", fault.ExitInput, "invalid suite"},
		{"bad suite, wrong lock", bad, ok, "", runLockB, fault.ExitInput, "invalid suite"},
		{"bad suite, hanging endpoint", bad, hanging.URL + "/v1", "", "", fault.ExitInput, "invalid suite"},
		{"bad suite, no key", bad, ok, "EVALPIN_TEST_UNSET_KEY", "", fault.ExitInput, "invalid suite"},
		{"unknown suite, no lock", "nonesuch", noLock, "", "", fault.ExitInput, "no bundled suite of that name"},
		{"no key, no lock", good, noLock, "EVALPIN_TEST_UNSET_KEY", "", fault.ExitInput, "--api-key-env EVALPIN_TEST_UNSET_KEY"},
		{"good suite, no lock", good, noLock, "", "", fault.ExitLockRefused, "no lock reported"},
		{"good suite, wrong lock", good, ok, "", runLockB, fault.ExitLockRefused, runLockA},
		{"good suite, key, good endpoint", good, ok, "EVALPIN_TEST_SET_KEY", "", fault.ExitOK, "run 1:"},
		{"good suite, hanging endpoint", good, hanging.URL + "/v1", "", "", fault.ExitInput, "probing the endpoints: no answer within 200ms\nTry: check that the endpoint is up, or raise --timeout"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := "1h"
			if strings.HasPrefix(tt.name, "good suite, hanging") {
				timeout = "200ms"
			}
			args := []string{"run", "--suite", tt.suite, "--endpoint", tt.endpoint, "--timeout", timeout,
				"--db", filepath.Join(dir, fmt.Sprintf("e%d.db", i))}
			if tt.keyEnv != "" {
				args = append(args, "--api-key-env", tt.keyEnv)
			}
			if tt.expect != "" {
				args = append(args, "--expect-lock", tt.expect)
			}
			// A probe that is not stopped would wait the hour; release it
			// after a while, and fail.
			watchdog := time.AfterFunc(20*time.Second, func() {
				if released.CompareAndSwap(false, true) {
					close(release)
				}
			})
			code, _, stderr := runCmd(context.Background(), args...)
			watchdog.Stop()
			if released.Load() {
				t.Fatal("the probe went on after the suite failed to load")
			}
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}

// runStatus returns the status of run id in db.
func runStatus(t testing.TB, db *store.DB, id int64) eval.RunStatus {
	t.Helper()
	for _, r := range runListRuns(t, db) {
		if r.ID == id {
			return r.Status
		}
	}
	t.Fatalf("no run %d", id)
	return ""
}

// The suite's cases are stored while the suite is replayed, not before the
// first request, and the run is marked complete only once they are stored.
func TestRunStoresSuiteDuringReplay(t *testing.T) {
	a := runQuiet(t)
	const n = 20
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, n)
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	replayed := make(chan struct{})
	fake.setOnCase(func(k int64) {
		if k == n {
			close(replayed)
		}
	})
	ep := fake.start(t)

	var waited, statusSeen atomic.Value
	a.putSuite = func(ctx context.Context, db *store.DB, s eval.Suite) error {
		// Hold the suite back until every case has been requested; a run
		// that waited for it first would never request them.
		select {
		case <-replayed:
			waited.Store(false)
		case <-time.After(20 * time.Second):
			waited.Store(true)
		}
		runs, err := db.Runs(ctx, store.RunFilter{})
		if err != nil || len(runs) != 1 {
			return fmt.Errorf("runs %v: %v", runs, err)
		}
		statusSeen.Store(runs[0].Status)
		return db.PutSuite(ctx, s)
	}
	code, _, stderr := a.cmd(context.Background(), "run", "--suite", suite, "--endpoint", ep, "--db", dbPath, "--concurrency", "4")
	if code != fault.ExitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if waited.Load() != false {
		t.Fatal("the first request waited for the suite to be stored")
	}
	if got := statusSeen.Load(); got != eval.RunRunning {
		t.Fatalf("run status while its suite was stored = %v, want %s", got, eval.RunRunning)
	}
	db := runOpen(t, dbPath)
	runs := runListRuns(t, db)
	if len(runs) != 1 || runs[0].Status != eval.RunComplete {
		t.Fatalf("runs %+v, want one, complete", runs)
	}
	cases, err := db.Cases(context.Background(), runs[0].SuiteHash)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range runCaseIDs(n) {
		if c, ok := cases[id]; !ok || c.Messages[0].Content != runPrompt(id) {
			t.Errorf("case %s stored as %+v, want its prompt", id, c)
		}
	}
	if len(cases) != n {
		t.Errorf("%d cases stored, want %d", len(cases), n)
	}
}

// A failure to store the suite's cases stops the run as an infrastructure
// failure and leaves it interrupted; the same command completes it.
func TestRunSuiteStoreFails(t *testing.T) {
	a := runQuiet(t)
	const n = 30
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, n)
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	ep := fake.start(t)
	old := a.putSuite
	a.putSuite = func(context.Context, *store.DB, eval.Suite) error { return errors.New("disk I/O error") }
	args := []string{"run", "--suite", suite, "--endpoint", ep, "--db", dbPath, "--concurrency", "2"}

	code, _, stderr := a.cmd(context.Background(), args...)
	if code != fault.ExitInternal || !strings.Contains(stderr, "the suite's cases could not be stored") ||
		!strings.Contains(stderr, "store suite: disk I/O error") {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit %d naming the failed suite store", code, stderr, fault.ExitInternal)
	}
	db := runOpen(t, dbPath)
	if got := runStatus(t, db, 1); got != eval.RunInterrupted {
		t.Fatalf("run status %s after a failed suite store, want %s", got, eval.RunInterrupted)
	}

	a.putSuite = old
	code, _, stderr = a.cmd(context.Background(), args...)
	if code != fault.ExitOK || !strings.Contains(stderr, "resuming run 1") {
		t.Fatalf("resume: exit %d, stderr:\n%s", code, stderr)
	}
	if got := runStatus(t, db, 1); got != eval.RunComplete {
		t.Fatalf("run status %s after the resume, want %s", got, eval.RunComplete)
	}
	runCheckStored(t, db, 1, runCaseIDs(n), 1, lockid.ID(runLockA))
	cases, err := db.Cases(context.Background(), runListRuns(t, db)[0].SuiteHash)
	if err != nil || len(cases) != n {
		t.Fatalf("%d cases stored (%v), want %d", len(cases), err, n)
	}
}
