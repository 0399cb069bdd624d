package runs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/suites"
)

// writeJSONL writes a JSONL suite of n chat cases (case-000 …, prompt
// "prompt case-000" …, tagged by i%3, some with an override) at samples,
// and returns its path.
func writeJSONL(t *testing.T, n, samples int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `{"suite": {"name": "fake", "version": "1", "defaults": {"max_tokens": 8, "samples": %d}}}`+"\n", samples)
	for i := range n {
		over := ""
		if i%4 == 0 {
			over = `, "overrides": {"max_tokens": 4}`
		}
		fmt.Fprintf(&b, `{"id": "case-%03d", "messages": [{"role": "user", "content": "prompt case-%03d"}], "tags": ["t%d"]%s, "scorers": [{"kind": "contains", "value": "case"}]}`+"\n", i, i, i%3, over)
	}
	path := filepath.Join(t.TempDir(), "suite.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestStreamedRunStoresAsLoaded: a run of a suite read from its file a case
// at a time (suites.Stream) stores what a run of the loaded suite does: the
// suite's hash, its cases, every result with its case hash and checks, and
// the run's labels; and a selection and resume work from the cases' keys.
func TestStreamedRunStoresAsLoaded(t *testing.T) {
	ctx := context.Background()
	_, ep := newEngine(t, lockA, false)
	target := resolve(t, ep)
	path := writeJSONL(t, 30, 2)
	loaded, err := suites.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := suites.Scan(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	streamed := st.Suite()
	if streamed.Cases != nil || streamed.Hash != loaded.Hash {
		t.Fatalf("streamed suite: %d cases held, hash %s; loaded %s", len(streamed.Cases), streamed.Hash, loaded.Hash)
	}
	type got struct {
		run     eval.Run
		results map[string]eval.Result
		cases   map[string]eval.Case
		labels  map[string]store.Label
		sum     int
	}
	runOf := func(suite *eval.Suite, sel eval.Selection) got {
		db := openDB(t, "")
		s := spec(target, suite, ep)
		s.Selection = sel
		r, sum, out := lifecycle(t, ctx, db, s, ep)
		if out.Status != eval.RunComplete {
			t.Fatalf("run: %+v", out)
		}
		run, results := stored(t, db, r.ID)
		cases, err := db.Cases(ctx, suite.Hash)
		if err != nil {
			t.Fatal(err)
		}
		labels, _, ok, err := db.RunLabels(ctx, r.ID)
		if err != nil || !ok {
			t.Fatalf("labels: %v %v", ok, err)
		}
		return got{run, results, cases, maps.Collect(labels.All()), sum.Cases}
	}
	for _, sel := range []eval.Selection{{}, {Tags: []string{"t1"}, Limit: 6}, {Shard: eval.Shard{Index: 2, Count: 3}}} {
		t.Run(sel.String(), func(t *testing.T) {
			want, g := runOf(loaded, sel), runOf(streamed, sel)
			if g.run.SuiteHash != want.run.SuiteHash || g.run.Selection != want.run.Selection || g.sum != want.sum {
				t.Errorf("streamed run %s %q %d cases, loaded %s %q %d", g.run.SuiteHash, g.run.Selection, g.sum, want.run.SuiteHash, want.run.Selection, want.sum)
			}
			if len(g.results) != len(want.results) || len(g.results) == 0 {
				t.Errorf("%d results streamed, %d loaded", len(g.results), len(want.results))
			}
			for k, w := range want.results {
				r := g.results[k]
				if r.CaseHash != w.CaseHash || r.Output != w.Output || fmt.Sprint(r.Checks) != fmt.Sprint(w.Checks) {
					t.Errorf("result %s: %s %q %v, loaded %s %q %v", k, r.CaseHash, r.Output, r.Checks, w.CaseHash, w.Output, w.Checks)
				}
			}
			gj, _ := json.Marshal(g.cases)
			wj, _ := json.Marshal(want.cases)
			if string(gj) != string(wj) || len(g.cases) != 30 {
				t.Errorf("stored cases differ: %d streamed, %d loaded", len(g.cases), len(want.cases))
			}
			for id, w := range want.labels {
				if l := g.labels[id]; fmt.Sprint(l.Tags, l.Cluster) != fmt.Sprint(w.Tags, w.Cluster) {
					t.Errorf("labels of %s: %v, loaded %v", id, l, w)
				}
			}
		})
	}
}

// TestStreamedRunRetagged: a new run of a suite whose stored cases have
// other labels (retagged, so its hash is the same) snapshots its own.
func TestStreamedRunRetagged(t *testing.T) {
	ctx := context.Background()
	_, ep := newEngine(t, lockA, false)
	target := resolve(t, ep)
	db := openDB(t, "")
	path := writeJSONL(t, 12, 1)
	st, err := suites.Scan(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	lifecycle(t, ctx, db, spec(target, st.Suite(), ep), ep)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.ReplaceAll(string(data), `"t1"`, `"retagged"`)), 0o644)
	st2, err := suites.Scan(path, nil)
	if err != nil || st2.Suite().Hash != st.Suite().Hash {
		t.Fatalf("retagged: %v", err)
	}
	s := spec(target, st2.Suite(), ep)
	s.Fresh = true
	r, _, out := lifecycle(t, ctx, db, s, ep)
	if out.Status != eval.RunComplete {
		t.Fatalf("run: %+v", out)
	}
	held, _, _, err := db.RunLabels(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	labels := maps.Collect(held.All())
	if fmt.Sprint(labels["case-001"].Tags) != "[retagged]" || fmt.Sprint(labels["case-000"].Tags) != "[t0]" {
		t.Errorf("labels %v %v, %v", labels["case-001"], labels["case-000"], err)
	}
	heldOld, _, _, _ := db.RunLabels(ctx, r.ID-1)
	old := maps.Collect(heldOld.All())
	if fmt.Sprint(old["case-001"].Tags) != "[t1]" {
		t.Errorf("first run's labels %v", old["case-001"])
	}
}

// TestSuiteEditedMidRun: a suite file written while its run replays it is
// refused: the run stops, interrupted, with an error that says so, and
// what was stored stays stored.
func TestSuiteEditedMidRun(t *testing.T) {
	ctx := context.Background()
	eng, ep := newEngine(t, lockA, false)
	target := resolve(t, ep)
	db := openDB(t, "")
	path := writeJSONL(t, 20, 2)
	st, err := suites.Scan(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng.onCase = func(n int) {
		if n == 3 {
			data, _ := os.ReadFile(path)
			os.WriteFile(path, []byte(strings.Replace(string(data), "prompt case-015", "prompt case-XYZ", 1)), 0o644)
		}
	}
	r, err := runs.Begin(ctx, db, spec(target, st.Suite(), ep))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, runErr := replay(t, ctx, r, target, ep)
	out, err := r.Finish(ctx, runErr)
	if err != nil {
		t.Fatal(err)
	}
	// The replay or the storing of the suite's cases, reading it too, finds
	// the change first.
	if out.Status != eval.RunInterrupted || out.SourceErr == nil && out.SuiteErr == nil || out.Stored >= out.Expected {
		t.Fatalf("outcome %+v, want interrupted by the changed suite", out)
	}
	_, err = out.Explain(ctx, runs.End{ID: r.ID, Lock: lockA})
	if err == nil || !strings.Contains(err.Error(), "changed while the run read it") {
		t.Errorf("Explain: %v", err)
	}
}
