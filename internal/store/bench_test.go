package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
)

// benchResults is the size of a large run.
const benchResults = 100_000

// benchOutputs returns benchResults results with outputs of about 300 bytes.
func benchOutputs() []eval.Result {
	out := strings.Repeat("The answer is 42. ", 16)
	rs := make([]eval.Result, benchResults)
	for i := range rs {
		rs[i] = result(i, 0)
		rs[i].Output = out
	}
	return rs
}

// BenchmarkWriter stores a run of 100,000 results through one Writer; one op
// is the whole run.
func BenchmarkWriter(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	rs := benchOutputs()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		run := mustCreateRun(b, db, "sha256:aa")
		b.StartTimer()
		w := db.NewWriter(ctx, run.ID, store.WriterOptions{})
		for _, r := range rs {
			if err := w.Put(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchResults*b.N)/b.Elapsed().Seconds(), "results/s")
}

// BenchmarkDone reads the stored set of a 100,000-result run, as a resumed
// run does first.
func BenchmarkDone(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	run := mustCreateRun(b, db, "sha256:aa")
	w := db.NewWriter(ctx, run.ID, store.WriterOptions{})
	for _, r := range benchOutputs() {
		if err := w.Put(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := db.Done(ctx, run.ID, nil)
		if err != nil {
			b.Fatal(err)
		}
		if d.Len() != benchResults {
			b.Fatalf("Done.Len=%d, want %d", d.Len(), benchResults)
		}
	}
}

// benchRun stores a run of benchResults results shaped like a real one: one
// lock and endpoint, outputs of about 200 bytes, two checks each.
func benchRun(b *testing.B, db *store.DB) eval.Run {
	b.Helper()
	ctx := context.Background()
	run := mustCreateRun(b, db, lockid.ID("sha256:"+strings.Repeat("a", 64)))
	w := db.NewWriter(ctx, run.ID, store.WriterOptions{})
	out := strings.Repeat("the quick brown fox jumps ", 8)
	for i := range benchResults {
		r := result(i, 0)
		r.Output, r.Lock = out, run.Lock
		r.Checks = []eval.Check{{Scorer: "format", Pass: i%10 != 0}, {Scorer: "fact", Pass: i%5 != 0, Detail: "no match"}}
		if err := w.Put(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return run
}

// BenchmarkResults reads every result of a 100,000-result run, as a diff
// reads each of its two sides.
func BenchmarkResults(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	run := benchRun(b, db)
	b.ReportAllocs()
	for b.Loop() {
		rs, err := db.Results(ctx, run.ID)
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) != benchResults {
			b.Fatalf("Results returned %d results, want %d", len(rs), benchResults)
		}
	}
}

// benchSuite stores a suite of benchResults cases with prompts of about 300
// bytes, three tags and clusters of ten, and returns its hash.
func benchSuite(b *testing.B, db *store.DB) string {
	b.Helper()
	suite := eval.Suite{Name: "large", Version: "1", Hash: "largesuite", Settings: eval.DefaultSettings()}
	prompt := strings.Repeat("Read the passage and answer the question. ", 7)
	suite.Cases = make([]eval.Case, benchResults)
	for i := range suite.Cases {
		suite.Cases[i] = eval.Case{ID: fmt.Sprintf("case-%06d", i), Prompt: prompt + fmt.Sprint(i),
			Tags: []string{"reading", fmt.Sprint("t", i%3)}, Cluster: fmt.Sprint("passage-", i/10),
			Hash: fmt.Sprintf("%064x", i), Scorers: []eval.Scorer{namedScorer("contains"), namedScorer("regex")}}
	}
	if err := db.PutSuite(context.Background(), suite); err != nil {
		b.Fatal(err)
	}
	return suite.Hash
}

// BenchmarkCaseLabels reads the tags and clusters of a 100,000-case suite,
// as a diff does; BenchmarkCases reads the whole cases, for comparison.
func BenchmarkCaseLabels(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	hash := benchSuite(b, db)
	for _, bc := range []struct {
		name string
		read func() (int, error)
	}{
		{"labels", func() (int, error) { ls, err := db.SuiteLabels(ctx, hash); return ls.Len(), err }},
		{"cases", func() (int, error) { cs, err := db.Cases(ctx, hash); return len(cs), err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n, err := bc.read()
				if err != nil {
					b.Fatal(err)
				}
				if n != benchResults {
					b.Fatalf("%d cases, want %d", n, benchResults)
				}
			}
		})
	}
}
