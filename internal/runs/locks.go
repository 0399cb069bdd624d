package runs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/identity"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// Locks returns what db holds of each stored lock, oldest first.
func Locks(ctx context.Context, db *store.DB) ([]eval.LockSummary, error) {
	locks, err := db.Locks(ctx)
	if err != nil {
		return nil, err
	}
	all, err := db.Runs(ctx, store.RunFilter{})
	if err != nil {
		return nil, err
	}
	byID := make(map[lockid.ID]*eval.LockSummary, len(locks))
	out := make([]eval.LockSummary, len(locks))
	for i, l := range locks {
		out[i] = eval.LockSummary{ID: l.ID, Source: l.Source, FirstSeen: l.FirstSeen, Models: []string{}, Labels: []string{}}
		byID[l.ID] = &out[i]
	}
	for _, r := range all {
		s := byID[r.Lock]
		if s == nil {
			continue
		}
		s.Runs++
		if r.Status == eval.RunComplete {
			s.Complete++
		}
		if r.Model != "" {
			s.Models = append(s.Models, r.Model)
		}
		for k, v := range r.Labels {
			s.Labels = append(s.Labels, k+"="+v)
		}
	}
	for i := range out {
		slices.Sort(out[i].Models)
		out[i].Models = slices.Compact(out[i].Models)
		slices.Sort(out[i].Labels)
		out[i].Labels = slices.Compact(out[i].Labels)
	}
	return out, nil
}

// List returns the stored runs filter selects, oldest first, each with its
// counts and its lock's shortest unique prefix among the stored locks. The
// filter's lock may be a prefix of a stored lock, with or without its kind
// (ResolveLock).
func List(ctx context.Context, db *store.DB, filter store.RunFilter) ([]eval.RunRecord, error) {
	if filter.Lock != "" {
		l, err := ResolveLock(ctx, db, filter.Lock)
		if err != nil {
			return nil, err
		}
		filter.Lock = string(l)
	}
	list, err := db.Runs(ctx, filter)
	if err != nil {
		return nil, err
	}
	locks, err := db.LockIDs(ctx)
	if err != nil {
		return nil, err
	}
	abbrev := lockid.Abbrev(locks)
	rows := make([]eval.RunRecord, len(list))
	for i, r := range list {
		c, err := db.Counts(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		rows[i] = eval.RunRecord{Run: r, Results: c.Results, Errors: c.Errors, LockAbbrev: abbrev[r.Lock]}
	}
	return rows, nil
}

// A Shown is a stored run as show prints it: its record and its results, or
// one case's results and the case itself when the store holds it.
type Shown struct {
	Record  eval.RunRecord
	Results []eval.Result
	Case    *eval.Case // with CaseID only; nil when the suite is not stored
}

// NoResultError is the error of a case a run has no result for.
type NoResultError struct {
	Run  int64
	Case string
}

func (e *NoResultError) Error() string {
	return fmt.Sprintf("run %d has no result for case %q", e.Run, untrusted.Line(e.Case))
}

// Is makes a NoResultError a store.ErrNotFound.
func (e *NoResultError) Is(target error) bool { return target == store.ErrNotFound }

// Show returns the run ref names (Resolve) with its counts and its results,
// or, when caseID is not "", that case's.
func Show(ctx context.Context, db *store.DB, ref, caseID string) (Shown, error) {
	run, err := Resolve(ctx, db, ref, "")
	if err != nil {
		return Shown{}, err
	}
	c, err := db.Counts(ctx, run.ID)
	if err != nil {
		return Shown{}, err
	}
	s := Shown{Record: eval.RunRecord{Run: run, Results: c.Results, Errors: c.Errors}}
	if caseID == "" {
		s.Results, err = db.Results(ctx, run.ID)
		return s, err
	}
	s.Results, err = db.Result(ctx, run.ID, caseID)
	if errors.Is(err, store.ErrNotFound) {
		return s, &NoResultError{Run: run.ID, Case: caseID}
	} else if err != nil {
		return s, err
	}
	stored, err := db.Case(ctx, run.SuiteHash, caseID)
	switch {
	case err == nil:
		s.Case = &stored
	case !errors.Is(err, store.ErrNotFound):
		return s, err
	}
	return s, nil
}

// NoDocumentError says that a stored lock has no identity document: its
// endpoint published none (a lock known only by its id).
type NoDocumentError struct{ Lock lockid.ID }

func (e *NoDocumentError) Error() string {
	return fmt.Sprintf("lock %s is stored without its identity document: the endpoint that served it published only the id", e.Lock)
}

// Identity returns the identity document of the stored lock arg names, a
// lock id or a unique prefix (ResolveLock), verified (identity.Parse).
func Identity(ctx context.Context, db *store.DB, arg string) (identity.Document, error) {
	id, err := ResolveLock(ctx, db, arg)
	if err != nil {
		return identity.Document{}, err
	}
	l, err := db.Lock(ctx, id)
	if err != nil {
		return identity.Document{}, err
	}
	if len(l.Manifest) == 0 {
		return identity.Document{}, &NoDocumentError{Lock: id}
	}
	d, err := identity.Parse(id, l.Manifest)
	if err != nil {
		return identity.Document{}, fmt.Errorf("stored identity document of lock %s: %w", id, err)
	}
	return d, nil
}
