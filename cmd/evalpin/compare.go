package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/forks"
	reports "github.com/evalpin/evalpin/report"
)

// runCompare implements "evalpin compare": forks side by side (internal/forks).
func (a *app) runCompare(ctx context.Context, args []string) error {
	fs, out := a.flags("compare", help("compare")), cli.Strings{}
	dbPath, suite := addDBFlag(fs), fs.String("suite", "", "the `NAME` of the suite whose runs are compared (required)")
	format := fs.String("format", string(reports.Table), "report `format`: table, md, json or html (without it, each -o file's extension picks)")
	policy := fs.String("policy", "", "the gate policy YAML `file`: alpha and the gated metrics (default: the built-in policy)")
	fs.Var(&out, "o", "write the report to `FILE` instead of standard output (repeatable: .txt, .md, .json, .html)")
	a.defaults(fs, "db", "policy")
	sels, err := fs.Parse(args, a.getenv)
	outs, oerr := reports.Outputs(*format, fs.Given("format"), out)
	pol, perr := readPolicy(*policy)
	if err = errors.Join(err, oerr, perr); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	db, err := openExistingStore(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := forks.Compare(ctx, db, sels, forks.Options{Suite: *suite, Policy: pol, Picked: reports.ForkPrinter(a.stderr), Warn: a.warn})
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return reports.WriteMatrixAll(m, outs, a.stdout)
}
