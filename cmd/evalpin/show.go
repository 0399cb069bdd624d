package main

import (
	"context"
	"fmt"

	reports "github.com/evalpin/evalpin/report"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/runs"
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
	caseID := ""
	if len(pos) == 2 {
		caseID = pos[1]
	}
	s, err := runs.Show(ctx, db, pos[0], caseID)
	if err != nil {
		return fmt.Errorf("show: %w", err)
	}
	if caseID != "" {
		return reports.WriteCase(stdout, s.Record, caseID, s.Case, s.Results, *format == "json")
	}
	return reports.WriteRun(stdout, s.Record, s.Results, *width, *format == "json")
}
