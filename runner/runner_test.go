package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/stubserver"
)

// memSink keeps results in memory.
type memSink struct {
	mu      sync.Mutex
	results []eval.Result
	failAt  int // Err fails once this many results were put (0: never)
}

func (s *memSink) Put(r eval.Result) {
	s.mu.Lock()
	s.results = append(s.results, r)
	s.mu.Unlock()
}

func (s *memSink) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAt > 0 && len(s.results) >= s.failAt {
		return errors.New("disk full")
	}
	return nil
}

func (s *memSink) all() []eval.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.results)
}

var _ Sink = (*memSink)(nil)

// containsScorer passes outputs that contain its text.
type containsScorer string

func (s containsScorer) Name() string { return "contains" }
func (s containsScorer) Score(out string) eval.Check {
	if strings.Contains(out, string(s)) {
		return eval.Check{Scorer: s.Name(), Pass: true}
	}
	return eval.Check{Scorer: s.Name(), Detail: fmt.Sprintf("no %q", string(s))}
}

// chatSuite returns n chat cases whose user message is "q<i>".
func chatSuite(n int) eval.Suite {
	s := eval.Suite{Name: "t", Settings: eval.DefaultSettings()}
	for i := range n {
		s.Cases = append(s.Cases, eval.Case{
			ID:       fmt.Sprintf("c%d", i),
			Hash:     fmt.Sprintf("h%d", i),
			Messages: []eval.Message{{Role: "user", Content: fmt.Sprintf("q%d", i)}},
			Scorers:  []eval.Scorer{containsScorer(fmt.Sprintf("q%d", i))},
		})
	}
	return s
}

// rawSuite returns n raw cases whose prompt is "p<i>".
func rawSuite(n int) eval.Suite {
	s := eval.Suite{Name: "t", Settings: eval.DefaultSettings()}
	for i := range n {
		s.Cases = append(s.Cases, eval.Case{ID: fmt.Sprintf("r%d", i), Prompt: fmt.Sprintf("p%d", i)})
	}
	return s
}

// testConfig returns a Config for endpoints with fast retries and a sink.
func testConfig(sink Sink, endpoints ...string) Config {
	return Config{
		Endpoints:   endpoints,
		Model:       "m",
		Concurrency: 8,
		Timeout:     5 * time.Second,
		MaxAttempts: 4,
		BackoffBase: time.Millisecond,
		BackoffMax:  5 * time.Millisecond,
		Sink:        sink,
	}
}

func run(t *testing.T, cfg Config, suite eval.Suite) (Summary, error) {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return r.Run(ctx, SuitePlan(suite, nil))
}

// stub starts the stub server and returns its base URL.
func stub(t *testing.T, cfg stubserver.Config) (string, *stubserver.Server) {
	t.Helper()
	s := stubserver.New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", s
}

func TestWireBody(t *testing.T) {
	topK, minP := 40, 0.05
	tests := []struct {
		name  string
		c     eval.Case
		s     func(*eval.Settings)
		path  string
		want  map[string]any // keys that must be present with these values
		unset []string       // keys that must be absent
	}{{
		name: "chat greedy defaults",
		c:    eval.Case{ID: "a", Messages: []eval.Message{{Role: "user", Content: "hi"}}},
		path: "/v1/chat/completions",
		want: map[string]any{
			"model": "m", "temperature": 0.0, "top_p": 1.0, "seed": 0.0, "n": 1.0, "max_tokens": 256.0,
			"stop": []any{}, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stream": false,
			"messages": []any{map[string]any{"role": "user", "content": "hi"}},
		},
		unset: []string{"top_k", "min_p", "repetition_penalty", "prompt", "logprobs"},
	}, {
		name: "chat with system, engine params and overrides",
		c: eval.Case{ID: "b", Messages: []eval.Message{{Role: "user", Content: "hi"}},
			Overrides: eval.Overrides{MaxTokens: ptr(7), Stop: []string{"\n"}, Seed: ptr[int64](42)}},
		s: func(s *eval.Settings) {
			s.System, s.TopK, s.MinP = "be brief", &topK, &minP
		},
		path: "/v1/chat/completions",
		want: map[string]any{
			"temperature": 0.0, "seed": 42.0, "max_tokens": 7.0, "stop": []any{"\n"}, "top_k": 40.0, "min_p": 0.05,
			"messages": []any{map[string]any{"role": "system", "content": "be brief"}, map[string]any{"role": "user", "content": "hi"}},
		},
		unset: []string{"repetition_penalty"},
	}, {
		name:  "raw prompt",
		c:     eval.Case{ID: "c", Prompt: "once upon"},
		path:  "/v1/completions",
		want:  map[string]any{"prompt": "once upon", "temperature": 0.0, "top_p": 1.0, "n": 1.0, "seed": 0.0},
		unset: []string{"messages"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]any
			var path string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				path = r.URL.Path
				if ct, auth := r.Header.Get("Content-Type"), r.Header.Get("Authorization"); ct != "application/json" || auth != "Bearer k" {
					t.Errorf("Content-Type %q, Authorization %q", ct, auth)
				}
				if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
					t.Errorf("request body: %v", err)
				}
				stubserver.New(stubserver.Config{}).ServeHTTP(w, reReq(r, got))
			}))
			defer srv.Close()
			suite := eval.Suite{Settings: eval.DefaultSettings(), Cases: []eval.Case{tt.c}}
			if tt.s != nil {
				tt.s(&suite.Settings)
			}
			sink := &memSink{}
			cfg := testConfig(sink, srv.URL+"/v1/")
			cfg.APIKey = "k"
			if _, err := run(t, cfg, suite); err != nil {
				t.Fatal(err)
			}
			if path != tt.path {
				t.Errorf("path = %s, want %s", path, tt.path)
			}
			for k, want := range tt.want {
				v, ok := got[k]
				if !ok {
					t.Errorf("body has no %q: %v", k, got)
					continue
				}
				if fmt.Sprint(v) != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v", k, v, want)
				}
			}
			for _, k := range tt.unset {
				if v, ok := got[k]; ok {
					t.Errorf("body has %s = %v, want it absent", k, v)
				}
			}
		})
	}
}

