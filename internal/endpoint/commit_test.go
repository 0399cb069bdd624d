package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

// memSink is a Sink that keeps what it is given.
type memSink struct {
	mu  sync.Mutex
	got []eval.Result
}

func (s *memSink) Put(r eval.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, r)
}

func (s *memSink) Err() error { return nil }

func (s *memSink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, r := range s.got {
		ids = append(ids, r.CaseID)
	}
	return ids
}

func result(ep, id string) eval.Result { return eval.Result{CaseID: id, Endpoint: ep} }

// resolveCommitter resolves the fake's endpoint and returns a committer
// whose interval never passes by itself (batch decides, or Finish).
func resolveCommitter(t *testing.T, f *fakeEngine, batch int) (ep string, target *Target, c *Committer, sink *memSink) {
	t.Helper()
	srv := f.start(t)
	ep = srv.URL + "/v1"
	target, err := (&Prober{RetryWait: time.Millisecond}).Resolve(context.Background(), []string{ep}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	sink = &memSink{}
	c = target.NewCommitter(sink, time.Hour, batch)
	return ep, target, c, sink
}

// Verify, then commit: a result stored under a lock that responses do not
// carry was confirmed by a check that started after it arrived; a change of
// the deliverable (even back to the same content) fails the bracket, and the
// results it could have produced are discarded, never stored.
func TestCommitter(t *testing.T) {
	recreate := func(modified string) func(f *fakeEngine) {
		return func(f *fakeEngine) { f.ollama.show["modified_at"] = modified }
	}
	tests := []struct {
		name   string
		fake   func() *fakeEngine
		change func(f *fakeEngine) // between the results and the last check; nil: none
		want   error               // of Finish
	}{
		{"ollama unchanged", func() *fakeEngine { return &fakeEngine{models: []string{"tiny"}, ollama: ollamaFake("/m", "T")} }, nil, nil},
		{"ollama template changed", func() *fakeEngine { return &fakeEngine{models: []string{"tiny"}, ollama: ollamaFake("/m", "T")} },
			func(f *fakeEngine) { f.ollama.show["template"] = "T2" }, ErrLockChanged},
		{"ollama re-created with the same content", func() *fakeEngine { return &fakeEngine{models: []string{"tiny"}, ollama: ollamaFake("/m", "T")} },
			recreate("2025-01-01T00:00:01.5Z"), ErrLockChanged},
		{"ollama gone", func() *fakeEngine { return &fakeEngine{models: []string{"tiny"}, ollama: ollamaFake("/m", "T")} },
			func(f *fakeEngine) { f.ollama.show = map[string]any{} }, ErrNoLock},
		{"sidecar unchanged", func() *fakeEngine {
			return &fakeEngine{models: []string{"m"}, wellKnown: `{"lock":"` + lockA + `","model":"m","generation":"g1"}`, header: lockA}
		}, nil, nil},
		{"sidecar restarted", func() *fakeEngine {
			return &fakeEngine{models: []string{"m"}, wellKnown: `{"lock":"` + lockA + `","model":"m","generation":"g1"}`, header: lockA}
		}, func(f *fakeEngine) { f.wellKnown = `{"lock":"` + lockA + `","model":"m","generation":"g2"}` }, ErrLockChanged},
		{"well-known changed while the header stays", func() *fakeEngine {
			return &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}
		}, func(f *fakeEngine) { f.wellKnown = wellKnownDoc(lockB, nil) }, ErrLockChanged},
		{"sidecar stopped claiming", func() *fakeEngine {
			return &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}
		}, func(f *fakeEngine) {
			f.wellKnownCode, f.wellKnown = 503, `{"error":{"message":"files changed","code":"evalpin_lock_mismatch"}}`
		}, ErrLockChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fake()
			ep, target, c, sink := resolveCommitter(t, f, 1000)
			if !target.Reprobed() {
				t.Fatal("Reprobed = false, want true: the lock has a claim no response carries")
			}
			for i := range 3 {
				c.Put(result(ep, fmt.Sprint("c", i)))
			}
			if got := sink.ids(); len(got) != 0 {
				t.Fatalf("handed on before any check: %v", got)
			}
			if tt.change != nil {
				f.set(tt.change)
			}
			err := c.Finish(context.Background())
			st := c.Stats()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Finish: %v", err)
				}
				if got := sink.ids(); len(got) != 3 || st.Committed != 3 || st.Discarded != 0 {
					t.Fatalf("handed on %v, stats %+v; want the 3 results committed", got, st)
				}
				return
			}
			if !errors.Is(err, tt.want) || fault.KindOf(err) != fault.LockRefused {
				t.Fatalf("Finish: err = %v, want %v", err, tt.want)
			}
			if got := sink.ids(); len(got) != 0 || st.Discarded != 3 || st.Held != 0 {
				t.Fatalf("handed on %v, stats %+v; want nothing stored and 3 discarded", got, st)
			}
			// The refusal sticks: no later response is accepted.
			if _, err := target.CheckResponse(ep, hdr(lockA), "", "m"); !errors.Is(err, tt.want) {
				t.Fatalf("CheckResponse after the failed check: %v, want the refusal", err)
			}
		})
	}
}

