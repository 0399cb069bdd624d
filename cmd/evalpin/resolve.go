package main

import (
	"context"
	"errors"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/store"
)

// resolveRun returns the run that ref ("12" or "#12") names for the command
// cmd ("show", "baseline export"): the one way commands turn a run id into a
// run. A ref that is no run id, or names no stored run, is an input error
// (exit 2) that says so in the store's words and points at 'evalpin runs'. A
// command that also takes a lock id resolves with runs.Resolve, and adds the
// same advice to its store.ErrNotFound.
func resolveRun(ctx context.Context, db *store.DB, cmd, ref string) (eval.Run, error) {
	r, err := db.ResolveRun(ctx, ref)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNotRunID) {
		return r, fault.Errorf(fault.Input, runsHint, "%s: %w", cmd, err)
	}
	return r, err
}
