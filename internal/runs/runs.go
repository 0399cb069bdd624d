// Package runs owns the lifecycle of a run over the store, for every command
// that starts, resumes or finishes one (run, the gate that runs, replay).
// Execute is the whole invocation, Prepare to Explain; its steps are:
//
//   - Begin records the endpoints' lock, finds the run of (lock, suite hash,
//     settings hash) to continue — the unfinished one, else the complete one,
//     else a new one — and takes the run's advisory lock (store.LockRun)
//     before the run is touched, so that two processes never run one run.
//     It starts storing the suite's cases in the background and decides what
//     to request again: the transient failures, or every failure when no
//     request of the run ever succeeded.
//   - Run.Sink is where the runner hands results: the store's batched writer,
//     behind the lock's endpoint.Committer, which holds the results of a
//     lock that only a re-probe can confirm until a check that started after
//     they arrived confirms it (verify, then commit; docs/protocol.md §5).
//     Run.Plan is what the runner requests: the missing case samples, sample
//     k of every case in pass k.
//   - Run.Finish makes the last check of the lock, closes the writer, counts
//     what is stored rather than trusting counters, records the status
//     (complete only when every case × sample is stored and at least one
//     request succeeded) and a lock refusal, and returns an Outcome: what
//     happened, in numbers and errors. Outcome.Explain puts it into words —
//     a note and the error whose kind is the exit code — the same for every
//     command that runs a suite.
//
// It also names and reads runs for the commands that compare or export them:
//
//   - ParseRef reads what an argument names — a baseline file, a run id or a
//     lock id, in that order, refusing one that reads two ways — and
//     LoadPair resolves and reads the two sides of a comparison, from the
//     store or from their files (docs/diff.md, "Choosing the runs"); Resolve
//     turns a run id or a lock id into one stored run.
//   - Export reads a stored run into a baseline file (StartExport and
//     Exported.Stream without holding it), ReadBaseline reads one back and
//     verifies its lock's identity document, CheckBaselineArgs checks one
//     file or the shards of a run without holding them (a Stream), and
//     ImportStream stores it as a run, after FindImported has looked for the
//     run it already is (docs/baselines.md).
//
// The package says what happened; the command that knows its flags says what
// to do about it (the exit code, "Try: …").
package runs

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync/atomic"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/runner"
)

// DefaultFinishTimeout bounds the last check of the lock when
// Spec.FinishTimeout is zero.
const DefaultFinishTimeout = time.Minute

// A Spec says which run to begin, and how to store it.
type Spec struct {
	// Target is the lock the endpoints serve (endpoint.Prober.Resolve): the
	// run's lock, stored with its identity document, and the checks that
	// vouch for each result before it is stored. Required.
	Target *endpoint.Target
	// Suite is the suite replayed, and Settings the run's effective settings
	// (the suite's with the command's overrides); the lock, Suite.Hash and
	// Settings.Hash identify the run. Samples below 1 count as 1.
	Suite    *eval.Suite
	Settings eval.Settings
	// Endpoints are recorded with the run; the store drops their userinfo.
	Endpoints []string
	// Version is evalpin's version, recorded with a new run.
	Version string
	// Selection is the part of the suite the run replays (the zero
	// Selection: all of it). The run keeps the whole suite's hash, so its
	// results pair with a whole run's, and records the selection, which
	// identifies it beside the lock and the hashes.
	Selection eval.Selection
	// Labels are the run's free-form labels (fork=nous), recorded with a new
	// run with the model's name; they do not identify it.
	Labels map[string]string
	// Fresh creates a new run even when the lock, suite, settings and
	// selection have an unfinished or complete one.
	Fresh bool

	// PutSuite stores the suite's cases while the run replays it; nil is
	// (*store.DB).PutSuite.
	PutSuite func(context.Context, *store.DB, eval.Suite) error
	// CommitInterval and CommitBatch bound how long a result of a re-probed
	// lock waits for its check (endpoint.Target.NewCommitter; zero selects
	// its defaults, 0.5 s and 1,024 results).
	CommitInterval time.Duration
	CommitBatch    int
	// FinishTimeout bounds the last check of the lock (default
	// DefaultFinishTimeout).
	FinishTimeout time.Duration
}

