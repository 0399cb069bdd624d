// Package serve is evalpin's lock-reporting sidecar: a reverse proxy in front
// of an inference engine that cannot report a lock itself. It vouches for one
// model the engine serves: at start it verifies the model directory against
// the lock, chooses the model from what the engine lists, and checks what the
// engine says it loaded for it (Ollama's blobs, template and parameters;
// vLLM's model root) against the locked files. Then it publishes the lock in
// the well-known document, adds the Evalpin-Lock header to every response for
// that model (streamed responses are flushed as they arrive), refuses
// requests for other models or that it cannot attribute to one, and re-checks
// the directory and the engine periodically: once either no longer matches,
// it answers 503 with the reason instead of claiming the lock, until it is
// restarted.
//
// What the sidecar cannot see it does not vouch for: an engine that says
// nothing about what it loaded (a vLLM root that is a repository id or a path
// inside a container) is trusted to serve the model directory's files.
package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// HealthPath is the sidecar's health check (docs/protocol.md §6); the
// protocol's own names are in package lockid.
const HealthPath = "/healthz"

// Defaults of Config.
const (
	DefaultRecheck         = 5 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultUpstreamWait    = 60 * time.Second
	DefaultMaxBody         = 32 << 20
)

// ErrMismatch is wrapped by the refusal Run returns when the model directory
// does not match the lock at start, or the engine does not serve the locked
// files as the model.
var ErrMismatch = errors.New("the deliverable does not match the lock")

// A mismatchError is the reason the lock is not claimed; it is ErrMismatch
// to errors.Is.
type mismatchError string

func (e mismatchError) Error() string        { return string(e) }
func (e mismatchError) Is(target error) bool { return target == ErrMismatch }

// Config configures a sidecar. Upstream, Lock and Check are required.
type Config struct {
	// Upstream is the engine's origin, e.g. http://127.0.0.1:11434; a request
	// for /v1/chat/completions goes to Upstream's path joined with it.
	Upstream *url.URL
	// Lock is the lock the sidecar claims while Check passes.
	Lock lockid.ID
	// Manifest is the lock file, published in the well-known document so
	// that clients can recompute its id; nil publishes the id alone.
	Manifest json.RawMessage
	// Check verifies the model directory against the lock: nil when it
	// matches, else an error that names what differs. It must be cheap for an
	// unchanged directory: lock.Checker's Check, with a hash cache.
	Check func(ctx context.Context) error
	// Model is the model the sidecar vouches for, named by the upstream's
	// rules (for Ollama "tiny" is "tiny:latest"); "" means the one model the
	// upstream serves, and an upstream that serves several is an input
	// error.
	Model string
	// Ollama returns what the lock says an Ollama upstream must report for
	// the model in POST /api/show, or why the lock says nothing it can be
	// held against (then an Ollama upstream is refused). It is called once,
	// after the directory matched, and only for an Ollama upstream; nil
	// refuses an Ollama upstream. ExpectOllama reads it from a lock.
	Ollama func() (*OllamaExpect, error)
	// ModelDir is the model directory. The "root" an OpenAI-compatible
	// upstream (vLLM) lists for the model, when it is a path on this host,
	// must be this directory or a file directly in it; "" skips that check.
	ModelDir string
	// UpstreamWait bounds how long the first Check waits for the upstream
	// to answer (an engine still starting); 0 means DefaultUpstreamWait, a
	// negative value asks once.
	UpstreamWait time.Duration
	// MaxBody bounds a request body the sidecar reads to tell its model; 0
	// means DefaultMaxBody. A larger one is refused (413).
	MaxBody int64
	// Recheck is how often the directory and the upstream are checked while
	// serving; 0 means DefaultRecheck.
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
	client  *http.Client // the sidecar's own requests to the upstream
	state   atomic.Pointer[state]
	checkMu sync.Mutex // one Check at a time; guards what follows

	expect *OllamaExpect // Config.Ollama's answer, once asked
	unsure bool          // the last re-check could not reach the upstream
}

// state is what the sidecar last found; once refused it never returns to ok.
// The model, engine and generation are fixed once the claim is established.
type state struct {
	ok         bool      // the directory and the upstream matched at the last check
	refused    bool      // a check failed: the lock is dropped for good
	reason     string    // why the lock is not claimed
	hint       string    // how to fix it, for the refusal at start
	checked    time.Time // when the last check that reached the upstream ran
	model      string    // the bound model, as the upstream lists it
	engine     string    // EngineOllama or EngineOpenAI
	generation string    // random hex, new each time the claim is established
	upstream   *Upstream // what the upstream said at the last check
}

