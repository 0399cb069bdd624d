package main

import (
	"context"
	"fmt"

	reports "github.com/evalpin/evalpin/report"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
)

var runsUsage = help("runs")

// runRuns implements "evalpin runs".
func (a *app) runRuns(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("runs", runsUsage)
	dbPath := addDBFlag(fs)
	a.defaults(fs, "db")
	lock := fs.String("lock", "", "only runs of this lock `ID` (or a prefix of it)")
	suite := fs.String("suite", "", "only runs of the suite with this `NAME`")
	status := fs.Choice("status", "", "only runs in this `STATUS`: running, interrupted or complete", string(eval.RunRunning), string(eval.RunInterrupted), string(eval.RunComplete))
	format := fs.Choice("format", "table", "output `format`: table or json", "table", "json")
	check := fs.Bool("check", false, "check the whole database file for damage first (reads all of it)")
	if _, err := fs.ParseWant(args, a.getenv); err != nil {
		return err
	}

	db, err := openExistingStore(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if *check {
		if err := db.QuickCheck(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "database %s: no damage found\n", *dbPath)
	}
	rows, err := runs.List(ctx, db, store.RunFilter{Lock: *lock, Suite: *suite, Status: eval.RunStatus(*status)})
	if err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	if len(rows) == 0 && *format != "json" {
		fmt.Fprintln(stderr, "no runs stored match")
		return nil
	}
	return reports.WriteRuns(stdout, rows, *format == "json")
}
