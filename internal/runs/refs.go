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
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A Ref is what an argument naming one side of a comparison names, read in
// this order (docs/diff.md, "Choosing the runs"):
//
//  1. an existing file: a baseline file, decoded and verified
//     (ReadBaselineFile);
//  2. a run id, "12" or "#12": a stored run (store.ResolveRun);
//  3. anything else: a lock id, whose run LoadPair chooses by the other side.
//
// Exactly one of File, Run and Lock is set.
type Ref struct {
	Arg  string              // the argument as given
	File *baselines.Baseline // a baseline file's content
	Run  int64               // a run id
	Lock lockid.ID           // a lock id
}

// An AmbiguousError says that an argument reads more than one way: a file
// named 12 beside the run id 12, or a file named like a lock id.
type AmbiguousError struct {
	Arg      string
	Readings []string // "the baseline file 12", "run 12", "lock sha256:…"
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%s is ambiguous: it can be %s", e.Arg, strings.Join(e.Readings, " or "))
}

// ParseRef reads arg as a Ref without a database: a file is read with
// ReadBaselineFile (and its errors returned), a run id or a lock id
// remembered. An arg that reads more than one way is an *AmbiguousError; one
// that is none of them is taken for a lock id of a shape evalpin may not know.
func ParseRef(arg string) (Ref, error) {
	r := Ref{Arg: arg}
	var readings []string
	isFile := false
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		isFile = true
		readings = append(readings, "the baseline file "+arg)
	}
	if id, ok := runID(arg); ok {
		r.Run = id
		readings = append(readings, "run "+arg)
	}
	if lockid.Valid(arg) {
		r.Lock = lockid.ID(arg)
		readings = append(readings, "lock "+arg)
	}
	switch {
	case len(readings) > 1:
		return Ref{Arg: arg}, &AmbiguousError{Arg: arg, Readings: readings}
	case isFile:
		b, err := ReadBaselineFile(arg)
		if err != nil {
			return Ref{Arg: arg}, err
		}
		return Ref{Arg: arg, File: b}, nil
	case len(readings) == 0:
		r.Lock = lockid.ID(arg)
	}
	return r, nil
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
// lock id: the run of a run id (store.ResolveRun, whose error for an id no
// run has matches store.ErrNotFound), else the newest complete run of the
// lock ref (NewestComplete).
func Resolve(ctx context.Context, db *store.DB, ref string) (eval.Run, error) {
	r, err := db.ResolveRun(ctx, ref)
	if errors.Is(err, store.ErrNotRunID) {
		return NewestComplete(ctx, db, lockid.ID(ref))
	}
	return r, err
}

// NewestComplete returns the newest complete run of exactly lock (not of a
// lock it is a prefix of), or a *NoCompleteRunError.
func NewestComplete(ctx context.Context, db *store.DB, lock lockid.ID) (eval.Run, error) {
	all, err := db.Runs(ctx, store.RunFilter{Lock: string(lock), Status: eval.RunComplete})
	if err != nil {
		return eval.Run{}, err
	}
	for _, r := range slices.Backward(all) {
		if r.Lock == lock {
			return r, nil
		}
	}
	return eval.Run{}, &NoCompleteRunError{Lock: lock}
}

// LatestLike returns the newest complete run of lock with the suite and
// settings of like (a stored run, or a baseline file's), or a
// *NoCompleteRunError.
func LatestLike(ctx context.Context, db *store.DB, lock lockid.ID, like eval.Run) (eval.Run, error) {
	r, err := db.LatestCompleteRun(ctx, lock, like.SuiteHash, like.SettingsHash)
	if errors.Is(err, store.ErrNotFound) {
		return r, &NoCompleteRunError{Lock: lock, Like: &like}
	}
	return r, err
}

// A NoCompleteRunError says that the store holds no complete run of a lock:
// none at all, or, when Like is set, none of Like's suite at Like's settings.
// It matches store.ErrNotFound.
type NoCompleteRunError struct {
	Lock lockid.ID
	Like *eval.Run
}

func (e *NoCompleteRunError) Error() string {
	if e.Like == nil {
		return fmt.Sprintf("no complete run of lock %s is stored", untrusted.Line(string(e.Lock)))
	}
	return fmt.Sprintf("lock %s has no complete run of suite %s at the settings of %s",
		untrusted.Line(string(e.Lock)), untrusted.Line(e.Like.Suite), Label(*e.Like))
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
