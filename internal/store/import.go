package store

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// importBatch is how many results one transaction of ImportRun stores.
const importBatch = 512

// ImportRun stores a run made elsewhere (a baseline file, a shard) with its
// results, and sets run.ID. Unlike CreateRun and SetRunStatus, which take
// times from the store's clock, it keeps the run's Started and Finished times
// and its Status as given; a run without a Started time, or a complete or
// interrupted one without a Finished time, is given the current time. The run is stored as running first and
// given its status and finish time only once every result is stored, so an
// import that stops half-way leaves a run that nothing takes for complete.
// Results are stored as a Writer stores them: redacted, and a second result of
// the same case sample dropped. An error from results ends the import with
// that error, the run left running.
func (db *DB) ImportRun(ctx context.Context, run *eval.Run, results iter.Seq2[eval.Result, error]) (err error) {
	defer db.explain(&err)
	status, finished := run.Status, run.Finished
	switch status {
	case eval.RunRunning:
		finished = time.Time{}
	case eval.RunInterrupted, eval.RunComplete:
		if finished.IsZero() {
			finished = db.now()
		}
	default:
		return fmt.Errorf("import run: unknown status %q", status)
	}
	created := *run
	created.Status, created.Finished = eval.RunRunning, time.Time{}
	if err := db.CreateRun(ctx, &created); err != nil {
		return err
	}
	batch := make([]eval.Result, 0, importBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := db.putResults(ctx, created.ID, batch, nil); err != nil {
			return fmt.Errorf("store results of run %d: %w", created.ID, err)
		}
		clear(batch)
		batch = batch[:0]
		return nil
	}
	for r, err := range results {
		if err != nil {
			return err
		}
		if batch = append(batch, r); len(batch) == importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := db.setRunStatus(ctx, created.ID, status, finished); err != nil {
		return err
	}
	*run = created
	run.Status, run.Finished = status, finished
	return nil
}
