package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/serve"
)

var serveUsage = help("serve")

func (a *app) runServe(ctx context.Context, args []string) error {
	o, err := a.serveFlags(args)
	if err != nil {
		return err
	}
	m, id, manifest, err := lock.ReadFileID(o.lock)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
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

	err = s.ListenAndRun(ctx, o.listen, func() {
		logf("%s matches lock %s (verified in %s)", o.dir, id, check.Took().Round(time.Millisecond))
	})
	if rep := check.Last(); err != nil && rep != nil && !rep.OK() {
		rep.WriteText(a.stderr)
	}
	return err
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
