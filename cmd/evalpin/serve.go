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
	check := &dirCheck{dir: *dir, manifest: m, cache: cache, rehash: *rehash, logf: logf}
	s, err := serve.New(serve.Config{
		Upstream: up,
		Lock:     id,
		Manifest: manifest,
		Check:    check.run,
		Recheck:  *recheck,
		Logf:     logf,
	})
	if err != nil {
		return err
	}

	start := time.Now()
	if err := s.Check(ctx); err != nil {
		if check.last != nil && !check.last.OK() {
			check.last.WriteText(stderr)
		}
		return err
	}
	logf("%s matches lock %s (verified in %s)", *dir, id, time.Since(start).Round(time.Millisecond))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return eval.Errorf(eval.KindInput, "pick a free address with --listen, e.g. --listen 127.0.0.1:0", "serve: %w", err)
	}
	logf("listening on http://%s (upstream %s, re-checking every %s)", ln.Addr(), up, *recheck)
	if err := s.Run(ctx, ln); err != nil {
		return err
	}
	logf("stopped")
	return nil
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
}

func (c *dirCheck) run(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rep, err := lock.Verify(ctx, c.dir, c.manifest, lock.Options{Cache: c.cache, Rehash: c.rehash && c.runs == 0})
	c.runs++
	if err != nil {
		return err
	}
	c.last = rep
	if !rep.OK() {
		return errors.New(changesText(rep))
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
