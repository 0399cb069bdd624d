package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
)

// resultColumns are the columns a resultReader reads, in its order. The lock
// seen on a response is nearly always the run's own: nullif turns it into a
// NULL, which the driver hands over without copying it.
const resultColumns = `case_id, case_hash, sample, output, finish_reason, prompt_tokens,
	completion_tokens, latency_ns, nullif(lock_seen, ?), endpoint, error_kind, error, checks`

// Results returns every result of the run, ordered by case id and sample.
// Results with equal checks may share one Checks slice, so the caller must
// not modify a result's checks in place (an append copies them).
func (db *DB) Results(ctx context.Context, runID int64) (_ []eval.Result, err error) {
	defer db.explain(&err)
	rs, err := db.results(ctx, runID, nil, `WHERE run_id = ?`, runID)
	if err != nil {
		return nil, fmt.Errorf("results of run %d: %w", runID, err)
	}
	return rs, nil
}

// ResultsSharing is Results for a run that is read next to another: like
// holds results as Results returns them, ordered by case id and sample, and
// where a result's case id, case hash or output equals that of the same case
// sample in like, the result shares that string's memory instead of holding a
// copy of its own. Two runs of one suite mostly differ in a few outputs, so a
// diff that reads its candidate this way keeps little more of it than the
// outputs that changed.
func (db *DB) ResultsSharing(ctx context.Context, runID int64, like []eval.Result) (_ []eval.Result, err error) {
	defer db.explain(&err)
	rs, err := db.results(ctx, runID, like, `WHERE run_id = ?`, runID)
	if err != nil {
		return nil, fmt.Errorf("results of run %d: %w", runID, err)
	}
	return rs, nil
}

