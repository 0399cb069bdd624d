package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// ErrWriterClosed is returned by Put after Close.
var ErrWriterClosed = errors.New("store writer closed")

// WriterOptions configure a Writer. The zero value uses the defaults.
type WriterOptions struct {
	// BatchSize is the most results one transaction stores. Default 512.
	BatchSize int
	// FlushInterval is the longest a result waits for its batch to fill
	// before it is stored anyway. Default 200ms.
	FlushInterval time.Duration
	// Buffer is how many results Put queues before it blocks. Default 64 ×
	// BatchSize, enough for the workers of a run never to wait on the disk.
	Buffer int
	// Replace lists the error kinds of failed requests that a new result of
	// the same case sample replaces, in the transaction that stores it: a
	// request that failed transiently and is retried on resume. Any other
	// stored result is kept, and a new one for its case sample dropped.
	Replace []string
}

func (o WriterOptions) withDefaults() WriterOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.Buffer <= 0 {
		o.Buffer = 64 * o.BatchSize
	}
	return o
}

// A Writer stores the results of one run from a single goroutine, in batches,
// one transaction each. Put only queues a result; a result is stored, and
// survives a crash of the process, once Stored counts it. A run, case and
// sample has one row: storing a result again is a no-op, unless the stored one
// is a failure of a kind in WriterOptions.Replace, which the new result
// overwrites. A resumed run may therefore safely repeat one.
//
// A write error stops the writer: Failed is closed, Err and Put return the
// error, and later results are dropped. Only infrastructure failures end a run,
// and a failed store is one.
type Writer struct {
	db    *DB
	runID int64
	opts  WriterOptions

	queue  chan eval.Result
	done   chan struct{} // closed when the goroutine has returned
	failed chan struct{} // closed on the first write error

	mu     sync.RWMutex // held for reading by Put, for writing by Close
	closed bool

	errOnce sync.Once
	err     error // the first write error, set before failed is closed
	stored  atomic.Int64
}

// NewWriter starts a writer for the results of run runID. Cancelling ctx makes
// the writer store what it holds at once; it goes on storing what is Put
// until Close, which a run calls on every path, so that a cancelled run keeps
// every result it received. The DB owns the writer's goroutine: closing the DB
// closes the writer.
func (db *DB) NewWriter(ctx context.Context, runID int64, opts WriterOptions) *Writer {
	opts = opts.withDefaults()
	w := &Writer{
		db:     db,
		runID:  runID,
		opts:   opts,
		queue:  make(chan eval.Result, opts.Buffer),
		done:   make(chan struct{}),
		failed: make(chan struct{}),
	}
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		w.fail(fmt.Errorf("store writer for run %d: %w", runID, ErrWriterClosed))
		w.closed = true
		close(w.queue)
		close(w.done)
		return w
	}
	db.writers[w] = struct{}{}
	db.mu.Unlock()
	go func() {
		defer close(w.done)
		w.loop(ctx)
	}()
	return w
}

// Put queues r for storing. It blocks only while the queue is full, never on
// a transaction. It returns the writer's write error, if one happened (r is
// then dropped), or ErrWriterClosed after Close.
func (w *Writer) Put(r eval.Result) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrWriterClosed
	}
	if err := w.Err(); err != nil {
		return err
	}
	select {
	case w.queue <- r:
	case <-w.failed:
		return w.Err()
	}
	return nil
}

// Err returns the first write error, or nil.
func (w *Writer) Err() error {
	select {
	case <-w.failed:
		return w.err
	default:
		return nil
	}
}

// Failed returns a channel that is closed when a write fails, so a run can
// stop at once instead of after its last request.
func (w *Writer) Failed() <-chan struct{} { return w.failed }

// Stored returns how many results the writer has committed to the database.
func (w *Writer) Stored() int64 { return w.stored.Load() }

// Close stores every result Put before it, stops the writer's goroutine and
// returns the first write error. Close may be called more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.done

	w.db.mu.Lock()
	delete(w.db.writers, w)
	w.db.mu.Unlock()
	return w.Err()
}

// fail records err as the writer's first error.
func (w *Writer) fail(err error) {
	w.errOnce.Do(func() {
		w.err = err
		close(w.failed)
	})
}

