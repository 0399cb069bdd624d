package forks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// An UnknownError says that a selector names nothing with a complete run of
// the suite. It matches store.ErrNotFound.
type UnknownError struct {
	Selector, Suite string
	By              string // what it was read as: compare.SelectLabel, …; "" when as nothing stored
}

func (e *UnknownError) Error() string {
	what := "no run id, stored lock, label (key=value) or model name"
	switch e.By {
	case compare.SelectLabel:
		what = "no complete run labelled"
	case compare.SelectLock:
		what = "no complete run of the lock"
	case compare.SelectModel:
		what = "no complete run of the model"
	}
	return fmt.Sprintf("%s %s of suite %s is stored", what, untrusted.Line(e.Selector), untrusted.Line(e.Suite))
}

func (e *UnknownError) Is(target error) bool { return target == store.ErrNotFound }

// A SettingsError says that a selector names only runs at settings other
// than the first fork's: Changes says which, from the first's to Run's
// (eval.Settings.Changes).
type SettingsError struct {
	Selector string
	Run      eval.Run // the newest run it names
	First    eval.Run
	Changes  []string
}

func (e *SettingsError) Error() string {
	return fmt.Sprintf("%s names run %d, made at other settings than run %d: %s",
		untrusted.Line(e.Selector), e.Run.ID, e.First.ID, strings.Join(e.Changes, ", "))
}

// Unwrap makes a SettingsError an input error with its fix.
func (e *SettingsError) Unwrap() error {
	return fault.Errorf(fault.Input, "run the suite against that fork at the first's settings ('evalpin run --suite … --label …'), or name a run of the same settings by its id", "settings differ")
}

// A SameRunError says that two selectors name one run.
type SameRunError struct {
	A, B string
	Run  int64
}

func (e *SameRunError) Error() string {
	return fmt.Sprintf("%s and %s both name run %d", untrusted.Line(e.A), untrusted.Line(e.B), e.Run)
}

func (e *SameRunError) Unwrap() error {
	return fault.Errorf(fault.Input, "name each fork once ('evalpin runs' lists the runs, 'evalpin locks' the locks)", "same run")
}

// resolver resolves selectors against the complete runs of one suite.
type resolver struct {
	db    *store.DB
	suite string
	runs  []eval.Run // the complete runs of the whole suite, oldest first
}

func newResolver(ctx context.Context, db *store.DB, suite string) (*resolver, error) {
	all, err := db.Runs(ctx, store.RunFilter{Suite: suite, Status: eval.RunComplete})
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(r eval.Run) bool { return r.Selection != "" })
	return &resolver{db: db, suite: suite, runs: all}, nil
}

// Resolve returns the run each selector names (see docs/forks.md): a run id
// ("12", "#12"), a lock id or unique prefix, a label key=value or a model
// name, each read as the newest complete run of suite at the settings of the
// first selector's run. Digits that are both a run and a lock's prefix, or a
// lock prefix that is also a model name, are a *runs.AmbiguousError; a
// selector of nothing stored an *UnknownError; one of runs only at other
// settings a *SettingsError; two selectors of one run a *SameRunError.
func Resolve(ctx context.Context, db *store.DB, selectors []string, suite string) ([]compare.Fork, error) {
	r, err := newResolver(ctx, db, suite)
	if err != nil {
		return nil, err
	}
	var forks []compare.Fork
	for i, sel := range selectors {
		var first *eval.Run
		if i > 0 {
			first = &forks[0].Run
		}
		f, err := r.resolve(ctx, sel, first)
		if err != nil {
			return nil, err
		}
		for _, g := range forks {
			if g.Run.ID == f.Run.ID {
				return nil, &SameRunError{A: g.Selector, B: sel, Run: f.Run.ID}
			}
		}
		forks = append(forks, f)
	}
	return forks, nil
}

// resolve returns the fork sel names; first is the first fork's run, nil
// for the first selector.
func (r *resolver) resolve(ctx context.Context, sel string, first *eval.Run) (compare.Fork, error) {
	f := compare.Fork{Selector: sel}
	if id, ok := runID(sel); ok {
		run, err := r.explicitRun(ctx, sel, id, first)
		f.By, f.Run = compare.SelectRun, run
		return f, err
	}
	by, match, err := r.matcher(ctx, sel)
	if err != nil {
		return f, err
	}
	f.By = by
	if by == compare.SelectRun {
		f.Run, err = r.explicitRun(ctx, sel, mustInt(sel), first)
		return f, err
	}
	f.Run, err = r.newest(sel, by, match, first)
	return f, err
}