// reReq returns r with its (already read) body replaced by body's JSON.
func reReq(r *http.Request, body any) *http.Request {
	b, _ := json.Marshal(body)
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(string(b)))
	return r2
}

func TestRunResults(t *testing.T) {
	url, srv := stub(t, stubserver.Config{Lock: "sha256:aa"})
	suite := chatSuite(50)
	suite.Settings.Samples = 2
	suite.Cases[3].Scorers = append(suite.Cases[3].Scorers, containsScorer("absent"))
	sink := &memSink{}
	sum, err := run(t, testConfig(sink, url), suite)
	if err != nil {
		t.Fatal(err)
	}
	res := sink.all()
	if got, want := len(res), 100; got != want {
		t.Fatalf("%d results, want %d", got, want)
	}
	if got := srv.Requests(); got != 100 {
		t.Errorf("stub answered %d requests, want 100", got)
	}
	seen := map[string]bool{}
	for _, r := range res {
		key := fmt.Sprintf("%s/%d", r.CaseID, r.Sample)
		if seen[key] {
			t.Errorf("%s handed on twice", key)
		}
		seen[key] = true
		i := strings.TrimPrefix(r.CaseID, "c")
		if r.Output != stubserver.Echo("q"+i) || r.CaseHash != "h"+i || r.Lock != "sha256:aa" || r.Endpoint != url ||
			r.FinishReason != "stop" || r.PromptTokens != 1 || r.CompletionTokens != 2 || r.Latency <= 0 || r.Error != "" {
			t.Errorf("result %+v", r)
		}
		if want := r.CaseID != "c3"; r.Passed() != want {
			t.Errorf("%s passed = %v, want %v (checks %+v)", r.CaseID, r.Passed(), want, r.Checks)
		}
	}
	if sum.Results != 100 || sum.Cases != 50 || sum.Requests != 100 || sum.ErrorCount() != 0 || sum.CompletionTokens != 200 || sum.P50 <= 0 || sum.P99 < sum.P50 {
		t.Errorf("summary %+v", sum)
	}
}

// faultServer answers the first len(faults) requests with the faults in turn
// and the rest with the stub's answer.
func faultServer(t *testing.T, faults ...http.HandlerFunc) (string, *atomic.Int64) {
	t.Helper()
	return faultServerWith(t, stubserver.Config{}, faults...)
}

// faultServerWith is faultServer whose stub answers are configured by okCfg.
func faultServerWith(t *testing.T, okCfg stubserver.Config, faults ...http.HandlerFunc) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	ok := stubserver.New(okCfg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1) - 1
		if int(i) < len(faults) {
			faults[i](w, r)
			return
		}
		ok.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", &n
}

