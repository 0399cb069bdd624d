package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A sideArg is what a --baseline or --candidate argument names, resolved in
// this order (docs/diff.md, "Naming the two sides"):
//
//  1. an existing file: a baseline file (evalpin baseline export);
//  2. a number: a stored run's id;
//  3. anything else is a lock id: that lock's newest complete run with the
//     other side's suite and settings.
//
// An argument that reads two ways (a file named 12 beside run 12) is
// ambiguous, and an error lists the readings.
type sideArg struct {
	arg  string
	file *baselines.Baseline // for a baseline file
	run  int64               // for a run id
	lock lockid.ID           // for a lock id
}

// parseSide resolves the reading of a side argument that needs no database:
// a file is read, a number or lock id remembered.
func parseSide(flag, arg string) (sideArg, error) {
	s := sideArg{arg: arg}
	var readings []string
	isFile := false
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		isFile = true
		readings = append(readings, "the baseline file "+arg)
	}
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil && id > 0 {
		s.run = id
		readings = append(readings, "run "+arg)
	}
	if lockid.Valid(arg) {
		s.lock = lockid.ID(arg)
		readings = append(readings, "lock "+arg)
	}
	switch {
	case len(readings) > 1:
		return s, fault.Errorf(fault.Input, "name the file by a path with a directory, e.g. ./"+arg+", or rename it",
			"--%s %s is ambiguous: it can be %s", flag, arg, strings.Join(readings, " or "))
	case isFile:
		b, err := readBaselineFile(arg)
		if err != nil {
			return s, err
		}
		s.file, s.run, s.lock = b, 0, ""
	case len(readings) == 0:
		s.lock = lockid.ID(arg) // a lock id evalpin may not know the shape of
	}
	return s, nil
}

// readBaselineFile decodes a baseline file and verifies its lock's identity
// document where it carries one.
func readBaselineFile(path string) (*baselines.Baseline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fault.Errorf(fault.Input, "", "%w", err)
	}
	defer f.Close()
	b, err := baselines.Decode(f, path)
	if err != nil {
		return nil, fault.Errorf(fault.Input, "export it again with 'evalpin baseline export'", "%w", err)
	}
	if h := b.Header; len(h.LockManifest) > 0 {
		if err := verifyLockDocument(h.Lock, h.LockManifest); err != nil {
			return nil, fault.Errorf(fault.Input, "export it again with 'evalpin baseline export'",
				"%s: the identity document of lock %s is refused: %w", path, h.Lock, err)
		}
	}
	return b, nil
}

// needsStore reports whether the side is a stored run.
func (s sideArg) needsStore() bool { return s.file == nil }

// fileSide returns the comparison side of a baseline file, and its cases'
// labels.
func (s sideArg) fileSide() (compare.Side, map[string]eval.Case) {
	h := s.file.Header
	run := eval.Run{Lock: h.Lock, Suite: h.Suite, SuiteVersion: h.SuiteVersion, SuiteHash: h.SuiteHash,
		Settings: h.Settings, SettingsHash: h.SettingsHash, Version: h.EvalpinVersion, Status: h.Status,
		Started: h.Started, Finished: h.Finished}
	cases := make(map[string]eval.Case, len(s.file.Cases))
	for _, c := range s.file.Cases {
		cases[c.ID] = c
	}
	return compare.Side{Run: run, Results: s.file.Results, File: s.arg}, cases
}

