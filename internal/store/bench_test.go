package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
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
