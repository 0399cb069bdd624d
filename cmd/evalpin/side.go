package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/gate"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// The two sides of diff and gate (--baseline, --candidate) are each a
// baseline file, a run id or a lock id, in that order (docs/diff.md,
// "Choosing the runs"); internal/runs reads and resolves them, and this file
// adds the advice in the words of the flags.

// parseSide reads the argument of --flag as a side (runs.ParseRef).
func parseSide(flag, arg string) (runs.Ref, error) {
	ref, err := runs.ParseRef(arg)
	if _, ok := errors.AsType[*runs.AmbiguousError](err); ok {
		return ref, fmt.Errorf("--%s %w", flag, err)
	}
	return ref, err
}

// compareSides compares the runs f names for the command name; with two
// baseline files it opens no database.
func (a *app) compareSides(ctx context.Context, name string, f *diffFlags) (*compare.Comparison, error) {
	if err := needBoth(name, f); err != nil {
		return nil, err
	}
	pol, err := readPolicy(*f.policy)
	if err != nil {
		return nil, err
	}
	base, err := parseSide("baseline", *f.baseline)
	if err != nil {
		return nil, err
	}
	cand, err := parseSide("candidate", *f.candidate)
	if err != nil {
		return nil, err
	}
	var db *store.DB
	if base.NeedsStore() || cand.NeedsStore() {
		if db, err = openExistingStore(*f.db); err != nil {
			return nil, err
		}
		defer db.Close()
	}
	c, err := gate.Compare(ctx, db, base, cand, gate.Options{
		Policy: pol, AllowIncomplete: *f.allowIncomplete, AllowSettingsMismatch: *f.allowSettings, Warn: a.warn,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// warn writes what does not stop a command: "evalpin: warning: …".
func (a *app) warn(err error) {
	fmt.Fprintf(a.stderr, "evalpin: warning: %s\n", untrusted.Line(err.Error()))
}
