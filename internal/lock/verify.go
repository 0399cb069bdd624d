package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A Report is the outcome of Verify: whether a directory is the deliverable a
// lock describes, and if not, which files differ.
type Report struct {
	Dir    string    `json:"dir"`
	Lock   lockid.ID `json:"lock"`   // the lock verified against
	Actual lockid.ID `json:"actual"` // the lock of the directory with the same source, serving and generation
	// Roles says per role whether its files differ.
	Roles []RoleStatus `json:"roles"`
	// Changes lists each changed, missing (in the lock only) and extra (in the
	// directory only) file; empty when the directory matches.
	Changes []FileChange `json:"changes"`
}

// OK reports whether the directory matches the lock.
func (r *Report) OK() bool { return len(r.Changes) == 0 }

// Words says which roles differ: "template changed; tokenizer same; weights same".
func (r *Report) Words() string { return strings.Join(roleWords(r.Roles), "; ") }

// Err returns nil when the directory matches, or else an fault.LockRefused
// error that names the differing files with their roles.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	var names []string
	for _, c := range r.Changes {
		if !c.PartsOnly { // its parts are named themselves
			names = append(names, fmt.Sprintf("%s (%s) %s", clean(c.Path), c.Role, c.Change))
		}
	}
	if len(names) > 5 {
		names = append(names[:5], fmt.Sprintf("and %d more", len(names)-5))
	}
	return fault.Errorf(fault.LockRefused,
		"restore the locked files, or lock the new deliverable with 'evalpin lock create'",
		"%s is not the deliverable of lock %s: %s", clean(r.Dir), r.Lock, strings.Join(names, ", "))
}

// Differences names the files that differ with their roles, at most eight,
// e.g. "model.gguf (weights) changed, tokenizer.json (tokenizer) missing";
// "the files differ" when it names none. Paths are made safe to show.
func (r *Report) Differences() string {
	const show = 8
	var parts []string
	for i, c := range r.Changes {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(r.Changes)-show))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s) %s", untrusted.Clip(c.Path, 300), c.Role, c.Change))
	}
	if len(parts) == 0 {
		return "the files differ"
	}
	return strings.Join(parts, ", ")
}

// Verify hashes dir (cheaply, with opts.Cache: one stat per unchanged file) and
// compares its files with m's. A directory that differs is a Report that is not
// OK, not an error; errors are about reading the directory (fault.Input) or
// a cancelled context. Only the files are compared: the serving layer and
// generation parameters are not in the directory. Options other than Cache,
// Rehash and Workers are ignored.
func Verify(ctx context.Context, dir string, m *Manifest, opts Options) (*Report, error) {
	if m == nil {
		return nil, errors.New("verify: no manifest")
	}
	files, err := scan(ctx, dir, opts, m.Version)
	if err != nil {
		return nil, err
	}
	actual := *m
	actual.Files = files
	d := Diff(m, &actual)
	if len(d.Files) > 0 {
		// Only a changed directory needs its own id; an unchanged one has m's,
		// and skipping the canonical JSON keeps a cached verify at a stat per file.
		if err := actual.Seal(); err != nil {
			return nil, fmt.Errorf("verify %s: %w", dir, err)
		}
	}
	r := &Report{Dir: dir, Lock: m.Lock, Actual: actual.Lock, Roles: d.Roles, Changes: d.Files}
	for i := range r.Changes {
		switch r.Changes[i].Change {
		case Added:
			r.Changes[i].Change = Extra
		case Removed:
			r.Changes[i].Change = Missing
		}
	}
	return r, nil
}