// errFilter is wrapped by a list of models the sidecar could not filter.
var errFilter = errors.New("the engine's list of models could not be cut down to the model vouched for")

// errStopped makes the proxy answer 503 for a response that arrived after the
// lock was dropped.
var errStopped = errors.New("lock no longer claimed")

// ParseUpstream parses the engine's origin, e.g. http://127.0.0.1:11434: an
// http or https URL with a host, or an input error.
func ParseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fault.Errorf(fault.Input, "give the engine's origin, e.g. http://127.0.0.1:11434",
			"upstream %q is not an http or https URL with a host", untrusted.Line(raw))
	}
	return u, nil
}

// Logger returns a sidecar's log for operators: one line at a time on w,
// each starting "evalpin serve: ", for Config.Logf.
func Logger(w io.Writer) func(format string, args ...any) {
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "evalpin serve: "+format+"\n", args...)
	}
}

// New returns a sidecar for cfg. It does not check the directory: Run does
// before it serves.
func New(cfg Config) (*Server, error) {
	raw := ""
	if cfg.Upstream != nil {
		raw = cfg.Upstream.String()
	}
	if _, err := ParseUpstream(raw); err != nil {
		return nil, err
	}
	if cfg.Lock == "" || cfg.Check == nil {
		return nil, errors.New("serve: Config needs Lock and Check")
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = DefaultRecheck
	}
	if cfg.UpstreamWait == 0 {
		cfg.UpstreamWait = DefaultUpstreamWait
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
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
	s.client = &http.Client{
		Transport:     cfg.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s.state.Store(&state{reason: "the model directory and the engine have not been verified yet"})
	upstream := cfg.Upstream
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			if _, ok := pr.In.Context().Value(filterKey{}).(filtering); ok {
				// The list is read and filtered: ask for it uncompressed.
				pr.Out.Header.Del("Accept-Encoding")
			}
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
			if f, ok := resp.Request.Context().Value(filterKey{}).(filtering); ok {
				if err := filter(resp, f.rule, f.st); err != nil {
					return fmt.Errorf("%w: %v", errFilter, err)
				}
			}
			resp.Header.Set(lockid.Header, string(cfg.Lock))
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
			w.Header().Set(lockid.Header, string(cfg.Lock))
			if errors.Is(err, errFilter) {
				writeError(w, http.StatusBadGateway, "upstream_error", "evalpin serve: "+err.Error())
				return
			}
			writeError(w, http.StatusBadGateway, "upstream_error",
				"evalpin serve: the engine at "+upstream.Redacted()+" did not answer ("+err.Error()+"); check that it runs there, or restart evalpin serve with the right --upstream")
		},
	}
	return s, nil
}

// Claiming reports whether the sidecar claims its lock, and why not.
func (s *Server) Claiming() (bool, string) {
	st := s.state.Load()
	return st.ok, st.reason
}

// The hints of the refusals.
const (
	hintFiles  = "restore the files or create a new lock with 'evalpin lock create', then restart 'evalpin serve'"
	hintEngine = "serve the locked files as the model (for Ollama: ollama create NAME -f the locked Modelfile), or lock what the engine serves, then restart 'evalpin serve'"
)

// Check checks the model directory (Config.Check) and then the upstream,
// and updates the state: it returns nil while both match, else a refusal
// wrapping ErrMismatch. After a mismatch the sidecar stops claiming the
// lock for good, because the engine may have loaded the changed files.
//
// The first Check also chooses the model (Config.Model, or the only one
// served), waiting up to Config.UpstreamWait for the upstream to answer,
// and establishes the claim with a new generation; it returns an input
// error when the model cannot be chosen or the upstream does not answer
// (ErrUpstreamDown), and the sidecar claims nothing. A later Check that
// cannot reach the upstream (no answer, or a 429 or 5xx) changes nothing:
// the directory still matches and nothing says the model changed; the next
// Check that reaches it decides.
func (s *Server) Check(ctx context.Context) error {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	old := s.state.Load()
	if old.refused {
		return refusal(old)
	}
	err := s.cfg.Check(ctx)
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: no verdict on the files
	}
	if err != nil {
		if old.ok {
			return s.drop(old, fmt.Sprintf("the model directory no longer matches lock %s: %v", s.cfg.Lock, err), hintFiles)
		}
		return s.drop(old, fmt.Sprintf("the model directory does not match lock %s: %v", s.cfg.Lock, err), hintFiles)
	}
	if old.model == "" {
		return s.establish(ctx, old)
	}
	up, err := s.inspect(ctx, old.engine, old.model, old.upstream)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && isTransient(err) {
		if !s.unsure {
			s.cfg.Logf("re-check could not reach the engine (%v); still claiming %s for %s until a re-check does", err, s.cfg.Lock, old.model)
		}
		s.unsure = true
		return nil
	}
	if s.unsure {
		s.cfg.Logf("re-check reached the engine again")
		s.unsure = false
	}
	if err != nil {
		return s.drop(old, fmt.Sprintf("the engine no longer serves lock %s as model %s: %v", s.cfg.Lock, old.model, err), hintEngine)
	}
	next := *old
	next.ok, next.checked, next.upstream = true, s.cfg.Now(), up
	s.state.Store(&next)
	return nil
}

