package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/ollama"
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
	stderr := a.stderr
	fs := a.flags("serve", serveUsage)
	lockPath := fs.String("lock", "", "the lock `FILE` of the deliverable (required)")
	dir := fs.String("model-dir", "", "the model `DIR`ectory the engine serves from (required)")
	upstream := fs.String("upstream", "", "the engine's origin `URL`, e.g. http://127.0.0.1:8000 (required)")
	model := fs.String("model", "", "the `NAME` of the one model to vouch for, as the engine serves it (default: the only model it serves)")
	wait := fs.Duration("upstream-wait", serve.DefaultUpstreamWait, "how long to wait at start for the engine to answer (0: ask once)")
	listen := fs.String("listen", "127.0.0.1:8787", "the `ADDR`ess to listen on (host:port; port 0 picks a free one)")
	recheck := fs.Duration("recheck", serve.DefaultRecheck, "how often to re-check the model directory and what the engine serves")
	rehash := fs.Bool("rehash", false, "hash every file at start instead of trusting the hash cache for unchanged ones")
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("serve: unexpected argument %q", pos[0])
	}
	for _, f := range []struct{ name, value string }{{"lock", *lockPath}, {"model-dir", *dir}, {"upstream", *upstream}} {
		if f.value == "" {
			return fault.Errorf(fault.Input, "run 'evalpin help serve'", "serve: -%s is required", f.name)
		}
	}
	if *recheck <= 0 {
		return usageErrorf("serve: -recheck must be positive")
	}
	if *wait < 0 {
		return usageErrorf("serve: -upstream-wait must not be negative")
	}
	if *wait == 0 {
		*wait = -1 // serve.Config: ask once
	}
	up, err := url.Parse(*upstream)
	if err != nil || up.Host == "" || (up.Scheme != "http" && up.Scheme != "https") {
		return fault.Errorf(fault.Input, "pass the engine's origin, e.g. --upstream http://127.0.0.1:11434", "serve: -upstream %q is not an http URL with a host", *upstream)
	}
	m, err := lock.ReadFile(*lockPath)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	id, err := m.ID()
	if err != nil {
		return fault.Errorf(fault.Input, "recreate it with 'evalpin lock create'", "serve: lock file %s: %w", *lockPath, err)
	}
	manifest, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}

	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(stderr, "evalpin serve: "+format+"\n", args...)
	}
	var cache *lock.HashCache
	if cacheDir, err := lock.DefaultCacheDir(); err == nil {
		cache = lock.OpenCache(cacheDir)
	}
	check := &dirCheck{dir: *dir, manifest: m, cache: cache, rehash: *rehash, logf: logf}
	s, err := serve.New(serve.Config{
		Upstream:     up,
		Lock:         id,
		Manifest:     manifest,
		Check:        check.run,
		Model:        *model,
		Ollama:       func() (*serve.OllamaExpect, error) { return ollamaExpect(*dir, m) },
		ModelDir:     *dir,
		UpstreamWait: *wait,
		Recheck:      *recheck,
		Logf:         logf,
	})
	if err != nil {
		return err
	}

	start := time.Now()
	if err := s.Check(ctx); err != nil {
		if check.last != nil && !check.last.OK() {
			check.last.WriteText(stderr)
		}
		return serveAdvice(err)
	}
	bound, ev := s.Bound()
	logf("%s matches lock %s (verified in %s)", *dir, id, check.took.Round(time.Millisecond))
	logf("vouching for model %s of the %s engine at %s, checked in %s (%s)", bound, ev.Engine, up.Redacted(), time.Since(start).Round(time.Millisecond), checkedText(ev))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fault.Errorf(fault.Input, "pick a free address with --listen, e.g. --listen 127.0.0.1:0", "serve: %w", err)
	}
	logf("listening on http://%s (upstream %s, model %s, re-checking every %s)", ln.Addr(), up.Redacted(), bound, *recheck)
	if err := s.Run(ctx, ln); err != nil {
		return err
	}
	logf("stopped")
	return nil
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