// Result returns the results of one case of the run, one per stored sample in
// sample order, or an error matching ErrNotFound if none is stored.
func (db *DB) Result(ctx context.Context, runID int64, caseID string) (_ []eval.Result, err error) {
	defer db.explain(&err)
	rs, err := db.results(ctx, runID, nil, `WHERE run_id = ? AND case_id = ?`, runID, caseID)
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
// as ResultsSharing describes.
//
// A large run is most of what a diff holds in memory, so the read allocates
// little besides what it keeps: the slice is sized by a count first, the
// columns are scanned into interface values (no conversion by reflection),
// strings that repeat from row to row (finish reason, lock, endpoint, error
// kind, scorer names) are kept once, and equal checks are decoded once, by
// hand, and shared (see decodeChecks).
func (db *DB) results(ctx context.Context, runID int64, like []eval.Result, where string, args ...any) ([]eval.Result, error) {
	var runLock string
	err := db.db.QueryRowContext(ctx, `SELECT lock FROM runs WHERE id = ?`, runID).Scan(&runLock)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // no run, no results
	} else if err != nil {
		return nil, err
	}
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM results `+where, args...).Scan(&n); err != nil {
		return nil, err
	}
	rows, err := db.db.QueryContext(ctx, `SELECT `+resultColumns+` FROM results `+where+` ORDER BY case_id, sample`,
		append([]any{runLock}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rd := newResultReader(runLock, like)
	rs := make([]eval.Result, 0, n)
	for rows.Next() {
		var r eval.Result
		if err := rd.scan(rows, &r); err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, nil // no results are nil, not empty: callers tell the two apart
	}
	return rs, nil
}

// A resultReader turns rows of resultColumns into results. It keeps the state
// that lets consecutive rows share memory.
type resultReader struct {
	vals [13]any // the columns of the current row
	dest [13]any // pointers to vals, for Scan

	lock      string                  // the run's lock, which a NULL lock_seen stands for
	strs      interner                // finish reasons, locks, endpoints, error kinds, scorers
	details   interner                // check details, which repeat often but not always
	checkSets map[string][]eval.Check // decoded checks by their stored text, up to maxCheckSets
	checks    []eval.Check            // the unused part of the current backing array
	prev      eval.Result             // the previous row, whose case id, hash and output the next may share
	like      []eval.Result
}

func newResultReader(lock string, like []eval.Result) *resultReader {
	rd := &resultReader{lock: lock, like: like, strs: interner{limit: 1 << 12}, details: interner{limit: 1 << 12},
		checkSets: make(map[string][]eval.Check)}
	for i := range rd.vals {
		rd.dest[i] = &rd.vals[i]
	}
	return rd
}

// scan reads the current row of rows into r.
func (rd *resultReader) scan(rows *sql.Rows, r *eval.Result) error {
	if err := rows.Scan(rd.dest[:]...); err != nil {
		return err
	}
	v := &rd.vals
	var err error
	r.CaseID, err = textValue(v[0], "case_id")
	if err == nil {
		r.CaseHash, err = textValue(v[1], "case_hash")
	}
	var sample, prompt, completion, latency int64
	if err == nil {
		sample, err = intValue(v[2], "sample")
	}
	if err == nil {
		r.Output, err = textValue(v[3], "output")
	}
	if err == nil {
		r.FinishReason, err = textValue(v[4], "finish_reason")
	}
	if err == nil {
		prompt, err = intValue(v[5], "prompt_tokens")
	}
	if err == nil {
		completion, err = intValue(v[6], "completion_tokens")
	}
	if err == nil {
		latency, err = intValue(v[7], "latency_ns")
	}
	if err == nil {
		lock := rd.lock
		if v[8] != nil {
			lock, err = textValue(v[8], "lock_seen")
		}
		r.Lock = lockid.ID(lock)
	}
	if err == nil {
		r.Endpoint, err = textValue(v[9], "endpoint")
	}
	if err == nil {
		r.ErrorKind, err = textValue(v[10], "error_kind")
	}
	if err == nil {
		r.Error, err = textValue(v[11], "error")
	}
	var checks string
	if err == nil {
		checks, err = textValue(v[12], "checks")
	}
	clear(v[:]) // hold no row longer than needed
	if err != nil {
		return err
	}
	r.Sample, r.PromptTokens, r.CompletionTokens = int(sample), int(prompt), int(completion)
	r.Latency = time.Duration(latency)
	r.FinishReason = rd.strs.get(r.FinishReason)
	r.Lock = lockid.ID(rd.strs.get(string(r.Lock)))
	r.Endpoint = rd.strs.get(r.Endpoint)
	r.ErrorKind = rd.strs.get(r.ErrorKind)
	if r.Checks, err = rd.decodeChecks(checks); err != nil {
		return fmt.Errorf("case %s sample %d: checks: %w", r.CaseID, r.Sample, err)
	}
	rd.share(r)
	return nil
}

// share points r's case id, case hash and output at equal strings of the
// previous row or of the same case sample in like.
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

// textValue returns a TEXT column's value.
func textValue(v any, column string) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("column %s holds %T, not text", column, v)
}

// intValue returns an INTEGER column's value.
func intValue(v any, column string) (int64, error) {
	if i, ok := v.(int64); ok {
		return i, nil
	}
	return 0, fmt.Errorf("column %s holds %T, not an integer", column, v)
}

// An interner keeps one copy of each string it is given, up to limit distinct
// strings; past it, get returns its argument.
type interner struct {
	m     map[string]string
	limit int
}

// get returns the kept string equal to s, keeping s if it is new.
func (in *interner) get(s string) string {
	if s == "" {
		return ""
	}
	if k, ok := in.m[s]; ok {
		return k
	}
	if len(in.m) >= in.limit {
		return s
	}
	if in.m == nil {
		in.m = make(map[string]string)
	}
	in.m[s] = s
	return s
}

// getSub is get for a string cut from a longer one: the kept copy
// never holds on to the rest of it.
func (in *interner) getSub(s string) string {
	if s == "" {
		return ""
	}
	if k, ok := in.m[s]; ok {
		return k
	}
	return in.get(strings.Clone(s))
}

const (
	// checksChunk is how many checks one backing array holds.
	checksChunk = 4096
	// maxCheckSets is how many distinct stored checks texts a read shares.
	maxCheckSets = 4096
)

// decodeChecks decodes a stored checks column, the JSON array putResults
// writes. Most results of a run have one of a few sets of checks (each scorer
// passed or failed, with the same detail), and results with the same stored
// text share one slice; the others are cut from a backing array shared by
// successive results. Every slice is capped at its length, so an append
// copies it. decodeChecks decodes the form encoding/json produces by hand,
// and leaves anything else (escaped characters, say) to encoding/json.
func (rd *resultReader) decodeChecks(s string) ([]eval.Check, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	if cs, ok := rd.checkSets[s]; ok {
		return cs, nil
	}
	cs, err := rd.decodeChecksText(s)
	if err == nil && len(rd.checkSets) < maxCheckSets {
		rd.checkSets[s] = cs
	}
	return cs, err
}

// decodeChecksText decodes s, by hand where it can.
func (rd *resultReader) decodeChecksText(s string) ([]eval.Check, error) {
	n := strings.Count(s, `{"scorer":`)
	if n == 0 {
		return rd.decodeChecksJSON(s)
	}
	if len(rd.checks) < n {
		rd.checks = make([]eval.Check, max(n, checksChunk))
	}
	cs := rd.checks[:n:n]
	if !rd.parseChecks(s, cs) {
		clear(cs)
		return rd.decodeChecksJSON(s)
	}
	rd.checks = rd.checks[n:]
	return cs, nil
}

// decodeChecksJSON decodes s with encoding/json.
func (rd *resultReader) decodeChecksJSON(s string) ([]eval.Check, error) {
	var cs []eval.Check
	if err := json.Unmarshal([]byte(s), &cs); err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, nil
	}
	cs = cs[:len(cs):len(cs)]
	for i := range cs {
		cs[i].Scorer = rd.strs.get(cs[i].Scorer)
		cs[i].Detail = rd.details.get(cs[i].Detail)
	}
	return cs, nil
}

// parseChecks fills cs from s if s is exactly len(cs) checks in the form
// encoding/json writes for them, with no escaped characters:
//
//	[{"scorer":"NAME","pass":BOOL},{"scorer":"NAME","pass":BOOL,"detail":"TEXT"}]
//
// It reports whether it could.
func (rd *resultReader) parseChecks(s string, cs []eval.Check) bool {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	s = s[1 : len(s)-1]
	for i := range cs {
		if i > 0 {
			if s == "" || s[0] != ',' {
				return false
			}
			s = s[1:]
		}
		var ok bool
		var name, detail string
		if s, ok = strings.CutPrefix(s, `{"scorer":`); !ok {
			return false
		}
		if name, s, ok = cutString(s); !ok {
			return false
		}
		switch {
		case strings.HasPrefix(s, `,"pass":true`):
			cs[i].Pass, s = true, s[len(`,"pass":true`):]
		case strings.HasPrefix(s, `,"pass":false`):
			cs[i].Pass, s = false, s[len(`,"pass":false`):]
		default:
			return false
		}
		if rest, ok := strings.CutPrefix(s, `,"detail":`); ok {
			if detail, s, ok = cutString(rest); !ok {
				return false
			}
		}
		if s, ok = strings.CutPrefix(s, "}"); !ok {
			return false
		}
		cs[i].Scorer = rd.strs.getSub(name)
		cs[i].Detail = rd.details.getSub(detail)
	}
	return s == ""
}

// cutString cuts a JSON string without escapes off the front of s and returns
// its contents and the rest of s. It fails on an escape, which encoding/json
// then decodes.
func cutString(s string) (str, rest string, ok bool) {
	if s == "" || s[0] != '"' {
		return "", s, false
	}
	end := strings.IndexAny(s[1:], `"\`)
	if end < 0 || s[1+end] != '"' {
		return "", s, false
	}
	return s[1 : 1+end], s[2+end:], true
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
