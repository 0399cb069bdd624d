package store

import (
	"context"
	"fmt"
	"iter"

	"github.com/evalpin/evalpin/eval"
)

// An ExportRead is a run as a baseline export streams it: the counts its
// header needs and its cases and results in file order, all read from one
// snapshot of the store.
type ExportRead struct {
	// Cases counts the distinct case ids of the suite's stored cases and of
	// the run's results; Results and Errors are Counts'.
	Cases, Results, Errors int
	// StoredCases yields the suite's stored cases in id order, as Cases
	// returns them.
	StoredCases iter.Seq2[eval.Case, error]
	// RunResults yields the run's results ordered by case id and sample, as
	// Results returns them.
	RunResults iter.Seq2[eval.Result, error]
}

// ReadExport calls fn with the run runID and the stored cases of the suite
// with hash suiteHash, read on one connection: the iterators hold one row at
// a time, so that exporting a run of a million cases takes little memory, and
// the counts and both iterators see the same snapshot while fn reads them.
// The iterators are valid only during fn, and each may be ranged over once.
func (db *DB) ReadExport(ctx context.Context, runID int64, suiteHash string, fn func(ExportRead) error) (err error) {
	defer db.explain(&err)
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("export run %d: %w", runID, err)
	}
	defer conn.Close()
	results, err := conn.QueryContext(ctx, `SELECT `+resultColumns+` FROM results WHERE run_id = ? ORDER BY case_id, sample`, runID)
	if err != nil {
		return fmt.Errorf("results of run %d: %w", runID, err)
	}
	defer results.Close()
	// A statement being stepped holds its connection's read transaction
	// open, so the counts below and both row sets read one snapshot.
	cases, err := conn.QueryContext(ctx, `SELECT body FROM cases WHERE suite_hash = ? ORDER BY case_id`, suiteHash)
	if err != nil {
		return fmt.Errorf("cases of suite %.12s: %w", suiteHash, err)
	}
	defer cases.Close()
	var x ExportRead
	err = conn.QueryRowContext(ctx, `
		SELECT (SELECT count(*) FROM (SELECT case_id FROM cases WHERE suite_hash = ?2
		                              UNION SELECT case_id FROM results WHERE run_id = ?1)),
		       (SELECT count(*) FROM results WHERE run_id = ?1),
		       (SELECT count(*) FROM results WHERE run_id = ?1 AND error <> '')`, runID, suiteHash).Scan(&x.Cases, &x.Results, &x.Errors)
	if err != nil {
		return fmt.Errorf("count results of run %d: %w", runID, err)
	}
	x.RunResults = func(yield func(eval.Result, error) bool) {
		rd := &resultReader{}
		for results.Next() {
			var r eval.Result
			if err := rd.scan(results, &r); err != nil {
				yield(eval.Result{}, fmt.Errorf("results of run %d: %w", runID, err))
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := results.Err(); err != nil {
			yield(eval.Result{}, fmt.Errorf("results of run %d: %w", runID, err))
		}
	}
	x.StoredCases = func(yield func(eval.Case, error) bool) {
		var body string
		for cases.Next() {
			if err := cases.Scan(&body); err != nil {
				yield(eval.Case{}, fmt.Errorf("cases of suite %.12s: %w", suiteHash, err))
				return
			}
			c, err := decodeCase(body)
			if err != nil {
				yield(eval.Case{}, fmt.Errorf("cases of suite %.12s: %w", suiteHash, err))
				return
			}
			if !yield(c, nil) {
				return
			}
		}
		if err := cases.Err(); err != nil {
			yield(eval.Case{}, fmt.Errorf("cases of suite %.12s: %w", suiteHash, err))
		}
	}
	return fn(x)
}
