package runs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A Ref is what an argument naming one side of a comparison names, read in
// this order (docs/diff.md, "Choosing the runs"):
//
//  1. an existing file: a baseline file, decoded and verified
//     (ReadBaselineFile);
//  2. "#12": run 12;
//  3. "12": run 12, or a lock whose id starts with those digits when they
//     are at least lockid.MinPrefix long: both at once is ambiguous;
//  4. a lock id, or a prefix of one with or without its kind ("e80e61",
//     "sha256:e80e61"), which must name one stored lock; the lock's run is
//     chosen by the other side (LoadPair) or is its newest complete run
//     (Resolve);
//  5. anything else is taken for a lock id of a shape evalpin may not know.
//
// An argument that reads more than one way is an *AmbiguousError that lists
// the candidates. Exactly one of File, Run and Lock is set; a Lock that is a
// prefix is resolved against the store (resolve) before it is used.
type Ref struct {
	Arg  string              // the argument as given
	File *baselines.Baseline // a baseline file's content
	Run  int64               // a run id
	Lock lockid.ID           // a lock id, or a prefix of one until resolved
}

// An AmbiguousError says that an argument reads more than one way: a file
// named 12 beside the run id 12, a file named like a lock id, digits that are
// a run id and a lock's prefix, or a prefix of several locks.
type AmbiguousError struct {
	Arg      string
	Readings []string // "the baseline file 12", "run 12", "lock sha256:…"
	File     bool     // one reading is a file
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%s is ambiguous: it can be %s", e.Arg, strings.Join(e.Readings, " or "))
}

// An UnknownLockError says that no stored lock starts with a prefix. It
// matches store.ErrNotFound.
type UnknownLockError struct{ Prefix string }

func (e *UnknownLockError) Error() string {
	return fmt.Sprintf("no stored lock starts with %s", untrusted.Line(e.Prefix))
}

func (e *UnknownLockError) Is(target error) bool { return target == store.ErrNotFound }

// NotARefError is the error of an argument that is neither a run id nor a
// lock id or prefix.
type NotARefError struct{ Arg string }

func (e *NotARefError) Error() string {
	return fmt.Sprintf("%q is neither a run id nor a lock id (nor a prefix of one, at least %d hex digits)", untrusted.Line(e.Arg), lockid.MinPrefix)
}

// Is makes a NotARefError a store.ErrNotRunID, and a store.ErrNotFound: it
// names nothing stored.
func (e *NotARefError) Is(target error) bool {
	return target == store.ErrNotRunID || target == store.ErrNotFound
}

// ParseRef reads arg as a Ref without a database: a file is read with
// ReadBaselineFile (and its errors returned), a run id or a lock id (or
// prefix) remembered. A file whose name reads as a run or lock id too is an
// *AmbiguousError.
func ParseRef(arg string) (Ref, error) {
	r := parseStored(arg)
	fi, err := os.Stat(arg)
	if err != nil || !fi.Mode().IsRegular() {
		return r, nil
	}
	var also string
	switch {
	case r.Run > 0:
		also = "run " + arg
	case r.Lock.Valid() || lockid.IsPrefix(arg):
		also = "lock " + arg
	default:
		b, err := ReadBaselineFile(arg)
		if err != nil {
			return Ref{Arg: arg}, err
		}
		return Ref{Arg: arg, File: b}, nil
	}
	return Ref{Arg: arg}, &AmbiguousError{Arg: arg, Readings: []string{"the baseline file " + arg, also}, File: true}
}

// parseStored reads arg as what a store holds: a run id, else a lock id or
// prefix.
func parseStored(arg string) Ref {
	if id, ok := runID(arg); ok {
		return Ref{Arg: arg, Run: id}
	}
	return Ref{Arg: arg, Lock: lockid.ID(arg)}
}

