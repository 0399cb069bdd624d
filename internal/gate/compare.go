package gate

import (
	"context"
	"fmt"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
)

// Options are how Compare compares two runs.
type Options struct {
	Policy                *compare.Policy // nil: the default policy
	AllowIncomplete       bool            // compare runs that are not complete
	AllowSettingsMismatch bool            // compare runs made at different settings
	// Warn is told what does not stop a comparison: an identity document
	// that does not verify (the report then names the two lock ids), a
	// baseline file of another lock than the lineage's previous one.
	Warn func(error)
}

// Compare reads the runs base and cand name (runs.LoadPair; db may be nil
// when both are baseline files) and compares them (compare.Diff), with the
// noise floor between two runs of the baseline's lock where the store holds
// a second one, and the pair's warnings (labels that differ).
func Compare(ctx context.Context, db *store.DB, base, cand runs.Ref, opts Options) (*compare.Comparison, error) {
	p, err := runs.LoadPair(ctx, db, base, cand, runs.PairOptions{AllowIncomplete: opts.AllowIncomplete})
	if err != nil {
		return nil, err
	}
	words, err := p.LockWords()
	if err != nil && opts.Warn != nil {
		opts.Warn(fmt.Errorf("%w; the report names the two lock ids", err))
	}
	return DiffPair(p, compare.Options{
		Policy: opts.Policy, AllowSettingsMismatch: opts.AllowSettingsMismatch, LockDiff: words,
	})
}

// DiffPair compares the loaded pair p (compare.Diff) with what the pair
// brings to every comparison of it: its cases' labels, the noise floor
// between two runs of the baseline's lock where the store holds a second
// one, and the pair's warnings (labels that differ); opts gives the rest.
func DiffPair(p *runs.Pair, opts compare.Options) (*compare.Comparison, error) {
	opts.Label, opts.Warnings = p.Label, p.Warnings
	if p.Floor != nil { // a re-run of the baseline's lock: the noise floor between runs
		f := side(*p.Floor)
		opts.Floor = &f
	}
	return compare.Diff(side(p.Base), side(p.Cand), opts)
}
