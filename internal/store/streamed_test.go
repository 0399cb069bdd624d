package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/store"
)

// TestDoneMarks: the bits of DoneMarks, by a Source's keys, hold what Done
// holds by case id, with and without failures requested again, and Tally
// counts them; a stored case the suite does not have, or a sample beyond
// the run's, is read but not marked.
func TestDoneMarks(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa")
	w := db.NewWriter(ctx, run.ID, store.WriterOptions{FlushInterval: time.Hour})
	kinds := []string{"", "server", "bad_request", "timeout"}
	for i := range 8 {
		for s := range 3 {
			r := result(i, s)
			if k := kinds[(i+s)%len(kinds)]; k != "" {
				r.Output, r.Checks, r.ErrorKind, r.Error = "", nil, k, "failed"
			}
			if err := w.Put(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var cases []eval.Case
	for i := range 7 { // case 7 is not in the suite
		cases = append(cases, eval.Case{ID: result(6-i, 0).CaseID}) // keys in another order than the ids
	}
	src := eval.NewSliceSource(cases)
	for _, retry := range [][]string{nil, {"server", "timeout"}} {
		for _, samples := range []int{1, 2, 3} {
			t.Run(fmt.Sprint(retry, samples), func(t *testing.T) {
				done, err := db.Done(ctx, run.ID, retry)
				if err != nil {
					t.Fatal(err)
				}
				marks, err := db.DoneMarks(ctx, run.ID, retry, src, samples)
				if err != nil {
					t.Fatal(err)
				}
				if marks.Len() != done.Len() {
					t.Errorf("Len %d, Done's %d", marks.Len(), done.Len())
				}
				for k, c := range cases {
					for s := range 4 {
						if got, w := marks.Has(k, s), s < samples && done.Has(c.ID, s); got != w {
							t.Errorf("Has(%s, %d) = %v, want %v", c.ID, s, got, w)
						}
					}
				}
				c, err := db.Counts(ctx, run.ID)
				if err != nil {
					t.Fatal(err)
				}
				if tl, err := db.Tally(ctx, run.ID, retry); err != nil || tl.Results-tl.Retried != done.Len() || tl.Results != c.Results || tl.Errors != c.Errors {
					t.Errorf("Tally = %+v, %v; want %d stored, counts %+v", tl, err, done.Len(), c)
				}
			})
		}
	}
}
