package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/store"
)

// putAll stores rs in run runID through one Writer.
func putAll(t *testing.T, db *store.DB, runID int64, rs []eval.Result) {
	t.Helper()
	w := db.NewWriter(context.Background(), runID, store.WriterOptions{FlushInterval: time.Hour})
	for _, r := range rs {
		if err := w.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// sameMemory reports whether a and b are the same bytes in memory, not only
// equal.
func sameMemory(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafe.StringData(a) == unsafe.StringData(b))
}

func TestResults_RoundTrip(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa")
	var rs []eval.Result
	for _, tt := range []struct {
		name   string
		change func(r *eval.Result)
	}{
		{"plain", func(r *eval.Result) {}},
		{"plain again", func(r *eval.Result) { r.Checks[0].Pass = true }}, // as result 0's
		{"no checks", func(r *eval.Result) { r.Checks = nil }},
		{"other lock", func(r *eval.Result) { r.Lock = "sha256:bb" }}, // a replica serving another lock
		{"no lock", func(r *eval.Result) { r.Lock = "" }},
		{"failed", func(r *eval.Result) {
			r.Output, r.Checks, r.FinishReason, r.ErrorKind, r.Error = "", nil, "", "http", "HTTP 500: boom"
		}},
		{"escaped detail", func(r *eval.Result) {
			r.Checks = []eval.Check{{Scorer: "regex", Detail: `no match for "a\d+" in <b>&`}, {Scorer: "equals", Pass: true}}
		}},
		{"escaped scorer", func(r *eval.Result) { r.Checks = []eval.Check{{Scorer: "a \"quoted\" name", Pass: true}} }},
		{"unicode", func(r *eval.Result) {
			r.Output = "naïve 日本語 \u2028 \x00 end"
			r.Checks = []eval.Check{{Scorer: "längd", Detail: "zu lang: 日本語"}}
		}},
		{"detail looks like a check", func(r *eval.Result) {
			r.Checks = []eval.Check{{Scorer: "x", Detail: `{"scorer":"y","pass":true}`}}
		}},
		{"many checks", func(r *eval.Result) {
			r.Checks = nil
			for i := range 9 {
				r.Checks = append(r.Checks, eval.Check{Scorer: fmt.Sprint("s", i), Pass: i%3 == 0, Detail: strings.Repeat("d", i)})
			}
		}},
		{"empty detail and name", func(r *eval.Result) { r.Checks = []eval.Check{{}} }},
		{"large counts", func(r *eval.Result) {
			r.PromptTokens, r.CompletionTokens, r.Latency = 1<<40, 1<<33, 90*time.Minute
		}},
	} {
		r := result(len(rs), 0)
		tt.change(&r)
		r.Output += " (" + tt.name + ")"
		rs = append(rs, r)
		if len(rs)%2 == 0 {
			s := r
			s.Sample = 1
			rs = append(rs, s)
		}
	}
	putAll(t, db, run.ID, rs)
	got, err := db.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rs) {
		t.Fatalf("Results returned %d results, want %d", len(got), len(rs))
	}
	for i := range rs {
		if !reflect.DeepEqual(got[i], rs[i]) {
			t.Errorf("result %d:\ngot  %+v\nwant %+v", i, got[i], rs[i])
		}
	}

	// The checks of successive results share a backing array; appending to
	// one result's checks must not change the next one's.
	first := got[0].Checks
	_ = append(first, eval.Check{Scorer: "appended"})
	if next := got[1].Checks; len(next) > 0 && next[0].Scorer == "appended" {
		t.Fatal("appending to one result's checks overwrote the next result's")
	}

	// Samples of one case share their case id, hash and equal output.
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.CaseID != b.CaseID {
			continue
		}
		if !sameMemory(a.CaseID, b.CaseID) || !sameMemory(a.CaseHash, b.CaseHash) || !sameMemory(a.Output, b.Output) {
			t.Errorf("samples %d and %d of %s hold their own copies of the case id, hash or output", a.Sample, b.Sample, a.CaseID)
		}
	}
}

func TestResults_ChecksAcrossBackingArrays(t *testing.T) {
	// More checks than one backing array holds, and a result whose checks
	// do not fit in what is left of one.
	ctx := context.Background()
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa")
	rs := make([]eval.Result, 3000)
	for i := range rs {
		rs[i] = result(i, 0)
		rs[i].Checks = nil
		for k := range 1 + i%3 {
			rs[i].Checks = append(rs[i].Checks, eval.Check{Scorer: fmt.Sprint("s", k), Pass: (i+k)%2 == 0})
		}
	}
	putAll(t, db, run.ID, rs)
	got, err := db.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rs) {
		t.Fatal("Results differ from what was stored")
	}
}

func TestResults_None(t *testing.T) {
	db := MustOpenDB(t)
	empty := mustCreateRun(t, db, "sha256:aa")
	for _, id := range []int64{empty.ID, 42} {
		rs, err := db.Results(context.Background(), id)
		if err != nil || rs != nil {
			t.Fatalf("Results(run %d) = %#v, %v; want nil", id, rs, err)
		}
	}
}