// A Run is a run begun by this process: found or created, and locked until
// Close. Its exported fields are what Begin found.
type Run struct {
	// Run is the run as stored when Begin returned: its id, hashes and
	// settings, its status running (or complete, when it was and nothing is
	// missing).
	eval.Run
	// Prior is the run's status before this process took it: "" for a new
	// run.
	Prior eval.RunStatus
	// Expected is how many case samples the run has: cases × samples.
	Expected int
	// Stored is how many of them were stored when Begin returned, the
	// transient failures (requested again) left out.
	Stored int
	// Reused is how many results a new run copied from run ReusedFrom, of
	// the cases an earlier version of its suite held unchanged (same lock,
	// same settings): they are not requested again.
	Reused     int64
	ReusedFrom int64
	// Retry are the error kinds of stored failures requested again, whose
	// rows a new result replaces: runner.TransientKinds, or every kind
	// (runner.ErrorKinds) when no request of the resumed run succeeded.
	Retry []string

	db        *store.DB
	spec      Spec
	suite     eval.Suite  // the suite at the run's settings, its cases in src
	src       eval.Source // the suite's cases, held or read from its file
	picked    eval.KeySet // the keys of the cases the selection picks; nil: all
	cases     int         // how many it picks
	done      *store.Marks
	walkErr   atomic.Pointer[error] // of reading the suite while it is replayed
	tally     store.Tally           // of a run found complete, which nothing changes
	unlock    func() error
	suiteSave *suiteStore
	writer    *store.Writer
	committer *endpoint.Committer
	finished  bool // Finish or Close has ended the checks and the writer
	closed    bool
}

