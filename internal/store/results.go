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
	rs, err := db.results(ctx, runID, nil, false, `WHERE run_id = ?`, runID)
	if err != nil {
		return nil, fmt.Errorf("results of run %d: %w", runID, err)
	}
	return rs, nil
}

// ComparedResults is Results for a run that is compared with another, as
// a diff reads its sides: it reads only what a comparison uses (case id,
// case hash, sample, output, latency, error kind, error and checks) and
// leaves the finish reason, token counts, lock and endpoint zero. like holds
// results as Results or ComparedResults return them, ordered by case id and
// sample, and where a result's case id, case hash or output equals that of
// the same case sample in like, the result shares that string's memory
// instead of holding a copy of its own. Two runs of one suite mostly differ
// in a few outputs, so a diff that reads its candidate this way keeps little
// more of it than the outputs that changed.
func (db *DB) ComparedResults(ctx context.Context, runID int64, like []eval.Result) (_ []eval.Result, err error) {
	defer db.explain(&err)
	rs, err := db.results(ctx, runID, like, true, `WHERE run_id = ?`, runID)
	if err != nil {
		return nil, fmt.Errorf("results of run %d: %w", runID, err)
	}
	return rs, nil
}

// Result returns the results of one case of the run, one per stored sample in
// sample order, or an error matching ErrNotFound if none is stored.
func (db *DB) Result(ctx context.Context, runID int64, caseID string) (_ []eval.Result, err error) {
	defer db.explain(&err)
	rs, err := db.results(ctx, runID, nil, false, `WHERE run_id = ? AND case_id = ?`, runID, caseID)
	if err != nil {
		return nil, fmt.Errorf("result of run %d case %q: %w", runID, caseID, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("result of run %d case %q: %w", runID, caseID, ErrNotFound)
	}
	return rs, nil
}

// results reads the results of run runID that where selects (its arguments
// start with runID), ordered by case id and sample, sharing strings with like
// as ComparedResults describes; compared reads only comparedColumns.
//
// A large run is most of what a diff holds in memory. Two tricks stay
// because BenchmarkFastResults shows each pays at least 10% in time (STYLE
// rule 19; docs/architecture.md, "Fast paths"), and FuzzResults holds the
// read equal to a plain one (plainResults in results_internal_test.go):
// the slice is sized by a count first, and equal case ids, hashes and outputs
// of the previous row or of like are shared (see share). A third, equal
// checks texts decoded once (checksCache), pays on BenchmarkDiffCommand100k.
func (db *DB) results(ctx context.Context, runID int64, like []eval.Result, compared bool, where string, args ...any) ([]eval.Result, error) {
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM results `+where, args...).Scan(&n); err != nil {
		return nil, err
	}
	columns := resultColumns
	if compared {
		columns = comparedColumns
	}
	rows, err := db.db.QueryContext(ctx, `SELECT `+columns+` FROM results `+where+` ORDER BY case_id, sample`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rd := &resultReader{like: like, compared: compared}
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
	like     []eval.Result
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
// previous row or of the same case sample in like. Without it,
// BenchmarkFastResults/data=samples takes 59% more time and the results keep
// 2.6x the heap.
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
	// like is ordered as the rows are: skip what sorts before r.
	for len(rd.like) > 0 && (rd.like[0].CaseID < r.CaseID || rd.like[0].CaseID == r.CaseID && rd.like[0].Sample < r.Sample) {
		rd.like = rd.like[1:]
	}
	if len(rd.like) > 0 && rd.like[0].CaseID == r.CaseID {
		l := &rd.like[0]
		r.CaseID = l.CaseID
		if r.CaseHash == l.CaseHash {
			r.CaseHash = l.CaseHash
		}
		if r.Output == l.Output {
			r.Output = l.Output
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