// runID reads "#12" as run 12, and "12" when it is not also a stored lock's
// prefix (matcher reads those).
func runID(sel string) (int64, bool) {
	digits, hash := strings.CutPrefix(sel, "#")
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, hash || !lockid.IsPrefix(sel)
}

// explicitRun returns run id of the suite, complete and at first's settings.
func (r *resolver) explicitRun(ctx context.Context, sel string, id int64, first *eval.Run) (eval.Run, error) {
	run, err := r.db.Run(ctx, id)
	switch {
	case err != nil:
		return run, err
	case run.Suite != r.suite:
		return run, fault.Errorf(fault.Input, "", "run %d is of suite %s, not %s", run.ID, untrusted.Line(run.Suite), untrusted.Line(r.suite))
	case run.Status != eval.RunComplete:
		return run, &runs.IncompleteError{Run: run}
	case first != nil && run.SettingsHash != first.SettingsHash:
		return run, &SettingsError{Selector: sel, Run: run, First: *first, Changes: first.Settings.Changes(run.Settings)}
	}
	return run, nil
}

// matcher says what sel names besides "#N" and short digits, and returns
// the test of the runs it names: a label, a lock (digits that are a run and
// a lock's prefix are ambiguous; digits of no lock are a run id: SelectRun
// without a test), a model.
func (r *resolver) matcher(ctx context.Context, sel string) (string, func(eval.Run) bool, error) {
	if k, v, ok := strings.Cut(sel, "="); ok {
		return compare.SelectLabel, func(run eval.Run) bool { l, ok := run.Labels[k]; return ok && l == v }, nil
	}
	model := func(run eval.Run) bool { return run.Model == sel }
	hasModel := slices.ContainsFunc(r.runs, model)
	if !lockid.Valid(sel) && !lockid.IsPrefix(sel) {
		return compare.SelectModel, model, nil
	}
	lock, err := runs.ResolveLock(ctx, r.db, sel)
	var amb *runs.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return "", nil, err
	case errors.Is(err, store.ErrNotFound):
		if _, digits := runDigits(sel); digits {
			return compare.SelectRun, nil, nil // digits of no stored lock: a run id
		}
		return compare.SelectModel, model, nil
	case err != nil:
		return "", nil, err
	}
	var readings []string
	if _, digits := runDigits(sel); digits {
		if run, err := r.db.Run(ctx, mustInt(sel)); err == nil {
			readings = append(readings, fmt.Sprintf("run %d (write #%d)", run.ID, run.ID))
		}
	}
	if hasModel {
		readings = append(readings, "the model "+untrusted.Line(sel))
	}
	if len(readings) > 0 {
		return "", nil, &runs.AmbiguousError{Arg: sel, Readings: append(readings, "lock "+string(lock))}
	}
	return compare.SelectLock, func(run eval.Run) bool { return run.Lock == lock }, nil
}

// runDigits reports whether sel is all digits, a run id's shape.
func runDigits(sel string) (int64, bool) {
	id, err := strconv.ParseInt(sel, 10, 64)
	return id, err == nil && id > 0
}

func mustInt(sel string) int64 { id, _ := runDigits(sel); return id }

// newest returns the newest run match accepts, at first's settings (of the
// first's suite hash if there is one) when first is not nil.
func (r *resolver) newest(sel, by string, match func(eval.Run) bool, first *eval.Run) (eval.Run, error) {
	var named []eval.Run
	for _, run := range r.runs {
		if match(run) {
			named = append(named, run)
		}
	}
	if len(named) == 0 {
		return eval.Run{}, &UnknownError{Selector: sel, Suite: r.suite, By: by}
	}
	if first == nil {
		return named[len(named)-1], nil
	}
	like := slices.DeleteFunc(slices.Clone(named), func(run eval.Run) bool { return run.SettingsHash != first.SettingsHash })
	if len(like) == 0 {
		last := named[len(named)-1]
		return last, &SettingsError{Selector: sel, Run: last, First: *first, Changes: first.Settings.Changes(last.Settings)}
	}
	for _, run := range slices.Backward(like) {
		if run.SuiteHash == first.SuiteHash {
			return run, nil
		}
	}
	return like[len(like)-1], nil
}