func TestComparedResults(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	base, cand := mustCreateRun(t, db, "sha256:aa"), mustCreateRun(t, db, "sha256:bb")
	var bs, cs []eval.Result
	for i := range 40 {
		for s := range 2 {
			b := result(i, s)
			b.Lock = base.Lock
			c := b
			c.Lock = cand.Lock
			switch i % 4 {
			case 1:
				c.Output = "changed"
			case 2:
				c.CaseHash = "edited"
			}
			if i%5 != 3 { // the candidate lacks some cases
				cs = append(cs, c)
			}
			if i%7 != 4 || s == 0 { // and the baseline some samples
				bs = append(bs, b)
			}
		}
	}
	cs = append(cs, eval.Result{CaseID: "only-candidate", CaseHash: "x", Output: "y", Lock: cand.Lock})
	putAll(t, db, base.ID, bs)
	putAll(t, db, cand.ID, cs)
	var got []eval.Result
	if err := db.ComparedResults(ctx, cand.ID, func(r *eval.Result) error {
		got = append(got, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want, err := db.Results(ctx, cand.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want { // what a comparison does not read
		want[i].FinishReason, want[i].PromptTokens, want[i].CompletionTokens, want[i].Lock, want[i].Endpoint = "", 0, 0, "", ""
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("ComparedResults returned other results than Results, beyond what it does not read")
	}
}

func TestOutputs(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa")
	var rs []eval.Result
	for i := range 1200 { // more cases than one query names
		for s := range 2 {
			rs = append(rs, result(i, s)) // in case id and sample order
		}
	}
	putAll(t, db, run.ID, rs)
	var cases, want []string
	var samples []int
	for i, r := range rs {
		if i%3 == 0 || i%7 == 1 {
			cases, samples, want = append(cases, r.CaseID), append(samples, r.Sample), append(want, r.Output)
		}
	}
	got, err := db.Outputs(ctx, run.ID, cases, samples)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Outputs = %d outputs, %v; want %d", len(got), err, len(want))
	}
	if _, err := db.Outputs(ctx, run.ID, []string{cases[0], "no-such-case"}, []int{samples[0], 0}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Outputs of a case not stored: %v, want ErrNotFound", err)
	}
	if _, err := db.Outputs(ctx, run.ID, []string{cases[0]}, []int{7}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Outputs of a sample not stored: %v, want ErrNotFound", err)
	}
}

func TestSuiteLabels(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	suite := eval.Suite{Name: "s1", Version: "1", Hash: "suitehash1", Settings: eval.DefaultSettings()}
	for _, c := range []eval.Case{
		{ID: "a", Prompt: "long prompt", Tags: []string{"math", "easy"}, Cluster: "p1", Hash: "ha",
			Scorers: []eval.Scorer{namedScorer("contains")}},
		{ID: "b", Messages: []eval.Message{{Role: "user", Content: "hi"}}, Tags: []string{"math", "easy"}, Cluster: "p1", Hash: "hb"},
		{ID: "c", Prompt: "p", Tags: []string{"math"}, Hash: "hc"},
		{ID: "d", Prompt: "p", Cluster: `q "2" <&> 日本`, Hash: "hd"},
		{ID: "e", Prompt: "p", Hash: "he"},
		{ID: `f "odd" id`, Prompt: "p", Tags: []string{`"quoted"`, `back\slash`, "<tag>"}, Hash: "hf"},
	} {
		suite.Cases = append(suite.Cases, c)
	}
	if err := db.PutSuite(ctx, suite); err != nil {
		t.Fatal(err)
	}
	want := make(map[string]eval.Case)
	for _, c := range suite.Cases {
		want[c.ID] = eval.Case{ID: c.ID, Tags: c.Tags, Cluster: c.Cluster}
	}
	// SuiteLabels: the same labels, cases with equal tags sharing them,
	// clipped, so that an append to one case's tags leaves the others alone.
	held, err := db.SuiteLabels(ctx, suite.Hash)
	if err != nil {
		t.Fatal(err)
	}
	labels := maps.Collect(held.All())
	for id, c := range want {
		if l, ok := labels[id]; !ok || !slices.Equal(l.Tags, c.Tags) || l.Cluster != c.Cluster {
			t.Errorf("SuiteLabels: case %s: %+v (ok %v), want %+v", id, l, ok, c)
		}
	}
	if len(labels) != len(want) {
		t.Errorf("SuiteLabels: %d cases, want %d", len(labels), len(want))
	}
	if a, b := labels["a"].Tags, labels["b"].Tags; &a[0] != &b[0] {
		t.Error("SuiteLabels: cases a and b hold copies of equal tags")
	}
	for id, l := range labels {
		if cap(l.Tags) != len(l.Tags) {
			t.Errorf("SuiteLabels: case %s: tags of capacity %d beyond their %d: an append would write into what other cases share", id, cap(l.Tags), len(l.Tags))
		}
	}
	if none, err := db.SuiteLabels(ctx, "unknown"); err != nil || none.Len() != 0 {
		t.Fatalf("SuiteLabels(unknown suite) = %v, %v; want none", none, err)
	}
}
