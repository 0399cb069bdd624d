package runs

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"maps"
	"strings"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A run spread over machines (evalpin run --shard i/n, eval.Shard) comes
// back as n baseline files, one a shard; MergeShards checks that they are
// the n shards of one run and makes them one baseline of the whole, which
// ImportStream stores as any other. Neither holds the files: they are read
// again in step, a case at a time.

// ErrShards marks the error of baseline files that are not the shards of
// one run: another lock, suite, settings or selection, a shard twice or
// missing, a case in two files, a shard that is not complete.
var ErrShards = errors.New("the files are not the shards of one run")

// A ShardFile is one checked baseline file of a sharded run, and the name it
// was read under (a path, or "standard input").
type ShardFile struct {
	Name string
	File *baselines.File
}

// CheckBaselineArgs checks the baseline files paths names (CheckBaselineArg,
// "-" is standard input) and returns their baseline as a Stream: one file as
// it is, several as the shards of one run, merged by MergeShards. cleanup,
// never nil, removes what reading standard input left.
func CheckBaselineArgs(paths []string) (s *Stream, cleanup func(), err error) {
	var cleanups []func()
	cleanup = func() {
		for _, c := range cleanups {
			c()
		}
	}
	shards := make([]ShardFile, len(paths))
	for i, path := range paths {
		f, c, err := CheckBaselineArg(path)
		if cleanups = append(cleanups, c); err != nil {
			return nil, cleanup, err
		}
		shards[i] = ShardFile{Name: f.Name(), File: f}
	}
	if len(shards) == 1 {
		return FileStream(shards[0].File), cleanup, nil
	}
	s, err = MergeShards(shards)
	return s, cleanup, err
}

// shardErrorf is an input error of the shards, matching ErrShards.
func shardErrorf(format string, args ...any) error {
	return fault.Mark(fault.Errorf(fault.Input, "", "merge shards: "+format, args...), ErrShards)
}

// MergeShards returns the baseline of the whole run whose n shards are
// shards, in any order: one of each shard i/n, all complete runs of the same
// lock, suite, settings and selection but the shard, holding the same cases.
// It verifies, reading the files again, that the merged run holds each case
// the selection selects exactly once, every sample of it, and each from the
// file of its shard (eval.ShardOf). Any other set of files is an error
// matching ErrShards that names the files. The Stream's cases and results
// read the files again at each range, in step.
//
// The merged run starts when the first shard started and finishes when the
// last finished; it keeps the labels all shards agree on, and the model,
// evalpin version, lock source and quantization of shard 1.
func MergeShards(shards []ShardFile) (*Stream, error) {
	if len(shards) == 0 {
		return nil, shardErrorf("no file")
	}
	byIndex, err := checkShards(shards)
	if err != nil {
		return nil, err
	}
	first := byIndex[0]
	h0 := first.File.Header
	sel, _ := eval.ParseSelection(h0.Selection) // checkShards parsed it
	run := (&baselines.Baseline{Header: h0}).Run()
	run.Selection = sel.Unsharded().String()
	run.Labels = maps.Clone(run.Labels)
	for _, s := range byIndex {
		sh := s.File.Header
		if sh.Started.Before(run.Started) {
			run.Started = sh.Started
		}
		if sh.Finished.After(run.Finished) {
			run.Finished = sh.Finished
		}
		for k, v := range run.Labels {
			if sh.Labels[k] != v {
				delete(run.Labels, k)
			}
		}
	}
	m := &merge{shards: byIndex, sel: sel.Unsharded()}
	cases := first.File.Cases()
	whole := eval.Selection{Cases: m.sel.Cases, Tags: m.sel.Tags}
	if m.picked, m.want, err = whole.Pick(&fileSource{cases: cases, n: h0.Cases}); err != nil {
		return nil, shardErrorf("%s: %v", untrusted.Line(first.Name), err)
	}
	if m.picked == nil { // the whole suite
		m.picked = eval.NewKeySet(h0.Cases)
		for k := range h0.Cases {
			m.picked.Add(k)
		}
	}
	h := baselines.New(run, nil, nil).Header
	h.Cases, h.LockSource, h.LockQuantization = h0.Cases, h0.LockSource, h0.LockQuantization
	for _, s := range byIndex {
		if doc := s.File.Header.LockManifest; len(doc) > 0 {
			h.LockManifest = bytes.Clone(doc)
			break
		}
	}
	if err := m.walk(func(r eval.Result) bool {
		if h.Results++; r.Error != "" {
			h.Errors++
		}
		return true
	}); err != nil {
		return nil, err
	}
	names := make([]string, len(shards))
	for i, s := range shards {
		names[i] = untrusted.Line(s.Name)
	}
	return &Stream{
		Name:   fmt.Sprintf("%d shards (%s)", len(shards), strings.Join(names, ", ")),
		Header: h, Cases: cases,
		Results: func(yield func(eval.Result, error) bool) {
			stopped := false
			if err := m.walk(func(r eval.Result) bool {
				stopped = !yield(r, nil)
				return !stopped
			}); err != nil && !stopped {
				yield(eval.Result{}, err)
			}
		},
	}, nil
}