// loop is the writer's goroutine: it collects results into batches and stores
// each batch when it is full, when the flush interval has passed since its
// first result, when ctx is cancelled, and when the queue is closed.
func (w *Writer) loop(ctx context.Context) {
	// Stores use a context that is never cancelled: what was Put is stored.
	storeCtx := context.WithoutCancel(ctx)
	batch := make([]eval.Result, 0, w.opts.BatchSize)
	timer := time.NewTimer(w.opts.FlushInterval)
	timer.Stop()
	cancelled := ctx.Done()

	flush := func() {
		timer.Stop()
		if len(batch) == 0 {
			return
		}
		if w.Err() == nil {
			if err := w.db.putResults(storeCtx, w.runID, batch, w.opts.Replace); err != nil {
				w.fail(classify(w.db.DSN, true, fmt.Errorf("store results of run %d: %w", w.runID, err)))
			} else {
				w.stored.Add(int64(len(batch)))
			}
		}
		clear(batch) // let the outputs be collected
		batch = batch[:0]
	}

	urgent := false // after cancellation, store whatever is queued without waiting
	for {
		select {
		case r, ok := <-w.queue:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 && !urgent {
				timer.Reset(w.opts.FlushInterval)
			}
			batch = append(batch, r)
			if len(batch) >= w.opts.BatchSize || urgent && len(w.queue) == 0 {
				flush()
			}
		case <-timer.C:
			flush()
		case <-cancelled:
			cancelled, urgent = nil, true
			// Take what is queued now, then store it.
			for len(batch) < w.opts.BatchSize && len(w.queue) > 0 {
				r, ok := <-w.queue
				if !ok {
					break
				}
				batch = append(batch, r)
			}
			flush()
		}
	}
}

// rowsPerInsert is how many results one INSERT statement stores: a
// statement of many rows pays database/sql's and the driver's per-statement
// work (locks, argument conversion, a step and a reset through cgo) once for
// them all (BenchmarkWriter).
const rowsPerInsert = 32

// resultValues is how many values a result row binds.
const resultValues = 14

// insertResults returns the INSERT statement of rows results, which resolves
// a conflict on a stored case sample by conflict.
func insertResults(rows int, conflict string) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO results (run_id, case_id, sample, case_hash, output, finish_reason, prompt_tokens,
			completion_tokens, latency_ns, lock_seen, endpoint, error_kind, error, checks) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + placeholders(resultValues) + ")")
	}
	b.WriteString(` ON CONFLICT (run_id, case_id, sample) ` + conflict)
	return b.String()
}

// putResults stores batch in one transaction. A result whose case sample is
// stored already replaces the stored one only if that is a failure of a kind
// in replace; otherwise it is dropped.
func (db *DB) putResults(ctx context.Context, runID int64, batch []eval.Result, replace []string) error {
	return db.putResultsBy(ctx, runID, batch, replace, rowsPerInsert)
}

// putResultsBy is putResults storing rows results a statement, and the rest
// of the batch one a statement, in order, as one statement a row would
// (FuzzPutResults holds it equal to rows = 1).
func (db *DB) putResultsBy(ctx context.Context, runID int64, batch []eval.Result, replace []string, rows int) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	conflict := `DO NOTHING`
	var kinds []any // the parameters of the IN list, after the rows' values
	if len(replace) > 0 {
		conflict = `DO UPDATE SET case_hash = excluded.case_hash, output = excluded.output,
			finish_reason = excluded.finish_reason, prompt_tokens = excluded.prompt_tokens,
			completion_tokens = excluded.completion_tokens, latency_ns = excluded.latency_ns,
			lock_seen = excluded.lock_seen, endpoint = excluded.endpoint, error_kind = excluded.error_kind,
			error = excluded.error, checks = excluded.checks
			WHERE results.error <> '' AND results.error_kind IN (` + placeholders(len(replace)) + `)`
		for _, k := range replace {
			kinds = append(kinds, k)
		}
	}
	var stmts [2]*sql.Stmt // of one row and of rows rows, prepared on first use
	defer func() {
		for _, st := range stmts {
			if st != nil {
				st.Close()
			}
		}
	}()
	args := make([]any, 0, rows*resultValues+len(kinds))
	for len(batch) > 0 {
		n, i := 1, 0
		if rows > 1 && len(batch) >= rows {
			n, i = rows, 1
		}
		if stmts[i] == nil {
			if stmts[i], err = tx.PrepareContext(ctx, insertResults(n, conflict)); err != nil {
				return err
			}
		}
		args = args[:0]
		for _, r := range batch[:n] {
			if args, err = appendResultArgs(args, runID, r); err != nil {
				return err
			}
		}
		args = append(args, kinds...)
		if _, err := stmts[i].ExecContext(ctx, args...); err != nil {
			if n == 1 {
				return fmt.Errorf("case %s sample %d: %w", batch[0].CaseID, batch[0].Sample, err)
			}
			return fmt.Errorf("cases %s sample %d to %s sample %d: %w", batch[0].CaseID, batch[0].Sample, batch[n-1].CaseID, batch[n-1].Sample, err)
		}
		batch = batch[n:]
	}
	return tx.Commit()
}

// appendResultArgs appends the values of r's row, redacted, to args.
func appendResultArgs(args []any, runID int64, r eval.Result) ([]any, error) {
	r = redactResult(r)
	checks := []byte("[]")
	if len(r.Checks) > 0 {
		var err error
		if checks, err = json.Marshal(r.Checks); err != nil {
			return args, fmt.Errorf("case %s sample %d: checks: %w", r.CaseID, r.Sample, err)
		}
	}
	return append(args, runID, r.CaseID, r.Sample, r.CaseHash, r.Output, r.FinishReason,
		r.PromptTokens, r.CompletionTokens, int64(r.Latency), r.Lock, r.Endpoint, r.ErrorKind, r.Error,
		string(checks)), nil
}
