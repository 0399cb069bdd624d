package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/store"
)

// result returns a result for case i, sample s.
func result(i, s int) eval.Result {
	return eval.Result{
		CaseID: fmt.Sprintf("case-%06d", i), CaseHash: fmt.Sprintf("h%d", i), Sample: s,
		Output: fmt.Sprintf("output %d/%d", i, s), FinishReason: "stop", PromptTokens: 10, CompletionTokens: 3,
		Latency: time.Duration(i+1) * time.Millisecond, Lock: "sha256:aa", Endpoint: "http://127.0.0.1:8000/v1",
		Checks: []eval.Check{{Scorer: "contains", Pass: i%2 == 0, Detail: "why"}},
	}
}

func TestWriter_StoresEverythingOnce(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa")
	w := db.NewWriter(ctx, run.ID, store.WriterOptions{BatchSize: 7, FlushInterval: time.Hour})

	// Eight workers put 50 cases × 2 samples; every result is put twice.
	const cases, samples, workers = 50, 2, 8
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := g; i < cases; i += workers {
				for s := range samples {
					for range 2 {
						if err := w.Put(result(i, s)); err != nil {
							t.Error(err)
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
	failed := result(cases, 0)
	failed.Output, failed.Checks, failed.ErrorKind, failed.Error = "", nil, "http", "HTTP 500: boom"
	if err := w.Put(failed); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := w.Stored(), int64(2*cases*samples+1); got != want {
		t.Fatalf("Stored=%d, want %d (every Put committed, duplicates included)", got, want)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Put(result(0, 0)); !errors.Is(err, store.ErrWriterClosed) {
		t.Fatalf("Put after Close = %v, want ErrWriterClosed", err)
	}

	rs, err := db.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var want []eval.Result
	for i := range cases {
		for s := range samples {
			want = append(want, result(i, s))
		}
	}
	want = append(want, failed)
	if !reflect.DeepEqual(rs, want) {
		t.Fatalf("Results differ: got %d, want %d\nfirst got  %+v\nfirst want %+v", len(rs), len(want), rs[0], want[0])
	}

	c, err := db.Counts(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c != (store.Counts{Results: cases*samples + 1, Errors: 1}) {
		t.Fatalf("Counts=%+v", c)
	}

	one, err := db.Result(ctx, run.ID, "case-000003")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, []eval.Result{result(3, 0), result(3, 1)}) {
		t.Fatalf("Result(case-000003)=%+v", one)
	}
	if _, err := db.Result(ctx, run.ID, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Result(nope) error = %v, want ErrNotFound", err)
	}

	done, err := db.Done(ctx, run.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := done.Len(), cases*samples+1; got != want {
		t.Fatalf("Done.Len=%d, want %d", got, want)
	}
	for _, tt := range []struct {
		caseID string
		sample int
		want   bool
	}{
		{"case-000000", 0, true},
		{"case-000049", 1, true},
		{"case-000050", 0, true}, // the failed request is stored: not requested again
		{"case-000050", 1, false},
		{"case-000049", 2, false},
		{"case-999999", 0, false},
	} {
		if got := done.Has(tt.caseID, tt.sample); got != tt.want {
			t.Errorf("Done.Has(%s, %d)=%v, want %v", tt.caseID, tt.sample, got, tt.want)
		}
	}
}

func TestWriter_ReplacesRetryableFailures(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa")
	retry := []string{"server", "timeout"}
	failure := func(i int, kind, msg string) eval.Result {
		r := result(i, 0)
		r.Output, r.FinishReason, r.Checks, r.ErrorKind, r.Error = "", "", nil, kind, msg
		return r
	}
	put := func(opts store.WriterOptions, rs ...eval.Result) {
		t.Helper()
		opts.FlushInterval = time.Hour
		w := db.NewWriter(ctx, run.ID, opts)
		for _, r := range rs {
			if err := w.Put(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// The first invocation: a success, two transient failures, a permanent one.
	put(store.WriterOptions{},
		result(0, 0),
		failure(1, "server", "HTTP 503 (after 6 attempts)"),
		failure(2, "timeout", "no answer within 1s (after 6 attempts)"),
		failure(3, "bad_request", "HTTP 400: no"))
	done, err := db.Done(ctx, run.ID, retry)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, false, true} {
		if got := done.Has(result(i, 0).CaseID, 0); got != want {
			t.Errorf("Done(retry).Has(case %d)=%v, want %v", i, got, want)
		}
	}
	if got, want := done.Len(), 2; got != want {
		t.Errorf("Done(retry).Len=%d, want %d", got, want)
	}
	if all, err := db.Done(ctx, run.ID, nil); err != nil || all.Len() != 4 {
		t.Fatalf("Done(nil) = %v, %v; want all 4 stored", all, err)
	}

	// The resumed invocation requests cases 1 and 2 again (2 fails once
	// more); a stale duplicate of every case must change nothing else.
	stale := failure(0, "server", "late duplicate")
	put(store.WriterOptions{Replace: retry},
		result(1, 0),
		failure(2, "server", "HTTP 502 (after 6 attempts)"),
		stale,
		failure(3, "server", "late duplicate"))
	rs, err := db.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []eval.Result{
		result(0, 0), // a success is never replaced
		result(1, 0), // the transient failure is
		failure(2, "server", "HTTP 502 (after 6 attempts)"),
		failure(3, "bad_request", "HTTP 400: no"), // a permanent failure stays
	}
	if !reflect.DeepEqual(rs, want) {
		t.Fatalf("Results after resume:\ngot  %+v\nwant %+v", rs, want)
	}
	c, err := db.Counts(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c != (store.Counts{Results: 4, Errors: 2}) {
		t.Fatalf("Counts=%+v, want 4 results, 2 errors: one row per case sample", c)
	}

	// Without Replace, a stored failure is never overwritten.
	put(store.WriterOptions{}, result(2, 0))
	if one, err := db.Result(ctx, run.ID, result(2, 0).CaseID); err != nil || one[0].ErrorKind != "server" {
		t.Fatalf("Result(case 2) = %+v, %v; want the stored server failure kept", one, err)
	}
}

func TestDone_Samples(t *testing.T) {
	// Samples past 64 leave the bit set for the map.
	var d store.Done
	for _, s := range []int{0, 5, 63, 64, 1000, 5} {
		d.Add("c", s)
	}
	if got, want := d.Len(), 5; got != want {
		t.Fatalf("Len=%d, want %d", got, want)
	}
	for _, tt := range []struct {
		sample int
		want   bool
	}{{0, true}, {1, false}, {63, true}, {64, true}, {65, false}, {1000, true}, {-1, false}} {
		if got := d.Has("c", tt.sample); got != tt.want {
			t.Errorf("Has(c, %d)=%v, want %v", tt.sample, got, tt.want)
		}
	}
	if d.Has("other", 0) {
		t.Error("Has(other, 0)=true")
	}
}

func TestWriter_FlushInterval(t *testing.T) {
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa")
	w := db.NewWriter(context.Background(), run.ID, store.WriterOptions{BatchSize: 1000, FlushInterval: 10 * time.Millisecond})
	defer w.Close()
	if err := w.Put(result(1, 0)); err != nil {
		t.Fatal(err)
	}
	// The batch is far from full; the interval stores it.
	waitStored(t, w, 1)
}

func TestWriter_CancelFlushes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa")
	w := db.NewWriter(ctx, run.ID, store.WriterOptions{BatchSize: 1000, FlushInterval: time.Hour})
	for i := range 3 {
		if err := w.Put(result(i, 0)); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	// Cancelling stores what was Put at once, and the writer keeps
	// accepting the results of requests still in flight.
	waitStored(t, w, 3)
	if err := w.Put(result(3, 0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	done, err := db.Done(context.Background(), run.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := done.Len(), 4; got != want {
		t.Fatalf("stored %d results, want %d", got, want)
	}
}

func TestWriter_WriteFailure(t *testing.T) {
	db := MustOpenDB(t)
	// Run 999 does not exist: the foreign key fails the first batch.
	w := db.NewWriter(context.Background(), 999, store.WriterOptions{BatchSize: 1, FlushInterval: time.Hour})
	if err := w.Put(result(0, 0)); err != nil {
		t.Fatalf("first Put = %v; the failure happens later, on disk", err)
	}
	select {
	case <-w.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("Failed not closed after a write error")
	}
	if w.Err() == nil {
		t.Fatal("Err=nil after Failed")
	}
	// Later puts learn of the failure instead of blocking.
	for i := range 10 {
		if err := w.Put(result(i+1, 0)); err == nil {
			t.Fatal("Put after a write failure returned nil")
		}
	}
	if err := w.Close(); err == nil || !errors.Is(err, w.Err()) {
		t.Fatalf("Close = %v, want the write error", err)
	}
	if got := w.Stored(); got != 0 {
		t.Fatalf("Stored=%d, want 0", got)
	}
}

func TestDB_CloseClosesWriters(t *testing.T) {
	db := store.NewDB(t.TempDir() + "/evalpin.db")
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	run := mustCreateRun(t, db, "sha256:aa")
	w := db.NewWriter(context.Background(), run.ID, store.WriterOptions{FlushInterval: time.Hour})
	if err := w.Put(result(0, 0)); err != nil {
		t.Fatal(err)
	}
	// Closing the DB flushes and stops the writer it owns.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.Stored(); got != 1 {
		t.Fatalf("Stored=%d after DB.Close, want 1", got)
	}
	if err := w.Put(result(1, 0)); !errors.Is(err, store.ErrWriterClosed) {
		t.Fatalf("Put after DB.Close = %v, want ErrWriterClosed", err)
	}
	w2 := db.NewWriter(context.Background(), run.ID, store.WriterOptions{})
	if err := w2.Close(); !errors.Is(err, store.ErrWriterClosed) {
		t.Fatalf("writer of a closed DB: Close = %v, want ErrWriterClosed", err)
	}
}

// waitStored waits until w has stored n results.
func waitStored(t *testing.T, w *store.Writer, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for w.Stored() < n {
		if time.Now().After(deadline) {
			t.Fatalf("Stored=%d after 10s, want %d", w.Stored(), n)
		}
		time.Sleep(time.Millisecond)
	}
}
