package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

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
// A large run is most of what a diff holds in memory, so the read keeps and
// allocates little besides the results. Each trick below stays because a
// benchmark shows it pays at least 10% (STYLE rule 19, docs/store.md), and
// FuzzResults holds the whole read equal to a plain one (typed Scan,
// encoding/json, nothing kept once; plainResults in results_internal_test.go):
//
//   - the slice is sized by a count first (without: BenchmarkResults takes
//     1.8x the CPU time and allocates 2.4x the bytes);
//   - a lock equal to the run's is read as NULL (see resultColumns; without:
//     15% more bytes and allocations on BenchmarkResults);
//   - strings that repeat from row to row (finish reason, lock, endpoint,
//     error kind, scorer names) are kept once (see interner);
//   - equal checks are decoded once and shared, and decoded by hand where
//     they can be (see decodeChecks);
//   - equal case ids, hashes and outputs of the previous row or of like are
//     shared (see share).
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

// A resultReader turns rows of resultColumns into results. It keeps the state
// that lets consecutive rows share memory.
type resultReader struct {
	// row holds the columns of the current row that are not scanned straight
	// into the result. (Scanned into locals, they would escape to the heap
	// once a row.)
	row struct {
		sample, prompt, completion, latency int64
		lock                                sql.NullString // NULL: the run's lock
		checks                              string
	}

	lock      string                  // the run's lock, which a NULL lock_seen stands for
	strs      interner                // finish reasons, locks, endpoints, error kinds, scorer names
	checkSets map[string][]eval.Check // decoded checks by their stored text, up to maxCheckSets
	prev      eval.Result             // the previous row, whose case id, hash and output the next may share
	like      []eval.Result
}

func newResultReader(lock string, like []eval.Result) *resultReader {
	return &resultReader{lock: lock, like: like, strs: interner{limit: 1 << 12}, checkSets: make(map[string][]eval.Check)}
}

// scan reads the current row of rows into r, a zero Result.
func (rd *resultReader) scan(rows *sql.Rows, r *eval.Result) error {
	row := &rd.row
	if err := rows.Scan(&r.CaseID, &r.CaseHash, &row.sample, &r.Output, &r.FinishReason, &row.prompt,
		&row.completion, &row.latency, &row.lock, &r.Endpoint, &r.ErrorKind, &r.Error, &row.checks); err != nil {
		return err
	}
	r.Sample, r.PromptTokens, r.CompletionTokens = int(row.sample), int(row.prompt), int(row.completion)
	r.Latency = time.Duration(row.latency)
	lock := rd.lock
	if row.lock.Valid {
		lock = rd.strs.get(row.lock.String)
	}
	r.Lock = lockid.ID(lock)
	r.FinishReason = rd.strs.get(r.FinishReason)
	r.Endpoint = rd.strs.get(r.Endpoint)
	r.ErrorKind = rd.strs.get(r.ErrorKind)
	checks := row.checks
	row.lock, row.checks = sql.NullString{}, "" // hold no row longer than needed
	var err error
	if r.Checks, err = rd.decodeChecks(checks); err != nil {
		return fmt.Errorf("case %s sample %d: checks: %w", r.CaseID, r.Sample, err)
	}
	rd.share(r)
	return nil
}

// share points r's case id, case hash and output at equal strings of the
// previous row or of the same case sample in like. Sharing with the previous
// row pays where a case's samples repeat an output: BenchmarkResultsSamples
// keeps 1.7x the heap without it. Sharing with like is ResultsSharing:
// BenchmarkResultsSharing keeps 2.1x the heap with Results instead.
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

// An interner keeps one copy of each string it is given, up to limit distinct
// strings; past it, get returns its argument. It pays in what a read keeps:
// without it, BenchmarkResultsSharing keeps 19% more heap (BenchmarkResults
// 7.5%, about 33 bytes a result).
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

// maxCheckSets is how many distinct stored checks texts a read shares.
const maxCheckSets = 4096

