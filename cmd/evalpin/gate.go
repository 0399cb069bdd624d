package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/gate"
	"github.com/evalpin/evalpin/internal/interrupt"
	"github.com/evalpin/evalpin/internal/lineage"
	reports "github.com/evalpin/evalpin/report"
)

var gateUsage = help("gate")

// runGate implements "evalpin gate": with --candidate, two stored runs or
// baseline files; without, the gate in one command (internal/gate).
func (a *app) runGate(ctx context.Context, args []string) error {
	stderr := &interrupt.SyncWriter{W: a.stderr} // the progress and signal goroutines write too
	fs := cli.New("gate", gateUsage, fault.ExitStatusText, stderr)
	f := addDiffFlags(fs, "")
	o := a.addRunFlags(fs)
	o.db = f.db
	track, lin := addLineageFlags(fs)
	a.defaults(fs, "db", "baseline", "policy", "o", "track", "lineage", "endpoint", "model", "suite", "samples", "api-key-env")
	if _, err := fs.ParseWant(args, a.getenv); err != nil {
		return err
	}
	outs, err := reportOuts(fs, f)
	if err != nil {
		return err
	}
	var c *compare.Comparison
	if *f.candidate != "" {
		c, err = a.compareSides(ctx, "gate", f)
	} else {
		c, err = a.gateRun(ctx, args, o, f, *track, *lin, stderr)
	}
	if err != nil {
		return err
	}
	if err := reports.WriteAll(c, outs, a.stdout); err != nil {
		return err
	}
	verdictOut := io.Writer(a.stdout)
	if len(outs) > 0 && outs[0].Path == "" {
		verdictOut = stderr // keep a machine-readable report alone on stdout
	}
	if err := reports.WriteVerdict(verdictOut, c); err != nil {
		return err
	}
	err = c.Err()
	if e, ok := errors.AsType[*compare.InconclusiveError](err); ok && fs.IsSet("db") {
		e.Show = "evalpin show --db " + cli.Quote(*f.db)
	}
	return err
}

// gateRun runs the candidate against the endpoint and compares it with the
// baseline --baseline names, "previous" by default (internal/gate).
func (a *app) gateRun(ctx context.Context, args []string, o *runOptions, f *diffFlags, track, linPath string, stderr io.Writer) (c *compare.Comparison, err error) {
	if err := a.checkRunOptions(o); err != nil {
		return nil, err
	}
	pol, err := readPolicy(*f.policy)
	if err != nil {
		return nil, err
	}
	lin, err := lineage.Read(linPath)
	if err != nil {
		return nil, err
	}
	x, done := a.runExec("gate", o, stderr)
	defer func() { err = done(err) }()
	x.Resume = runCommandLine("gate", args)
	defer a.watchInterrupts(&x, stderr)()
	out, err := gate.Run(ctx, gate.Config{
		Run: x, Baseline: *f.baseline, Track: track, Lineage: lin, Override: o.settings, Policy: pol,
		OnBaseline: func(words string) { fmt.Fprintf(stderr, "baseline: %s\n", words) }, Warn: a.warn,
	})
	if out.Ending.Note != "" {
		fmt.Fprintln(stderr, out.Ending.Note)
	}
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	return out.Comparison, nil
}
