package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/serve"
)

const serveUsage = `
Usage: evalpin serve --lock FILE --model-dir DIR --upstream URL [--model NAME] [flags]

Serve runs a sidecar in front of an inference engine that cannot report a lock
itself. It vouches for one model the engine serves, never for the others. At
start it
  1. verifies the model directory against the lock file and refuses to start
     on any difference, naming the files (exit 3);
  2. lists the engine's models (GET /v1/models; for Ollama also /api/tags),
     waiting up to --upstream-wait for an engine that is still starting, and
     binds to --model, or to the only model served; several models and no
     --model, none, or a --model the engine does not serve is exit 2;
  3. holds what the engine says it loaded for that model against the lock,
     and refuses to start on any difference (exit 3):
       Ollama (POST /api/show): the blobs of its FROM and ADAPTER lines must
         be the locked Modelfile's FROM and ADAPTER files (Ollama names a
         blob by its content's SHA-256), and its template, system prompt,
         parameters, messages, renderer and parser those of the locked
         Modelfile, which must have a TEMPLATE; its version must be the
         lock's engine_version, if the lock has one;
       vLLM and other OpenAI-compatible engines (GET /v1/models): the
         model's "root", when it is a path on this host, must be the model
         directory or a file in it; a repository id or a path inside a
         container is kept as evidence only.
Then it
  - publishes GET /.well-known/evalpin-lock with the lock, the manifest, the
    bound model ("model"), a random "generation" new at every start, and
    what the engine said ("upstream"),
  - passes on, with the header Evalpin-Lock: <id>, requests whose JSON body
    names the bound model (chat, completions, embeddings, and Ollama's
    /api/chat, /api/generate, /api/embed, /api/embeddings, /api/show; read
    up to 32 MiB, then replayed; streamed responses flushed as they arrive),
    model lists cut down to it (/v1/models, /api/tags, /api/ps,
    /v1/models/NAME), and engine information (/api/version, /version,
    /health, /info, GET /props, /model_info, /get_model_info, /metrics),
  - refuses, without the header, a request for another model (404
    model_not_found), one whose model it cannot tell (400, 413), and every
    other path, Ollama's /api/create, /api/pull, /api/push, /api/copy,
    /api/delete and /api/blobs included (403 evalpin_not_vouched),
  - re-checks the directory and the engine every --recheck and, once either
    no longer matches (a file changed; for Ollama also a model re-created,
    even with the same content, or another Ollama version), answers 503
    with the reason instead of claiming the lock, until it is restarted;
    a re-check that cannot reach the engine changes nothing,
  - answers GET /healthz: 200 with the lock and the model while it claims
    the lock, else 503.
It listens on 127.0.0.1 unless told otherwise, prints the address it listens
on to stderr, and shuts down gracefully on SIGTERM or SIGINT.

Point evalpin at the sidecar, not at the engine, and name the model:
--endpoint http://ADDR/v1 --model NAME.

What it cannot see it does not check: an engine that says nothing about
what it loaded (vLLM serving a repository id, or a directory inside a
container) is trusted to serve the model directory's files; start it from
that directory. A change between two re-checks goes unseen until the next.

Examples:

  evalpin lock create -o tiny.lock ./models/tiny     # model.gguf and its Modelfile
  ollama create tiny -f ./models/tiny/Modelfile
  evalpin serve --lock tiny.lock --model-dir ./models/tiny --upstream http://127.0.0.1:11434 --model tiny
  evalpin serve --lock qwen.lock --model-dir /models/qwen --upstream http://127.0.0.1:8000 \
      --listen 0.0.0.0:8080 --recheck 30s --upstream-wait 10m
`

func (a *app) runServe(ctx context.Context, args []string) error {
	o, err := a.serveFlags(args)
	if err != nil {
		return err
	}
	m, id, manifest, err := readServeLock(o.lock)
	if err != nil {
		return err
	}
	logf := serveLogger(a.stderr)
	cache, _ := lock.OpenDefaultCache() // without one, every check hashes every file
	check := &lock.Checker{Dir: o.dir, Manifest: m, Cache: cache, Rehash: o.rehash, Logf: logf}
	s, err := serve.New(serve.Config{
		Upstream:     o.upstream,
		Lock:         id,
		Manifest:     manifest,
		Check:        check.Check,
		Model:        o.model,
		Ollama:       func() (*serve.OllamaExpect, error) { return serve.ExpectOllama(o.dir, m) },
		ModelDir:     o.dir,
		UpstreamWait: o.wait,
		Recheck:      o.recheck,
		Logf:         logf,
	})
	if err != nil {
		return err
	}

	start := time.Now()
	if err := s.Check(ctx); err != nil {
		if rep := check.Last(); rep != nil && !rep.OK() {
			rep.WriteText(a.stderr)
		}
		return serveAdvice(err)
	}
	bound, ev := s.Bound()
	logf("%s matches lock %s (verified in %s)", o.dir, id, check.Took().Round(time.Millisecond))
	logf("vouching for model %s of the %s engine at %s, checked in %s (%s)", bound, ev.Engine, o.upstream.Redacted(), time.Since(start).Round(time.Millisecond), checkedText(ev))
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fault.Errorf(fault.Input, "pick a free address with --listen, e.g. --listen 127.0.0.1:0", "serve: %w", err)
	}
	logf("listening on http://%s (upstream %s, model %s, re-checking every %s)", ln.Addr(), o.upstream.Redacted(), bound, o.recheck)
	if err := s.Run(ctx, ln); err != nil {
		return err
	}
	logf("stopped")
	return nil
}

