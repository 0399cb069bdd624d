package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/lineage"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	reports "github.com/evalpin/evalpin/report"
)

var promoteUsage, locksUsage = help("promote"), help("locks")

// lineageFlags adds the flags of the lineage's commands.
func (a *app) lineageFlags(fs *cli.Flags) (track, file, db *string) {
	track, file = addLineageFlags(fs)
	db = addDBFlag(fs)
	a.defaults(fs, "track", "lineage", "db")
	return track, file, db
}

// addLineageFlags adds --track and --lineage to fs.
func addLineageFlags(fs *cli.Flags) (track, file *string) {
	return fs.String("track", lineage.DefaultTrack, "the track's `NAME`"), fs.String("lineage", "lineage.jsonl", "the lineage `FILE`, kept in git")
}

// runPromote implements "evalpin promote".
func (a *app) runPromote(ctx context.Context, args []string) error {
	fs := a.flags("promote", promoteUsage)
	track, file, db := a.lineageFlags(fs)
	note := fs.String("note", "", "why the lock is promoted")
	by := fs.String("by", "", "who promotes it (default: $USER)")
	pos, err := fs.ParseWant(args, a.getenv, "LOCK|RUN")
	if err != nil {
		return err
	}
	id, err := runs.LockOfArg(ctx, func() (*store.DB, error) { return openExistingStore(*db) }, pos[0])
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	lin, err := lineage.Read(*file)
	if err != nil {
		return err
	}
	prev, hasPrev := lin.Current(*track)
	if err := lin.Promote(lineage.Promotion{Track: *track, Lock: id, At: a.lockClock(), By: cmp.Or(*by, a.getenv("USER")), Note: *note}); err != nil {
		return err
	}
	after := "the track's first lock"
	if hasPrev {
		after = "after " + string(prev.Lock)
	}
	fmt.Fprintf(a.stderr, "promoted %s on track %s, %s; commit %s\n", id, *track, after, *file)
	return nil
}

// runLocks implements "evalpin locks".
func (a *app) runLocks(ctx context.Context, args []string) error {
	fs := a.flags("locks", locksUsage)
	track, file, db := a.lineageFlags(fs)
	format := fs.Choice("format", "table", "output `format`: table or json", "table", "json")
	if _, err := fs.ParseWant(args, a.getenv); err != nil {
		return err
	}
	if !fs.Given("track") {
		*track = ""
	}
	lin, err := lineage.Read(*file)
	if err != nil {
		return err
	}
	var locks []eval.LockSummary
	if _, err := os.Stat(*db); !errors.Is(err, iofs.ErrNotExist) {
		store, err := openExistingStore(*db)
		if err != nil {
			return err
		}
		defer store.Close()
		if locks, err = runs.Locks(ctx, store); err != nil {
			return err
		}
	}
	return reports.WriteLocks(a.stdout, locks, lin, *track, *format == "json")
}