// resolve fixes what r names in db (rules 3 and 4 of Ref): digits that are
// a run id and a stored lock's prefix, or a prefix of several locks, are an
// *AmbiguousError; a prefix of no lock an *UnknownLockError.
func (r Ref) resolve(ctx context.Context, db *store.DB) (Ref, error) {
	if r.File == nil && r.Run == 0 && !r.Lock.Valid() && !lockid.IsPrefix(strings.TrimPrefix(r.Arg, "#")) {
		return r, &NotARefError{Arg: r.Arg}
	}
	if r.File != nil || db == nil || r.Lock.Valid() || strings.HasPrefix(r.Arg, "#") || !lockid.IsPrefix(r.Arg) {
		return r, nil
	}
	locks, err := matchLocks(ctx, db, r.Arg)
	if err != nil {
		return r, err
	}
	var readings []string
	if r.Run > 0 {
		if _, err := db.Run(ctx, r.Run); err == nil {
			readings = append(readings, "run "+r.Arg+" (write #"+r.Arg+")")
		} else if !errors.Is(err, store.ErrNotFound) {
			return r, err
		}
		if len(locks) == 0 {
			return r, nil
		}
	}
	for _, l := range locks {
		readings = append(readings, "lock "+string(l))
	}
	switch {
	case len(readings) > 1:
		return r, &AmbiguousError{Arg: r.Arg, Readings: readings}
	case len(locks) == 0:
		return r, &UnknownLockError{Prefix: r.Arg}
	}
	return Ref{Arg: r.Arg, Lock: locks[0]}, nil
}

// matchLocks returns the stored locks prefix names.
func matchLocks(ctx context.Context, db *store.DB, prefix string) ([]lockid.ID, error) {
	all, err := db.LockIDs(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(id lockid.ID) bool { return !id.HasPrefix(prefix) }), nil
}

// ResolveLock returns the stored lock arg names: a lock id (stored or not),
// or the one stored lock a prefix names, with or without its kind.
func ResolveLock(ctx context.Context, db *store.DB, arg string) (lockid.ID, error) {
	r, err := Ref{Arg: arg, Lock: lockid.ID(arg)}.resolve(ctx, db)
	return r.Lock, err
}

// LockOf returns the lock arg names: a lock id (stored or not), a unique
// prefix of a stored lock, or the lock of a stored run (the rules of Ref).
func LockOf(ctx context.Context, db *store.DB, arg string) (lockid.ID, error) {
	r, err := parseStored(arg).resolve(ctx, db)
	switch {
	case err != nil:
		return "", err
	case r.Run > 0:
		run, err := db.ResolveRun(ctx, arg)
		return run.Lock, err
	}
	return r.Lock, nil
}

// LockOfArg is LockOf with the store opened by open only when arg is not a
// lock id itself: a full id needs no database (CI's is empty).
func LockOfArg(ctx context.Context, open func() (*store.DB, error), arg string) (lockid.ID, error) {
	if lockid.Valid(arg) {
		return lockid.ID(arg), nil
	}
	db, err := open()
	if err != nil {
		return "", err
	}
	defer db.Close()
	return LockOf(ctx, db, arg)
}

// NeedsStore reports whether r names a stored run (a run id or a lock id)
// rather than a baseline file.
func (r Ref) NeedsStore() bool { return r.File == nil }

// runID reads ref as store.ResolveRun reads a run id: "12" or "#12", a
// positive number. ParseRef needs the reading without a database, so that two
// baseline files compare without one; the store reads the id again when it
// resolves it (TestRunIDAsStore holds the two readings equal).
func runID(ref string) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimPrefix(ref, "#"), 10, 64)
	return id, err == nil && id > 0
}

