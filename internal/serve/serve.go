// Package serve is evalpin's lock-reporting sidecar: a reverse proxy in front
// of an inference engine that cannot report a lock itself. It publishes the
// lock in the well-known document, adds the Evalpin-Lock header to every
// response, passes everything else through untouched (streamed responses are
// flushed as they arrive), and re-checks the model directory periodically:
// once the directory no longer matches the lock, it answers 503 with the
// reason instead of claiming the lock, until it is restarted.
//
// The sidecar vouches for the files on disk, not for what the engine loaded
// from them: start it with the directory the engine serves from.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// The paths and header of the lock protocol (docs/protocol.md).
const (
	WellKnownPath = "/.well-known/evalpin-lock"
	HealthPath    = "/healthz"
	Header        = "Evalpin-Lock"
)

// Defaults of Config.
const (
	DefaultRecheck         = 5 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
)

// ErrMismatch is wrapped by the refusal Run returns when the model directory
// does not match the lock at start.
var ErrMismatch = errors.New("model directory does not match the lock")

// A mismatchError is the reason the directory does not match; it is
// ErrMismatch to errors.Is.
type mismatchError string

func (e mismatchError) Error() string        { return string(e) }
func (e mismatchError) Is(target error) bool { return target == ErrMismatch }

// Config configures a sidecar. Upstream, Lock and Check are required.
type Config struct {
	// Upstream is the engine's origin, e.g. http://127.0.0.1:11434; a request
	// for /v1/chat/completions goes to Upstream's path joined with it.
	Upstream *url.URL
	// Lock is the lock the sidecar claims while Check passes.
	Lock eval.LockID
	// Manifest is the lock file, published in the well-known document so
	// that clients can recompute its id; nil publishes the id alone.
	Manifest json.RawMessage
	// Check verifies the model directory against the lock: nil when it
	// matches, else an error that names what differs. It must be cheap for an
	// unchanged directory (the lock package's stat cache makes it so).
	Check func(ctx context.Context) error
	// Recheck is how often Check runs while serving; 0 means DefaultRecheck.
	Recheck time.Duration
	// ShutdownTimeout bounds how long Run waits for requests in flight (long
	// streams included) after its context is done; 0 means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Transport carries requests to the upstream; nil means a clone of
	// http.DefaultTransport that keeps up to 1024 idle connections to it.
	Transport http.RoundTripper
	// Logf receives state changes and proxy errors, for operators; nil
	// discards them.
	Logf func(format string, args ...any)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// A Server is a sidecar. Create one with New and run it with Run; its
// ServeHTTP may also be mounted elsewhere, for tests.
type Server struct {
	cfg     Config
	proxy   *httputil.ReverseProxy
	state   atomic.Pointer[state]
	checkMu sync.Mutex // one Check at a time
}

// state is what the sidecar last found; once refused it never returns to ok.
type state struct {
	ok      bool      // the directory matched at the last check
	refused bool      // a check failed: the lock is dropped for good
	reason  string    // why the lock is not claimed
	checked time.Time // when Check last ran
}

// errStopped makes the proxy answer 503 for a response that arrived after the
// lock was dropped.
var errStopped = errors.New("lock no longer claimed")

// New returns a sidecar for cfg. It does not check the directory: Run does
// before it serves.
func New(cfg Config) (*Server, error) {
	if cfg.Upstream == nil || cfg.Upstream.Host == "" || (cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https") {
		return nil, eval.Errorf(eval.KindInput, "pass the engine's origin, e.g. --upstream http://127.0.0.1:11434", "upstream must be an http or https URL with a host")
	}
	if cfg.Lock == "" || cfg.Check == nil {
		return nil, errors.New("serve: Config needs Lock and Check")
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = DefaultRecheck
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Transport == nil {
		// http.DefaultTransport keeps 2 idle connections per host, so a
		// client with many requests in flight would make the sidecar dial
		// the engine anew for most of them.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 0 // no limit over all hosts
		t.MaxIdleConnsPerHost = 1024
		cfg.Transport = t
	}
	s := &Server{cfg: cfg}
	s.state.Store(&state{reason: "the model directory has not been verified yet"})
	upstream := cfg.Upstream
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
		},
		// -1 flushes every write at once, so server-sent events arrive as the
		// engine produces them.
		FlushInterval: -1,
		Transport:     cfg.Transport,
		BufferPool:    &bufferPool{},
		ModifyResponse: func(resp *http.Response) error {
			// The lock may have been dropped while the engine answered.
			if !s.state.Load().ok {
				return errStopped
			}
			resp.Header.Set(Header, cfg.Lock)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, errStopped) {
				s.refuse(w)
				return
			}
			if r.Context().Err() != nil {
				return // the client went away
			}
			cfg.Logf("upstream %s: %v", r.URL.Path, err)
			// The lock still holds (the files match); the failure is the
			// engine's, so the client records a failed request instead of
			// taking the answer for a server that claims no lock.
			if !s.state.Load().ok {
				s.refuse(w)
				return
			}
			w.Header().Set(Header, cfg.Lock)
			writeError(w, http.StatusBadGateway, "upstream_error",
				"evalpin serve: the engine at "+upstream.String()+" did not answer ("+err.Error()+"); check that it runs there, or restart evalpin serve with the right --upstream")
		},
	}
	return s, nil
}

