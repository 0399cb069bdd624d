package runs

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A run spread over machines (evalpin run --shard i/n, eval.Shard) comes
// back as n baseline files, one a shard; MergeShards checks that they are
// the n shards of one run and makes them one baseline of the whole, which
// Import stores as any other.

// ErrShards marks the error of baseline files that are not the shards of
// one run: another lock, suite, settings or selection, a shard twice or
// missing, a case in two files, a shard that is not complete.
var ErrShards = errors.New("the files are not the shards of one run")

// A ShardFile is one baseline file of a sharded run, and the name it was read
// under (a path, or "standard input").
type ShardFile struct {
	Name     string
	Baseline *baselines.Baseline
}

// ReadBaselineArgs reads the baseline files paths names (ReadBaselineArg,
// "-" is standard input). One file is returned as it is; several are the
// shards of one run, merged by MergeShards. name names what was read in
// messages: the file, or the shards and their files.
func ReadBaselineArgs(paths []string) (b *baselines.Baseline, name string, err error) {
	shards := make([]ShardFile, len(paths))
	for i, path := range paths {
		if shards[i].Baseline, err = ReadBaselineArg(path); err != nil {
			return nil, "", err
		}
		if shards[i].Name = path; path == "-" {
			shards[i].Name = "standard input"
		}
	}
	if len(shards) == 1 {
		return shards[0].Baseline, shards[0].Name, nil
	}
	if b, err = MergeShards(shards); err != nil {
		return nil, "", err
	}
	names := make([]string, len(shards))
	for i, s := range shards {
		names[i] = untrusted.Line(s.Name)
	}
	return b, fmt.Sprintf("%d shards (%s)", len(shards), strings.Join(names, ", ")), nil
}

// shardErrorf is an input error of the shards, matching ErrShards.
func shardErrorf(format string, args ...any) error {
	return fault.Mark(fault.Errorf(fault.Input, "", "merge shards: "+format, args...), ErrShards)
}

// MergeShards returns the baseline of the whole run whose n shards are
// shards, in any order: one of each shard i/n, all complete runs of the same
// lock, suite, settings and selection but the shard, holding the same cases.
// It verifies that the merged run holds each case the selection selects
// exactly once, every sample of it, and each from the file of its shard
// (eval.ShardOf). Any other set of files is an error matching ErrShards that
// names the files.
//
// The merged run starts when the first shard started and finishes when the
// last finished; it keeps the labels all shards agree on, and the model,
// evalpin version and lock source of shard 1.
func MergeShards(shards []ShardFile) (*baselines.Baseline, error) {
	if len(shards) == 0 {
		return nil, shardErrorf("no file")
	}
	byIndex, err := checkShards(shards)
	if err != nil {
		return nil, err
	}
	first := byIndex[0]
	h := first.Baseline.Header
	sel, _ := eval.ParseSelection(h.Selection) // checkShards parsed it
	run := first.Baseline.Run()
	run.Selection = sel.Unsharded().String()
	run.Labels = maps.Clone(run.Labels)
	var results []eval.Result
	for _, s := range byIndex {
		sh := s.Baseline.Header
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
		results = append(results, s.Baseline.Results...)
	}
	if err := checkCovered(byIndex, sel.Unsharded(), results); err != nil {
		return nil, err
	}
	b := baselines.New(run, first.Baseline.Cases, results)
	b.Header.LockSource = h.LockSource
	for _, s := range byIndex {
		if doc := s.Baseline.Header.LockManifest; len(doc) > 0 {
			b.Header.LockManifest = bytes.Clone(doc)
			break
		}
	}
	return b, nil
}

