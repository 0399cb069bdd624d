package store_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/evalpin/evalpin/eval"
)

// TestRunLabels: a run's labels are snapshotted with it and read back; runs
// with equal labels share one label set, runs whose labels differ do not; a
// run without a snapshot says so.
func TestRunLabels(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	r1, r2, r3, r4 := mustCreateRun(t, db, "sha256:aa"), mustCreateRun(t, db, "sha256:aa"), mustCreateRun(t, db, "sha256:bb"), mustCreateRun(t, db, "sha256:bb")
	cases := []eval.Case{
		{ID: "c1", Tags: []string{"x", "y"}, Cluster: "doc-1"},
		{ID: "c2", Cluster: "doc-1"},
		{ID: "c3"},
	}
	relabelled := []eval.Case{cases[0], {ID: "c2", Cluster: "doc-2"}, cases[2]}
	for _, p := range []struct {
		run   eval.Run
		cases []eval.Case
	}{{r1, cases}, {r2, cases}, {r3, relabelled}} {
		if err := db.PutRunLabels(ctx, p.run.ID, p.cases); err != nil {
			t.Fatal(err)
		}
	}
	held, set1, ok, err := db.RunLabels(ctx, r1.ID)
	if err != nil || !ok {
		t.Fatalf("run %d: ok %v, err %v", r1.ID, ok, err)
	}
	got := maps.Collect(held.All())
	for _, c := range cases {
		if l, ok := got[c.ID]; !ok || !slices.Equal(l.Tags, c.Tags) || l.Cluster != c.Cluster {
			t.Errorf("case %s: labels %+v (ok %v), want tags %q, cluster %q", c.ID, l, ok, c.Tags, c.Cluster)
		}
	}
	_, set2, _, _ := db.RunLabels(ctx, r2.ID)
	held3, set3, _, _ := db.RunLabels(ctx, r3.ID)
	got3 := maps.Collect(held3.All())
	if set1 != set2 || set1 == set3 {
		t.Errorf("label sets %.8s %.8s %.8s: want the first two equal and the third different", set1, set2, set3)
	}
	if got3["c2"].Cluster != "doc-2" {
		t.Errorf("run %d: c2 in cluster %q, want doc-2", r3.ID, got3["c2"].Cluster)
	}
	if _, _, ok, err := db.RunLabels(ctx, r4.ID); ok || err != nil {
		t.Errorf("run %d without a snapshot: ok %v, err %v", r4.ID, ok, err)
	}
}
