package endpoint

import (
	"context"
	"sync"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// A Sink receives the results a Committer lets through; runner.Sink has the
// same methods.
type Sink interface {
	Put(eval.Result)
	Err() error
}

// DefaultCommitBatch is how many held results make a Committer check the
// lock before its interval has passed.
const DefaultCommitBatch = 1024

// A Committer stores a run's results under its lock only once the lock has
// vouched for them: verify, then commit. Where every claim of the lock is
// carried by each response (the Evalpin-Lock header, system_fingerprint),
// Target.CheckResponse vouched for the result already and it passes at once.
// Where a claim can only be re-probed (Ollama's derived lock and its
// modified_at, the well-known document and its generation, a served model
// name), a result is held until a Target.Recheck that started after it
// arrived confirms every claim and change marker; then it is handed on. When
// a check fails, every held result is discarded, never stored, and the
// target refuses from then on, which stops the run.
//
// A model re-created under its name between two checks (even A → B → A)
// therefore changes a marker and fails the check that brackets the results it
// could have produced. Put is called by one goroutine (the runner's
// collector); the Committer runs its checks on a goroutine of its own, which
// Finish stops.
type Committer struct {
	t        *Target
	next     Sink
	interval time.Duration
	batch    int
	now      func() time.Time

	mu        sync.Mutex // guards the fields below and calls of next.Put
	held      []eval.Result
	oldest    time.Time // when held[0] arrived
	committed int       // results handed on
	discarded int       // results dropped by a failed check
	confirmed time.Time // when the last successful check started
	failed    error     // the check that failed, if one did

	wake     chan struct{} // a result was held
	stop     chan struct{} // Finish was called
	loopDone chan struct{}
	ctx      context.Context // the checks'; cancelled by Finish
	cancel   context.CancelFunc
}

// NewCommitter returns a Committer that hands confirmed results of t's run to
// next. Checks run at least once every interval while results are held (0
// means the Prober's Recheck, DefaultRecheck by default) and as soon as batch
// results are held (0 means DefaultCommitBatch). Call Finish when the run
// ends.
func (t *Target) NewCommitter(next Sink, interval time.Duration, batch int) *Committer {
	if interval <= 0 {
		interval = t.prober.recheck()
	}
	if batch <= 0 {
		batch = DefaultCommitBatch
	}
	c := &Committer{t: t, next: next, interval: interval, batch: batch, now: t.prober.now,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), loopDone: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if t.Reprobed() {
		go c.loop()
	} else {
		close(c.loopDone)
	}
	return c
}

// Put hands r on at once when its endpoint's lock travels in every response,
// and holds it for the next check otherwise.
func (c *Committer) Put(r eval.Result) {
	w := c.t.eps[r.Endpoint]
	c.mu.Lock()
	defer c.mu.Unlock()
	if w == nil || !w.report.bracketed() {
		c.next.Put(r)
		c.committed++
		return
	}
	if c.failed != nil {
		c.discarded++ // the run is being stopped; nothing more is vouched for
		return
	}
	if len(c.held) == 0 {
		c.oldest = c.now()
	}
	c.held = append(c.held, r)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Err returns the error of the sink results are handed to.
func (c *Committer) Err() error {
	return c.next.Err()
}

// loop checks the lock while results are held: once the oldest has waited
// the interval, or once a batch is held.
func (c *Committer) loop() {
	defer close(c.loopDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-c.stop:
			return // Finish makes the last check
		default:
		}
		c.mu.Lock()
		n, oldest, failed := len(c.held), c.oldest, c.failed
		c.mu.Unlock()
		if failed != nil {
			return
		}
		if n > 0 && (n >= c.batch || c.now().Sub(oldest) >= c.interval) {
			c.check(c.ctx)
			if c.ctx.Err() != nil {
				return // Finish stopped the loop mid-check; it checks again
			}
			continue
		}
		if n > 0 {
			timer.Reset(c.interval - c.now().Sub(oldest))
		}
		select {
		case <-c.wake:
		case <-timer.C:
		case <-c.stop:
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

// check runs one Recheck and commits, or discards, the results held when it
// started.
func (c *Committer) check(ctx context.Context) error {
	c.mu.Lock()
	n := len(c.held)
	if c.failed != nil {
		c.mu.Unlock()
		return c.failed
	}
	c.mu.Unlock()
	started := c.now()
	err := c.t.Recheck(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return err // stopped, no verdict: Finish decides
		}
		c.failed = err
		c.discarded += len(c.held)
		c.held = nil
		return err
	}
	for _, r := range c.held[:n] {
		c.next.Put(r)
	}
	c.committed += n
	c.held = append(c.held[:0], c.held[n:]...)
	if len(c.held) > 0 {
		c.oldest = started // an upper bound on the wait of those left
	}
	c.confirmed = started
	return nil
}

// Finish ends the run's checks: it stops the loop, then runs a last check,
// which confirms every result held (it starts after the last one arrived)
// and is the run's final check of the lock even when none is held. It
// returns that check's refusal (or an earlier one), after which the held
// results are discarded. ctx bounds the last check; if it ends first, the
// held results are discarded and ctx's error returned: they were not
// confirmed, so a resumed run requests them again.
func (c *Committer) Finish(ctx context.Context) error {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	// A check under way finishes first: it started before whatever stopped
	// the run, so what it confirms is vouched for. Only ctx cuts it short.
	defer context.AfterFunc(ctx, c.cancel)()
	<-c.loopDone
	c.cancel()
	if err := c.t.Refused(); err != nil {
		c.discardHeld(err)
		return err
	}
	if err := c.check(ctx); err != nil {
		c.discardHeld(err)
		return err
	}
	return nil
}

// discardHeld drops the held results after err.
func (c *Committer) discardHeld(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		c.failed = err
	}
	c.discarded += len(c.held)
	c.held = nil
}

// CommitStats says what a Committer did with the results it was given.
type CommitStats struct {
	// Committed results were handed on: vouched for by their response, or
	// confirmed by a check that started after they arrived.
	Committed int
	// Discarded results were dropped, never stored: no check confirmed the
	// lock after they arrived (one failed, or the run stopped first).
	Discarded int
	// Held results wait for a check (none once Finish returned).
	Held int
	// Confirmed is when the last successful check started (zero if none).
	Confirmed time.Time
}

// Stats returns the counts so far.
func (c *Committer) Stats() CommitStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CommitStats{Committed: c.committed, Discarded: c.discarded, Held: len(c.held), Confirmed: c.confirmed}
}
