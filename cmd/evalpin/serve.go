package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/serve"
)

var serveUsage = help("serve")

func (a *app) runServe(ctx context.Context, args []string) error {
	o, err := a.serveFlags(args)
	if err != nil {
		return err
	}
	m, id, manifest, err := readServeLock(o.lock)
	if err != nil {
		return err
	}
	logf := serve.Logger(a.stderr)
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
		return err
	}
	bound, ev := s.Bound()
	logf("%s matches lock %s (verified in %s)", o.dir, id, check.Took().Round(time.Millisecond))
	logf("vouching for model %s of the %s engine at %s, checked in %s (%s)", bound, ev.Engine, o.upstream.Redacted(), time.Since(start).Round(time.Millisecond), ev.Describe())
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
	fs.Required("lock", "model-dir", "upstream")
	cli.AtLeast(fs, "recheck", time.Millisecond)
	cli.AtLeast(fs, "upstream-wait", time.Duration(0))
	_, err := fs.ParseWant(args, a.getenv)
	if err != nil {
		return nil, err
	}
	if o.wait == 0 {
		o.wait = -1 // serve.Config: ask once
	}
	if o.upstream, err = serve.ParseUpstream(*upstream); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
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