func status(code int, header map[string]string, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// cutBody answers 200 with a Content-Length longer than the body it sends,
// then closes the connection: the answer breaks off mid-body.
func cutBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "1000")
	w.WriteHeader(200)
	io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assi`)
	http.NewResponseController(w).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// reset closes the connection without an answer.
func reset(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}

func TestFaults(t *testing.T) {
	okBody := `{"choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}]}`
	tests := []struct {
		name     string
		faults   []http.HandlerFunc
		requests int64  // requests the server must see
		kind     string // the result's ErrorKind ("" = success)
		msg      string // in the result's Error
		retries  int
	}{
		{"429 then ok", []http.HandlerFunc{status(429, map[string]string{"Retry-After": "0"}, `{"error":{"message":"slow down"}}`)}, 2, "", "", 1},
		{"503 twice then ok", []http.HandlerFunc{status(503, nil, ""), status(503, nil, "")}, 3, "", "", 2},
		{"502 then ok", []http.HandlerFunc{status(502, nil, "bad gateway")}, 2, "", "", 1},
		{"connection reset then ok", []http.HandlerFunc{reset, reset}, 3, "", "", 2},
		{"429 on every attempt", rep(4, status(429, nil, `{"error":"busy"}`)), 4, ErrRateLimited, "HTTP 429", 3},
		{"500 on every attempt", rep(4, status(500, nil, `{"message":"boom"}`)), 4, ErrServer, "boom (after 4 attempts)", 3},
		{"400 not retried", []http.HandlerFunc{status(400, nil, `{"object":"error","message":"bad temperature","code":400}`)}, 1, ErrBadRequest, "HTTP 400 from", 0},
		{"context too long", []http.HandlerFunc{status(400, nil, `{"object":"error","message":"This model's maximum context length is 4096 tokens"}`)}, 1, ErrContextLength, "maximum context length", 0},
		{"404 model", []http.HandlerFunc{status(404, nil, `{"error":{"message":"model \"m\" not found"}}`)}, 1, ErrNotFound, `model "m" not found`, 0},
		{"body cut off on every attempt", rep(4, cutBody), 4, ErrTruncated, "cut off mid-body", 3},
		{"body cut off once then ok", []http.HandlerFunc{cutBody}, 2, "", "", 1},
		{"non-JSON", []http.HandlerFunc{status(200, nil, `<html>hello</html>`)}, 1, ErrMalformed, "not valid JSON", 0},
		{"empty choices", []http.HandlerFunc{status(200, nil, `{"choices":[]}`)}, 1, ErrMalformed, "no choices", 0},
		{"error in a 200", []http.HandlerFunc{status(200, nil, `{"error":{"message":"model crashed"}}`)}, 1, ErrMalformed, "no choices: model crashed", 0},
		{"wrong content type", []http.HandlerFunc{status(200, map[string]string{"Content-Type": "text/html"}, okBody)}, 1, ErrMalformed, "content type is text/html", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, n := faultServer(t, tt.faults...)
			sink := &memSink{}
			cfg := testConfig(sink, url)
			cfg.Concurrency = 1
			sum, err := run(t, cfg, chatSuite(1))
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Load(); got != tt.requests {
				t.Errorf("server saw %d requests, want %d", got, tt.requests)
			}
			res := sink.all()
			if len(res) != 1 {
				t.Fatalf("%d results, want 1", len(res))
			}
			r := res[0]
			if r.ErrorKind != tt.kind || !strings.Contains(r.Error, tt.msg) {
				t.Errorf("error = %s %q, want %s containing %q", r.ErrorKind, r.Error, tt.kind, tt.msg)
			}
			if tt.kind == "" && r.Output != stubserver.Echo("q0") {
				t.Errorf("output = %q", r.Output)
			}
			if tt.kind != "" && r.Output != "" {
				t.Errorf("failed result has output %q", r.Output)
			}
			if sum.Retries != tt.retries {
				t.Errorf("retries = %d, want %d", sum.Retries, tt.retries)
			}
		})
	}
}

func rep(n int, h http.HandlerFunc) []http.HandlerFunc {
	hs := make([]http.HandlerFunc, n)
	for i := range hs {
		hs[i] = h
	}
	return hs
}