// Claiming reports whether the sidecar claims its lock, and why not.
func (s *Server) Claiming() (bool, string) {
	st := s.state.Load()
	return st.ok, st.reason
}

// Check runs Config.Check once and updates the state: it returns nil when the
// directory matches, else a refusal wrapping ErrMismatch. After a mismatch
// the sidecar stops claiming the lock for good, because the engine may have
// loaded the changed files.
func (s *Server) Check(ctx context.Context) error {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	old := s.state.Load()
	if !old.refused {
		err := s.cfg.Check(ctx)
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: no verdict on the files
		}
		next := &state{ok: err == nil, checked: s.cfg.Now()}
		if err != nil {
			next.refused = true
			next.reason = fmt.Sprintf("the model directory does not match lock %s: %v", s.cfg.Lock, err)
			if old.ok {
				next.reason = fmt.Sprintf("the model directory no longer matches lock %s: %v", s.cfg.Lock, err)
				s.cfg.Logf("stopped claiming %s: %s", s.cfg.Lock, next.reason)
			}
		}
		s.state.Store(next)
		old = next
	}
	if old.refused {
		return &eval.Error{Kind: eval.KindLockRefused, Err: mismatchError(old.reason),
			Hint: "restore the files or create a new lock with 'evalpin lock create', then restart 'evalpin serve'"}
	}
	return nil
}

// ServeHTTP answers the well-known document and /healthz and proxies
// everything else to the upstream, with the Evalpin-Lock header while the lock
// is claimed and 503 once it is not.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case WellKnownPath:
		s.wellKnown(w, r)
		return
	case HealthPath:
		s.health(w, r)
		return
	}
	if !s.state.Load().ok {
		s.refuse(w)
		return
	}
	s.proxy.ServeHTTP(w, r)
}

func (s *Server) wellKnown(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "evalpin serve: "+WellKnownPath+" answers GET only")
		return
	}
	st := s.state.Load()
	if !st.ok {
		s.refuse(w)
		return
	}
	doc := struct {
		Lock      eval.LockID     `json:"lock"`
		Manifest  json.RawMessage `json:"manifest,omitempty"`
		Verified  time.Time       `json:"verified_at"`
		RecheckMS int64           `json:"recheck_ms"`
	}{s.cfg.Lock, s.cfg.Manifest, st.checked.UTC(), s.cfg.Recheck.Milliseconds()}
	w.Header().Set(Header, s.cfg.Lock)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	st := s.state.Load()
	if !st.ok {
		s.refuse(w)
		return
	}
	w.Header().Set(Header, s.cfg.Lock)
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "lock": s.cfg.Lock})
}

// refuse answers 503 with the reason, in the OpenAI error shape.
func (s *Server) refuse(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	writeError(w, http.StatusServiceUnavailable, "evalpin_lock_mismatch",
		"evalpin serve: this server no longer claims its lock: "+s.state.Load().reason)
}

// writeError writes an error in the shape OpenAI clients parse:
// {"error": {"message", "type", "param", "code"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	type apiError struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	}
	writeJSON(w, status, struct {
		Error apiError `json:"error"`
	}{apiError{Message: message, Type: code, Code: code}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// Run checks the model directory unless Check has passed already, refusing to
// serve on a mismatch (an *eval.Error of kind eval.KindLockRefused wrapping
// ErrMismatch), then serves
// on ln and re-checks every Recheck until ctx is done, when it shuts down
// gracefully: it stops accepting, lets requests in flight finish for up to
// ShutdownTimeout, and returns nil. Run owns every goroutine it starts and
// returns only after they have stopped. It closes ln.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if ok, _ := s.Claiming(); !ok {
		if err := s.Check(ctx); err != nil {
			ln.Close()
			return err
		}
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	var wg sync.WaitGroup
	wg.Go(func() { s.recheckLoop(loopCtx) })

	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- srv.Serve(ln) })

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr: // the listener failed
	}
	stopLoop()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		s.cfg.Logf("shutdown: %v; closing the remaining connections", serr)
		srv.Close()
	}
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// A bufferPool lends the proxy its 32 KiB copy buffers, which it would
// otherwise allocate per request.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// recheckLoop re-checks the directory every Recheck until ctx is done.
func (s *Server) recheckLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Recheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.Check(ctx) != nil {
				return // refused for good, or shutting down
			}
		}
	}
}
