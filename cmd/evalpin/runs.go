package main

import (
	"context"
	"fmt"

	reports "github.com/evalpin/evalpin/report"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
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
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("runs: unexpected argument %q (filter with --lock and --suite)", pos[0])
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
	if *lock != "" {
		l, err := runs.ResolveLock(ctx, db, *lock)
		if err != nil {
			return fmt.Errorf("runs: --lock %w", err)
		}
		*lock = string(l)
	}
	list, err := db.Runs(ctx, store.RunFilter{Lock: *lock, Suite: *suite, Status: eval.RunStatus(*status)})
	if err != nil {
		return err
	}
	locks, err := db.LockIDs(ctx)
	if err != nil {
		return err
	}
	abbrev := lockid.Abbrev(locks)
	rows := make([]reports.RunRow, len(list))
	for i, r := range list {
		c, err := db.Counts(ctx, r.ID)
		if err != nil {
			return err
		}
		rows[i] = reports.RunRow{Run: r, Results: c.Results, Errors: c.Errors, LockAbbrev: abbrev[r.Lock]}
	}
	if len(list) == 0 && *format != "json" {
		fmt.Fprintln(stderr, "no runs stored match")
		return nil
	}
	return reports.WriteRuns(stdout, rows, *format == "json")
}