// Begin begins the run of spec in db: it stores the lock, finds or creates
// the run and locks it for this process, starts storing the suite's cases,
// and reads what is stored. The errors:
//   - a *LockError when the run's lock cannot be taken: another process runs
//     the run (errors.Is store.ErrRunLocked) or the lock file cannot be
//     opened; the run is left as it was found;
//   - the store's errors, with what Begin was doing.
//
// On success the caller must Close the Run, after Finish or instead of it.
func Begin(ctx context.Context, db *store.DB, spec Spec) (_ *Run, err error) {
	t := spec.Target
	if t == nil || spec.Suite == nil {
		return nil, errors.New("begin run: no target or no suite")
	}
	if spec.Settings.Samples < 1 {
		spec.Settings.Samples = 1
	}
	if spec.PutSuite == nil {
		spec.PutSuite = func(ctx context.Context, db *store.DB, s eval.Suite) error { return db.PutSuite(ctx, s) }
	}
	if spec.FinishTimeout <= 0 {
		spec.FinishTimeout = DefaultFinishTimeout
	}
	// The lock is stored with its identity document, when the endpoint gave
	// one (a verified manifest) or evalpin derived it (Ollama's identity), so
	// that a diff can say what changed; the id's prefix says which kind of
	// document it is, the source how the lock was obtained.
	if err := db.PutLock(ctx, t.Lock, t.Document(), string(t.Claim.Source)); err != nil {
		return nil, fmt.Errorf("store lock: %w", err)
	}
	if q := t.Evidence("quantization"); !strings.EqualFold(q, "unknown") { // Ollama's word for F32, among others
		if err := db.SetLockQuantization(ctx, t.Lock, q); err != nil {
			return nil, err
		}
	}
	r := &Run{db: db, spec: spec, suite: *spec.Suite, src: eval.CasesOf(spec.Suite)}
	r.suite.Settings = spec.Settings
	// The selection is a bit a case, picked in one reading of the suite
	// (none for the whole suite), not a copy of its cases.
	if r.picked, r.cases, err = spec.Selection.Pick(r.src); err != nil {
		if fault.KindOf(err) == fault.Input {
			return nil, err
		}
		return nil, fault.Errorf(fault.Input, "", "suite %s: %w", spec.Suite.Name, err)
	}
	r.Expected = r.cases * spec.Settings.Samples
	if err := r.findOrCreate(ctx); err != nil {
		return nil, err
	}
	if r.Prior == "" && !spec.Fresh {
		if err := r.reuse(ctx); err != nil {
			r.unlock()
			return nil, err
		}
	}
	// The cases' tags and clusters are outside their hash: a new run keeps
	// the ones it is made with, once (a run resumed or found again keeps its
	// own; storing them for every case on each resume would cost start-up).
	// A suite read from its file has them compared with its stored cases'
	// while the run replays it (store.PutRunLabelsFrom).
	if r.Prior == "" && spec.Suite.Source == nil {
		var cases []eval.Case
		r.walk(func(c *eval.Case) { cases = append(cases, *c) })
		if err := db.PutRunLabels(ctx, r.ID, cases); err != nil {
			r.unlock()
			return nil, fmt.Errorf("store the run's labels: %w", err)
		}
	}
	if r.Prior != "" && len(spec.Labels) > 0 { // a run found again is labelled too
		if err := db.AddRunLabels(ctx, r.ID, spec.Labels); err != nil {
			r.unlock()
			return nil, err
		}
	}
	// A stored failure of a transient kind (a timeout, a server error, a
	// rate limit) says nothing about the model: it is requested again and
	// its row replaced, so that an outage does not stay in the run.
	r.Retry = runner.TransientKinds()
	if r.Prior != "" && r.Prior != eval.RunComplete {
		// A run none of whose requests succeeded (every answer malformed, a
		// 400 for every case) says nothing of the model either: resumed, it
		// requests every case again.
		if c, err := db.Counts(ctx, r.ID); err != nil {
			r.unlock()
			return nil, fmt.Errorf("read stored results: %w", err)
		} else if c.Results > 0 && c.Errors == c.Results {
			r.Retry = runner.ErrorKinds()
		}
	}
	if r.Stored, err = r.stored(ctx); err != nil {
		r.unlock()
		return nil, err
	}
	// The suite's cases are stored while it is replayed: results refer to
	// the run, not to its cases (CreateRun recorded the suite itself). The
	// run is called complete only once they are stored; when they are
	// already, from an earlier run, storing them costs one query. The cases
	// of a suite file come from the replay's first reading of it
	// (storeSuite), not from a reading of their own.
	put := spec.PutSuite
	if r.Prior == "" && spec.Suite.Source != nil {
		put = func(ctx context.Context, db *store.DB, s eval.Suite) error {
			// A suite none of whose cases was stored is stored by this run,
			// with its labels: the run records that it has them, without
			// reading the file again to compare them.
			before, err := db.StoredCases(ctx, s.Hash)
			if err != nil {
				return err
			}
			if err := spec.PutSuite(ctx, db, s); err != nil {
				return err
			}
			if before == 0 {
				return db.PutRunSuiteLabels(ctx, r.ID, s.Hash)
			}
			return db.PutRunLabelsFrom(ctx, r.ID, s.Hash, eval.CasesOf(&s), r.picked)
		}
	}
	if r.done == nil { // a complete run, whose suite is stored
		put = func(context.Context, *store.DB, eval.Suite) error { return nil }
	}
	r.suiteSave = storeSuite(ctx, db, *spec.Suite, put)
	defer func() {
		if err != nil {
			r.suiteSave.Wait()
			r.unlock()
		}
	}()
	// The run itself. From here on Finish or Close closes the writer,
	// whatever stops the run. Verify, then commit: a result whose lock no
	// response carries (Ollama's, a sidecar's generation) is stored only
	// once a check that started after it arrived confirms the lock; the
	// others pass at once.
	r.writer = db.NewWriter(ctx, r.ID, store.WriterOptions{Replace: r.Retry})
	r.committer = t.NewCommitter(&sink{w: r.writer, suite: r.suiteSave}, spec.CommitInterval, spec.CommitBatch)
	return r, nil
}

// A LockError is Begin's error when the run's lock could not be taken; Err
// matches store.ErrRunLocked when another process runs the run.
type LockError struct {
	Run int64 // the run
	Err error // store.LockRun's error
}

func (e *LockError) Error() string { return e.Err.Error() }
func (e *LockError) Unwrap() error { return e.Err }

