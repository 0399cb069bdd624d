package main

import (
	"context"
	"fmt"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/interrupt"
	"github.com/evalpin/evalpin/internal/replay"
	reports "github.com/evalpin/evalpin/report"
)

// runReplay implements "evalpin replay": flags, playback (internal/replay), report.
func (a *app) runReplay(ctx context.Context, args []string) (err error) {
	stderr := &interrupt.SyncWriter{W: a.stderr} // the progress and signal goroutines write too
	fs := cli.New("replay", help("replay"), fault.ExitStatusText, stderr)
	o, cfg := a.addRunFlags(fs), replay.Config{}
	o.db = addDBFlag(fs)
	fs.StringVar(&cfg.Lock, "lock", "", "replay under lock `OLD` (an id, or a stored lock's unique prefix); refuse an endpoint that serves another")
	fs.StringVar(&cfg.Requests, "requests", "", "replay an incident log `FILE`: OpenAI Batch API input lines or chat-completion request bodies")
	fs.StringVar(&cfg.Outputs, "outputs", "", "the outputs then: the Batch output `FILE` of --requests")
	fs.Var((*cli.Strings)(&cfg.AgainstEndpoints), "against-endpoint", "also ask the same cases of the current lock at endpoint `URL`, side by side")
	fs.StringVar(&cfg.AgainstLock, "against", "", "the lock `NEW` --against-endpoint must serve (default: any)")
	format := fs.Choice("format", "table", "report `format`: table, md or json", "table", "md", "json")
	a.defaults(fs, "endpoint", "model", "db", "api-key-env")
	if _, err := fs.ParseWant(args, a.getenv); err != nil {
		return err
	}
	cfg.Suite, o.suite = o.suite, "replay" // the suite is built from the cases or the requests
	if err := a.checkRunOptions(o); err != nil {
		return err
	}
	var done func(error) error
	cfg.Run, done = a.runExec("replay", o, stderr)
	defer func() { err = done(err) }()
	defer a.watchInterrupts(&cfg.Run, stderr)()
	cfg.Cases, cfg.Run.Resume = o.selection.Cases, runCommandLine("replay", args)
	cfg.OnNote = func(note string) { fmt.Fprintln(stderr, note) }
	cfg.Against = func(eps []string) (replay.Exec, func(error) error) {
		o2 := *o
		o2.endpoints, o2.model = eps, "" // the model whose lock is --against's, or the only one
		return a.runExec("replay", &o2, stderr)
	}
	out, err := replay.Run(ctx, cfg)
	if err != nil {
		return err
	}
	return reports.WriteReplay(a.stdout, *format, out.Playback)
}
