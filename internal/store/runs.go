package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/secret"
)

// CreateRun stores run as a new run and sets its ID. A zero Started is set to
// the current time, an empty Status to running and an empty SettingsHash to
// the hash of Settings. A lock or suite the store has not seen yet is recorded
// with what the run knows of it (no manifest, no cases); PutLock and PutSuite
// fill in the rest.
func (db *DB) CreateRun(ctx context.Context, run *eval.Run) (err error) {
	defer db.explain(&err)
	if run.Lock == "" || run.SuiteHash == "" {
		return errors.New("create run: lock and suite hash are required")
	}
	if run.Started.IsZero() {
		run.Started = db.now()
	}
	if run.Status == "" {
		run.Status = eval.RunRunning
	}
	if run.SettingsHash == "" {
		run.SettingsHash = run.Settings.Hash()
	}
	settings, err := json.Marshal(run.Settings)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	eps, err := json.Marshal(redactEndpoints(run.Endpoints))
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	labels := []byte("{}")
	if len(run.Labels) > 0 {
		labels, err = json.Marshal(run.Labels)
	}
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}

	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO locks (id, source, first_seen) VALUES (?, 'run', ?) ON CONFLICT DO NOTHING`,
		run.Lock, formatTime(db.now())); err != nil {
		return fmt.Errorf("create run: record lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO suites (hash, name, version) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		run.SuiteHash, run.Suite, run.SuiteVersion); err != nil {
		return fmt.Errorf("create run: record suite: %w", err)
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO runs (lock, suite_hash, suite_name, suite_version, settings, settings_hash,
			endpoints, version, status, started, finished, selection, model, labels)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		run.Lock, run.SuiteHash, run.Suite, run.SuiteVersion, string(settings), run.SettingsHash,
		string(eps), run.Version, string(run.Status), formatTime(run.Started), nullTime(run.Finished), run.Selection,
		run.Model, string(labels))
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	run.ID = id
	return nil
}

// SetRunStatus records a run's status. Interrupted and complete set the run's
// finish time to now; running (a resumed run) clears it.
func (db *DB) SetRunStatus(ctx context.Context, id int64, status eval.RunStatus) (err error) {
	defer db.explain(&err)
	return db.setRunStatus(ctx, id, status, db.now())
}

// setRunStatus records a run's status, and finished as its finish time
// unless the status is running.
func (db *DB) setRunStatus(ctx context.Context, id int64, status eval.RunStatus, finished time.Time) error {
	var at sql.NullString
	switch status {
	case eval.RunRunning:
	case eval.RunInterrupted, eval.RunComplete:
		at = nullTime(finished)
	default:
		return fmt.Errorf("set run %d status: unknown status %q", id, status)
	}
	res, err := db.db.ExecContext(ctx, `UPDATE runs SET status = ?, finished = ? WHERE id = ?`, string(status), at, id)
	if err != nil {
		return fmt.Errorf("set run %d status: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set run %d status: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("set run %d status: run %d: %w", id, id, ErrNotFound)
	}
	return nil
}

// SetRunEndpoints records the endpoints a resumed run uses now.
func (db *DB) SetRunEndpoints(ctx context.Context, id int64, endpoints []string) (err error) {
	defer db.explain(&err)
	if endpoints == nil {
		endpoints = []string{}
	}
	eps, err := json.Marshal(redactEndpoints(endpoints))
	if err != nil {
		return fmt.Errorf("set run %d endpoints: %w", id, err)
	}
	res, err := db.db.ExecContext(ctx, `UPDATE runs SET endpoints = ? WHERE id = ?`, string(eps), id)
	if err != nil {
		return fmt.Errorf("set run %d endpoints: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set run %d endpoints: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("set run %d endpoints: run %d: %w", id, id, ErrNotFound)
	}
	return nil
}

// runColumns are the columns scanRun reads, in its order.
const runColumns = `id, lock, suite_name, suite_version, suite_hash, settings, settings_hash,
	endpoints, version, status, started, finished, lock_refusal, selection, model, labels`

// scanRun reads one row of runColumns.
func scanRun(row interface{ Scan(...any) error }) (eval.Run, error) {
	var (
		run                     eval.Run
		settings, eps, status   string
		labels                  string
		started, finished       sql.NullString
		errSettings, errEps     error
		errStarted, errFinished error
	)
	if err := row.Scan(&run.ID, &run.Lock, &run.Suite, &run.SuiteVersion, &run.SuiteHash, &settings,
		&run.SettingsHash, &eps, &run.Version, &status, &started, &finished, &run.LockRefusal, &run.Selection, &run.Model, &labels); err != nil {
		return eval.Run{}, err
	}
	run.Status = eval.RunStatus(status)
	errSettings = json.Unmarshal([]byte(settings), &run.Settings)
	errEps = errors.Join(json.Unmarshal([]byte(eps), &run.Endpoints), json.Unmarshal([]byte(labels), &run.Labels))
	if len(run.Labels) == 0 {
		run.Labels = nil
	}
	run.Started, errStarted = parseTime(started)
	run.Finished, errFinished = parseTime(finished)
	if err := errors.Join(errSettings, errEps, errStarted, errFinished); err != nil {
		return eval.Run{}, fmt.Errorf("run %d: %w", run.ID, err)
	}
	return run, nil
}

// SetRunLockRefusal records why a lock check stopped the run (the lock
// changed or could not be confirmed mid-run); a later refusal replaces an
// earlier one.
func (db *DB) SetRunLockRefusal(ctx context.Context, id int64, reason string) (err error) {
	defer db.explain(&err)
	res, err := db.db.ExecContext(ctx, `UPDATE runs SET lock_refusal = ? WHERE id = ?`, secret.Redact(reason), id)
	if err != nil {
		return fmt.Errorf("record lock refusal of run %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("record lock refusal of run %d: %w", id, ErrNotFound)
	}
	return nil
}

// Run returns the run with the given id, or an error matching ErrNotFound.
func (db *DB) Run(ctx context.Context, id int64) (_ eval.Run, err error) {
	defer db.explain(&err)
	run, err := scanRun(db.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return eval.Run{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	} else if err != nil {
		return eval.Run{}, fmt.Errorf("run %d: %w", id, err)
	}
	return run, nil
}

// ErrNotRunID means that what names a run is not a run id.
var ErrNotRunID = errors.New("not a run id")

// ResolveRun returns the run ref names: a run id, written "12" or "#12". A ref
// that is no positive number is an error matching ErrNotRunID (a command that
// also takes a lock id tries that next); an id that no stored run has is an
// error matching ErrNotFound. Both say only what is wrong: "no run 12 is
// stored", `run id "x" is not a positive number`; the command adds the advice.
func (db *DB) ResolveRun(ctx context.Context, ref string) (_ eval.Run, err error) {
	id, perr := strconv.ParseInt(strings.TrimPrefix(ref, "#"), 10, 64)
	if perr != nil || id <= 0 {
		return eval.Run{}, refError{fmt.Sprintf("run id %q is not a positive number", ref), ErrNotRunID}
	}
	run, err := db.Run(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return eval.Run{}, refError{fmt.Sprintf("no run %d is stored", id), ErrNotFound}
	}
	return run, err
}

// A refError says what is wrong with a reference to a run, and matches the
// sentinel that says which kind of wrong it is.
type refError struct {
	msg  string
	kind error
}

func (e refError) Error() string        { return e.msg }
func (e refError) Is(target error) bool { return target == e.kind }

// A RunFilter selects runs; its zero value selects all of them.
type RunFilter struct {
	Lock      string         // a lock id or a prefix of one ("sha256:ab12")
	Suite     string         // the suite's name
	SuiteHash string         // the suite's hash
	Status    eval.RunStatus // only runs in this state
	Limit     int            // at most this many, the newest; 0 means no limit
}

// Runs returns the runs filter selects, oldest first.
func (db *DB) Runs(ctx context.Context, filter RunFilter) (_ []eval.Run, err error) {
	defer db.explain(&err)
	var (
		where []string
		args  []any
	)
	if filter.Lock != "" {
		where = append(where, `substr(lock, 1, ?) = ?`)
		args = append(args, len(filter.Lock), filter.Lock)
	}
	if filter.Suite != "" {
		where = append(where, `suite_name = ?`)
		args = append(args, filter.Suite)
	}
	if filter.SuiteHash != "" {
		where = append(where, `suite_hash = ?`)
		args = append(args, filter.SuiteHash)
	}
	if filter.Status != "" {
		where = append(where, `status = ?`)
		args = append(args, string(filter.Status))
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY id DESC`
	if filter.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, filter.Limit)
	}
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var runs []eval.Run
	for rows.Next() {
		run, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, run)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	return runs, nil
}