// findOrCreate sets r's run, locked for this process, and its prior status:
// the unfinished run of (lock, suite, settings), else its complete run
// (which needs nothing), else a new one; Fresh always creates a new run. A
// run is locked before it is changed, so that a command refused because
// another process runs it leaves the run as it was.
func (r *Run) findOrCreate(ctx context.Context) error {
	db, spec := r.db, r.spec
	lock, suiteHash, settingsHash, selection := spec.Target.Lock, spec.Suite.Hash, spec.Settings.Hash(), spec.Selection.String()
	if !spec.Fresh {
		rn, err := db.FindResumable(ctx, lock, suiteHash, settingsHash, selection)
		switch {
		case err == nil:
			if err := r.lock(rn.ID); err != nil {
				return err
			}
			// The holder may have finished the run while this process
			// waited for nothing: read it again under the lock.
			if rn, err = db.Run(ctx, rn.ID); err != nil {
				r.unlock()
				return fmt.Errorf("resume run %d: %w", r.ID, err)
			}
			r.Run, r.Prior = rn, rn.Status
			if r.Prior == eval.RunComplete {
				return nil
			}
			if err := db.SetRunStatus(ctx, rn.ID, eval.RunRunning); err != nil {
				r.unlock()
				return fmt.Errorf("resume run %d: %w", rn.ID, err)
			}
			if err := db.SetRunEndpoints(ctx, rn.ID, spec.Endpoints); err != nil {
				r.unlock()
				return fmt.Errorf("resume run %d: %w", rn.ID, err)
			}
			if r.Run, err = db.Run(ctx, rn.ID); err != nil {
				r.unlock()
				return fmt.Errorf("resume run %d: %w", rn.ID, err)
			}
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("find a run to resume: %w", err)
		}
		rn, err = db.LatestCompleteRun(ctx, lock, suiteHash, settingsHash, selection)
		switch {
		case err == nil:
			if err := r.lock(rn.ID); err != nil {
				return err
			}
			r.Run, r.Prior = rn, eval.RunComplete
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("find a complete run: %w", err)
		}
	}
	rn := eval.Run{
		Lock: lock, Suite: spec.Suite.Name, SuiteVersion: spec.Suite.Version, SuiteHash: suiteHash,
		Settings: spec.Settings, SettingsHash: settingsHash, Endpoints: spec.Endpoints, Version: spec.Version,
		Status: eval.RunRunning, Selection: selection, Model: spec.Target.Model, Labels: spec.Labels,
	}
	if err := db.CreateRun(ctx, &rn); err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	r.Run = rn
	return r.lock(rn.ID)
}

// reuse copies into the new run r the results of the newest complete run of
// another version of its suite, for the same lock and settings, whose cases
// are unchanged (the same id and hash): a suite grown by one case requests
// one case. --fresh (Spec.Fresh) requests every case.
func (r *Run) reuse(ctx context.Context) error {
	from, err := r.db.ReuseSource(ctx, r.Run)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("find results to reuse: %w", err)
	}
	// The cases are copied a batch at a time: the suite may be read from
	// its file, and is never held whole.
	cases := make(map[string]string, 1000)
	copyBatch := func() error {
		n, err := r.db.CopyResults(ctx, from.ID, r.ID, cases)
		r.Reused += n
		clear(cases)
		return err
	}
	var cerr error
	if err := r.src.Walk(func(k int, c *eval.Case) bool {
		if r.picked == nil || r.picked.Has(k) {
			cases[c.ID] = c.Hash
		}
		if len(cases) == 1000 {
			cerr = copyBatch()
		}
		return cerr == nil
	}); err != nil {
		return err
	}
	if cerr == nil && len(cases) > 0 {
		cerr = copyBatch()
	}
	if cerr != nil {
		return cerr
	}
	r.ReusedFrom = from.ID
	return nil
}

// lock takes the lock of run id for this process until Close.
func (r *Run) lock(id int64) error {
	unlock, err := r.db.LockRun(id)
	if err != nil {
		return &LockError{Run: id, Err: err}
	}
	r.unlock = unlock
	r.ID = id
	return nil
}

// Complete reports whether the run was complete when it began: every case
// sample is stored, and the runner has nothing to request.
func (r *Run) Complete() bool {
	return r.Prior == eval.RunComplete && r.Stored >= r.Expected
}

// Resumed reports whether the run was begun before this process took it.
func (r *Run) Resumed() bool { return r.Prior != "" }

// Sink returns where the runner hands the run's results: the lock's
// Committer in front of the store. Its Err reports a failure to store the
// results or the suite, which stops the runner.
func (r *Run) Sink() runner.Sink { return r.committer }

// Plan returns what the runner requests: every case sample not stored, the
// transient failures included (and every failure, after a run of which no
// request succeeded), sample k of every case in pass k.
func (r *Run) Plan() runner.Plan {
	if r.done == nil { // complete: nothing to request
		return runner.Plan{Passes: func(func(iter.Seq[runner.Job]) bool) {}, Skipped: r.Stored}
	}
	skip := func(k, s int) bool { return r.picked != nil && !r.picked.Has(k) || r.done.Has(k, s) }
	fail := func(err error) { r.walkErr.CompareAndSwap(nil, &err) }
	return runner.SourcePlan(r.suiteSave.replaySource(r.src), r.suite.Settings, r.Expected-r.Stored, r.Stored, skip, fail)
}