// establish chooses the model, checks what the upstream serves as it, and
// claims the lock with a new generation.
func (s *Server) establish(ctx context.Context, old *state) error {
	wait := s.cfg.UpstreamWait
	deadline := time.Now().Add(wait)
	origin := s.cfg.Upstream.Redacted()
	var (
		l   *listing
		m   servedModel
		up  *Upstream
		err error
	)
	for attempt := 0; ; attempt++ {
		l, err = s.list(ctx)
		if err != nil && !isTransient(err) {
			return &fault.Error{Kind: fault.Input, Err: fmt.Errorf("the engine at %s did not list the models it serves: %w", origin, err)}
		}
		if err == nil {
			if m, err = s.bind(l); err != nil {
				return err
			}
			if l.engine == EngineOllama {
				if _, xerr := s.ollamaExpect(); xerr != nil {
					return s.drop(old, fmt.Sprintf("lock %s cannot be held against what Ollama serves as %s: %v", s.cfg.Lock, m.ID, xerr),
						"put the Modelfile the model was created from in the model directory, with the TEMPLATE and PARAMETER lines 'ollama show --modelfile NAME' prints, lock the directory again, and re-create the model from it")
				}
			}
			up, err = s.inspect(ctx, l.engine, m.ID, nil)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil || !isTransient(err) {
			break
		}
		left := time.Until(deadline)
		if wait < 0 {
			return &fault.Error{Kind: fault.Input, Err: &downError{
				msg: fmt.Sprintf("the engine at %s did not answer: %v", origin, err), err: err}}
		}
		if left <= 0 {
			return &fault.Error{Kind: fault.Input, Err: &downError{
				msg: fmt.Sprintf("the engine at %s did not answer within %s: %v", origin, wait, err), err: err}}
		}
		if attempt == 0 {
			s.cfg.Logf("waiting up to %s for the engine at %s (%v)", wait, origin, err)
		}
		t := time.NewTimer(min(500*time.Millisecond, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	next := *old
	next.model, next.engine, next.upstream = m.ID, l.engine, up
	if err != nil {
		return s.drop(&next, fmt.Sprintf("the engine does not serve lock %s as model %s: %v", s.cfg.Lock, m.ID, err), hintEngine)
	}
	if up.Version == "" {
		up.Version = l.version
	}
	next.ok, next.checked, next.generation = true, s.cfg.Now(), newGeneration()
	s.state.Store(&next)
	return nil
}

// drop stops claiming the lock for good, for reason.
func (s *Server) drop(old *state, reason, hint string) error {
	next := *old
	next.ok, next.refused, next.reason, next.hint = false, true, reason, hint
	if old.ok {
		s.cfg.Logf("stopped claiming %s: %s", s.cfg.Lock, reason)
	}
	s.state.Store(&next)
	return refusal(&next)
}

// refusal is the error of a sidecar that dropped its lock.
func refusal(st *state) error {
	return &fault.Error{Kind: fault.LockRefused, Err: mismatchError(st.reason), Hint: st.hint}
}

// A downError is the upstream not answering at start; it is
// ErrUpstreamDown to errors.Is.
type downError struct {
	msg string
	err error
}

func (e *downError) Error() string        { return e.msg }
func (e *downError) Unwrap() error        { return e.err }
func (e *downError) Is(target error) bool { return target == ErrUpstreamDown }

// newGeneration returns 16 random bytes in hex.
func newGeneration() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Bound returns the model the sidecar vouches for, as the upstream lists
// it, and what the upstream said about it at the last check; "" and nil
// before the first Check chose it.
func (s *Server) Bound() (model string, up *Upstream) {
	st := s.state.Load()
	return st.model, st.upstream
}

// ServeHTTP answers the well-known document and /healthz, and passes on to
// the upstream what it can attribute to the bound model: requests whose JSON
// body names it (buffered, then replayed), lists of models (cut down to it),
// and engine information that names no model. Everything else is refused
// without the Evalpin-Lock header: a request for another model (404), one
// whose model cannot be told (400, 413), and any other path (403). What is
// passed on carries the header while the lock is claimed; once it is not,
// everything is answered 503.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case lockid.WellKnownPath:
		s.wellKnown(w, r)
		return
	case HealthPath:
		s.health(w, r)
		return
	}
	st := s.state.Load()
	if !st.ok {
		s.refuse(w)
		return
	}
	rule := ruleOf(r, st.engine)
	switch rule.route {
	case routeRefuse:
		notVouched(w, r)
		return
	case routeModel:
		body, ok := s.attribute(w, r, rule, st)
		if !ok {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
		r.GetBody = nil
	case routeModelID:
		id, err := url.PathUnescape(r.URL.EscapedPath()[len(modelsPrefix):])
		if err != nil || !sameModel(st.engine, id, st.model) {
			s.notOurs(w, id, st)
			return
		}
	case routeList:
		r = r.WithContext(context.WithValue(r.Context(), filterKey{}, filtering{rule, st}))
	}
	s.proxy.ServeHTTP(w, r)
}

// WellKnown is the well-known document the sidecar publishes while it
// claims its lock.
type WellKnown struct {
	// Lock is the lock id, and Manifest the lock file it is the id of.
	Lock     lockid.ID       `json:"lock"`
	Manifest json.RawMessage `json:"manifest,omitempty"`
	// Model is the one model the sidecar vouches for, as the upstream lists
	// it: the claim holds for responses to requests for it only.
	Model string `json:"model"`
	// Generation is random hex, new each time a sidecar establishes its
	// claim: a client that saw lock and generation once and sees them again
	// talks to the same claim (a restarted sidecar has a new generation).
	Generation string `json:"generation"`
	// Upstream is what the engine said it serves as Model at the last
	// check.
	Upstream *Upstream `json:"upstream"`
	// VerifiedAt is when the last check that reached the engine passed, and
	// RecheckMS how often the sidecar checks.
	VerifiedAt time.Time `json:"verified_at"`
	RecheckMS  int64     `json:"recheck_ms"`
}

func (s *Server) wellKnown(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "evalpin serve: "+lockid.WellKnownPath+" answers GET only")
		return
	}
	st := s.state.Load()
	if !st.ok {
		s.refuse(w)
		return
	}
	doc := WellKnown{
		Lock:       s.cfg.Lock,
		Manifest:   s.cfg.Manifest,
		Model:      st.model,
		Generation: st.generation,
		Upstream:   st.upstream,
		VerifiedAt: st.checked.UTC(),
		RecheckMS:  s.cfg.Recheck.Milliseconds(),
	}
	w.Header().Set(lockid.Header, string(s.cfg.Lock))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	st := s.state.Load()
	if !st.ok {
		s.refuse(w)
		return
	}
	w.Header().Set(lockid.Header, string(s.cfg.Lock))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "lock": string(s.cfg.Lock), "model": st.model})
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
// serve on a mismatch (an *fault.Error of kind fault.LockRefused wrapping
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

// ListenAndRun checks what s vouches for (Check) and calls checked, then
// listens on the address listen and serves (Run), logging each step: what
// it vouches for, where it listens, and when it stops. An address that
// cannot be listened on is an input error.
func (s *Server) ListenAndRun(ctx context.Context, listen string, checked func()) error {
	start := time.Now()
	if err := s.Check(ctx); err != nil {
		return err
	}
	checked()
	bound, up := s.Bound()
	s.cfg.Logf("vouching for model %s of the %s engine at %s, checked in %s (%s)",
		bound, up.Engine, s.cfg.Upstream.Redacted(), time.Since(start).Round(time.Millisecond), up.Describe())
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fault.Errorf(fault.Input, "pick a free address with --listen, e.g. --listen 127.0.0.1:0", "serve: %w", err)
	}
	s.cfg.Logf("listening on http://%s (upstream %s, model %s, re-checking every %s)", ln.Addr(), s.cfg.Upstream.Redacted(), bound, s.cfg.Recheck)
	if err := s.Run(ctx, ln); err != nil {
		return err
	}
	s.cfg.Logf("stopped")
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
