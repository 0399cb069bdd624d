package runs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/runner"
	"github.com/evalpin/evalpin/suites"
)

// The locks the fake engine serves.
var (
	lockA = lockid.ID("sha256:" + strings.Repeat("a1", 32))
	lockB = lockid.ID("sha256:" + strings.Repeat("b2", 32))
)

// An engine is an OpenAI-compatible fake that reports its lock in the
// Evalpin-Lock header of every answer and, when wellKnown is set, in the
// well-known document too (a lock that only a re-probe confirms: its
// results are held until a check).
type engine struct {
	lock      atomic.Pointer[lockid.ID]
	wellKnown bool

	mu     sync.Mutex
	fail   map[string]int // the error status to answer a prompt with
	asked  map[string]int // requests by prompt
	onCase func(n int)    // called before each suite request is answered
	cases  int
}

func newEngine(t *testing.T, lock lockid.ID, wellKnown bool) (*engine, string) {
	e := &engine{wellKnown: wellKnown, fail: map[string]int{}, asked: map[string]int{}}
	e.lock.Store(&lock)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, srv.URL + "/v1"
}

func (e *engine) setFail(prompt string, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fail[prompt] = status
}

func (e *engine) requests(prompt string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.asked[prompt]
}

func (e *engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	lock := *e.lock.Load()
	switch r.Method + " " + r.URL.Path {
	case "GET " + lockid.WellKnownPath:
		if !e.wellKnown {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"lock": lock})
	case "GET /v1/models":
		fmt.Fprint(w, `{"object":"list","data":[{"id":"m","object":"model"}]}`)
	case "POST /v1/chat/completions":
		var req struct {
			Messages []eval.Message `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		prompt := ""
		if len(req.Messages) > 0 {
			prompt = req.Messages[len(req.Messages)-1].Content
		}
		w.Header().Set(lockid.Header, string(lock))
		if strings.HasPrefix(prompt, "prompt ") {
			e.mu.Lock()
			e.cases++
			n, on, fail := e.cases, e.onCase, e.fail[prompt]
			e.asked[prompt]++
			e.mu.Unlock()
			if fail != 0 {
				w.WriteHeader(fail)
				fmt.Fprintf(w, `{"error":{"message":"failure %d"}}`, fail)
				return
			}
			if on != nil {
				on(n)
				w.Header().Set(lockid.Header, string(*e.lock.Load()))
			}
		}
		json.NewEncoder(w).Encode(map[string]any{
			"id": "c", "object": "chat.completion", "model": "m",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]string{"role": "assistant", "content": "echo: " + prompt}}},
			"usage": map[string]int{"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
		})
	default:
		http.NotFound(w, r)
	}
}

// testSuite returns a suite of n chat cases, case-000 … whose prompt is
// "prompt case-000" …, at samples samples.
func testSuite(t *testing.T, n, samples int) *eval.Suite {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: fake\nversion: \"1\"\ndefaults: {max_tokens: 8, samples: %d}\ncases:\n", samples)
	for i := range n {
		fmt.Fprintf(&b, "  - id: case-%03d\n    messages: [{role: user, content: \"prompt case-%03d\"}]\n", i, i)
	}
	s, err := suites.Parse("suite.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openDB returns a database in a temporary file, closed when the test ends.
func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "e.db")
	}
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// resolve probes ep and returns its target.
func resolve(t *testing.T, ep string) *endpoint.Target {
	t.Helper()
	target, err := (&endpoint.Prober{}).Resolve(context.Background(), []string{ep}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return target
}

// spec returns the Spec of suite against target, with checks of a
// re-probed lock every 10 ms.
func spec(target *endpoint.Target, suite *eval.Suite, ep string) runs.Spec {
	return runs.Spec{Target: target, Suite: suite, Settings: suite.Settings, Endpoints: []string{ep},
		Version: "test", CommitInterval: 10 * time.Millisecond}
}

// replay runs r's plan with the runner against ep, one attempt a request.
func replay(t *testing.T, ctx context.Context, r *runs.Run, target *endpoint.Target, ep string) (runner.Summary, error) {
	t.Helper()
	rr, err := runner.New(runner.Config{
		Endpoints: []string{ep}, Model: target.Model, Concurrency: 4, MaxAttempts: 1, Timeout: 5 * time.Second,
		CheckResponse: target.CheckResponse, CheckErrorResponse: target.CheckErrorResponse, Sink: r.Sink(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return rr.Run(ctx, r.Plan())
}

// lifecycle begins the run of spec, replays it and finishes it.
func lifecycle(t *testing.T, ctx context.Context, db *store.DB, s runs.Spec, ep string) (*runs.Run, runner.Summary, runs.Outcome) {
	t.Helper()
	r, err := runs.Begin(ctx, db, s)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sum, runErr := replay(t, ctx, r, s.Target, ep)
	out, err := r.Finish(ctx, runErr)
	if err != nil {
		t.Fatal(err)
	}
	return r, sum, out
}

// stored returns the status of run id and its results by case/sample.
func stored(t *testing.T, db *store.DB, id int64) (eval.Run, map[string]eval.Result) {
	t.Helper()
	run, err := db.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	results, err := db.Results(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]eval.Result{}
	for _, r := range results {
		m[fmt.Sprintf("%s/%d", r.CaseID, r.Sample)] = r
	}
	return run, m
}

// TestBeginNewResumeComplete follows one run through its life: created,
// incomplete (transient failures), resumed (only those requested), complete,
// and found complete (nothing requested).
func TestBeginNewResumeComplete(t *testing.T) {
	ctx := context.Background()
	for _, wellKnown := range []bool{false, true} {
		t.Run(fmt.Sprintf("reprobed=%v", wellKnown), func(t *testing.T) {
			eng, ep := newEngine(t, lockA, wellKnown)
			target := resolve(t, ep)
			if target.Reprobed() != wellKnown {
				t.Fatalf("Reprobed() = %v, want %v", target.Reprobed(), wellKnown)
			}
			db := openDB(t, "")
			suite := testSuite(t, 5, 2)
			s := spec(target, suite, ep)

			// New, with two case samples failing transiently.
			eng.setFail("prompt case-001", http.StatusServiceUnavailable)
			r, sum, out := lifecycle(t, ctx, db, s, ep)
			if r.Prior != "" || r.Resumed() || r.Complete() || r.Expected != 10 || r.Stored != 0 {
				t.Errorf("new run: prior %q, expected %d, stored %d", r.Prior, r.Expected, r.Stored)
			}
			want := runs.Outcome{Status: eval.RunInterrupted, Expected: 10, Stored: 8, Missing: 2, Transient: 2}
			if out != want {
				t.Errorf("first outcome %+v, want %+v", out, want)
			}
			if sum.Results != 10 || sum.Skipped != 0 {
				t.Errorf("first invocation: %d results, %d skipped", sum.Results, sum.Skipped)
			}
			run, _ := stored(t, db, r.ID)
			if run.Status != eval.RunInterrupted || run.Lock != lockA || run.Version != "test" {
				t.Errorf("stored run %+v", run)
			}
			if l, err := db.Lock(ctx, lockA); err != nil || l.Source == "" {
				t.Errorf("lock stored as %+v, %v", l, err)
			}

			// Resumed: the transient failures are requested again.
			eng.setFail("prompt case-001", 0)
			r2, sum, out := lifecycle(t, ctx, db, s, ep)
			if r2.ID != r.ID || r2.Prior != eval.RunInterrupted || r2.Stored != 8 || !r2.Resumed() {
				t.Errorf("resumed: run %d (want %d), prior %q, stored %d", r2.ID, r.ID, r2.Prior, r2.Stored)
			}
			if want := (runs.Outcome{Status: eval.RunComplete, Expected: 10, Stored: 10}); out != want {
				t.Errorf("resumed outcome %+v, want %+v", out, want)
			}
			if sum.Results != 2 || sum.Skipped != 8 || eng.requests("prompt case-001") != 4 || eng.requests("prompt case-000") != 2 {
				t.Errorf("resumed: %d results, %d skipped; case-001 asked %d times, case-000 %d",
					sum.Results, sum.Skipped, eng.requests("prompt case-001"), eng.requests("prompt case-000"))
			}
			run, results := stored(t, db, r.ID)
			if run.Status != eval.RunComplete || len(results) != 10 || results["case-001/1"].Error != "" {
				t.Errorf("after resume: status %s, %d results, case-001/1 %+v", run.Status, len(results), results["case-001/1"])
			}

			// Complete: found, nothing requested, the status and finish
			// time as they were.
			r3, sum, out := lifecycle(t, ctx, db, s, ep)
			if r3.ID != r.ID || !r3.Complete() || sum.Results != 0 || sum.Skipped != 10 {
				t.Errorf("complete: run %d, complete %v, %d results, %d skipped", r3.ID, r3.Complete(), sum.Results, sum.Skipped)
			}
			if out.Status != eval.RunComplete {
				t.Errorf("complete outcome %+v", out)
			}
			if again, _ := stored(t, db, r.ID); !again.Finished.Equal(run.Finished) {
				t.Errorf("finish time changed from %v to %v", run.Finished, again.Finished)
			}

			// Fresh: a new run.
			s.Fresh = true
			r4, sum, out := lifecycle(t, ctx, db, s, ep)
			if r4.ID == r.ID || r4.Prior != "" || sum.Results != 10 || out.Status != eval.RunComplete {
				t.Errorf("fresh: run %d (old %d), prior %q, %d results, %s", r4.ID, r.ID, r4.Prior, sum.Results, out.Status)
			}
		})
	}
}

// TestBeginLocked: a run another process runs is not begun again, and is
// left as it was; once the holder closes, it is resumed.
func TestBeginLocked(t *testing.T) {
	ctx := context.Background()
	_, ep := newEngine(t, lockA, false)
	target := resolve(t, ep)
	path := filepath.Join(t.TempDir(), "e.db")
	db1, db2 := openDB(t, path), openDB(t, path) // two handles lock as two processes
	suite := testSuite(t, 3, 1)
	r1, err := runs.Begin(ctx, db1, spec(target, suite, ep))
	if err != nil {
		t.Fatal(err)
	}
	other := spec(target, suite, "http://other:8000/v1")
	_, err = runs.Begin(ctx, db2, other)
	var le *runs.LockError
	if !errors.As(err, &le) || le.Run != r1.ID || !errors.Is(err, store.ErrRunLocked) {
		t.Fatalf("second Begin: %v, want a LockError of run %d matching ErrRunLocked", err, r1.ID)
	}
	if run, _ := stored(t, db2, r1.ID); run.Status != eval.RunRunning || run.Endpoints[0] != ep {
		t.Errorf("refused Begin changed the run: %s, %v", run.Status, run.Endpoints)
	}
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := runs.Begin(ctx, db2, other)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if r2.ID != r1.ID || r2.Prior != eval.RunRunning || r2.Endpoints[0] != "http://other:8000/v1" {
		t.Errorf("after Close: run %d (want %d), prior %q, endpoints %v", r2.ID, r1.ID, r2.Prior, r2.Endpoints)
	}
}

// TestRefused: a lock that changes mid-run stops the run; what the lock
// vouched for is stored, the rest is not, and the refusal is recorded.
func TestRefused(t *testing.T) {
	ctx := context.Background()
	for _, wellKnown := range []bool{false, true} {
		t.Run(fmt.Sprintf("reprobed=%v", wellKnown), func(t *testing.T) {
			eng, ep := newEngine(t, lockA, wellKnown)
			target := resolve(t, ep)
			db := openDB(t, "")
			suite := testSuite(t, 40, 1)
			eng.onCase = func(n int) {
				if n == 10 {
					eng.lock.Store(&lockB)
				}
			}
			r, _, out := lifecycle(t, ctx, db, spec(target, suite, ep), ep)
			if out.Status != eval.RunInterrupted || out.Refusal == nil || fault.KindOf(out.Refusal) != fault.LockRefused {
				t.Fatalf("outcome %+v, want interrupted by a lock refusal", out)
			}
			run, results := stored(t, db, r.ID)
			if run.LockRefusal == "" || run.Status != eval.RunInterrupted {
				t.Errorf("stored run: status %s, lock refusal %q", run.Status, run.LockRefusal)
			}
			if len(results) != out.Stored || out.Stored >= 10 || out.Stored+out.Missing != 40 {
				t.Errorf("%d results stored, outcome %+v; want fewer than the 10 asked under lock A", len(results), out)
			}
			for k, res := range results {
				if res.Lock != lockA {
					t.Errorf("%s stored under %s", k, res.Lock)
				}
			}
		})
	}
}

// TestReprobedDiscards: results of a re-probed lock that changes before
// their check are discarded, never stored; Outcome counts them.
func TestReprobedDiscards(t *testing.T) {
	ctx := context.Background()
	eng, ep := newEngine(t, lockA, true)
	target := resolve(t, ep)
	db := openDB(t, "")
	suite := testSuite(t, 6, 1)
	s := spec(target, suite, ep)
	s.CommitInterval = time.Hour // no check before the last one
	r, err := runs.Begin(ctx, db, s)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sum, runErr := replay(t, ctx, r, target, ep)
	if runErr != nil || sum.Results != 6 {
		t.Fatalf("replay: %d results, %v", sum.Results, runErr)
	}
	eng.lock.Store(&lockB) // after the last response, before the last check
	out, err := r.Finish(ctx, runErr)
	if err != nil {
		t.Fatal(err)
	}
	want := runs.Outcome{Status: eval.RunInterrupted, Expected: 6, Missing: 6, Discarded: 6}
	if out.Refusal == nil || out.CheckErr == nil {
		t.Fatalf("outcome %+v, want the last check's refusal", out)
	}
	out.Refusal, out.CheckErr = nil, nil
	if out != want {
		t.Errorf("outcome %+v, want %+v", out, want)
	}
	if run, results := stored(t, db, r.ID); len(results) != 0 || run.LockRefusal == "" {
		t.Errorf("%d results stored, lock refusal %q; want none stored, the refusal recorded", len(results), run.LockRefusal)
	}
}

// TestNoneSucceeded: a run none of whose requests succeeded is not complete,
// and resumed it requests every case again.
func TestNoneSucceeded(t *testing.T) {
	ctx := context.Background()
	eng, ep := newEngine(t, lockA, false)
	target := resolve(t, ep)
	db := openDB(t, "")
	suite := testSuite(t, 3, 1)
	for i := range 3 {
		eng.setFail(fmt.Sprintf("prompt case-%03d", i), http.StatusBadRequest)
	}
	r, _, out := lifecycle(t, ctx, db, spec(target, suite, ep), ep)
	want := runs.Outcome{Status: eval.RunInterrupted, Expected: 3, Stored: 3, StoredErrors: 3, NoneSucceeded: true}
	if out != want {
		t.Errorf("outcome %+v, want %+v", out, want)
	}
	for i := range 3 {
		eng.setFail(fmt.Sprintf("prompt case-%03d", i), 0)
	}
	r2, sum, out := lifecycle(t, ctx, db, spec(target, suite, ep), ep)
	if r2.ID != r.ID || !slices.Equal(r2.Retry, runner.ErrorKinds()) || r2.Stored != 0 || sum.Results != 3 {
		t.Errorf("resumed: run %d, retry %v, stored %d, %d results; want every case again", r2.ID, r2.Retry, r2.Stored, sum.Results)
	}
	if want := (runs.Outcome{Status: eval.RunComplete, Expected: 3, Stored: 3}); out != want {
		t.Errorf("resumed outcome %+v, want %+v", out, want)
	}
}

// TestInterrupted: a run whose context is cancelled keeps what was answered
// and is marked interrupted; resumed, it requests only the rest.
func TestInterrupted(t *testing.T) {
	for _, wellKnown := range []bool{false, true} {
		t.Run(fmt.Sprintf("reprobed=%v", wellKnown), func(t *testing.T) {
			eng, ep := newEngine(t, lockA, wellKnown)
			target := resolve(t, ep)
			db := openDB(t, "")
			suite := testSuite(t, 50, 1)
			ctx, cancel := context.WithCancel(context.Background())
			eng.onCase = func(n int) {
				if n == 5 {
					cancel()
				}
			}
			r, err := runs.Begin(ctx, db, spec(target, suite, ep))
			if err != nil {
				t.Fatal(err)
			}
			sum, runErr := replay(t, ctx, r, target, ep)
			if !errors.Is(runErr, context.Canceled) {
				t.Fatalf("runner: %v, want an interruption", runErr)
			}
			out, err := r.Finish(ctx, runErr)
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			if out.Status != eval.RunInterrupted || out.Refusal != nil || out.Stored != sum.Results || out.Stored < 5 || out.Missing != 50-out.Stored {
				t.Errorf("outcome %+v after %d results, want interrupted with them stored", out, sum.Results)
			}
			eng.onCase = nil
			r2, sum2, out2 := lifecycle(t, context.Background(), db, spec(target, suite, ep), ep)
			if r2.ID != r.ID || r2.Stored != out.Stored || sum2.Results != out.Missing || out2.Status != eval.RunComplete {
				t.Errorf("resumed: run %d, stored %d, %d requested, %s; want %d requested and complete", r2.ID, r2.Stored, sum2.Results, out2.Status, out.Missing)
			}
		})
	}
}

// TestSinkAndSuiteFailure drives the sink by hand, as a fake runner: a suite
// that cannot be stored stops the run (Sink's Err) and leaves it interrupted.
func TestSinkAndSuiteFailure(t *testing.T) {
	ctx := context.Background()
	_, ep := newEngine(t, lockA, false)
	target := resolve(t, ep)
	db := openDB(t, "")
	suite := testSuite(t, 2, 1)
	s := spec(target, suite, ep)
	s.PutSuite = func(context.Context, *store.DB, eval.Suite) error { return errors.New("disk I/O error") }
	r, err := runs.Begin(ctx, db, s)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sink := r.Sink()
	for deadline := time.Now().Add(10 * time.Second); sink.Err() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sink did not report the suite's failure")
		}
	}
	for _, c := range suite.Cases {
		sink.Put(eval.Result{CaseID: c.ID, CaseHash: c.Hash, Output: "echo", Lock: lockA, Endpoint: ep})
	}
	out, err := r.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != eval.RunInterrupted || out.SuiteErr == nil || !strings.Contains(out.SuiteErr.Error(), "store suite: disk I/O error") || out.Stored != 2 {
		t.Errorf("outcome %+v, want interrupted by the suite's failure with both results stored", out)
	}
}

// TestPlanInPasses: the plan of a resumed run holds only what is missing,
// sample k of every case in pass k.
func TestPlanInPasses(t *testing.T) {
	ctx := context.Background()
	_, ep := newEngine(t, lockA, false)
	target := resolve(t, ep)
	db := openDB(t, "")
	suite := testSuite(t, 3, 3)
	r, err := runs.Begin(ctx, db, spec(target, suite, ep))
	if err != nil {
		t.Fatal(err)
	}
	sink := r.Sink()
	for _, id := range []string{"case-000", "case-002"} {
		sink.Put(eval.Result{CaseID: id, Sample: 1, Output: "x", Lock: lockA, Endpoint: ep})
	}
	if _, err := r.Finish(ctx, errors.New("stopped")); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r, err = runs.Begin(ctx, db, spec(target, suite, ep))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := r.Plan()
	var got [][]string
	for pass := range p.Passes {
		var ids []string
		for j := range pass {
			ids = append(ids, fmt.Sprintf("%s/%d", j.Case.ID, j.Sample))
		}
		got = append(got, ids)
	}
	want := "[[case-000/0 case-001/0 case-002/0] [case-001/1] [case-000/2 case-001/2 case-002/2]]"
	if fmt.Sprint(got) != want || p.Total != 7 || p.Skipped != 2 || r.Stored != 2 {
		t.Errorf("plan %v (total %d, skipped %d, stored %d), want %s (7, 2, 2)", got, p.Total, p.Skipped, r.Stored, want)
	}
}
