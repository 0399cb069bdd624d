package runs_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
)

// shardCases are the cases of the sharded suite: 20 cases, half tagged x.
func shardCases() []eval.Case {
	var cases []eval.Case
	for i := range 20 {
		c := eval.Case{ID: fmt.Sprintf("case-%03d", i), Hash: fmt.Sprintf("h%03d", i)}
		if i%2 == 0 {
			c.Tags = []string{"x"}
		}
		cases = append(cases, c)
	}
	return cases
}

// A shardSpec says how to make one shard's baseline file.
type shardSpec struct {
	name string
	sel  string // its selection
	edit func(r *eval.Run, results *[]eval.Result)
}

// shardFile returns the baseline file of shard sel of a complete run of
// shardCases at 2 samples, written and checked: every sample of every
// case the selection selects, in which a case's output names it.
func shardFile(t *testing.T, s shardSpec) runs.ShardFile {
	t.Helper()
	sel, err := eval.ParseSelection(s.sel)
	if err != nil {
		t.Fatal(err)
	}
	cases := shardCases()
	picked, err := sel.Apply(cases)
	if err != nil {
		t.Fatal(err)
	}
	settings := eval.Settings{Samples: 2, MaxTokens: 8}
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC).Add(time.Duration(sel.Shard.Index) * time.Minute)
	run := eval.Run{
		Lock: lockid.ID("sha256:" + strings.Repeat("a1", 32)), Suite: "fake", SuiteVersion: "1", SuiteHash: "suitehash",
		Settings: settings, SettingsHash: settings.Hash(), Version: "test", Status: eval.RunComplete,
		Started: start, Finished: start.Add(time.Minute), Selection: s.sel,
		Model: "m", Labels: map[string]string{"team": "eval", "runner": s.name},
	}
	var results []eval.Result
	for _, c := range picked {
		for k := range 2 {
			results = append(results, eval.Result{CaseID: c.ID, CaseHash: c.Hash, Sample: k, Output: "out " + c.ID, Latency: time.Millisecond})
		}
	}
	if s.edit != nil {
		s.edit(&run, &results)
	}
	path := filepath.Join(t.TempDir(), s.name)
	if err := os.WriteFile(path, encode(t, baselines.New(run, cases, results)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, cleanup, err := runs.CheckBaselineArg(path)
	t.Cleanup(cleanup)
	if err != nil {
		t.Fatal(err)
	}
	return runs.ShardFile{Name: s.name, File: f}
}

// results returns what seq yields, failing t on its error.
func results(t *testing.T, seq iter.Seq2[eval.Result, error]) []eval.Result {
	t.Helper()
	var out []eval.Result
	for r, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// threeShards are the specs of the three shards of sel ("" or a selection
// with a trailing space).
func threeShards(sel string) []shardSpec {
	return []shardSpec{{name: "A.jsonl", sel: sel + "shard=1/3"}, {name: "B.jsonl", sel: sel + "shard=2/3"}, {name: "C.jsonl", sel: sel + "shard=3/3"}}
}

// The shards of a run, in any order, merge into one complete run of the
// whole selection, each case's every sample exactly once, which stores and
// exports as a run made on one machine would.
func TestMergeShards(t *testing.T) {
	ctx := context.Background()
	for _, base := range []string{"", "tags=x "} {
		specs := threeShards(base)
		var shards []runs.ShardFile
		for _, i := range []int{2, 0, 1} {
			shards = append(shards, shardFile(t, specs[i]))
		}
		b, err := runs.MergeShards(shards)
		if err != nil {
			t.Fatal(err)
		}
		wholeFile := shardFile(t, shardSpec{name: "whole", sel: strings.TrimSpace(base)}).File
		whole := &baselines.Baseline{Header: wholeFile.Header, Results: results(t, wholeFile.Results())}
		h := b.Header
		if h.Selection != whole.Header.Selection || h.Status != eval.RunComplete || h.Cases != 20 || h.Results != whole.Header.Results {
			t.Fatalf("merged %q: selection %q, status %s, %d cases, %d results; want %q, complete, 20, %d",
				base, h.Selection, h.Status, h.Cases, h.Results, whole.Header.Selection, whole.Header.Results)
		}
		if !slices.EqualFunc(results(t, b.Results), whole.Results, func(x, y eval.Result) bool {
			return x.CaseID == y.CaseID && x.Sample == y.Sample && x.Output == y.Output
		}) {
			t.Errorf("merged %q: the results are not the whole run's, each once", base)
		}
		first, last := shards[1].File.Header, shards[0].File.Header
		if !h.Started.Equal(first.Started) || !h.Finished.Equal(last.Finished) {
			t.Errorf("merged %q: %v to %v, want the first shard's start %v to the last's finish %v", base, h.Started, h.Finished, first.Started, last.Finished)
		}
		if len(h.Labels) != 1 || h.Labels["team"] != "eval" {
			t.Errorf("merged %q: labels %v, want those all shards agree on", base, h.Labels)
		}

		db := openDB(t, "")
		id, err := runs.ImportStream(ctx, db, b)
		if err != nil {
			t.Fatal(err)
		}
		x, err := runs.Export(ctx, db, fmt.Sprint(id), runs.ExportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if x.Run.Selection != whole.Header.Selection || x.Run.Status != eval.RunComplete || x.Baseline.Header.Results != whole.Header.Results {
			t.Errorf("merged %q, stored: %+v", base, x.Run)
		}
	}
}

// Files that are not the n shards of one complete run are refused, with an
// input error that names the files, and nothing merged.
func TestMergeShardsRefused(t *testing.T) {
	specs := threeShards("")
	// moveCase gives shard 1's file the results of a case of another shard.
	moveCase := func(_ *eval.Run, results *[]eval.Result) {
		for _, c := range shardCases() {
			if eval.ShardOf(c.ID, 3) == 2 {
				*results = append(*results, eval.Result{CaseID: c.ID, CaseHash: c.Hash, Sample: 0, Output: "x"}, eval.Result{CaseID: c.ID, CaseHash: c.Hash, Sample: 1, Output: "x"})
				return
			}
		}
	}
	with := func(i int, edit func(r *eval.Run, results *[]eval.Result)) []shardSpec {
		out := slices.Clone(specs)
		out[i].edit = edit
		return out
	}
	tests := []struct {
		name  string
		specs []shardSpec
		want  string
	}{
		{"missing shard", specs[:2], "shard 3/3 missing: 2 files given, want one of each of the 3 shards"},
		{"two shards missing", specs[1:2], "shard 1/3, 3/3 missing: 1 file given"},
		{"a shard twice", []shardSpec{specs[0], specs[1], {name: "B2.jsonl", sel: "shard=2/3"}, specs[2]}, "B.jsonl and B2.jsonl are both shard 2/3"},
		{"a case in two files", with(0, moveCase), "A.jsonl (shard 1/3) holds case"},
		{"mixed locks", with(2, func(r *eval.Run, _ *[]eval.Result) { r.Lock = lockid.ID("sha256:" + strings.Repeat("b2", 32)) }),
			"A.jsonl is a run of lock sha256:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1, C.jsonl of lock sha256:b2b2"},
		{"mixed suites", with(1, func(r *eval.Run, _ *[]eval.Result) { r.SuiteVersion, r.SuiteHash = "2", "otherhash" }), "A.jsonl is a run of suite fake 1 (suitehash), B.jsonl of suite fake 2 (otherhash)"},
		{"mixed settings", with(1, func(r *eval.Run, _ *[]eval.Result) { r.SettingsHash = "othersettings" }), "A.jsonl is a run at settings"},
		{"mixed counts", with(1, func(r *eval.Run, _ *[]eval.Result) { r.Selection = "shard=2/4" }), "A.jsonl is shard 1/3, B.jsonl shard 2/4"},
		{"mixed selections", with(1, func(r *eval.Run, _ *[]eval.Result) { r.Selection = "tags=x shard=2/3" }), "A.jsonl is a shard of the whole suite, B.jsonl of tags=x"},
		{"not a shard", with(1, func(r *eval.Run, _ *[]eval.Result) { r.Selection = "" }), "B.jsonl is not a shard (its run replayed the whole suite)"},
		{"an interrupted shard", with(2, func(r *eval.Run, _ *[]eval.Result) { r.Status = eval.RunInterrupted }), "C.jsonl (shard 3/3) holds a run that is interrupted, not complete"},
		{"a case missing", with(1, func(_ *eval.Run, results *[]eval.Result) { *results = (*results)[2:] }), "B.jsonl (shard 2/3) holds no result of case"},
		{"a sample missing", with(1, func(_ *eval.Run, results *[]eval.Result) { *results = (*results)[1:] }), "B.jsonl (shard 2/3) holds 1 result of case case-003, want 2 samples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var shards []runs.ShardFile
			for _, s := range tt.specs {
				shards = append(shards, shardFile(t, s))
			}
			b, err := runs.MergeShards(shards)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("MergeShards = %v, want %q", err, tt.want)
			}
			if b != nil || !errors.Is(err, runs.ErrShards) || fault.KindOf(err) != fault.Input {
				t.Errorf("MergeShards = %v, %v (kind %v); want no baseline and an input error matching ErrShards", b, err, fault.KindOf(err))
			}
		})
	}
}