// Resolve returns the run ref names, for a command that takes a run id or a
// lock id (Ref's rules 2 to 5): the run of a run id (store.ResolveRun, whose
// error for an id no run has matches store.ErrNotFound), else the newest
// complete run of the whole suite of the lock ref names (NewestComplete), of
// the suite named suite when it is not "". A run id of another suite than
// suite is an input error.
func Resolve(ctx context.Context, db *store.DB, ref, suite string) (eval.Run, error) {
	r, err := parseStored(ref).resolve(ctx, db)
	switch {
	case err != nil:
		return eval.Run{}, err
	case r.Run > 0:
		run, err := db.ResolveRun(ctx, ref)
		if err == nil && suite != "" && run.Suite != suite {
			return run, fault.Errorf(fault.Input, "", "run %d is of suite %s, not %s", run.ID, untrusted.Line(run.Suite), untrusted.Line(suite))
		}
		return run, err
	}
	return NewestComplete(ctx, db, r.Lock, suite)
}

// NewestComplete returns the newest complete run of the whole suite of
// exactly lock (not of a lock it is a prefix of), of the suite named suite
// when it is not "", or a *NoCompleteRunError. A run of a part of a suite
// (eval.Selection) is never a lock's complete run: name it by its id.
func NewestComplete(ctx context.Context, db *store.DB, lock lockid.ID, suite string) (eval.Run, error) {
	all, err := db.Runs(ctx, store.RunFilter{Lock: string(lock), Suite: suite, Status: eval.RunComplete})
	if err != nil {
		return eval.Run{}, err
	}
	for _, r := range slices.Backward(all) {
		if r.Lock == lock && r.Selection == "" {
			return r, nil
		}
	}
	return eval.Run{}, &NoCompleteRunError{Lock: lock, Suite: suite}
}

// LatestLike returns the newest complete run of lock with the suite and
// settings of like (a stored run, or a baseline file's): of the whole suite,
// else of like's selection, so that a part of a suite pairs with a whole run
// of it. None is a *NoCompleteRunError.
func LatestLike(ctx context.Context, db *store.DB, lock lockid.ID, like eval.Run) (eval.Run, error) {
	r, err := db.LatestCompleteRun(ctx, lock, like.SuiteHash, like.SettingsHash, "")
	if errors.Is(err, store.ErrNotFound) && like.Selection != "" {
		r, err = db.LatestCompleteRun(ctx, lock, like.SuiteHash, like.SettingsHash, like.Selection)
	}
	if errors.Is(err, store.ErrNotFound) {
		return r, &NoCompleteRunError{Lock: lock, Like: &like}
	}
	return r, err
}

// A NoCompleteRunError says that the store holds no complete run of a lock:
// none at all (of the suite named Suite, when it is set), or, when Like is
// set, none of Like's suite at Like's settings. It matches store.ErrNotFound.
type NoCompleteRunError struct {
	Lock  lockid.ID
	Suite string
	Like  *eval.Run
}

func (e *NoCompleteRunError) Error() string {
	switch {
	case e.Like != nil:
		return fmt.Sprintf("lock %s has no complete run of suite %s at the settings of %s",
			untrusted.Line(string(e.Lock)), untrusted.Line(e.Like.Suite), Label(*e.Like))
	case e.Suite != "":
		return fmt.Sprintf("no complete run of suite %s of lock %s is stored", untrusted.Line(e.Suite), untrusted.Line(string(e.Lock)))
	}
	return fmt.Sprintf("no complete run of lock %s is stored", untrusted.Line(string(e.Lock)))
}

func (e *NoCompleteRunError) Is(target error) bool { return target == store.ErrNotFound }

// An IncompleteError says that a run to compare or export is not complete.
type IncompleteError struct {
	Side string // "baseline" or "candidate" for a side of a comparison, else ""
	Run  eval.Run
}

func (e *IncompleteError) Error() string {
	s := fmt.Sprintf("%s is %s, not complete", Label(e.Run), e.Run.Status)
	if e.Side != "" {
		s = "the " + e.Side + " " + s
	}
	return s
}

// Label names a run in a message: "run 12", or "the baseline file" for a run
// read from one, which has no id.
func Label(r eval.Run) string {
	if r.ID == 0 {
		return "the baseline file"
	}
	return fmt.Sprintf("run %d", r.ID)
}
