package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	reports "github.com/evalpin/evalpin/report"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

var showUsage = help("show")

// runShow implements "evalpin show".
func (a *app) runShow(ctx context.Context, args []string) error {
	stdout := a.stdout
	fs := a.flags("show", showUsage)
	dbPath := addDBFlag(fs)
	a.defaults(fs, "db")
	format := fs.Choice("format", "table", "output `format`: table or json", "table", "json")
	width := fs.Int("width", 60, "show at most `N` characters of each output in the table of results")
	cli.AtLeast(fs, "width", 10)
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	if pos, err = fs.Want(pos, "RUN", "[CASE]"); err != nil {
		return &fault.Error{Kind: fault.Input, Err: err, Hint: "run 'evalpin runs' for the run ids, then 'evalpin show RUN [CASE]'"}
	}
	db, err := openExistingStore(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	run, err := db.ResolveRun(ctx, pos[0])
	if err != nil {
		return fmt.Errorf("show: %w", err)
	}
	counts, err := db.Counts(ctx, run.ID)
	if err != nil {
		return err
	}
	row := reports.RunRow{Run: run, Results: counts.Results, Errors: counts.Errors}
	if len(pos) == 2 {
		return showCase(ctx, db, row, pos[1], *format == "json", stdout)
	}
	results, err := db.Results(ctx, run.ID)
	if err != nil {
		return err
	}
	return reports.WriteRun(stdout, row, results, *width, *format == "json")
}

// showCase prints one case of a run in full.
func showCase(ctx context.Context, db *store.DB, row reports.RunRow, caseID string, asJSON bool, stdout io.Writer) error {
	run := row.Run
	results, err := db.Result(ctx, run.ID, caseID)
	if errors.Is(err, store.ErrNotFound) {
		return fault.Errorf(fault.Input, fmt.Sprintf("run 'evalpin show %d' for the cases it stored", run.ID),
			"show: run %d has no result for case %q", run.ID, caseID)
	} else if err != nil {
		return err
	}
	var stored *eval.Case
	c, err := db.Case(ctx, run.SuiteHash, caseID)
	switch {
	case err == nil:
		stored = &c
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return reports.WriteCase(stdout, row, caseID, stored, results, asJSON)
}

// histWriteJSON writes v as indented JSON under the one policy for untrusted
// text (untrusted.MarshalIndent).
func histWriteJSON(w io.Writer, v any) error { return untrusted.WriteJSON(w, v, true) }