// stored reads which of the run's case samples are stored, and returns
// how many: of a run found complete only their count, which is all it
// needs when none is missing; else a bit each (store.Marks), by the cases'
// keys, which reads the index of a suite read from its file.
func (r *Run) stored(ctx context.Context) (int, error) {
	samples := r.suite.Settings.Samples
	if r.Prior == eval.RunComplete {
		t, err := r.db.Tally(ctx, r.ID, r.Retry)
		if err != nil {
			return 0, fmt.Errorf("read stored results: %w", err)
		}
		if n := t.Results - t.Retried; n >= r.Expected {
			r.done, r.tally = nil, t
			return n, nil
		}
	}
	if c, ok := r.src.(interface{ Check() error }); ok { // the index of a file
		if err := c.Check(); err != nil {
			return 0, err
		}
	}
	done, err := r.db.DoneMarks(ctx, r.ID, r.Retry, r.src, samples)
	if err != nil {
		return 0, fmt.Errorf("read stored results: %w", err)
	}
	r.done = done
	n := 0
	for k := range r.src.Len() {
		if r.picked == nil || r.picked.Has(k) {
			for s := range samples {
				if done.Has(k, s) {
					n++
				}
			}
		}
	}
	return n, nil
}

// walk calls f with every case the run replays, in order; the error of a
// Source is left to the walks of the replay.
func (r *Run) walk(f func(*eval.Case)) {
	r.src.Walk(func(k int, c *eval.Case) bool {
		if r.picked == nil || r.picked.Has(k) {
			f(c)
		}
		return true
	})
}

// An Outcome says what came of a run: its numbers are counted in the store
// after the last check, its errors are what stopped it. The command puts it
// into words and an exit code.
type Outcome struct {
	// Status is the run's status as recorded: complete only when every case
	// × sample is stored, at least one request succeeded, and nothing
	// stopped the run; else interrupted.
	Status eval.RunStatus
	// Expected is the run's case samples (cases × samples); Stored how many
	// of them are stored, transient failures left out; Missing the rest.
	Expected, Stored, Missing int
	// StoredErrors are the stored results, of Stored, whose request failed
	// for good (a 400, a malformed answer).
	StoredErrors int
	// Transient are the stored transient failures (timeout, server error,
	// rate limit), requested again on resume.
	Transient int
	// Discarded are the results no check of the lock confirmed: dropped,
	// never stored (endpoint.CommitStats).
	Discarded int
	// NoneSucceeded says every stored result is a failure: nothing of the
	// model was measured, so the run is not complete.
	NoneSucceeded bool

	// Refusal is the lock refusal that stopped the run — the runner's, else
	// the last check's — recorded with the run; nil if none.
	Refusal error
	// CheckErr is the last check's error, a refusal or a check that did not
	// finish (ctx ended, FinishTimeout): the results it held were discarded.
	CheckErr error
	// WriteErr is the store writer's first error: results were lost.
	WriteErr error
	// SuiteErr is the error of storing the suite's cases.
	SuiteErr error
	// SourceErr is the error of reading the suite's cases again while they
	// were replayed: its file changed since it was checked.
	SourceErr error
}