// TestRetryAfterHonoured makes the back-off an hour, so only a Retry-After
// of 0 (seconds or a past HTTP date) lets the test finish.
func TestRetryAfterHonoured(t *testing.T) {
	for _, ra := range []string{"0", time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat)} {
		url, n := faultServer(t, status(429, map[string]string{"Retry-After": ra}, ""), status(503, map[string]string{"Retry-After": ra}, ""))
		sink := &memSink{}
		cfg := testConfig(sink, url)
		cfg.BackoffBase, cfg.BackoffMax = time.Hour, time.Hour
		if _, err := run(t, cfg, chatSuite(1)); err != nil {
			t.Fatal(err)
		}
		if got := n.Load(); got != 3 {
			t.Errorf("Retry-After %q: %d requests, want 3", ra, got)
		}
		if res := sink.all(); len(res) != 1 || res[0].Error != "" {
			t.Errorf("Retry-After %q: results %+v", ra, res)
		}
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999", 24 * time.Hour, true}, // capped
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.v != "" {
			h.Set("Retry-After", tt.v)
		}
		got, ok := retryAfter(h, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	base, max := 100*time.Millisecond, time.Second
	tests := []struct {
		n      int
		lo, hi time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{10, 500 * time.Millisecond, time.Second}, // capped
	}
	for _, tt := range tests {
		for range 100 {
			if d := backoff(tt.n, base, max); d < tt.lo || d > tt.hi {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", tt.n, d, tt.lo, tt.hi)
			}
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		v    []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(5), 99, 5 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{ms(hundred...), 95, 95 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 100, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.v, tt.p); got != tt.want {
			t.Errorf("percentile(%d values, %v) = %v, want %v", len(tt.v), tt.p, got, tt.want)
		}
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/v1"
	ln.Close()
	sink := &memSink{}
	_, err = run(t, testConfig(sink, url), chatSuite(3))
	if err == nil {
		t.Fatal("Run succeeded against a closed port")
	}
	if fault.KindOf(err) != fault.Incomplete || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), url) || fault.HintOf(err) == "" {
		t.Errorf("err = %v (kind %v, hint %q)", err, fault.KindOf(err), fault.HintOf(err))
	}
	if res := sink.all(); len(res) != 0 {
		t.Errorf("connection failures stored as results: %+v", res)
	}
}

var errWrongLock = errors.New("wrong lock")

func TestLockChangeMidRun(t *testing.T) {
	const good, bad = "sha256:good", "sha256:bad"
	var n atomic.Int64
	okStub := stubserver.New(stubserver.Config{Lock: good})
	badStub := stubserver.New(stubserver.Config{Lock: bad})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 20 {
			badStub.ServeHTTP(w, r)
			return
		}
		okStub.ServeHTTP(w, r)
	}))
	defer srv.Close()
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	var checked atomic.Int64
	cfg.CheckResponse = func(ep string, h http.Header, fp, model string) (lockid.ID, error) {
		checked.Add(1)
		if fp != "fp_stub" || model != "stub" || ep != srv.URL+"/v1" {
			t.Errorf("CheckResponse(%q, …, %q, %q)", ep, fp, model)
		}
		if l := h.Get(lockid.Header); l != good {
			return "", fmt.Errorf("endpoint serves %s: %w", l, errWrongLock)
		}
		return good, nil
	}
	_, err := run(t, cfg, chatSuite(200))
	if !errors.Is(err, errWrongLock) {
		t.Fatalf("err = %v, want it to wrap errWrongLock", err)
	}
	if fault.KindOf(err) != fault.LockRefused {
		t.Errorf("kind = %v, want KindLockRefused", fault.KindOf(err))
	}
	res := sink.all()
	if len(res) > 20 {
		t.Errorf("%d results handed on, but only 20 responses carried the good lock", len(res))
	}
	for _, r := range res {
		if r.Lock != good {
			t.Errorf("result %s stored under lock %q", r.CaseID, r.Lock)
		}
	}
	if n.Load() >= 200 {
		t.Errorf("run went on after the lock changed: %d requests", n.Load())
	}
	if int(checked.Load()) < len(res) {
		t.Errorf("%d checks for %d results", checked.Load(), len(res))
	}
}

// gate is a server that holds every request until released.
type gate struct {
	stub     *stubserver.Server
	inflight atomic.Int64
	arrived  chan struct{}
	release  chan struct{}
}

func newGate() *gate {
	return &gate{stub: stubserver.New(stubserver.Config{}), arrived: make(chan struct{}, 1000), release: make(chan struct{})}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.inflight.Add(1)
	defer g.inflight.Add(-1)
	g.arrived <- struct{}{}
	select {
	case <-g.release:
	case <-r.Context().Done():
		return
	}
	g.stub.ServeHTTP(w, r)
}

func TestInterruptDrainsInFlight(t *testing.T) {
	g := newGate()
	srv := httptest.NewServer(g)
	defer srv.Close()
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	cfg.Concurrency = 4
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	type ret struct {
		sum Summary
		err error
	}
	done := make(chan ret)
	go func() {
		sum, err := r.Run(ctx, SuitePlan(chatSuite(100), nil))
		done <- ret{sum, err}
	}()
	for range 4 {
		<-g.arrived
	}
	cancel()
	time.Sleep(50 * time.Millisecond) // a cancelled request would have ended by now
	close(g.release)
	got := <-done
	if !errors.Is(got.err, context.Canceled) || !strings.Contains(got.err.Error(), "interrupted") {
		t.Fatalf("err = %v, want an interruption wrapping context.Canceled", got.err)
	}
	res := sink.all()
	if len(res) != 4 {
		t.Errorf("%d results handed on, want the 4 in flight", len(res))
	}
	for _, r := range res {
		if r.Error != "" {
			t.Errorf("in-flight request failed: %s", r.Error)
		}
	}
	if n := g.stub.Requests(); n != 4 {
		t.Errorf("server answered %d requests after the interrupt, want 4", n)
	}
}

func TestHardStopAbortsInFlight(t *testing.T) {
	g := newGate()
	srv := httptest.NewServer(g)
	defer srv.Close()
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	cfg.Concurrency = 4
	hard := make(chan struct{})
	cfg.HardStop = hard
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := r.Run(ctx, SuitePlan(chatSuite(100), nil))
		done <- err
	}()
	for range 4 {
		<-g.arrived
	}
	cancel()
	close(hard)
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "abandoned") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hard stop did not abort the in-flight requests")
	}
	close(g.release)
	if res := sink.all(); len(res) != 0 {
		t.Errorf("aborted requests handed on: %+v", res)
	}
}

