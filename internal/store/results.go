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

// resultColumns are the columns a resultReader reads, in its order.
const resultColumns = `case_id, case_hash, sample, output, finish_reason, prompt_tokens,
	completion_tokens, latency_ns, lock_seen, endpoint, error_kind, error, checks`

// Results returns every result of the run, ordered by case id and sample.
// Results with equal checks may share one Checks slice, so the caller must
// not modify a result's checks in place (an append copies them).
func (db *DB) Results(ctx context.Context, runID int64) (_ []eval.Result, err error) {
	defer db.explain(&err)
	rs, err := db.results(ctx, `WHERE run_id = ?`, runID)
	if err != nil {
		return nil, fmt.Errorf("results of run %d: %w", runID, err)
	}
	return rs, nil
}

// ComparedResults calls fn with every result of the run, ordered by case
// id and sample, as a diff reads its sides: it reads only what a comparison
// uses (case id, case hash, sample, output, latency, error kind, error and
// checks) and leaves the finish reason, token counts, lock and endpoint
// zero. fn may keep the result's strings and checks but not the result,
// which the next call reuses; results with equal checks may share one
// Checks slice (see Results). An error of fn ends the read and is returned.
func (db *DB) ComparedResults(ctx context.Context, runID int64, fn func(*eval.Result) error) (err error) {
	defer db.explain(&err)
	rows, err := db.db.QueryContext(ctx, `SELECT `+comparedColumns+` FROM results WHERE run_id = ? ORDER BY case_id, sample`, runID)
	if err != nil {
		return fmt.Errorf("results of run %d: %w", runID, err)
	}
	defer rows.Close()
	rd := &resultReader{compared: true}
	var r eval.Result
	for rows.Next() {
		r = eval.Result{}
		if err := rd.scan(rows, &r); err != nil {
			return fmt.Errorf("results of run %d: %w", runID, err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("results of run %d: %w", runID, err)
	}
	return nil
}

// Outputs returns the outputs of the results of the run named by cases and
// samples: the output of sample samples[i] of case cases[i], ordered by case
// id and sample as the keys must be. It reads the cases a batch at a time
// by the results' index, and is an error matching ErrNotFound when a key
// names no stored result.
func (db *DB) Outputs(ctx context.Context, runID int64, cases []string, samples []int) (_ []string, err error) {
	defer db.explain(&err)
	out := make([]string, 0, len(cases))
	for len(out) < len(cases) {
		k, err := db.outputBatch(ctx, runID, cases[len(out):], samples[len(out):], &out)
		if err != nil {
			return nil, fmt.Errorf("outputs of run %d: %w", runID, err)
		}
		if k == 0 {
			return nil, fmt.Errorf("outputs of run %d: case %q sample %d: %w", runID, cases[len(out)], samples[len(out)], ErrNotFound)
		}
	}
	return out, nil
}

// outputBatchCases is the most case ids one query of Outputs names.
const outputBatchCases = 500

// outputBatch appends to out the outputs of the first keys (cases and
// samples) of up to outputBatchCases distinct cases, read in one query,
// and returns how many it appended: fewer than those keys when a key names
// no stored result.
func (db *DB) outputBatch(ctx context.Context, runID int64, cases []string, samples []int, out *[]string) (int, error) {
	args := []any{runID}
	for i, id := range cases {
		if i == 0 || id != cases[i-1] {
			if len(args) > outputBatchCases {
				break
			}
			args = append(args, id)
		}
	}
	rows, err := db.db.QueryContext(ctx, `SELECT case_id, sample, output FROM results
		WHERE run_id = ? AND case_id IN (`+placeholders(len(args)-1)+`) ORDER BY case_id, sample`, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var (
		id, output string
		sample     int
	)
	k := 0
	for rows.Next() && k < len(cases) {
		if err := rows.Scan(&id, &sample, &output); err != nil {
			return 0, err
		}
		if id == cases[k] && sample == samples[k] {
			*out = append(*out, output)
			k++
		}
	}
	return k, rows.Err()
}

// Result returns the results of one case of the run, one per stored sample in
// sample order, or an error matching ErrNotFound if none is stored.
func (db *DB) Result(ctx context.Context, runID int64, caseID string) (_ []eval.Result, err error) {
	defer db.explain(&err)
	rs, err := db.results(ctx, `WHERE run_id = ? AND case_id = ?`, runID, caseID)
	if err != nil {
		return nil, fmt.Errorf("result of run %d case %q: %w", runID, caseID, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("result of run %d case %q: %w", runID, caseID, ErrNotFound)
	}
	return rs, nil
}

// results reads the results of run runID that where selects (its arguments
// start with runID), ordered by case id and sample.
//
// A large run is most of what a diff holds in memory. Two tricks stay
// because BenchmarkFastResults shows each pays at least 10% in time (STYLE
// rule 19; docs/architecture.md, "Fast paths"), and FuzzResults holds the
// read equal to a plain one (plainResults in results_internal_test.go):
// the slice is sized by a count first, and equal case ids, hashes and outputs
// of the previous row are shared (see share). A third, equal checks texts
// decoded once (checksCache), pays on BenchmarkDiffCommand100k.
func (db *DB) results(ctx context.Context, where string, args ...any) ([]eval.Result, error) {
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM results `+where, args...).Scan(&n); err != nil {
		return nil, err
	}
	rows, err := db.db.QueryContext(ctx, `SELECT `+resultColumns+` FROM results `+where+` ORDER BY case_id, sample`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rd := &resultReader{}
	rs := make([]eval.Result, 0, n)
	for rows.Next() {
		rs = append(rs, eval.Result{})
		if err := rd.scan(rows, &rs[len(rs)-1]); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, nil // no results are nil, not empty: callers tell the two apart
	}
	return rs, nil
}

// comparedColumns are the columns a resultReader reads for ComparedResults,
// in its order.
const comparedColumns = `case_id, case_hash, sample, output, latency_ns, error_kind, error, checks`

// A resultReader turns rows of resultColumns (or of comparedColumns) into
// results. It keeps the state that lets consecutive rows share memory.
type resultReader struct {
	// row holds the columns of the current row that are not scanned straight
	// into the result.
	row struct {
		sample, prompt, completion, latency int64
		checks                              string
	}
	compared bool        // the rows are of comparedColumns
	prev     eval.Result // the previous row, whose case id, hash and output the next may share
	checks   checksCache
}

// scan reads the current row of rows into r, a zero Result.
func (rd *resultReader) scan(rows *sql.Rows, r *eval.Result) error {
	row := &rd.row
	var err error
	if rd.compared {
		err = rows.Scan(&r.CaseID, &r.CaseHash, &row.sample, &r.Output, &row.latency, &r.ErrorKind, &r.Error, &row.checks)
	} else {
		err = rows.Scan(&r.CaseID, &r.CaseHash, &row.sample, &r.Output, &r.FinishReason, &row.prompt,
			&row.completion, &row.latency, &r.Lock, &r.Endpoint, &r.ErrorKind, &r.Error, &row.checks)
	}
	if err != nil {
		return err
	}
	r.Sample, r.PromptTokens, r.CompletionTokens = int(row.sample), int(row.prompt), int(row.completion)
	r.Latency = time.Duration(row.latency)
	checks := row.checks
	row.checks = "" // hold no row longer than needed
	if r.Checks, err = rd.checks.decode(checks); err != nil {
		return fmt.Errorf("case %s sample %d: checks: %w", r.CaseID, r.Sample, err)
	}
	rd.share(r)
	return nil
}

// A checksCache decodes equal checks texts once: a run's checks take few
// distinct values (each scorer passes or fails), and decoding each with
// encoding/json was a third of the time a diff spent reading a run. Results
// with equal checks then share one Checks slice (as Results allows). It
// holds at most maxCachedChecks texts, so that checks with details of their
// own (a failure's words) cost one decode each, as without it.
type checksCache map[string][]eval.Check

const maxCachedChecks = 1024

// decode returns decodeChecks(s), from the cache when it holds s.
func (c *checksCache) decode(s string) ([]eval.Check, error) {
	if cs, ok := (*c)[s]; ok {
		return cs, nil
	}
	cs, err := decodeChecks(s)
	if err != nil {
		return nil, err
	}
	if *c == nil {
		*c = make(checksCache)
	}
	if len(*c) < maxCachedChecks {
		(*c)[s] = cs
	}
	return cs, nil
}

// share points r's case id, case hash and output at equal strings of the
// previous row. Without it, BenchmarkFastResults/data=samples takes 59% more
// time and the results keep 2.6x the heap.
func (rd *resultReader) share(r *eval.Result) {
	if r.CaseID == rd.prev.CaseID {
		// Another sample of the same case.
		r.CaseID = rd.prev.CaseID
		if r.CaseHash == rd.prev.CaseHash {
			r.CaseHash = rd.prev.CaseHash
		}
		if r.Output == rd.prev.Output {
			r.Output = rd.prev.Output
		}
	}
	rd.prev = *r
}

// decodeChecks decodes a stored checks column, the JSON array putResults
// writes; an empty text or array is no checks.
func decodeChecks(s string) ([]eval.Check, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	var cs []eval.Check
	if err := json.Unmarshal([]byte(s), &cs); err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, nil
	}
	return cs, nil
}

// A Done is the set of (case id, sample) pairs a run has stored; a resumed run
// requests only what it lacks. Its zero value is an empty set.
//
// Samples 0–63 of a case are bits of one map entry, not entries of their own:
// with a map of pairs, BenchmarkFastDone takes 34% more time (70% with five
// samples a case). FuzzDone holds it equal to a map of pairs.
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
func (db *DB) Done(ctx context.Context, runID int64, retry []string) (_ *Done, err error) {
	defer db.explain(&err)
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
		caseID string
		sample int
	)
	for rows.Next() {
		if err := rows.Scan(&caseID, &sample); err != nil {
			return nil, fmt.Errorf("stored cases of run %d: %w", runID, err)
		}
		if !again.Has(caseID, sample) {
			d.Add(caseID, sample)
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