// checkShards checks that shards are one of each shard i/n of runs that
// agree on all but the shard, and returns them in shard order.
func checkShards(shards []ShardFile) ([]ShardFile, error) {
	first := shards[0]
	h0 := first.File.Header
	sel0, err := eval.ParseSelection(h0.Selection)
	if err != nil {
		return nil, shardErrorf("%s: %v", untrusted.Line(first.Name), err)
	}
	n := sel0.Shard.Count
	byIndex := make([]ShardFile, max(n, 1))
	for _, s := range shards {
		name, h := untrusted.Line(s.Name), s.File.Header
		sel, err := eval.ParseSelection(h.Selection)
		switch {
		case err != nil:
			return nil, shardErrorf("%s: %v", name, err)
		case sel.Shard.Whole():
			return nil, shardErrorf("%s is not a shard (its run replayed %s): import it on its own", name, wholeOr(sel))
		case sel.Shard.Count != n:
			return nil, shardErrorf("%s is shard %s, %s shard %s: the shards of one run have the same count", untrusted.Line(first.Name), sel0.Shard, name, sel.Shard)
		case h.Lock != h0.Lock:
			return nil, shardErrorf("%s is a run of lock %s, %s of lock %s", untrusted.Line(first.Name), untrusted.Line(string(h0.Lock)), name, untrusted.Line(string(h.Lock)))
		case h.SuiteHash != h0.SuiteHash:
			return nil, shardErrorf("%s is a run of suite %s %s (%s), %s of suite %s %s (%s)", untrusted.Line(first.Name), untrusted.Line(h0.Suite), untrusted.Line(h0.SuiteVersion), short(h0.SuiteHash),
				name, untrusted.Line(h.Suite), untrusted.Line(h.SuiteVersion), short(h.SuiteHash))
		case h.SettingsHash != h0.SettingsHash:
			return nil, shardErrorf("%s is a run at settings %s, %s at settings %s", untrusted.Line(first.Name), short(h0.SettingsHash), name, short(h.SettingsHash))
		case sel.Unsharded().String() != sel0.Unsharded().String():
			return nil, shardErrorf("%s is a shard of %s, %s of %s", untrusted.Line(first.Name), wholeOr(sel0.Unsharded()), name, wholeOr(sel.Unsharded()))
		case h.Status != eval.RunComplete:
			return nil, shardErrorf("%s (shard %s) holds a run that is %s, not complete: complete it (the same 'evalpin run' resumes it) and export it again", name, sel.Shard, h.Status)
		}
		if prev := byIndex[sel.Shard.Index-1]; prev.File != nil {
			return nil, shardErrorf("%s and %s are both shard %s", untrusted.Line(prev.Name), name, sel.Shard)
		}
		byIndex[sel.Shard.Index-1] = s
	}
	var missing []string
	for i, s := range byIndex {
		if s.File == nil {
			missing = append(missing, eval.Shard{Index: i + 1, Count: n}.String())
		}
	}
	if len(missing) > 0 {
		return nil, shardErrorf("shard %s missing: %s given, want one of each of the %d shards", strings.Join(missing, ", "), plural(len(shards), "file"), n)
	}
	return byIndex, nil
}