func TestSkip(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	stub := stubserver.New(stubserver.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Messages []eval.Message }
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		asked[body.Messages[0].Content]++
		mu.Unlock()
		stub.ServeHTTP(w, reReq(r, body))
	}))
	defer srv.Close()
	suite := chatSuite(10)
	suite.Settings.Samples = 3
	sink := &memSink{}
	r, err := New(testConfig(sink, srv.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(context.Background(), SuitePlan(suite, func(id string, sample int) bool { return id == "c2" || sample == 1 }))
	if err != nil {
		t.Fatal(err)
	}
	if asked["q2"] != 0 {
		t.Errorf("skipped case c2 requested %d times", asked["q2"])
	}
	if asked["q0"] != 2 {
		t.Errorf("c0 requested %d times, want 2 (samples 0 and 2)", asked["q0"])
	}
	for _, r := range sink.all() {
		if r.CaseID == "c2" || r.Sample == 1 {
			t.Errorf("skipped %s/%d handed on", r.CaseID, r.Sample)
		}
	}
	if sum.Skipped != 12 || sum.Results != 18 {
		t.Errorf("skipped %d, results %d; want 12, 18", sum.Skipped, sum.Results)
	}
}

func TestReplicas(t *testing.T) {
	url1, s1 := stub(t, stubserver.Config{})
	url2, s2 := stub(t, stubserver.Config{})
	sink := &memSink{}
	sum, err := run(t, testConfig(sink, url1, url2), chatSuite(40))
	if err != nil {
		t.Fatal(err)
	}
	if s1.Requests() != 20 || s2.Requests() != 20 {
		t.Errorf("replicas answered %d and %d requests, want 20 each", s1.Requests(), s2.Requests())
	}
	if sum.Endpoints[url1] != 20 || sum.Endpoints[url2] != 20 {
		t.Errorf("summary endpoints %v", sum.Endpoints)
	}
}

func TestReplicaDownRetriesOnOther(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/v1"
	ln.Close()
	url, _ := stub(t, stubserver.Config{})
	sink := &memSink{}
	if _, err := run(t, testConfig(sink, dead, url), chatSuite(10)); err != nil {
		t.Fatal(err)
	}
	for _, r := range sink.all() {
		if r.Endpoint != url || r.Error != "" {
			t.Errorf("result %+v", r)
		}
	}
}

func TestBatch(t *testing.T) {
	var requests atomic.Int64
	stub := stubserver.New(stubserver.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		// Answer the choices in reverse order: only their index maps them back.
		rec := httptest.NewRecorder()
		stub.ServeHTTP(rec, r)
		var body map[string]any
		json.Unmarshal(rec.Body.Bytes(), &body)
		choices := body["choices"].([]any)
		slices.Reverse(choices)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	}))
	defer srv.Close()
	suite := rawSuite(10)
	suite.Cases[9].Overrides.MaxTokens = ptr(5) // different settings: its own request
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	cfg.Batch = 4
	sum, err := run(t, cfg, suite)
	if err != nil {
		t.Fatal(err)
	}
	if got := requests.Load(); got != 4 { // 4 + 4 + 1 + 1
		t.Errorf("%d requests, want 4", got)
	}
	res := sink.all()
	if len(res) != 10 {
		t.Fatalf("%d results, want 10", len(res))
	}
	for _, r := range res {
		if want := stubserver.Echo("p" + strings.TrimPrefix(r.CaseID, "r")); r.Output != want || r.Error != "" {
			t.Errorf("%s: output %q, want %q (error %q)", r.CaseID, r.Output, want, r.Error)
		}
	}
	if sum.CompletionTokens != 20 {
		t.Errorf("completion tokens %d, want 20", sum.CompletionTokens)
	}
}

func TestBatchMissingChoice(t *testing.T) {
	srv := httptest.NewServer(status(200, nil, `{"choices":[{"index":0,"text":"a","finish_reason":"stop"}]}`))
	defer srv.Close()
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	cfg.Batch = 2
	if _, err := run(t, cfg, rawSuite(2)); err != nil {
		t.Fatal(err)
	}
	res := sink.all()
	if len(res) != 2 {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		if r.ErrorKind != ErrMalformed || !strings.Contains(r.Error, "no choice for prompt 1 of 2") {
			t.Errorf("%s: %s %q", r.CaseID, r.ErrorKind, r.Error)
		}
	}
}

// TestAdaptiveConcurrency runs against a server that can take 4 requests at
// once and answers 429 beyond that for its first 150 requests, then takes
// everything. The limit must back off under the overload and grow back after.
func TestAdaptiveConcurrency(t *testing.T) {
	const capacity, overloadFor = 4, 150
	var n, inflight, peakAfter atomic.Int64
	stub := stubserver.New(stubserver.Config{Latency: 2 * time.Millisecond})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := inflight.Add(1)
		defer inflight.Add(-1)
		if n.Add(1) <= overloadFor {
			if cur > capacity {
				status(429, nil, `{"error":"overloaded"}`)(w, r)
				return
			}
		} else {
			for p := peakAfter.Load(); cur > p && !peakAfter.CompareAndSwap(p, cur); p = peakAfter.Load() {
			}
		}
		stub.ServeHTTP(w, r)
	}))
	defer srv.Close()
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	cfg.Concurrency = 32
	cfg.MaxAttempts = 50
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(context.Background(), SuitePlan(chatSuite(600), nil))
	if err != nil {
		t.Fatal(err)
	}
	if sum.ErrorCount() != 0 {
		t.Errorf("errors %v", sum.Errors)
	}
	if sum.LowestLimit > 8 {
		t.Errorf("lowest limit %d, want ≤ 8 under overload", sum.LowestLimit)
	}
	if p := r.Progress(); p.Limit < 24 {
		t.Errorf("limit at the end %d, want it recovered towards 32", p.Limit)
	}
	if peakAfter.Load() < 16 {
		t.Errorf("peak in flight after the overload %d, want ≥ 16", peakAfter.Load())
	}
	t.Logf("lowest limit %d, peak in flight after overload %d, retries %d", sum.LowestLimit, peakAfter.Load(), sum.Retries)
}

