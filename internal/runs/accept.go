package runs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
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

// Accept replaces the baseline file at path with the run ref names (Export;
// the run must be complete) and says what changed from the file it
// replaces, whether or not that one still verifies. The file is written
// whole or not at all (outfile.Write), its directory made if need be.
func Accept(ctx context.Context, db *store.DB, ref, path string, opts ExportOptions) (*Accepted, error) {
	opts.AllowIncomplete = false
	x, err := Export(ctx, db, ref, opts)
	if err != nil {
		return nil, err
	}
	acc := &Accepted{Exported: x, Path: path}
	old, err := ReadBaselineFile(path)
	switch {
	case err == nil:
		acc.OldLock = old.Header.Lock
		acc.Changed, acc.Added, acc.Removed = changes(old, x.Baseline)
	case !errors.Is(err, iofs.ErrNotExist):
		acc.OldErr = err
	}
	if err := outfile.WriteMakingDir(path, nil, func(w io.Writer) error { return baselines.Encode(w, x.Baseline) }); err != nil {
		return nil, err
	}
	return acc, nil
}

// changes returns the cases whose results differ between old and cur in
// output, finish reason or checks (not latency or token counts alone), and
// the cases only cur or only old holds.
func changes(old, cur *baselines.Baseline) (changed, added, removed []string) {
	byCase := func(b *baselines.Baseline) map[string][]eval.Result {
		m := map[string][]eval.Result{}
		for _, r := range b.Results {
			m[r.CaseID] = append(m[r.CaseID], r)
		}
		return m
	}
	o, c := byCase(old), byCase(cur)
	for id, rs := range c {
		prev, ok := o[id]
		switch {
		case !ok:
			added = append(added, id)
		case !slices.EqualFunc(prev, rs, sameResult):
			changed = append(changed, id)
		}
	}
	for id := range o {
		if _, ok := c[id]; !ok {
			removed = append(removed, id)
		}
	}
	slices.Sort(changed)
	slices.Sort(added)
	slices.Sort(removed)
	return changed, added, removed
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
