package serve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

const testLock = "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

// fileCheck is a Config.Check over one file: it matches while the file's
// SHA-256 is the one it had when fileCheck was made.
func fileCheck(t *testing.T, path string) func(context.Context) error {
	t.Helper()
	want := fileSum(t, path)
	return func(context.Context) error {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if sha256.Sum256(data) != want {
			return fmt.Errorf("%s changed", filepath.Base(path))
		}
		return nil
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// modelDir writes a one-file model directory and returns the file's path.
func modelDir(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := os.WriteFile(path, []byte("weights v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sidecar runs a sidecar for upstream on a loopback port until the test ends
// and returns its URL and the Server.
func sidecar(t *testing.T, upstream string, cfg Config) (string, *Server) {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Upstream = u
	if cfg.Lock == "" {
		cfg.Lock = testLock
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("first check: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), s
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestRunRefusesMismatch(t *testing.T) {
	path := modelDir(t)
	check := fileCheck(t, path)
	os.WriteFile(path, []byte("tampered"), 0o644)
	s, err := New(Config{Upstream: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}, Lock: testLock, Check: check})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background(), ln)
	if !errors.Is(err, ErrMismatch) || fault.KindOf(err) != fault.LockRefused {
		t.Fatalf("Run: err = %v, want a refusal wrapping ErrMismatch", err)
	}
	if !strings.Contains(err.Error(), "model.gguf changed") || fault.HintOf(err) == "" {
		t.Errorf("err = %q (hint %q), want the file named and a hint", err, fault.HintOf(err))
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Errorf("the listener is still open after the refusal")
	}
}

func TestNewInput(t *testing.T) {
	for _, u := range []*url.URL{nil, {Scheme: "ftp", Host: "h"}, {Scheme: "http"}} {
		if _, err := New(Config{Upstream: u, Lock: testLock, Check: func(context.Context) error { return nil }}); fault.KindOf(err) != fault.Input {
			t.Errorf("New(upstream %v): err = %v, want an input error", u, err)
		}
	}
}

func TestProxy(t *testing.T) {
	var gotPath, gotBody, gotMethod string
	upstream := httptest.NewServer(withModels(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotPath, gotBody, gotMethod = r.URL.RequestURI(), string(b), r.Method
		w.Header().Set(lockid.Header, "sha256:"+strings.Repeat("0", 64)) // an engine's own claim is overwritten
		w.Header().Set("X-Engine", "fake")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, `{"choices":[{"message":{"content":"<script>"}}]}`)
	})))
	defer upstream.Close()
	base, _ := sidecar(t, upstream.URL, Config{Manifest: json.RawMessage(`{"version":1}`), Check: fileCheck(t, modelDir(t))})

	resp, err := http.Post(base+"/v1/chat/completions?x=1", "application/json", strings.NewReader(`{"model":"m"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := resp.Header.Get(lockid.Header), testLock; got != want {
		t.Errorf("%s = %q, want %q", lockid.Header, got, want)
	}
	if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Engine") != "fake" || string(body) != `{"choices":[{"message":{"content":"<script>"}}]}` {
		t.Errorf("response not passed through: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if gotPath != "/v1/chat/completions?x=1" || gotBody != `{"model":"m"}` || gotMethod != http.MethodPost {
		t.Errorf("request not passed through: %s %s %q", gotMethod, gotPath, gotBody)
	}

	resp, body = get(t, base+lockid.WellKnownPath)
	var doc struct {
		Lock     string          `json:"lock"`
		Manifest json.RawMessage `json:"manifest"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("well-known: %d %s %v", resp.StatusCode, body, err)
	}
	if doc.Lock != testLock || string(doc.Manifest) != `{"version":1}` {
		t.Errorf("well-known = %s", body)
	}
	if resp, _ := get(t, base+HealthPath); resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
}

// SSE events must reach the client one by one, as the engine flushes them:
// the upstream holds the second event back until the client has read the
// first, so a buffering proxy would deadlock and fail the test.
func TestStreamingIsNotBuffered(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(withModels(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"n\":1}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: {\"n\":2}\n\ndata: [DONE]\n\n")
	})))
	defer upstream.Close()
	base, _ := sidecar(t, upstream.URL, Config{Check: fileCheck(t, modelDir(t))})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get(lockid.Header) != testLock {
		t.Errorf("stream lacks the %s header", lockid.Header)
	}
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	if err != nil || line != "data: {\"n\":1}\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	close(release) // only now may the second event be written
	rest, err := io.ReadAll(rd)
	if err != nil || !bytes.Equal(rest, []byte("\ndata: {\"n\":2}\n\ndata: [DONE]\n\n")) {
		t.Fatalf("rest of the stream: %q, %v", rest, err)
	}
}

func TestTamperingStopsTheClaim(t *testing.T) {
	upstream := httptest.NewServer(withModels(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "{}")
	})))
	defer upstream.Close()
	path := modelDir(t)
	const recheck = 20 * time.Millisecond
	base, s := sidecar(t, upstream.URL, Config{Check: fileCheck(t, path), Recheck: recheck})
	if resp, _ := get(t, base+"/v1/models"); resp.StatusCode != http.StatusOK {
		t.Fatalf("before tampering: %d", resp.StatusCode)
	}

	if err := os.WriteFile(path, []byte("weights v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The change is seen at the next re-check; allow generous slack for a
	// loaded machine, but no more.
	deadline := time.Now().Add(100 * recheck)
	for ok, _ := s.Claiming(); ok; ok, _ = s.Claiming() {
		if time.Now().After(deadline) {
			t.Fatalf("still claiming the lock %v after the file changed", 100*recheck)
		}
		time.Sleep(recheck / 4)
	}
	for _, path := range []string{"/v1/models", lockid.WellKnownPath, HealthPath} {
		resp, body := get(t, base+path)
		var e struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
				Code    string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%s: body %q is not an OpenAI error: %v", path, body, err)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(lockid.Header) != "" {
			t.Errorf("%s: %d with %s %q, want 503 without the header", path, resp.StatusCode, lockid.Header, resp.Header.Get(lockid.Header))
		}
		if !strings.Contains(e.Error.Message, "no longer matches lock "+testLock+": model.gguf changed") || e.Error.Code != "evalpin_lock_mismatch" {
			t.Errorf("%s: error %+v does not give the reason", path, e.Error)
		}
	}

	// Restoring the file does not bring the claim back: the engine may have
	// loaded the changed one.
	os.WriteFile(path, []byte("weights v1"), 0o644)
	if err := s.Check(context.Background()); !errors.Is(err, ErrMismatch) {
		t.Fatalf("after restoring: Check = %v, want the refusal to stick", err)
	}
}