func TestLimiter(t *testing.T) {
	l := newLimiter(8, 1)
	ctx := context.Background()
	var epochs []uint64
	for range 8 {
		e, err := l.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		epochs = append(epochs, e)
	}
	// A ninth waits until a slot is free.
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(short); err == nil {
		t.Fatal("acquired a ninth slot of 8")
	}
	// Eight 429s from one window halve the limit once.
	for _, e := range epochs {
		l.overload(e)
	}
	if limit, _, _, _ := l.state(); limit != 4 {
		t.Fatalf("limit after one overloaded window = %d, want 4", limit)
	}
	for range 8 {
		l.release()
	}
	if _, inflight, peak, low := l.state(); inflight != 0 || peak != 8 || low != 4 {
		t.Errorf("inflight %d peak %d low %d", inflight, peak, low)
	}
	// A success with less than half the limit in use does not grow it.
	if _, err := l.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	l.success()
	if limit, _, _, _ := l.state(); limit != 4 {
		t.Errorf("limit after an idle success = %d, want 4", limit)
	}
	// Successes with the limit in use grow it back by one each.
	for range 3 {
		if _, err := l.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		l.success()
	}
	if limit, _, _, _ := l.state(); limit != 8 {
		t.Errorf("limit after 4 successes = %d, want 8", limit)
	}
	// The grown limit admits eight at once again.
	for range 4 {
		if _, err := l.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, inflight, _, _ := l.state(); inflight != 8 {
		t.Errorf("inflight %d, want 8", inflight)
	}
}

func TestSinkErrorStopsRun(t *testing.T) {
	url, srv := stub(t, stubserver.Config{})
	sink := &memSink{failAt: 5}
	cfg := testConfig(sink, url)
	cfg.Concurrency = 2
	_, err := run(t, cfg, chatSuite(500))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the sink's error", err)
	}
	if srv.Requests() >= 500 {
		t.Errorf("run went on after the sink failed: %d requests", srv.Requests())
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no endpoint", Config{Model: "m", Sink: &memSink{}}, "no endpoint"},
		{"bad url", Config{Endpoints: []string{"localhost:8000"}, Model: "m", Sink: &memSink{}}, "not an http(s) URL"},
		{"no model", Config{Endpoints: []string{"http://x/v1"}, Sink: &memSink{}}, "no model"},
		{"no sink", Config{Endpoints: []string{"http://x/v1"}, Model: "m"}, "no sink"},
		{"negative concurrency", limits(Config{Concurrency: -1}), "Concurrency -1 is outside [1, 65536]"},
		{"concurrency past the bound", limits(Config{Concurrency: MaxConcurrency + 1}), "Concurrency 65537"},
		{"attempts past the bound", limits(Config{MaxAttempts: MaxAttempts + 1}), "MaxAttempts 102"},
		{"batch past the bound", limits(Config{Batch: MaxBatch + 1}), "Batch 1025"},
		{"timeout too short", limits(Config{Timeout: time.Microsecond}), "Timeout 1µs is outside [1ms, 24h0m0s]"},
		{"timeout too long", limits(Config{Timeout: 25 * time.Hour}), "Timeout 25h0m0s"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// limits returns cfg, which sets only bounded fields, made valid otherwise.
func limits(cfg Config) Config {
	cfg.Endpoints, cfg.Model, cfg.Sink = []string{"http://x/v1"}, "m", &memSink{}
	return cfg
}

// TestThousandsInFlight holds every request at the server until 1,500 are
// waiting there at once, which only a pool of that size reaches.
func TestThousandsInFlight(t *testing.T) {
	const n = 1500
	var arrived atomic.Int64
	all := make(chan struct{})
	var release sync.Once
	// Bounded: on a machine too loaded to open 1,500 connections in time,
	// the requests held are released and the test fails, rather than hang.
	giveUp := time.AfterFunc(2*time.Minute, func() {
		t.Errorf("only %d of %d requests arrived within 2 minutes", arrived.Load(), n)
		release.Do(func() { close(all) })
	})
	defer giveUp.Stop()
	stub := stubserver.New(stubserver.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == n {
			release.Do(func() { close(all) })
		}
		select {
		case <-all:
		case <-r.Context().Done():
			return
		}
		stub.ServeHTTP(w, r)
	}))
	defer srv.Close()
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	cfg.Concurrency = n
	sum, err := run(t, cfg, chatSuite(n))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Results != n || sum.ErrorCount() != 0 || sum.PeakInFlight != n {
		t.Errorf("results %d, errors %v, peak in flight %d; want %d, none, %d", sum.Results, sum.Errors, sum.PeakInFlight, n, n)
	}
}

func TestTimeout(t *testing.T) {
	g := newGate()
	srv := httptest.NewServer(g)
	defer srv.Close()
	defer close(g.release)
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	cfg.Timeout = 20 * time.Millisecond
	cfg.MaxAttempts = 2
	if _, err := run(t, cfg, chatSuite(1)); err != nil {
		t.Fatal(err)
	}
	res := sink.all()
	if len(res) != 1 || res[0].ErrorKind != ErrTimeout || !strings.Contains(res[0].Error, "within 20ms (after 2 attempts)") {
		t.Errorf("results %+v", res)
	}
}

func TestProgress(t *testing.T) {
	g := newGate()
	srv := httptest.NewServer(g)
	defer srv.Close()
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	cfg.Concurrency = 3
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := r.Run(context.Background(), SuitePlan(chatSuite(10), func(id string, _ int) bool { return id == "c0" }))
		done <- err
	}()
	for range 3 {
		<-g.arrived
	}
	if p := r.Progress(); p.Total != 9 || p.Skipped != 1 || p.Done != 0 || p.InFlight != 3 || p.Limit != 3 {
		t.Errorf("progress while held = %+v", p)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p := r.Progress(); p.Total != 9 || p.Done != 9 || p.Errors != 0 || p.InFlight != 0 {
		t.Errorf("progress at the end = %+v", p)
	}
}

// TestAuthStopsTheRun: a 401 or 403 is about the credentials, not the case:
// the run stops at once with an input error, and nothing is handed on.
func TestAuthStopsTheRun(t *testing.T) {
	for _, code := range []int{401, 403} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			url, n := faultServer(t, rep(10, status(code, nil, `{"error":"invalid api key"}`))...)
			sink := &memSink{}
			cfg := testConfig(sink, url)
			cfg.Concurrency = 1
			_, err := run(t, cfg, chatSuite(3))
			if !errors.Is(err, fault.ErrUnauthorized) || fault.KindOf(err) != fault.Input || !strings.Contains(err.Error(), "invalid api key") {
				t.Fatalf("err = %v (kind %v), want an input error wrapping ErrUnauthorized with the server's message", err, fault.KindOf(err))
			}
			if got := n.Load(); got != 1 {
				t.Errorf("server saw %d requests, want 1: no retry, nothing more dispatched", got)
			}
			if res := sink.all(); len(res) != 0 {
				t.Errorf("results handed on: %+v", res)
			}
		})
	}
}