// resolveSides turns the two side arguments into runs of the store where
// they name one: a run id is that run; a lock id is that lock's latest
// complete run with the other side's suite and settings (with two lock ids,
// the candidate lock's newest complete run sets them; a baseline file's
// header sets them too).
func resolveSides(ctx context.Context, db *store.DB, base, cand sideArg) (eval.Run, eval.Run, error) {
	var b, c eval.Run
	var err error
	byRun := func(s sideArg) (eval.Run, error) {
		r, err := db.Run(ctx, s.run)
		if errors.Is(err, store.ErrNotFound) {
			return r, fault.Errorf(fault.Input, "'evalpin runs' lists the stored runs", "no run %d is stored", s.run)
		}
		return r, err
	}
	like := func(s sideArg) (eval.Run, bool) {
		if s.file != nil {
			r, _ := s.fileSide()
			return r.Run, true
		}
		return eval.Run{}, false
	}
	if base.run > 0 {
		if b, err = byRun(base); err != nil {
			return b, c, err
		}
	}
	if cand.run > 0 {
		if c, err = byRun(cand); err != nil {
			return b, c, err
		}
	}
	if cand.lock != "" {
		other, ok := like(base)
		switch {
		case base.run > 0:
			other, ok = b, true
		case !ok:
			// Two lock ids: the candidate lock's newest complete run.
			if c, err = newestComplete(ctx, db, cand.lock); err != nil {
				return b, c, err
			}
		}
		if ok {
			if c, err = latestLike(ctx, db, cand.lock, other); err != nil {
				return b, c, err
			}
		}
	}
	if base.lock != "" {
		other, ok := like(cand)
		if cand.needsStore() {
			other, ok = c, true
		}
		if ok {
			if b, err = latestLike(ctx, db, base.lock, other); err != nil {
				return b, c, err
			}
		}
	}
	return b, c, nil
}

// latestLike returns the lock's newest complete run with the suite and
// settings of like.
func latestLike(ctx context.Context, db *store.DB, lock lockid.ID, like eval.Run) (eval.Run, error) {
	r, err := db.LatestCompleteRun(ctx, lock, like.SuiteHash, like.SettingsHash)
	if errors.Is(err, store.ErrNotFound) {
		return r, fault.Errorf(fault.Input, "run the suite against that lock with 'evalpin run', or name a run id ('evalpin runs --lock "+string(lock)+"')",
			"lock %s has no complete run of suite %s at the settings of %s", lock, like.Suite, runLabel(like))
	}
	return r, err
}

// newestComplete returns the lock's newest complete run.
func newestComplete(ctx context.Context, db *store.DB, lock lockid.ID) (eval.Run, error) {
	runs, err := db.Runs(ctx, store.RunFilter{Lock: string(lock), Status: eval.RunComplete})
	if err != nil {
		return eval.Run{}, err
	}
	runs = slices.DeleteFunc(runs, func(r eval.Run) bool { return r.Lock != lock })
	if len(runs) == 0 {
		return eval.Run{}, fault.Errorf(fault.Input, "pass a run id or a full lock id ('evalpin runs' lists both)",
			"no complete run of lock %s is stored", lock)
	}
	return runs[len(runs)-1], nil
}

// runLabel names a run in a message: "run 12", or "the baseline file" for
// one without an id.
func runLabel(r eval.Run) string {
	if r.ID == 0 {
		return "the baseline file"
	}
	return fmt.Sprintf("run %d", r.ID)
}

// sideLockWords says in words what differs between the locks of two sides
// whose identity documents come from baseline files or the store.
func sideLockWords(ctx context.Context, db *store.DB, base, cand sideArg, b, c eval.Run, stderr io.Writer) string {
	doc := func(s sideArg, id lockid.ID) lockDoc {
		if s.file != nil {
			return lockDoc{id: id, doc: s.file.Header.LockManifest}
		}
		if db == nil {
			return lockDoc{id: id}
		}
		l, err := db.Lock(ctx, id)
		if err != nil {
			return lockDoc{id: id}
		}
		return lockDoc{id: id, doc: l.Manifest}
	}
	words, err := lockDocWords(doc(base, b.Lock), doc(cand, c.Lock))
	if err != nil {
		fmt.Fprintf(stderr, "evalpin: warning: %s; the report names the two lock ids\n", untrusted.Line(err.Error()))
		return ""
	}
	return words
}