// A change and a change back within one interval (A → B → A) is caught: the
// results around it are never committed, though the lock reads the same at
// the check.
func TestCommitterRecreatedBackAndForth(t *testing.T) {
	f := &fakeEngine{models: []string{"tiny"}, ollama: ollamaFake("/m", "T")}
	ep, _, c, sink := resolveCommitter(t, f, 1000)
	c.Put(result(ep, "a1"))
	f.set(func(f *fakeEngine) {
		f.ollama.show["template"], f.ollama.show["modified_at"] = "T2", "2025-01-01T00:00:01Z"
	})
	c.Put(result(ep, "b1")) // B's output
	f.set(func(f *fakeEngine) {
		f.ollama.show["template"], f.ollama.show["modified_at"] = "T", "2025-01-01T00:00:02Z"
	})
	c.Put(result(ep, "a2"))
	if err := c.Finish(context.Background()); !errors.Is(err, ErrLockChanged) || !strings.Contains(err.Error(), "created again") {
		t.Fatalf("Finish: err = %v, want ErrLockChanged saying the model was created again", err)
	}
	if got := sink.ids(); len(got) != 0 {
		t.Fatalf("stored %v, want nothing", got)
	}
}

// Results held when a check starts are committed by it; results that arrive
// during the check wait for the next one; a check that fails discards them.
func TestCommitterBrackets(t *testing.T) {
	f := &fakeEngine{models: []string{"tiny"}, ollama: ollamaFake("/m", "T")}
	// The fake holds each /api/show until the test lets it go, so that
	// results can arrive while a check runs.
	gate := make(chan struct{})
	entered := make(chan struct{}, 10)
	f.showHook = func() { entered <- struct{}{}; <-gate }
	srv := f.start(t)
	ep := srv.URL + "/v1"
	f.set(func(f *fakeEngine) { f.showHook = nil }) // Resolve's show passes
	target, err := (&Prober{RetryWait: time.Millisecond}).Resolve(context.Background(), []string{ep}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeEngine) { f.showHook = func() { entered <- struct{}{}; <-gate } })
	sink := &memSink{}
	c := target.NewCommitter(sink, time.Hour, 2)
	c.Put(result(ep, "c0"))
	c.Put(result(ep, "c1")) // a batch: the loop starts a check
	<-entered
	c.Put(result(ep, "c2")) // arrives during the check: not covered by it
	gate <- struct{}{}
	waitFor(t, func() bool { return len(sink.ids()) == 2 })
	if got := sink.ids(); got[0] != "c0" || got[1] != "c1" {
		t.Fatalf("committed %v, want c0 c1", got)
	}
	if st := c.Stats(); st.Held != 1 || st.Committed != 2 {
		t.Fatalf("stats %+v, want c2 held", st)
	}
	// The model is replaced before the next check: c2 is discarded.
	f.set(func(f *fakeEngine) { f.ollama.show["template"] = "T2"; f.showHook = nil })
	close(gate)
	if err := c.Finish(context.Background()); !errors.Is(err, ErrLockChanged) {
		t.Fatalf("Finish: %v", err)
	}
	if st := c.Stats(); st.Committed != 2 || st.Discarded != 1 || len(sink.ids()) != 2 {
		t.Fatalf("stats %+v, stored %v; want c0 c1 stored and c2 discarded", st, sink.ids())
	}
}