// serveOptions are serve's flags, checked.
type serveOptions struct {
	lock, dir, model, listen string
	upstream                 *url.URL
	wait, recheck            time.Duration // wait as serve.Config's UpstreamWait
	rehash                   bool
}

// serveFlags parses and checks serve's command line.
func (a *app) serveFlags(args []string) (*serveOptions, error) {
	fs := a.flags("serve", serveUsage)
	var o serveOptions
	fs.StringVar(&o.lock, "lock", "", "the lock `FILE` of the deliverable (required)")
	fs.StringVar(&o.dir, "model-dir", "", "the model `DIR`ectory the engine serves from (required)")
	upstream := fs.String("upstream", "", "the engine's origin `URL`, e.g. http://127.0.0.1:8000 (required)")
	fs.StringVar(&o.model, "model", "", "the `NAME` of the one model to vouch for, as the engine serves it (default: the only model it serves)")
	fs.DurationVar(&o.wait, "upstream-wait", serve.DefaultUpstreamWait, "how long to wait at start for the engine to answer (0: ask once)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8787", "the `ADDR`ess to listen on (host:port; port 0 picks a free one)")
	fs.DurationVar(&o.recheck, "recheck", serve.DefaultRecheck, "how often to re-check the model directory and what the engine serves")
	fs.BoolVar(&o.rehash, "rehash", false, "hash every file at start instead of trusting the hash cache for unchanged ones")
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErrorf("serve: unexpected argument %q", pos[0])
	}
	for _, f := range []struct{ name, value string }{{"lock", o.lock}, {"model-dir", o.dir}, {"upstream", *upstream}} {
		if f.value == "" {
			return nil, fault.Errorf(fault.Input, "run 'evalpin help serve'", "serve: -%s is required", f.name)
		}
	}
	if o.recheck <= 0 {
		return nil, usageErrorf("serve: -recheck must be positive")
	}
	if o.wait < 0 {
		return nil, usageErrorf("serve: -upstream-wait must not be negative")
	}
	if o.wait == 0 {
		o.wait = -1 // serve.Config: ask once
	}
	o.upstream, err = url.Parse(*upstream)
	if err != nil || o.upstream.Host == "" || (o.upstream.Scheme != "http" && o.upstream.Scheme != "https") {
		return nil, fault.Errorf(fault.Input, "pass the engine's origin, e.g. --upstream http://127.0.0.1:11434", "serve: -upstream %q is not an http URL with a host", *upstream)
	}
	return &o, nil
}

// readServeLock reads the lock file serve vouches for: the manifest, its id
// and the bytes the well-known document publishes.
func readServeLock(path string) (*lock.Manifest, lockid.ID, []byte, error) {
	m, err := lock.ReadFile(path)
	if err != nil {
		return nil, "", nil, fmt.Errorf("serve: %w", err)
	}
	id, err := m.ID()
	if err != nil {
		return nil, "", nil, fault.Errorf(fault.Input, "recreate it with 'evalpin lock create'", "serve: lock file %s: %w", path, err)
	}
	manifest, err := m.Marshal()
	if err != nil {
		return nil, "", nil, fmt.Errorf("serve: %w", err)
	}
	return m, id, manifest, nil
}

// serveLogger returns the sidecar's log: one line at a time on w, each
// starting "evalpin serve: ".
func serveLogger(w io.Writer) func(format string, args ...any) {
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "evalpin serve: "+format+"\n", args...)
	}
}

// checkedText says what of the engine's model was held against the lock.
func checkedText(up *serve.Upstream) string {
	var what string
	if len(up.Checked) > 0 {
		what = "checked against the lock: " + strings.Join(up.Checked, ", ")
	} else {
		what = "only its name checked: the engine says nothing about what it loaded that could be held against the lock"
	}
	switch up.RootCheck {
	case serve.RootNotOnHost:
		what += "; its root " + probeSafe(up.Root) + " is not a path on this host (evidence only)"
	case serve.RootNotAPath:
		what += "; its root " + probeSafe(up.Root) + " is not a path (evidence only)"
	}
	return what
}

// serveAdvice adds the fix, in terms of serve's flags, to an error of the
// first check.
func serveAdvice(err error) error {
	var me *serve.ModelError
	switch {
	case errors.As(err, &me) && len(me.Served) > 0:
		return &fault.Error{Kind: fault.Input, Err: err, Hint: "pass --model NAME with one of the models the engine serves, e.g. --model " + me.Served[0]}
	case errors.As(err, &me):
		return &fault.Error{Kind: fault.Input, Err: err, Hint: "create or load the model in the engine first, then start evalpin serve"}
	case errors.Is(err, serve.ErrUpstreamDown):
		return &fault.Error{Kind: fault.Input, Err: err, Hint: "start the engine first, check --upstream, or wait longer with --upstream-wait"}
	}
	return err
}