// Finish ends the run after the runner returned runErr (nil when it
// finished): it makes the last check of the lock, which confirms the results
// still held (and may find the lock changed after the last response was
// checked), closes the writer, counts what is stored, records a lock refusal
// and the status, and says what happened. It runs to the end when ctx is
// cancelled (Ctrl-C), so that what was answered is kept; ctx's cancellation
// makes the run interrupted. An error means the store could not be read or
// written at the end; the Outcome is then incomplete. Call Finish once.
func (r *Run) Finish(ctx context.Context, runErr error) (Outcome, error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.spec.FinishTimeout)
	checkErr := r.committer.Finish(fctx)
	cancel()
	commit := r.committer.Stats()
	writeErr := r.writer.Close()
	suiteErr := r.suiteSave.Wait()
	r.finished = true

	// Count what is stored rather than trusting the counters: complete means
	// every case × sample is in the database, none of them a transient
	// failure.
	bg := context.WithoutCancel(ctx)
	db, id := r.db, r.ID
	var sourceErr error
	if e := r.walkErr.Load(); e != nil {
		sourceErr = *e
	}
	o := Outcome{Expected: r.Expected, Discarded: commit.Discarded, CheckErr: checkErr, WriteErr: writeErr, SuiteErr: suiteErr, SourceErr: sourceErr}
	var err error
	stored := r.Stored // a complete run: nothing was requested
	if r.done != nil {
		if stored, err = r.stored(bg); err != nil {
			return Outcome{}, fmt.Errorf("count stored results: %w", err)
		}
	}
	o.Missing = max(o.Expected-stored, 0)
	nonRetried := stored
	if r.done != nil {
		nonRetried = r.done.Len()
	}
	o.Stored = o.Expected - o.Missing
	switch {
	case fault.KindOf(runErr) == fault.LockRefused:
		o.Refusal = runErr
	case fault.KindOf(checkErr) == fault.LockRefused:
		o.Refusal = checkErr
	}
	if o.Refusal != nil {
		// The run records that its lock changed (or was not confirmed).
		if err := db.SetRunLockRefusal(bg, id, o.Refusal.Error()); err != nil {
			return o, err
		}
	}
	counts := store.Counts{Results: r.tally.Results, Errors: r.tally.Errors}
	if r.done != nil {
		if counts, err = db.Counts(bg, id); err != nil {
			return o, fmt.Errorf("count stored results: %w", err)
		}
	}
	o.Transient = counts.Results - nonRetried
	o.StoredErrors = counts.Errors - o.Transient
	// Every stored result failed: nothing of the model was measured, so the
	// run is not complete, whatever was answered.
	o.NoneSucceeded = counts.Results > 0 && counts.Errors == counts.Results
	o.Status = eval.RunInterrupted
	if runErr == nil && checkErr == nil && writeErr == nil && suiteErr == nil && sourceErr == nil && ctx.Err() == nil && o.Missing == 0 && !o.NoneSucceeded {
		o.Status = eval.RunComplete
	}
	if r.Prior == eval.RunComplete && o.Missing == 0 {
		o.Status = eval.RunComplete // nothing was requested: it stays as it was
	} else if err := db.SetRunStatus(bg, id, o.Status); err != nil {
		return o, fmt.Errorf("record run status: %w", err)
	}
	r.Status = o.Status
	return o, nil
}

// Close releases the run: when Finish was not called, it ends the lock's
// checks (discarding what they held) and closes the writer, leaving the
// run's status as it is; then it waits for the suite's cases to be stored
// and releases the run's lock. It returns the error of releasing the lock.
// Close may be called more than once.
func (r *Run) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if !r.finished {
		r.finished = true
		ctx, cancel := context.WithTimeout(context.Background(), r.spec.FinishTimeout)
		r.committer.Finish(ctx)
		cancel()
		r.writer.Close()
	}
	r.suiteSave.Wait()
	return r.unlock()
}

// Summary is the summary of this invocation of r, which ended in end after
// the runner's sum.
func (r *Run) Summary(end Outcome, sum runner.Summary) eval.RunSummary {
	t, suite, settings := r.spec.Target, r.spec.Suite, r.spec.Settings
	return eval.RunSummary{
		Run: r.ID, Status: end.Status, Resumed: r.Resumed(), Lock: t.Lock,
		LockSource: string(t.Claim.Source), LockStrength: string(t.Claim.Strength), Model: t.Model,
		Suite: suite.Name, SuiteVersion: suite.Version, SuiteHash: suite.Hash,
		Settings: settings, SettingsHash: r.SettingsHash,
		Selection: r.Selection, Cases: r.cases, Samples: settings.Samples, Expected: end.Expected,
		Stored: end.Stored, StoredErrors: end.StoredErrors, Transient: end.Transient,
		Requested: sum.Results, Skipped: sum.Skipped, Errors: sum.Errors,
		Requests: sum.Requests, Retries: sum.Retries,
		PromptTokens: sum.PromptTokens, CompletionTokens: sum.CompletionTokens,
		RequestsPerSec: sum.RequestsPerSec, ResultsPerSec: sum.ResultsPerSec, TokensPerSec: sum.TokensPerSec,
		LatencyP50: sum.P50.Seconds(), LatencyP95: sum.P95.Seconds(), LatencyP99: sum.P99.Seconds(),
		Elapsed: sum.Elapsed.Seconds(), Endpoints: sum.Endpoints,
	}
}
