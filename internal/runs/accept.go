package runs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"iter"
	"slices"
	"strings"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/outfile"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// An Accepted is a baseline file replaced by a run (Accept): the run, and
// what changed from the file it replaced.
type Accepted struct {
	*Exported
	Path string
	// OldLock is the lock of the file replaced; "" when there was none (or
	// it could not be read: OldErr says why).
	OldLock lockid.ID
	OldErr  error
	// Changed are the cases whose outputs or checks differ from the old
	// file's, Added and Removed the cases only the new or the old holds.
	Changed, Added, Removed []string
}

// Accept replaces the baseline file at path with the run ref names
// (StartExport; the run must be complete) and says what changed from the
// file it replaces, whether or not that one still verifies. The file is
// written whole or not at all (outfile.Write), its directory made if need
// be. Neither file is held: the old one is checked (baselines.Check) and
// read again beside the run's stored results, and the new one is streamed
// from the store (Exported.Stream).
func Accept(ctx context.Context, db *store.DB, ref, path string, opts ExportOptions) (*Accepted, error) {
	opts.AllowIncomplete = false
	x, err := StartExport(ctx, db, ref, opts)
	if err != nil {
		return nil, err
	}
	acc := &Accepted{Exported: x, Path: path}
	old, err := checkBaselineFile(path, path)
	switch {
	case err == nil:
		defer old.Close()
		acc.OldLock = old.Header.Lock
		if err := acc.compare(ctx, db, old); err != nil {
			return nil, err
		}
	case !errors.Is(err, iofs.ErrNotExist):
		acc.OldErr = err
	}
	if err := outfile.WriteMakingDir(path, nil, func(w io.Writer) error { return x.Stream(ctx, db, w) }); err != nil {
		return nil, err
	}
	return acc, nil
}

// compare sets a's Changed, Added and Removed: the cases whose results
// differ between the old file and the run in output, finish reason or
// checks (not latency or token counts alone), and the cases only the run or
// only the old file holds. Both are read in case id order, a case at a time.
func (a *Accepted) compare(ctx context.Context, db *store.DB, old *baselines.File) error {
	return db.ReadExport(ctx, a.Run.ID, a.Run.SuiteHash, func(rd store.ExportRead) error {
		o, stopO := newCaseGroups(old.Results())
		defer stopO()
		c, stopC := newCaseGroups(rd.RunResults)
		defer stopC()
		for o.more() || c.more() {
			if err := errors.Join(o.err, c.err); err != nil {
				return err
			}
			switch {
			case !o.more() || c.more() && c.id < o.id:
				a.Added = append(a.Added, c.id)
				c.advance()
			case !c.more() || o.id < c.id:
				a.Removed = append(a.Removed, o.id)
				o.advance()
			default:
				if !slices.EqualFunc(o.results, c.results, sameResult) {
					a.Changed = append(a.Changed, c.id)
				}
				o.advance()
				c.advance()
			}
		}
		return errors.Join(o.err, c.err)
	})
}

// caseGroups reads a stream of results in case id order a case at a time:
// id and results are the current case's, until advance.
type caseGroups struct {
	pull    func() (eval.Result, error, bool)
	id      string
	results []eval.Result
	next    *eval.Result // the first result of the case after, read ahead
	err     error
}

// newCaseGroups returns the groups of results, at the first, and the
// function that stops reading them.
func newCaseGroups(results iter.Seq2[eval.Result, error]) (*caseGroups, func()) {
	pull, stop := iter.Pull2(results)
	g := &caseGroups{pull: pull}
	if r, err, ok := pull(); err != nil {
		g.err = err
	} else if ok {
		g.next = &r
	}
	g.advance()
	return g, stop
}

// more reports whether there is a current case.
func (g *caseGroups) more() bool { return g.results != nil }

// advance moves to the next case.
func (g *caseGroups) advance() {
	g.id, g.results = "", nil
	if g.next == nil || g.err != nil {
		return
	}
	g.id, g.results, g.next = g.next.CaseID, []eval.Result{*g.next}, nil
	for {
		r, err, ok := g.pull()
		switch {
		case err != nil:
			g.err = err
			return
		case !ok:
			return
		case r.CaseID != g.id:
			g.next = &r
			return
		}
		g.results = append(g.results, r)
	}
}

// sameResult reports whether two results of a case sample say the same:
// output, finish reason, error and checks.
func sameResult(a, b eval.Result) bool {
	return a.Sample == b.Sample && a.Output == b.Output && a.FinishReason == b.FinishReason && a.Error == b.Error &&
		slices.Equal(a.Checks, b.Checks)
}

// Words says in one line what Accept did: the run written, the lock it
// replaced, and the cases whose outputs changed, were added or removed.
func (a *Accepted) Words() string {
	r := a.Run
	s := fmt.Sprintf("accepted run %d (lock %s, suite %s %s) as %s", r.ID, r.Lock, untrusted.Line(r.Suite), untrusted.Line(r.SuiteVersion), untrusted.Line(a.Path))
	switch {
	case a.OldErr != nil:
		return s + fmt.Sprintf("; the file it replaced could not be read (%s)", untrusted.Line(a.OldErr.Error()))
	case a.OldLock == "":
		return s + "; a new file"
	}
	list := func(ids []string) string {
		n := len(ids)
		if n == 0 {
			return "0 cases"
		}
		if n > 5 {
			ids = append(slices.Clone(ids[:5]), "…")
		}
		return fmt.Sprintf("%s (%s)", plural(n, "case"), untrusted.Line(strings.Join(ids, ", ")))
	}
	return s + fmt.Sprintf(", replacing lock %s: %s changed, %s added, %s removed",
		a.OldLock, list(a.Changed), list(a.Added), list(a.Removed))
}