// A merge is the shards of one run, in shard order, read again in step.
type merge struct {
	shards []ShardFile
	sel    eval.Selection // the unsharded selection of the run
	picked eval.KeySet    // the cases sel selects, by position in the files
	want   int            // how many
}

// walk reads the shards' cases and results in step, in case id order, and
// yields the merged run's results in that order until yield returns false.
// It checks that every shard holds the cases of the first, and that the
// results hold every sample of each case sel selects exactly once, each
// from the file of its shard.
func (m *merge) walk(yield func(eval.Result) bool) error {
	n, samples := len(m.shards), m.shards[0].File.Header.Settings.Samples
	nextCase := make([]func() (eval.Case, error, bool), n)
	nextResult := make([]func() (eval.Result, error, bool), n)
	heads := make([]*eval.Result, n) // each shard's next result
	for i, s := range m.shards {
		var stop func()
		nextCase[i], stop = iter.Pull2(s.File.Cases())
		defer stop()
		nextResult[i], stop = iter.Pull2(s.File.Results())
		defer stop()
	}
	advance := func(i int) error {
		r, err, ok := nextResult[i]()
		if heads[i] = nil; ok && err == nil {
			heads[i] = &r
		}
		return err
	}
	for i := range n {
		if err := advance(i); err != nil {
			return err
		}
	}
	name := func(i int) string { return untrusted.Line(m.shards[i].Name) }
	got := 0 // cases with results
	for k := 0; ; k++ {
		c, err, ok := nextCase[0]()
		if err != nil {
			return err
		}
		for i := 1; i < n; i++ {
			ci, err, oki := nextCase[i]()
			switch {
			case err != nil:
				return err
			case oki != ok || oki && (ci.ID != c.ID || ci.Hash != c.Hash):
				return shardErrorf("%s and %s hold different cases of suite hash %s", name(0), name(i), short(m.shards[0].File.Header.SuiteHash))
			}
		}
		if !ok {
			break
		}
		j, count := eval.ShardOf(c.ID, n), 0
		for i := range n {
			for heads[i] != nil && heads[i].CaseID == c.ID {
				switch {
				case !m.picked.Has(k):
					return shardErrorf("%s (shard %d/%d) holds case %s, which its selection does not select", name(i), i+1, n, untrusted.Line(c.ID))
				case j != i+1:
					return shardErrorf("%s (shard %d/%d) holds case %s, which is shard %d/%d's (%s)", name(i), i+1, n, untrusted.Line(c.ID), j, n, name(j-1))
				}
				count++
				if !yield(*heads[i]) {
					return nil
				}
				if err := advance(i); err != nil {
					return err
				}
			}
		}
		switch {
		case !m.picked.Has(k):
		case count == 0 && m.sel.Limit == 0:
			return shardErrorf("%s (shard %d/%d) holds no result of case %s", name(j-1), j, n, untrusted.Line(c.ID))
		case count != 0 && count != samples:
			return shardErrorf("%s (shard %d/%d) holds %s of case %s, want %s", name(j-1), j, n, plural(count, "result"), untrusted.Line(c.ID), plural(samples, "sample"))
		}
		if count > 0 {
			got++
		}
	}
	// A limit selects the first cases in suite order, which the files (in id
	// order) do not keep: count them instead of naming them.
	wantCases := m.want
	if m.sel.Limit > 0 {
		wantCases = min(m.sel.Limit, m.want)
	}
	if got != wantCases {
		return shardErrorf("the %d shards hold %d cases, want the %d of %s", n, got, wantCases, wholeOr(m.sel))
	}
	return nil
}

// wholeOr is a selection in words: its String, or "the whole suite".
func wholeOr(s eval.Selection) string {
	if s.All() {
		return "the whole suite"
	}
	return untrusted.Line(s.String())
}

// short is a hash's first 12 characters.
func short(hash string) string { return untrusted.Line(hash[:min(12, len(hash))]) }
