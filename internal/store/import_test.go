package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/store"
)

func TestImportRun(t *testing.T) {
	ctx := context.Background()
	started, finished := t0.Add(-48*time.Hour), t0.Add(-47*time.Hour)
	results := make([]eval.Result, 1300) // more than one transaction
	for i := range results {
		results[i] = eval.Result{CaseID: "c", Sample: i, Output: "out"}
	}
	results[7].Error, results[7].ErrorKind = "HTTP 400", "bad_request"
	tests := []struct {
		name                 string
		status               eval.RunStatus
		finished             time.Time
		wantFinished         time.Time
		wantErr              bool
		wantResults          int
		wantErrors, wantRuns int
	}{
		// The finish time is the file's, not the store's clock.
		{name: "complete", status: eval.RunComplete, finished: finished, wantFinished: finished, wantResults: 1300, wantErrors: 1, wantRuns: 1},
		{name: "interrupted", status: eval.RunInterrupted, finished: finished, wantFinished: finished, wantResults: 1300, wantErrors: 1, wantRuns: 1},
		// A finished run without a finish time gets the store's.
		{name: "complete, no finish time", status: eval.RunComplete, wantFinished: t0, wantResults: 1300, wantErrors: 1, wantRuns: 1},
		// A running run has no finish time, whatever it was given.
		{name: "running", status: eval.RunRunning, finished: finished, wantResults: 1300, wantErrors: 1, wantRuns: 1},
		{name: "unknown status", status: "bogus", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			run := eval.Run{
				Lock: "sha256:aa", Suite: "s1", SuiteHash: "suitehash1", Settings: eval.DefaultSettings(),
				Endpoints: []string{"http://user:pw@gpu:8000/v1"}, Version: "v1",
				Status: tt.status, Started: started, Finished: tt.finished,
			}
			err := db.ImportRun(ctx, &run, eval.SliceSeq(results))
			if tt.wantErr {
				if err == nil {
					t.Fatal("ImportRun succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := db.Run(ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.status || !got.Started.Equal(started) || !got.Finished.Equal(tt.wantFinished) {
				t.Errorf("stored status %s, started %v, finished %v; want %s, %v, %v", got.Status, got.Started, got.Finished, tt.status, started, tt.wantFinished)
			}
			if got.Status != run.Status || !got.Finished.Equal(run.Finished) {
				t.Errorf("ImportRun left run %s %v, stored %s %v", run.Status, run.Finished, got.Status, got.Finished)
			}
			if got.Endpoints[0] != "http://gpu:8000/v1" {
				t.Errorf("endpoint stored as %q, want it without its password", got.Endpoints[0])
			}
			if c, err := db.Counts(ctx, run.ID); err != nil || c.Results != tt.wantResults || c.Errors != tt.wantErrors {
				t.Errorf("counts %+v, %v; want %d results, %d errors", c, err, tt.wantResults, tt.wantErrors)
			}
		})
	}
}

// TestImportRunStopped: an import whose results cannot be stored leaves a
// running run, which no gate takes for complete.
func TestImportRunStopped(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	run := eval.Run{Lock: "sha256:aa", Suite: "s1", SuiteHash: "suitehash1", Settings: eval.DefaultSettings(),
		Status: eval.RunComplete, Started: t0, Finished: t0}
	stop := errors.New("stop")
	cctx, cancel := context.WithCancelCause(ctx)
	results := func(yield func(eval.Result, error) bool) {
		for i := range 2000 {
			if i == 600 {
				cancel(stop) // the second transaction fails
			}
			if !yield(eval.Result{CaseID: "c", Sample: i}, nil) {
				return
			}
		}
	}
	if err := db.ImportRun(cctx, &run, results); err == nil {
		t.Fatal("ImportRun succeeded")
	}
	runs, err := db.Runs(ctx, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != eval.RunRunning || !runs[0].Finished.IsZero() {
		t.Errorf("runs after a failed import: %+v, want one running run", runs)
	}
}

func TestResolveRun(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa")
	tests := []struct {
		ref     string
		want    int64 // the run's id, or 0
		err     error // matched with errors.Is
		message string
	}{
		{ref: "1", want: run.ID},
		{ref: "#1", want: run.ID},
		{ref: "2", err: store.ErrNotFound, message: "no run 2 is stored"},
		{ref: "0", err: store.ErrNotRunID, message: `run id "0" is not a positive number`},
		{ref: "-1", err: store.ErrNotRunID, message: `run id "-1" is not a positive number`},
		{ref: "sha256:aa", err: store.ErrNotRunID, message: `run id "sha256:aa" is not a positive number`},
		{ref: "", err: store.ErrNotRunID, message: `run id "" is not a positive number`},
	}
	for _, tt := range tests {
		got, err := db.ResolveRun(ctx, tt.ref)
		if tt.err != nil {
			if !errors.Is(err, tt.err) || err.Error() != tt.message {
				t.Errorf("ResolveRun(%q) error = %v, want %q matching %v", tt.ref, err, tt.message, tt.err)
			}
			continue
		}
		if err != nil || got.ID != tt.want {
			t.Errorf("ResolveRun(%q) = run %d, %v; want run %d", tt.ref, got.ID, err, tt.want)
		}
	}
}