// checkShards checks that shards are one of each shard i/n of runs that
// agree on all but the shard, and returns them in shard order.
func checkShards(shards []ShardFile) ([]ShardFile, error) {
	first := shards[0]
	h0 := first.Baseline.Header
	sel0, err := eval.ParseSelection(h0.Selection)
	if err != nil {
		return nil, shardErrorf("%s: %v", untrusted.Line(first.Name), err)
	}
	n := sel0.Shard.Count
	byIndex := make([]ShardFile, max(n, 1))
	for _, s := range shards {
		name, h := untrusted.Line(s.Name), s.Baseline.Header
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
		if prev := byIndex[sel.Shard.Index-1]; prev.Baseline != nil {
			return nil, shardErrorf("%s and %s are both shard %s", untrusted.Line(prev.Name), name, sel.Shard)
		}
		byIndex[sel.Shard.Index-1] = s
	}
	var missing []string
	for i, s := range byIndex {
		if s.Baseline == nil {
			missing = append(missing, eval.Shard{Index: i + 1, Count: n}.String())
		}
	}
	if len(missing) > 0 {
		return nil, shardErrorf("shard %s missing: %s given, want one of each of the %d shards", strings.Join(missing, ", "), plural(len(shards), "file"), n)
	}
	for _, s := range byIndex[1:] {
		if !sameCases(s.Baseline.Cases, first.Baseline.Cases) {
			return nil, shardErrorf("%s and %s hold different cases of suite hash %s", untrusted.Line(first.Name), untrusted.Line(s.Name), short(h0.SuiteHash))
		}
	}
	return byIndex, nil
}

// checkCovered checks that results, the merged results of the shards, hold
// every sample of each case that sel selects of the shards' cases exactly
// once, and each from the file of its shard.
func checkCovered(shards []ShardFile, sel eval.Selection, results []eval.Result) error {
	n, samples := len(shards), shards[0].Baseline.Header.Settings.Samples
	want, err := eval.Selection{Cases: sel.Cases, Tags: sel.Tags}.Apply(shards[0].Baseline.Cases)
	if err != nil {
		return shardErrorf("%s: %v", untrusted.Line(shards[0].Name), err)
	}
	selected := make(map[string]bool, len(want))
	for _, c := range want {
		selected[c.ID] = true
	}
	got := map[string]int{} // case id → its results
	for i, s := range shards {
		for _, r := range s.Baseline.Results {
			switch j := eval.ShardOf(r.CaseID, n); {
			case !selected[r.CaseID]:
				return shardErrorf("%s (shard %d/%d) holds case %s, which its selection does not select", untrusted.Line(s.Name), i+1, n, untrusted.Line(r.CaseID))
			case j != i+1:
				return shardErrorf("%s (shard %d/%d) holds case %s, which is shard %d/%d's (%s)", untrusted.Line(s.Name), i+1, n, untrusted.Line(r.CaseID), j, n, untrusted.Line(shards[j-1].Name))
			}
			got[r.CaseID]++
		}
	}
	// A limit selects the first cases in suite order, which the files (in id
	// order) do not keep: count them instead of naming them.
	wantCases := len(want)
	if sel.Limit > 0 {
		wantCases = min(sel.Limit, len(want))
	}
	for _, id := range slices.Sorted(maps.Keys(selected)) {
		k := got[id]
		switch {
		case k == 0 && sel.Limit == 0:
			j := eval.ShardOf(id, n)
			return shardErrorf("%s (shard %d/%d) holds no result of case %s", untrusted.Line(shards[j-1].Name), j, n, untrusted.Line(id))
		case k != 0 && k != samples:
			j := eval.ShardOf(id, n)
			return shardErrorf("%s (shard %d/%d) holds %s of case %s, want %s", untrusted.Line(shards[j-1].Name), j, n, plural(k, "result"), untrusted.Line(id), plural(samples, "sample"))
		}
	}
	if len(got) != wantCases {
		return shardErrorf("the %d shards hold %d cases, want the %d of %s", n, len(got), wantCases, wholeOr(sel))
	}
	return nil
}

// sameCases reports whether a and b are the same cases by id and hash.
func sameCases(a, b []eval.Case) bool {
	return slices.EqualFunc(a, b, func(x, y eval.Case) bool { return x.ID == y.ID && x.Hash == y.Hash })
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
