package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// resultColumns are the columns scanResult reads, in its order.
const resultColumns = `case_id, case_hash, sample, output, finish_reason, prompt_tokens,
	completion_tokens, latency_ns, lock_seen, endpoint, error_kind, error, checks`

// scanResult reads one row of resultColumns.
func scanResult(rows *sql.Rows) (eval.Result, error) {
	var (
		r       eval.Result
		latency int64
		checks  []byte
	)
	if err := rows.Scan(&r.CaseID, &r.CaseHash, &r.Sample, &r.Output, &r.FinishReason, &r.PromptTokens,
		&r.CompletionTokens, &latency, &r.Lock, &r.Endpoint, &r.ErrorKind, &r.Error, &checks); err != nil {
		return eval.Result{}, err
	}
	r.Latency = time.Duration(latency)
	if err := json.Unmarshal(checks, &r.Checks); err != nil {
		return eval.Result{}, fmt.Errorf("case %s sample %d: checks: %w", r.CaseID, r.Sample, err)
	}
	if len(r.Checks) == 0 {
		r.Checks = nil // stored as []
	}
	return r, nil
}

// Results returns every result of the run, ordered by case id and sample.
func (db *DB) Results(ctx context.Context, runID int64) ([]eval.Result, error) {
	rs, err := db.results(ctx, `WHERE run_id = ?`, runID)
	if err != nil {
		return nil, fmt.Errorf("results of run %d: %w", runID, err)
	}
	return rs, nil
}

// Result returns the results of one case of the run, one per stored sample in
// sample order, or an error matching ErrNotFound if none is stored.
func (db *DB) Result(ctx context.Context, runID int64, caseID string) ([]eval.Result, error) {
	rs, err := db.results(ctx, `WHERE run_id = ? AND case_id = ?`, runID, caseID)
	if err != nil {
		return nil, fmt.Errorf("result of run %d case %q: %w", runID, caseID, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("result of run %d case %q: %w", runID, caseID, ErrNotFound)
	}
	return rs, nil
}

func (db *DB) results(ctx context.Context, where string, args ...any) ([]eval.Result, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+resultColumns+` FROM results `+where+` ORDER BY case_id, sample`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []eval.Result
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// A Done is the set of (case id, sample) pairs a run has stored; a resumed run
// requests only what it lacks. Its zero value is an empty set.
type Done struct {
	low  map[string]uint64    // samples 0–63 of each case, as a bit set
	high map[doneKey]struct{} // samples from 64 on, which are rare
	n    int
}

type doneKey struct {
	caseID string
	sample int
}

// Has reports whether the set holds sample of caseID.
func (d *Done) Has(caseID string, sample int) bool {
	if sample >= 0 && sample < 64 {
		return d.low[caseID]&(1<<sample) != 0
	}
	_, ok := d.high[doneKey{caseID, sample}]
	return ok
}

// Add puts sample of caseID into the set.
func (d *Done) Add(caseID string, sample int) {
	if d.Has(caseID, sample) {
		return
	}
	d.n++
	if sample >= 0 && sample < 64 {
		if d.low == nil {
			d.low = make(map[string]uint64)
		}
		d.low[caseID] |= 1 << sample
		return
	}
	if d.high == nil {
		d.high = make(map[doneKey]struct{})
	}
	d.high[doneKey{caseID, sample}] = struct{}{}
}

// Len returns the number of (case, sample) pairs in the set.
func (d *Done) Len() int { return d.n }

// Done returns the set of (case id, sample) pairs the run has stored, leaving
// out the failed requests whose error kind is one of retry: a resumed run
// requests those again, and a Writer whose WriterOptions.Replace lists the
// same kinds stores the new result in their place. Done reads only the index
// of the results and the failed requests, never the outputs.
func (db *DB) Done(ctx context.Context, runID int64, retry []string) (*Done, error) {
	again, err := db.retryable(ctx, runID, retry)
	if err != nil {
		return nil, fmt.Errorf("stored cases of run %d: %w", runID, err)
	}
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM results WHERE run_id = ?`, runID).Scan(&n); err != nil {
		return nil, fmt.Errorf("stored cases of run %d: %w", runID, err)
	}
	d := &Done{low: make(map[string]uint64, n)}
	rows, err := db.db.QueryContext(ctx, `SELECT case_id, sample FROM results WHERE run_id = ? ORDER BY case_id, sample`, runID)
	if err != nil {
		return nil, fmt.Errorf("stored cases of run %d: %w", runID, err)
	}
	defer rows.Close()
	var (
		raw    sql.RawBytes
		sample int
		last   string
	)
	for rows.Next() {
		if err := rows.Scan(&raw, &sample); err != nil {
			return nil, fmt.Errorf("stored cases of run %d: %w", runID, err)
		}
		// Rows come grouped by case: allocate each case id once.
		if string(raw) != last {
			last = string(raw)
		}
		if !again.Has(last, sample) {
			d.Add(last, sample)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stored cases of run %d: %w", runID, err)
	}
	return d, nil
}

// retryable returns the (case id, sample) pairs of the run's failed requests
// whose error kind is one of kinds. The partial index results_errors finds
// them without reading the run's outputs.
func (db *DB) retryable(ctx context.Context, runID int64, kinds []string) (*Done, error) {
	d := &Done{}
	if len(kinds) == 0 {
		return d, nil
	}
	args := []any{runID}
	for _, k := range kinds {
		args = append(args, k)
	}
	rows, err := db.db.QueryContext(ctx, `SELECT case_id, sample FROM results
		WHERE run_id = ? AND error <> '' AND error_kind IN (`+placeholders(len(kinds))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			caseID string
			sample int
		)
		if err := rows.Scan(&caseID, &sample); err != nil {
			return nil, err
		}
		d.Add(caseID, sample)
	}
	return d, rows.Err()
}

// placeholders returns n comma-separated SQL parameters: "?, ?, ?".
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