// FindResumable returns the newest run of (lock, suiteHash, settingsHash,
// selection) that is not complete, or an error matching ErrNotFound if there
// is none or the newest such run is complete.
func (db *DB) FindResumable(ctx context.Context, lock lockid.ID, suiteHash, settingsHash, selection string) (_ eval.Run, err error) {
	defer db.explain(&err)
	run, err := db.latestRun(ctx, lock, suiteHash, settingsHash, selection, false)
	if err != nil {
		return eval.Run{}, fmt.Errorf("find resumable run: %w", err)
	}
	if run.Status == eval.RunComplete {
		return eval.Run{}, fmt.Errorf("find resumable run: run %d is complete: %w", run.ID, ErrNotFound)
	}
	return run, nil
}

// LatestCompleteRun returns the newest complete run of (lock, suiteHash,
// settingsHash, selection), or an error matching ErrNotFound. The selection
// "" is the whole suite.
func (db *DB) LatestCompleteRun(ctx context.Context, lock lockid.ID, suiteHash, settingsHash, selection string) (_ eval.Run, err error) {
	defer db.explain(&err)
	run, err := db.latestRun(ctx, lock, suiteHash, settingsHash, selection, true)
	if err != nil {
		return eval.Run{}, fmt.Errorf("latest complete run: %w", err)
	}
	return run, nil
}

