package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// The two sides of diff and gate (--baseline, --candidate) are each a
// baseline file, a run id or a lock id, in that order (docs/diff.md,
// "Choosing the runs"); internal/runs reads and resolves them, and this file
// adds the advice in the words of the flags.

// sideFileHint is the fix for a baseline file named as a side that is refused.
const sideFileHint = "export it again with 'evalpin baseline export'"

// parseSide reads the argument of --flag as a side (runs.ParseRef).
func parseSide(flag, arg string) (runs.Ref, error) {
	ref, err := runs.ParseRef(arg)
	var amb *runs.AmbiguousError
	var doc *runs.DocumentError
	switch {
	case err == nil:
		return ref, nil
	case errors.As(err, &amb):
		return ref, fault.Errorf(fault.Input, "name the file by a path with a directory, e.g. ./"+arg+", or rename it",
			"--%s %w", flag, err)
	case errors.Is(err, runs.ErrOpen):
		return ref, fault.Errorf(fault.Input, "", "%w", err)
	case errors.As(err, &doc):
		return ref, fault.Errorf(fault.Input, sideFileHint,
			"%s: the identity document of lock %s is refused: %w", arg, doc.Lock, doc.Err)
	}
	return ref, fault.Errorf(fault.Input, sideFileHint, "%w", err)
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
	if err != nil {
		return nil, sideAdvice(name, err)
	}
	return p, nil
}

// sideAdvice adds to an error of runs.LoadPair its kind and the fix.
func sideAdvice(name string, err error) error {
	var none *runs.NoCompleteRunError
	var inc *runs.IncompleteError
	switch {
	case errors.As(err, &inc):
		return fault.Errorf(fault.Incomplete,
			"finish it by running the same 'evalpin run' again (it resumes), or pass --allow-incomplete to compare what is stored",
			"%s: %w", name, err)
	case errors.As(err, &none) && none.Like != nil:
		return fault.Errorf(fault.Input, "run the suite against that lock with 'evalpin run', or name a run id ('evalpin runs --lock "+string(none.Lock)+"')", "%w", err)
	case errors.As(err, &none):
		return fault.Errorf(fault.Input, "pass a run id or a full lock id ('evalpin runs' lists both)", "%w", err)
	case errors.Is(err, store.ErrNotFound):
		return fault.Errorf(fault.Input, runsHint, "%w", err)
	}
	return err
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