// TestLockCheckOnErrorResponses: a failed request's final error response is
// lock-checked by CheckErrorResponse before its result is handed on when the
// failure is the case's result; a transient one (429, 5xx) is not checked,
// on any attempt, and carries no lock; a 2xx that is no completion is
// checked as an error response, a completion by CheckResponse.
func TestLockCheckOnErrorResponses(t *testing.T) {
	const lock = "sha256:good"
	check := func(ep string, h http.Header) (lockid.ID, error) {
		if got := h.Get(lockid.Header); got != lock {
			return "", fmt.Errorf("endpoint reports lock %q: %w", got, errWrongLock)
		}
		return lock, nil
	}
	completionCheck := func(ep string, h http.Header, fp, model string) (lockid.ID, error) {
		if fp != lock && h.Get(lockid.Header) != lock {
			return "", fmt.Errorf("completion fingerprint %q: %w", fp, errWrongLock)
		}
		return lock, nil
	}
	withLock := map[string]string{lockid.Header: lock}
	tests := []struct {
		name    string
		faults  []http.HandlerFunc
		refused bool   // the run stops with a lock refusal
		kind    string // else: the stored result's ErrorKind
	}{
		{"404 with the lock is stored under it", []http.HandlerFunc{status(404, withLock, `{"error":"no model"}`)}, false, ErrNotFound},
		{"404 without a lock stops the run", []http.HandlerFunc{status(404, nil, `{"error":"no model"}`)}, true, ""},
		{"429 without a lock is retried unchecked", []http.HandlerFunc{status(429, nil, ``)}, false, ""},
		{"503 without a lock on every attempt is a transient failure", rep(4, status(503, nil, `{"error":"overloaded"}`)), false, ErrServer},
		{"502 with the lock on every attempt is a transient failure", rep(4, status(502, withLock, ``)), false, ErrServer},
		{"malformed 200 with the lock is stored under it", []http.HandlerFunc{status(200, withLock, `{"choices":[]}`)}, false, ErrMalformed},
		{"malformed 200 without a lock stops the run", []http.HandlerFunc{status(200, nil, `<html>`)}, true, ""},
		{"completion without the fingerprint stops the run", []http.HandlerFunc{status(200, nil, `{"choices":[{"index":0,"message":{"content":"x"},"finish_reason":"stop"}]}`)}, true, ""},
		{"completion with the fingerprint is stored", []http.HandlerFunc{status(200, nil, `{"system_fingerprint":"`+lock+`","choices":[{"index":0,"message":{"content":"x"},"finish_reason":"stop"}]}`)}, false, ""},
		// A completion without output is still a completion: its channel must vouch.
		{"null content with the fingerprint is stored malformed", []http.HandlerFunc{status(200, nil, `{"system_fingerprint":"`+lock+`","choices":[{"index":0,"message":{"content":null},"finish_reason":"length"}]}`)}, false, ErrMalformed},
		{"null content without the fingerprint stops the run", []http.HandlerFunc{status(200, nil, `{"choices":[{"index":0,"message":{"content":null},"finish_reason":"length"}]}`)}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := faultServerWith(t, stubserver.Config{Lock: lock}, tt.faults...)
			sink := &memSink{}
			cfg := testConfig(sink, url)
			cfg.CheckResponse, cfg.CheckErrorResponse = completionCheck, check
			_, err := run(t, cfg, chatSuite(1))
			res := sink.all()
			if tt.refused {
				if !errors.Is(err, errWrongLock) || fault.KindOf(err) != fault.LockRefused {
					t.Errorf("err = %v, want a lock refusal", err)
				}
				if len(res) != 0 {
					t.Errorf("results handed on: %+v", res)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := lockid.ID(lock)
			if slices.Contains(TransientKinds(), tt.kind) {
				want = "" // not vouched for: it is requested again on resume
			}
			if len(res) != 1 || res[0].ErrorKind != tt.kind || res[0].Lock != want {
				t.Errorf("results %+v, want one %q under %q", res, tt.kind, want)
			}
		})
	}
}

// TestLockMismatchStopsAtOnce: the 503 "evalpin serve" answers once its files
// no longer match its lock stops the run on the first answer, without retries
// or a stored result, as a lock refusal, with or without a lock check.
func TestLockMismatchStopsAtOnce(t *testing.T) {
	disowned := status(503, nil, `{"error":{"message":"evalpin serve: this server no longer claims its lock: model.gguf (weights) changed","type":"evalpin_lock_mismatch","param":null,"code":"evalpin_lock_mismatch"}}`)
	for _, check := range []bool{false, true} {
		t.Run(fmt.Sprintf("check=%v", check), func(t *testing.T) {
			url, n := faultServer(t, rep(100, disowned)...)
			sink := &memSink{}
			cfg := testConfig(sink, url)
			cfg.Concurrency = 1
			cfg.BackoffBase, cfg.BackoffMax = time.Hour, time.Hour // a retry would time the test out
			if check {
				cfg.CheckResponse = func(string, http.Header, string, string) (lockid.ID, error) { return "sha256:good", nil }
			}
			sum, err := run(t, cfg, chatSuite(3))
			if fault.KindOf(err) != fault.LockRefused || !strings.Contains(err.Error(), "stopped claiming its lock: evalpin serve: this server no longer claims its lock: model.gguf (weights) changed") {
				t.Fatalf("err = %v, want a lock refusal naming the reason", err)
			}
			if got := n.Load(); got != 1 {
				t.Errorf("server saw %d requests, want 1", got)
			}
			if res := sink.all(); len(res) != 0 || sum.Retries != 0 {
				t.Errorf("results %+v, %d retries; want none", res, sum.Retries)
			}
		})
	}
	// Another 503 is still overload, retried.
	url, n := faultServer(t, status(503, nil, `{"error":{"message":"busy","code":"overloaded"}}`))
	sink := &memSink{}
	if _, err := run(t, testConfig(sink, url), chatSuite(1)); err != nil || n.Load() != 2 || len(sink.all()) != 1 || sink.all()[0].Error != "" {
		t.Errorf("other 503: err %v, %d requests, results %+v; want one retry and a success", err, n.Load(), sink.all())
	}
}

// TestConnectionsReused counts the connections the server sees: a run
// reuses them rather than dialling one per request.
func TestConnectionsReused(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(stubserver.New(stubserver.Config{}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	cfg.Concurrency = 8
	cfg.Client = nil // the runner's own transport
	sum, err := run(t, cfg, chatSuite(400))
	if err != nil {
		t.Fatal(err)
	}
	// A connection returns to the pool just after its answer is read, so a
	// new request can now and then dial before it is back: allow 2×.
	if n := conns.Load(); n > 16 || sum.Results != 400 {
		t.Errorf("%d connections for %d requests at concurrency 8", n, sum.Results)
	}
}

func TestAllSkipped(t *testing.T) {
	url, srv := stub(t, stubserver.Config{})
	sink := &memSink{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing is missing, so even a cancelled run is complete
	r, err := New(testConfig(sink, url))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(ctx, SuitePlan(chatSuite(5), func(string, int) bool { return true }))
	if err != nil || sum.Skipped != 5 || sum.Results != 0 || srv.Requests() != 0 {
		t.Errorf("err %v, skipped %d, results %d, requests %d", err, sum.Skipped, sum.Results, srv.Requests())
	}
}