// latestRun returns the newest run of the quadruple, or the newest complete
// one.
func (db *DB) latestRun(ctx context.Context, lock lockid.ID, suiteHash, settingsHash, selection string, complete bool) (eval.Run, error) {
	q := `SELECT ` + runColumns + ` FROM runs WHERE lock = ? AND suite_hash = ? AND settings_hash = ? AND selection = ?`
	if complete {
		q += ` AND status = 'complete'`
	}
	q += ` ORDER BY id DESC LIMIT 1`
	run, err := scanRun(db.db.QueryRowContext(ctx, q, string(lock), suiteHash, settingsHash, selection))
	if errors.Is(err, sql.ErrNoRows) {
		return eval.Run{}, fmt.Errorf("no run of lock %s, suite %.12s, settings %.12s: %w", lock, suiteHash, settingsHash, ErrNotFound)
	}
	return run, err
}

// Counts are how many results a run has stored, and how many of them are
// failed requests.
type Counts struct {
	Results int // results stored
	Errors  int // results whose request failed (Result.Error set)
}

// Counts returns how many results the run has stored.
func (db *DB) Counts(ctx context.Context, runID int64) (_ Counts, err error) {
	defer db.explain(&err)
	var c Counts
	err = db.db.QueryRowContext(ctx, `
		SELECT (SELECT count(*) FROM results WHERE run_id = ?1),
		       (SELECT count(*) FROM results WHERE run_id = ?1 AND error <> '')`, runID).Scan(&c.Results, &c.Errors)
	if err != nil {
		return Counts{}, fmt.Errorf("count results of run %d: %w", runID, err)
	}
	return c, nil
}