// A lock that every response carries needs no bracket: results pass at once,
// and Finish is the end-of-run check, which for a served model name checks
// the listing.
func TestCommitterPerResponse(t *testing.T) {
	tests := []struct {
		name   string
		fake   *fakeEngine
		change func(f *fakeEngine)
		want   error
	}{
		{"fingerprint", &fakeEngine{models: []string{"m"}, fingerprint: lockB}, nil, nil},
		{"served name", &fakeEngine{models: []string{"m@" + lockA}}, nil, nil},
		{"served name withdrawn by the end", &fakeEngine{models: []string{"m@" + lockA}},
			func(f *fakeEngine) { f.models = []string{"m@" + lockB} }, ErrLockChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, target, c, sink := resolveCommitter(t, tt.fake, 1000)
			if target.Reprobed() {
				t.Fatal("Reprobed = true for a lock every response carries")
			}
			c.Put(result(ep, "c0"))
			if got := sink.ids(); len(got) != 1 {
				t.Fatalf("stored %v, want c0 at once", got)
			}
			if tt.change != nil {
				tt.fake.set(tt.change)
			}
			if err := c.Finish(context.Background()); !errors.Is(err, tt.want) {
				t.Fatalf("Finish: %v, want %v", err, tt.want)
			}
		})
	}
}