// ollamaExpect reads what the lock m says an Ollama engine must report for
// the model: the locked Modelfile in dir, its FROM and ADAPTER files' hashes
// from the manifest, and the serving layer's engine version.
func ollamaExpect(dir string, m *lock.Manifest) (*serve.OllamaExpect, error) {
	if e := m.Serving.Engine; e != "" && !strings.EqualFold(e, "ollama") {
		return nil, fmt.Errorf("the lock's serving engine is %q, not ollama", e)
	}
	mf, err := lock.ReadModelfile(dir, m)
	if errors.Is(err, lock.ErrNoModelfile) {
		return nil, errors.New("the lock has no Ollama Modelfile, so it does not say which weights, template and parameters Ollama must serve")
	}
	if err != nil {
		return nil, fmt.Errorf("the locked Modelfile: %w", err)
	}
	name := probeSafe(mf.Path)
	want := &serve.OllamaExpect{Modelfile: name, EngineVersion: m.Serving.EngineVersion}
	for _, refs := range []struct {
		verb string
		refs []lock.ModelfileRef
		out  *[]string
	}{{"FROM", mf.From, &want.Models}, {"ADAPTER", mf.Adapters, &want.Adapters}} {
		for _, r := range refs.refs {
			if r.Path == "" {
				return nil, fmt.Errorf("%s %s in %s names no file of the lock (a model in a registry, or a directory that Ollama converts into a new blob), so Ollama's blobs cannot be held against the lock",
					refs.verb, probeSafe(r.Arg), name)
			}
			*refs.out = append(*refs.out, "sha256:"+r.SHA256)
		}
	}
	if len(want.Models) == 0 {
		return nil, fmt.Errorf("%s has no FROM line", name)
	}
	if mf.Template == nil {
		return nil, fmt.Errorf("%s has no TEMPLATE, so the lock does not say which chat template Ollama serves (Ollama takes one from the weights' metadata or its own default)", name)
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	want.Template, want.System, want.Renderer, want.Parser = *mf.Template, deref(mf.System), deref(mf.Renderer), deref(mf.Parser)
	for _, p := range mf.Parameters {
		want.Parameters = append(want.Parameters, ollama.Parameter{Name: p.Name, Value: p.Value})
	}
	for _, msg := range mf.Messages {
		want.Messages = append(want.Messages, msg.Role+": "+msg.Content)
	}
	return want, nil
}

// A dirCheck verifies the model directory against the lock, as serve.Config's
// Check.
type dirCheck struct {
	dir      string
	manifest *lock.Manifest
	cache    *lock.HashCache // nil hashes every file every time
	rehash   bool            // hash everything on the first check
	logf     func(string, ...any)

	mu   sync.Mutex
	last *lock.Report // the last report, for details on a refusal at start
	runs int
	took time.Duration // how long the first check took
}

func (c *dirCheck) run(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Now()
	rep, err := lock.Verify(ctx, c.dir, c.manifest, lock.Options{Cache: c.cache, Rehash: c.rehash && c.runs == 0})
	c.runs++
	if err != nil {
		return err
	}
	c.last = rep
	if !rep.OK() {
		return errors.New(changesText(rep))
	}
	if c.runs == 1 {
		c.took = time.Since(start)
	}
	if c.cache != nil {
		if err := c.cache.Save(); err != nil {
			c.logf("hash cache: %v", err)
		}
	}
	return nil
}

// changesText names the files that differ, e.g. "model.gguf (weights)
// changed, tokenizer.json (tokenizer) missing".
func changesText(rep *lock.Report) string {
	const show = 8
	var parts []string
	for i, c := range rep.Changes {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(rep.Changes)-show))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s) %s", probeSafe(c.Path), c.Role, strings.ToLower(c.Change)))
	}
	if len(parts) == 0 {
		return "the files differ"
	}
	return strings.Join(parts, ", ")
}
