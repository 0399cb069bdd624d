package runs_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
)

// TestLoadPairFloor: the noise floor of a pair is another complete run of the
// baseline's lock, suite, settings and selection, never the baseline or the
// candidate; none when the lock was run once.
func TestLoadPairFloor(t *testing.T) {
	h := newHistory(t)
	load := func(base, cand string) *runs.Pair {
		t.Helper()
		b, err := runs.ParseRef(base)
		if err != nil {
			t.Fatal(err)
		}
		c, err := runs.ParseRef(cand)
		if err != nil {
			t.Fatal(err)
		}
		p, err := runs.LoadPair(context.Background(), h.db, b, c, runs.PairOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := load("1", "2"); p.Floor != nil {
		t.Errorf("lock A run once at settings X: floor run %d, want none", p.Floor.Run.ID)
	}
	h.put(t, h.lockA, h.s1, h.x, eval.RunComplete, "a") // run 6: a re-run of 1
	h.put(t, h.lockA, h.s1, h.x, eval.RunComplete, "a") // run 7
	tests := []struct {
		base, cand string
		floor      int64
	}{
		{"1", "2", 7}, // the newest re-run
		{"7", "2", 6},
		{"1", "7", 6}, // A/A: the candidate is not the floor
		{"2", "1", 0}, // lock B has one complete run of s1 at X
	}
	for _, tt := range tests {
		p := load(tt.base, tt.cand)
		got := int64(0)
		if p.Floor != nil {
			got = p.Floor.Run.ID
			if p.Floor.Results.Len() != 2 {
				t.Errorf("floor of %s/%s: %d results, want 2", tt.base, tt.cand, p.Floor.Results.Len())
			}
		}
		if got != tt.floor {
			t.Errorf("baseline %s, candidate %s: floor run %d, want %d", tt.base, tt.cand, got, tt.floor)
		}
	}
}

// TestLoadPairLabels: each run is read with the labels snapshotted with it;
// the diff takes the candidate's and warns when the baseline's differ.
func TestLoadPairLabels(t *testing.T) {
	h := newHistory(t)
	ctx := context.Background()
	relabelled := []eval.Case{{ID: "c1", Tags: []string{"x"}, Cluster: "d"}, {ID: "c2", Tags: []string{"z"}}}
	if err := h.db.PutRunLabels(ctx, 2, relabelled); err != nil {
		t.Fatal(err)
	}
	load := func(base, cand string) *runs.Pair {
		t.Helper()
		b, _ := runs.ParseRef(base)
		c, _ := runs.ParseRef(cand)
		p, err := runs.LoadPair(ctx, h.db, b, c, runs.PairOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := load("1", "2")
	labels := maps.Collect(p.Cases.All())
	if got := labels["c2"].Tags; len(got) != 1 || got[0] != "z" || labels["c1"].Cluster != "d" {
		t.Errorf("labels %v, want the candidate run's snapshot", labels)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0].Error(), "labels (tags, cluster) of 2 cases differ") {
		t.Errorf("warnings %v, want one on the 2 relabelled cases", p.Warnings)
	}
	// The other way round: the candidate's (the stored suite's) labels win.
	if p := load("2", "1"); maps.Collect(p.Cases.All())["c2"].Tags[0] != "x" || len(p.Warnings) != 1 {
		t.Errorf("labels %v, warnings %v; want the stored suite's, one warning", maps.Collect(p.Cases.All()), p.Warnings)
	}
	if err := h.db.PutRunLabels(ctx, 1, relabelled); err != nil {
		t.Fatal(err)
	}
	if p := load("1", "2"); len(p.Warnings) != 0 {
		t.Errorf("equal snapshots: warnings %v, want none", p.Warnings)
	}
}

// TestLoadPairOutputs: the outputs of every result of both sides of a loaded
// pair of stored runs read back as stored, whether kept while the pair was
// read (runs 1 and 2 differ in every output) or read again from the store
// (runs 1 and 6 agree in every output, so none is kept).
func TestLoadPairOutputs(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	h.put(t, h.lockA, h.s1, h.x, eval.RunComplete, "a") // run 6: a re-run of 1
	for _, pair := range [][2]string{{"1", "2"}, {"1", "6"}} {
		b, _ := runs.ParseRef(pair[0])
		c, _ := runs.ParseRef(pair[1])
		p, err := runs.LoadPair(ctx, h.db, b, c, runs.PairOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []runs.Side{p.Base, p.Cand} {
			stored, err := h.db.Results(ctx, s.Run.ID)
			if err != nil {
				t.Fatal(err)
			}
			var rows []int32
			var want []string
			for i, r := range stored {
				rows, want = append(rows, int32(i)), append(want, r.Output)
			}
			got, err := s.Results.Outputs(rows)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("pair %v, run %d: outputs %q, %v; want %q", pair, s.Run.ID, got, err, want)
			}
		}
	}
}

// TestLoadPairInMemory: a store in memory, which reads on one connection,
// loads a pair of runs too large for the sides' batches to wait in their
// channels (the two sides then cannot be read at once and merged).
func TestLoadPairInMemory(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, ":memory:")
	suite := eval.Suite{Name: "s", Version: "1", Settings: eval.DefaultSettings(), Hash: "suite"}
	for i := range 3000 {
		suite.Cases = append(suite.Cases, eval.Case{ID: fmt.Sprintf("c%05d", i), Prompt: "p", Hash: "h"})
	}
	if err := db.PutSuite(ctx, suite); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{"a", "b"} {
		r := eval.Run{Lock: lockid.ID("sha256:" + strings.Repeat(out, 64)), Suite: suite.Name, SuiteVersion: suite.Version, SuiteHash: suite.Hash,
			Settings: suite.Settings, Version: "test", Status: eval.RunComplete, Started: started, Finished: started}
		results := func(yield func(eval.Result, error) bool) {
			for _, c := range suite.Cases {
				if !yield(eval.Result{CaseID: c.ID, CaseHash: c.Hash, Output: out, Lock: r.Lock}, nil) {
					return
				}
			}
		}
		if err := db.ImportRun(ctx, &r, results); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		p, err := runs.LoadPair(ctx, db, runs.Ref{Arg: "1", Run: 1}, runs.Ref{Arg: "2", Run: 2}, runs.PairOptions{})
		if err == nil && (p.Base.Results.Len() != 3000 || p.Cand.Results.Len() != 3000) {
			err = fmt.Errorf("sides of %d and %d results, want 3000", p.Base.Results.Len(), p.Cand.Results.Len())
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("LoadPair of a store in memory did not return")
	}
}