// A response that arrives after the lock was dropped is not passed on under
// the lock.
func TestDroppedWhileAnswering(t *testing.T) {
	path := modelDir(t)
	var s *Server
	upstream := httptest.NewServer(withModels(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		os.WriteFile(path, []byte("weights v2"), 0o644)
		s.Check(r.Context())
		io.WriteString(w, "{}")
	})))
	defer upstream.Close()
	base, srv := sidecar(t, upstream.URL, Config{Check: fileCheck(t, path), Recheck: time.Hour})
	s = srv
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(lockid.Header) != "" {
		t.Fatalf("got %d with %s %q, want 503 without the header", resp.StatusCode, lockid.Header, resp.Header.Get(lockid.Header))
	}
}

// An engine that goes away after the claim was established: requests get a
// 502 that carries the lock.
func TestUpstreamDown(t *testing.T) {
	engine := httptest.NewServer(withModels(http.NotFoundHandler()))
	base, _ := sidecar(t, engine.URL, Config{Check: fileCheck(t, modelDir(t)), Recheck: time.Hour})
	engine.Close()
	resp, body := get(t, base+"/v1/models")
	// The files still match: the 502 carries the lock, so that a client
	// records a failed request rather than a server without a lock.
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), `"code":"upstream_error"`) || resp.Header.Get(lockid.Header) != testLock {
		t.Fatalf("got %d %s with %s %q, want 502 with an OpenAI error and the lock", resp.StatusCode, body, lockid.Header, resp.Header.Get(lockid.Header))
	}
}

// Cancelling Run's context lets the request in flight finish, then Run
// returns and the port is closed.
func TestGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	upstream := httptest.NewServer(withModels(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	s, err := New(Config{Upstream: u, Lock: testLock, Check: fileCheck(t, modelDir(t))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if r := <-got; r.err != nil || r.body != "finished" {
		t.Fatalf("request in flight: %q, %v", r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("still accepting after shutdown")
	}
}

// BenchmarkProxy measures what the sidecar adds to a small completion
// request: compare "sidecar" with "direct" (the engine alone).
func BenchmarkProxy(b *testing.B) {
	body := `{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"OK"},"finish_reason":"stop"}]}`
	upstream := httptest.NewServer(withModels(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	s, err := New(Config{Upstream: u, Lock: testLock, Check: func(context.Context) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		b.Fatal(err)
	}
	side := httptest.NewServer(s)
	defer side.Close()
	for _, bc := range []struct{ name, url string }{{"direct", upstream.URL}, {"sidecar", side.URL}} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(bc.url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

func TestParseUpstream(t *testing.T) {
	for raw, ok := range map[string]bool{
		"http://127.0.0.1:11434":  true,
		"https://engine.internal": true,
		"127.0.0.1:11434":         false, // no scheme: the common slip
		"ftp://host":              false,
		"http://":                 false,
		"http://host:port:bad":    false,
	} {
		u, err := ParseUpstream(raw)
		if (err == nil) != ok || (err != nil && (fault.KindOf(err) != fault.Input || !strings.Contains(err.Error(), raw))) {
			t.Errorf("ParseUpstream(%q) = %v, %v; want ok %v, or an input error quoting it", raw, u, err, ok)
		}
	}
}
