package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/evalpin/evalpin/eval/compare"
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

// loadPair reads the sides the flags name; with two baseline files it opens
// no database.
func loadPair(ctx context.Context, name string, f *diffFlags) (*runs.Pair, error) {
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
	p, err := runs.LoadPair(ctx, db, base, cand, runs.PairOptions{AllowIncomplete: *f.allowIncomplete})
	if err == nil {
		return p, nil
	}
	if _, ok := errors.AsType[*runs.IncompleteError](err); ok {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return nil, err
}

// compareSide is the comparison's side of a loaded side.
func compareSide(s runs.Side) compare.Side {
	return compare.Side{Run: s.Run, Results: s.Results, File: s.File}
}

// lockWords says what differs between the locks of the sides; a document
// that does not verify is a warning, and the report names the two ids.
func lockWords(p *runs.Pair, stderr io.Writer) string {
	words, err := p.LockWords()
	if err != nil {
		fmt.Fprintf(stderr, "evalpin: warning: %s; the report names the two lock ids\n", untrusted.Line(err.Error()))
		return ""
	}
	return words
}