// Finish with a context that ends before its check discards what it held:
// nothing unconfirmed is stored.
func TestCommitterFinishTimeout(t *testing.T) {
	f := &fakeEngine{models: []string{"tiny"}, ollama: ollamaFake("/m", "T")}
	ep, _, c, sink := resolveCommitter(t, f, 1000)
	c.Put(result(ep, "c0"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Finish(ctx); err == nil {
		t.Fatal("Finish with a cancelled context: nil error")
	}
	if st := c.Stats(); len(sink.ids()) != 0 || st.Discarded != 1 {
		t.Fatalf("stats %+v, stored %v", st, sink.ids())
	}
}

// override answers requests for "METHOD /path" with h, others with next.
func override(next http.Handler, route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method+" "+r.URL.Path == route {
			h(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 5 s")
}

// TestResolveInputErrors: the usual mistakes are input errors that name the
// fix, not lock refusals.
func TestResolveInputErrors(t *testing.T) {
	unauthorized := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"message":"Incorrect API key provided"}}`))
	}
	tests := []struct {
		name    string
		handler func(base string) http.Handler // the server; base is its URL
		path    string                         // appended to the server's URL
		model   string
		is      error  // errors.Is
		msg     string // in the message
	}{
		{"model not served", func(string) http.Handler { return (&fakeEngine{models: []string{"a", "b"}, header: lockA}).mux() },
			"/v1", "c", nil, `does not serve model "c" (served: a, b)`},
		{"ollama model by another spelling is served", func(string) http.Handler {
			return (&fakeEngine{models: []string{"tiny:latest", "other:latest"}, ollama: ollamaFake("/m", "T")}).mux()
		}, "/v1", "library/tiny", nil, ""},
		{"base URL without /v1", func(string) http.Handler { return (&fakeEngine{models: []string{"m"}, header: lockA}).mux() },
			"", "", nil, "did you mean http://"},
		{"401 on the model list", func(string) http.Handler {
			return override((&fakeEngine{models: []string{"m"}, header: lockA}).mux(), "GET /v1/models", unauthorized)
		}, "/v1", "", fault.ErrUnauthorized, "Incorrect API key provided"},
		{"401 on the completion", func(string) http.Handler {
			return override((&fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil)}).mux(), "POST /v1/chat/completions", unauthorized)
		}, "/v1", "", fault.ErrUnauthorized, "401"},
		{"trailing slash", func(string) http.Handler { return (&fakeEngine{models: []string{"m"}, header: lockA}).mux() },
			"/v1/", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler(""))
			t.Cleanup(srv.Close)
			target, err := (&Prober{RetryWait: time.Millisecond}).Resolve(context.Background(), []string{srv.URL + tt.path}, tt.model, "")
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				ep := strings.TrimSuffix(srv.URL+tt.path, "/")
				if target.Reports[0].Endpoint != ep {
					t.Errorf("Endpoint = %q, want %q", target.Reports[0].Endpoint, ep)
				}
				return
			}
			if fault.KindOf(err) != fault.Input || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Resolve: err = %v (kind %v), want an input error containing %q", err, fault.KindOf(err), tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want it to wrap %v", err, tt.is)
			}
		})
	}
}

// A well-known document that names its model vouches for that model only.
func TestWellKnownModel(t *testing.T) {
	doc := `{"lock":"` + lockA + `","model":"tiny","generation":"g1"}`
	tests := []struct {
		name   string
		fake   *fakeEngine
		model  string
		claims bool
	}{
		{"the model", &fakeEngine{models: []string{"tiny"}, wellKnown: doc, header: lockA}, "tiny", true},
		{"another model", &fakeEngine{models: []string{"tiny", "other"}, wellKnown: doc, header: lockA}, "other", false},
		{"ollama spelling of the model", &fakeEngine{models: []string{"tiny:latest"}, wellKnown: doc, header: lockA, ollama: ollamaFake("/m", "T")}, "library/tiny:latest", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.fake.start(t)
			r, err := (&Prober{SkipCompletion: true}).Probe(context.Background(), srv.URL+"/v1", tt.model)
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, c := range r.Claims {
				got = got || c.Source == SourceWellKnown
			}
			if got != tt.claims {
				t.Fatalf("well-known claim = %v, want %v (claims %+v, notes %q)", got, tt.claims, r.Claims, r.Notes)
			}
			if !tt.claims && !strings.Contains(strings.Join(r.Notes, ";"), `vouches for model "tiny" only`) {
				t.Errorf("notes %q do not say whose lock it is", r.Notes)
			}
		})
	}
}

// The probe tries a transient failure again before it calls a server
// lockless; a sidecar's 503 that disowns its lock is not tried again.
func TestProbeRetries(t *testing.T) {
	tests := []struct {
		name     string
		failures int    // answers of 503 before the document
		body     string // of the 503s
		lock     bool   // a lock is found
		tries    int64
	}{
		{"one blip", 1, `{"error":"loading"}`, true, 2},
		{"two blips", 2, ``, true, 3},
		{"down for good", 5, ``, false, 3},
		{"disowned", 5, `{"error":{"message":"files changed","code":"evalpin_lock_mismatch"}}`, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			mux := override((&fakeEngine{models: []string{"m"}, header: lockA}).mux(), "GET "+lockid.WellKnownPath, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if n.Add(1) <= int64(tt.failures) {
					w.WriteHeader(http.StatusServiceUnavailable)
					w.Write([]byte(tt.body))
					return
				}
				w.Write([]byte(wellKnownDoc(lockA, nil)))
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			r, err := (&Prober{RetryWait: time.Millisecond, SkipCompletion: true}).Probe(context.Background(), srv.URL+"/v1", "")
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Lock() == lockA; got != tt.lock {
				t.Errorf("lock found = %v, want %v (notes %q)", got, tt.lock, r.Notes)
			}
			if got := n.Load(); got != tt.tries {
				t.Errorf("%d requests of the document, want %d", got, tt.tries)
			}
		})
	}
}