// decodeChecks decodes a stored checks column, the JSON array putResults
// writes, as encoding/json decodes it (decodeChecksJSON), but for an empty
// text, which it reads as no checks.
//
// Most results of a run have one of a few sets of checks (each scorer passed
// or failed, with the same detail), and results with the same stored text
// share one slice, capped at its length so that an append copies it: without
// that, BenchmarkResults keeps 18% more heap and takes 24% more CPU time.
//
// A text that is not shared is decoded by hand where it is in the form
// encoding/json writes (parseChecks), which pays where failing checks carry
// details of their own: BenchmarkResultsDetails takes 17% more CPU time with
// encoding/json alone. FuzzDecodeChecks holds it equal to decodeChecksJSON.
func (rd *resultReader) decodeChecks(s string) ([]eval.Check, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	if cs, ok := rd.checkSets[s]; ok {
		return cs, nil
	}
	cs, ok := rd.parseChecks(s)
	if !ok {
		var err error
		if cs, err = rd.decodeChecksJSON(s); err != nil {
			return nil, err
		}
	}
	if len(rd.checkSets) < maxCheckSets {
		rd.checkSets[s] = cs
	}
	return cs, nil
}

// decodeChecksJSON decodes s with encoding/json: the plain implementation.
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
	}
	return cs, nil
}

// parseChecks decodes s if it is one or more checks in the form encoding/json
// writes for them, with no escaped characters:
//
//	[{"scorer":"NAME","pass":BOOL},{"scorer":"NAME","pass":BOOL,"detail":"TEXT"}]
//
// It reports whether it could; where it could not, encoding/json decodes s.
func (rd *resultReader) parseChecks(s string) ([]eval.Check, bool) {
	n := strings.Count(s, `{"scorer":`)
	if n == 0 || len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	cs := make([]eval.Check, n)
	s = s[1 : len(s)-1]
	for i := range cs {
		if i > 0 {
			if s == "" || s[0] != ',' {
				return nil, false
			}
			s = s[1:]
		}
		var ok bool
		var name, detail string
		if s, ok = strings.CutPrefix(s, `{"scorer":`); !ok {
			return nil, false
		}
		if name, s, ok = cutString(s); !ok {
			return nil, false
		}
		switch {
		case strings.HasPrefix(s, `,"pass":true`):
			cs[i].Pass, s = true, s[len(`,"pass":true`):]
		case strings.HasPrefix(s, `,"pass":false`):
			cs[i].Pass, s = false, s[len(`,"pass":false`):]
		default:
			return nil, false
		}
		if rest, ok := strings.CutPrefix(s, `,"detail":`); ok {
			if detail, s, ok = cutString(rest); !ok {
				return nil, false
			}
		}
		if s, ok = strings.CutPrefix(s, "}"); !ok {
			return nil, false
		}
		cs[i].Scorer = rd.strs.getSub(name)
		cs[i].Detail = strings.Clone(detail)
	}
	return cs, s == ""
}

// cutString cuts a JSON string off the front of s and returns its contents
// and the rest of s, where encoding/json would decode the string to exactly
// its bytes: valid UTF-8 without escapes or control characters. It fails
// otherwise, and encoding/json then decodes s.
func cutString(s string) (str, rest string, ok bool) {
	if s == "" || s[0] != '"' {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			str = s[1:i]
			return str, s[i+1:], utf8.ValidString(str)
		case c == '\\' || c < 0x20:
			return "", s, false
		}
	}
	return "", s, false
}

// A Done is the set of (case id, sample) pairs a run has stored; a resumed run
// requests only what it lacks. Its zero value is an empty set.
//
// Samples 0–63 of a case are bits of one map entry, not entries of their own:
// with a map of pairs, BenchmarkDone keeps 2.0x the heap and allocates 2.3x
// the bytes (with five samples a case, 2.4x and 2.5x, and takes 28% more CPU
// time). FuzzDone holds it equal to a map of pairs.
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
