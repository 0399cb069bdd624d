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

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/ollama"
	"github.com/evalpin/evalpin/internal/serve"
)

func init() {
	commands["serve"] = command{summary: "serve the lock protocol in front of an engine (sidecar proxy)", run: runServe}
}

const serveUsage = `
Usage: evalpin serve --lock FILE --model-dir DIR --upstream URL [flags]

Serve runs a sidecar in front of an inference engine that cannot report a lock
itself. At start it verifies the model directory the engine serves from
against the lock file and refuses to start on any difference, naming the
files. Then it
  - publishes GET /.well-known/evalpin-lock: {"lock": id, "manifest": {...}},
  - proxies every other request to the engine untouched, streamed responses
    (SSE) flushed as they arrive, and adds the header Evalpin-Lock: <id>,
  - re-checks the directory every --recheck (one stat per unchanged file,
    thanks to the hash cache) and, once it no longer matches, answers 503
    with the reason instead of claiming the lock, until it is restarted,
  - answers GET /healthz: 200 while it claims the lock, else 503.
It listens on 127.0.0.1 unless told otherwise, prints the address it listens
on to stderr, and shuts down gracefully on SIGTERM or SIGINT.

Point evalpin at the sidecar, not at the engine: --endpoint http://ADDR/v1.
The sidecar vouches for the files on disk, not for what the engine loaded:
start the engine from the same directory.

Examples:

  evalpin lock create -o tiny.lock ./models/tiny
  evalpin serve --lock tiny.lock --model-dir ./models/tiny --upstream http://127.0.0.1:11434
  evalpin serve --lock qwen.lock --model-dir /models/qwen --upstream http://127.0.0.1:8000 \
      --listen 0.0.0.0:8080 --recheck 30s
`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveUsage, stderr)
	lockPath := fs.String("lock", "", "the lock `FILE` of the deliverable (required)")
	dir := fs.String("model-dir", "", "the model `DIR`ectory the engine serves from (required)")
	upstream := fs.String("upstream", "", "the engine's origin `URL`, e.g. http://127.0.0.1:8000 (required)")
	model := fs.String("model", "", "the `NAME` of the one model to vouch for, as the engine serves it (default: the only model it serves)")
	wait := fs.Duration("upstream-wait", serve.DefaultUpstreamWait, "how long to wait at start for the engine to answer (0: ask once)")
	listen := fs.String("listen", "127.0.0.1:8787", "the `ADDR`ess to listen on (host:port; port 0 picks a free one)")
	recheck := fs.Duration("recheck", serve.DefaultRecheck, "how often to re-check the model directory")
	rehash := fs.Bool("rehash", false, "hash every file at start instead of trusting the hash cache for unchanged ones")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("serve: unexpected argument %q", fs.Arg(0))
	}
	for _, f := range []struct{ name, value string }{{"lock", *lockPath}, {"model-dir", *dir}, {"upstream", *upstream}} {
		if f.value == "" {
			return eval.Errorf(eval.KindInput, "run 'evalpin help serve'", "serve: -%s is required", f.name)
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
		return eval.Errorf(eval.KindInput, "pass the engine's origin, e.g. --upstream http://127.0.0.1:11434", "serve: -upstream %q is not an http URL with a host", *upstream)
	}
	m, err := lock.ReadFile(*lockPath)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	id, err := m.ID()
	if err != nil {
		return eval.Errorf(eval.KindInput, "recreate it with 'evalpin lock create'", "serve: lock file %s: %w", *lockPath, err)
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
	check := &dirCheck{dir: *dir, id: id, manifest: m, cache: cache, rehash: *rehash, logf: logf}
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

	if err := s.Check(ctx); err != nil {
		if check.last != nil && !check.last.OK() {
			check.last.WriteText(stderr)
		}
		return serveAdvice(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return eval.Errorf(eval.KindInput, "pick a free address with --listen, e.g. --listen 127.0.0.1:0", "serve: %w", err)
	}
	bound, _ := s.Model()
	logf("listening on http://%s (upstream %s, model %s, re-checking every %s)", ln.Addr(), up.Redacted(), bound, *recheck)
	if err := s.Run(ctx, ln); err != nil {
		return err
	}
	logf("stopped")
	return nil
}

// serveAdvice adds the fix, in terms of serve's flags, to an error of the
// first check.
func serveAdvice(err error) error {
	var me *serve.ModelError
	switch {
	case errors.As(err, &me) && len(me.Served) > 0:
		return &eval.Error{Kind: eval.KindInput, Err: err, Hint: "pass --model NAME with one of the models the engine serves, e.g. --model " + me.Served[0]}
	case errors.As(err, &me):
		return &eval.Error{Kind: eval.KindInput, Err: err, Hint: "create or load the model in the engine first, then start evalpin serve"}
	case errors.Is(err, serve.ErrUpstreamDown):
		return &eval.Error{Kind: eval.KindInput, Err: err, Hint: "start the engine first, check --upstream, or wait longer with --upstream-wait"}
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
	id       eval.LockID
	manifest *lock.Manifest
	cache    *lock.HashCache // nil hashes every file every time
	rehash   bool            // hash everything on the first check
	logf     func(string, ...any)

	mu   sync.Mutex
	last *lock.Report // the last report, for details on a refusal at start
	runs int
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
		c.logf("%s matches lock %s (verified in %s)", c.dir, c.id, time.Since(start).Round(time.Millisecond))
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
