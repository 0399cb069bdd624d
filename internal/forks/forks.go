// Package forks sets forks of a model side by side: it resolves what each
// selector names (a run, a lock, a label key=value, a model name) to a
// complete run of one suite at the first's settings, compares every run with
// the first (eval/compare.Diff, one paired Comparison per fork), says in
// words which parts of each fork's deliverable differ from the first's, and
// adjusts the p-values across the whole matrix: Holm over the gated metrics
// of every pair, Benjamini–Hochberg over the rest. report renders the
// resulting compare.Matrix; docs/forks.md describes the command.
package forks

import (
	"context"
	"fmt"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/gate"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
)

// Options are how Compare compares the forks.
type Options struct {
	Suite  string          // the suite's name; required
	Policy *compare.Policy // nil: the default policy
	// Picked, when set, is told which run each selector took, in order,
	// before any result is read.
	Picked func(i int, f compare.Fork)
	// Warn is told what does not stop the comparison: an identity document
	// that does not verify (the fork then has no words).
	Warn func(error)
	// Resamples and Seed are compare.Options'; 0 means their defaults.
	Resamples int
	Seed      uint64
}

// MinForks is how many selectors Compare needs.
const MinForks = 2

// Compare resolves selectors (Resolve), reads every fork's run and compares
// it with the first's, and returns the matrix with its p-values adjusted
// across all pairs.
func Compare(ctx context.Context, db *store.DB, selectors []string, opts Options) (*compare.Matrix, error) {
	if len(selectors) < MinForks {
		return nil, fault.Errorf(fault.Input, "name at least two forks, e.g. evalpin compare LOCK fork=nous --suite S", "compare needs at least %d runs, got %d", MinForks, len(selectors))
	}
	if opts.Suite == "" {
		return nil, fault.Errorf(fault.Input, "name the suite with --suite NAME ('evalpin runs' lists the runs and their suites)", "compare needs the suite")
	}
	forks, err := Resolve(ctx, db, selectors, opts.Suite)
	if err != nil {
		return nil, err
	}
	if opts.Picked != nil {
		for i, f := range forks {
			opts.Picked(i, f)
		}
	}
	pairs := make([]*compare.Comparison, 0, len(forks)-1)
	first := runs.Ref{Arg: fmt.Sprintf("#%d", forks[0].Run.ID), Run: forks[0].Run.ID}
	for i := 1; i < len(forks); i++ {
		ref := runs.Ref{Arg: fmt.Sprintf("#%d", forks[i].Run.ID), Run: forks[i].Run.ID}
		p, err := runs.LoadPair(ctx, db, first, ref, runs.PairOptions{})
		if err != nil {
			return nil, err
		}
		words, err := p.LockWords()
		if err != nil && opts.Warn != nil {
			opts.Warn(fmt.Errorf("%w; the report names the two lock ids", err))
		}
		if p.Base.Run.Lock == p.Cand.Run.Lock {
			words = "same lock"
		}
		forks[i].Differs = words
		c, err := gate.DiffPair(p, compare.Options{Policy: opts.Policy, LockDiff: words, Resamples: opts.Resamples, Seed: opts.Seed})
		if err != nil {
			return nil, fmt.Errorf("compare %s with %s: %w", runs.Label(p.Cand.Run), runs.Label(p.Base.Run), err)
		}
		pairs = append(pairs, c)
	}
	return Build(forks, pairs), nil
}
