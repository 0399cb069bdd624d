package runs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/runner"
)

// A suiteStore stores a suite's cases in the background, and owns the
// goroutine that does.
type suiteStore struct {
	tee  *caseTee      // of a suite read from its file; nil for cases held
	done chan struct{} // closed when the goroutine has returned
	err  error         // set before done is closed
}

// storeSuite starts storing suite into db with put. An interrupt does not
// stop it: the cases of an interrupted run are stored too, which costs a few
// transactions of a bounded size. The cases of a suite read from its file
// come to put from the first pass of the replay (replaySource), not from a
// reading of the file of their own.
func storeSuite(ctx context.Context, db *store.DB, suite eval.Suite, put func(context.Context, *store.DB, eval.Suite) error) *suiteStore {
	s := &suiteStore{done: make(chan struct{})}
	if suite.Source != nil {
		s.tee = newCaseTee(suite.Source)
		suite.Source = teeFeed{s.tee}
	}
	go func() {
		defer close(s.done)
		err := put(context.WithoutCancel(ctx), db, suite)
		if s.tee != nil {
			s.tee.drop()
		}
		if err != nil {
			s.err = fmt.Errorf("store suite: %w", err)
		}
	}()
	return s
}

// replaySource returns the Source the replay walks instead of src, the
// suite's: the tee that hands its cases to put as well, for a suite read
// from its file.
func (s *suiteStore) replaySource(src eval.Source) eval.Source {
	if s.tee == nil {
		return src
	}
	return s.tee
}

// Err returns the error of storing the suite once that has ended, and nil
// until then; it does not wait.
func (s *suiteStore) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Wait waits until the suite is stored and returns the error of storing it.
// Call it once the replay has ended: a storing still waiting for cases from
// a replay that never walked them reads them from the file.
func (s *suiteStore) Wait() error {
	if s.tee != nil {
		s.tee.end()
	}
	<-s.done
	return s.err
}

// teeBatch is how many cases the tee hands on at a time, and teeBatches how
// many batches it holds for the storing before it stops handing them on.
const (
	teeBatch   = 1000
	teeBatches = 4
)

// A caseTee is the Source the replay walks: its first walk hands the cases
// it reads to the storing of the suite as well (its feed, teeFeed), so that
// a suite file is not read a second time to store its cases. The replay
// never waits for the storing: when the feed is full or no longer read, the
// tee stops handing cases on, and the storing reads the ones it missed from
// the file. The last batch is handed on only once the walk has checked the
// whole file unchanged.
type caseTee struct {
	eval.Source
	feed    chan []keyedCase // closed when the walk that feeds it ends
	dropped atomic.Bool      // the storing reads the feed no longer
	mu      sync.Mutex
	claimed bool // a walk feeds it, or the feed was closed without one
}

// A keyedCase is a case with its key, as Walk yields them.
type keyedCase struct {
	key int
	c   *eval.Case
}

func newCaseTee(src eval.Source) *caseTee {
	return &caseTee{Source: src, feed: make(chan []keyedCase, teeBatches)}
}

// claim reports whether the caller is the first to claim the feed: the walk
// that fills it, or end, which closes it empty.
func (t *caseTee) claim() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := !t.claimed
	t.claimed = true
	return first
}

// end closes the feed when no walk has claimed it: the replay ended without
// walking the cases.
func (t *caseTee) end() {
	if t.claim() {
		close(t.feed)
	}
}

// drop says the storing reads the feed no longer.
func (t *caseTee) drop() { t.dropped.Store(true) }

// Walk walks the cases of the Source; the first walk hands them on to the
// feed too.
func (t *caseTee) Walk(yield func(int, *eval.Case) bool) error {
	if !t.claim() {
		return t.Source.Walk(yield)
	}
	defer close(t.feed)
	var batch []keyedCase
	feeding, walked := true, 0
	err := t.Source.Walk(func(k int, c *eval.Case) bool {
		if feeding && len(batch) == teeBatch {
			feeding, batch = t.send(batch), nil
		}
		if feeding {
			batch = append(batch, keyedCase{k, c})
		}
		walked++
		return yield(k, c)
	})
	if err == nil && feeding && walked == t.Len() {
		t.send(batch)
	}
	return err
}

// send hands batch on to the feed without waiting, and reports whether it
// did.
func (t *caseTee) send(batch []keyedCase) bool {
	if t.dropped.Load() {
		return false
	}
	select {
	case t.feed <- batch:
		return true
	default:
		return false
	}
}

// A teeFeed is the Source the storing of the suite reads: its first walk
// yields the cases the replay handed on, then reads those it did not from
// the file; any other walk reads the file.
type teeFeed struct{ *caseTee }

// Walk yields the suite's cases in order.
func (f teeFeed) Walk(yield func(int, *eval.Case) bool) error {
	if f.dropped.Load() {
		return f.Source.Walk(yield)
	}
	n := 0
	for batch := range f.feed {
		for _, kc := range batch {
			if !yield(kc.key, kc.c) {
				f.drop()
				return nil
			}
			n++
		}
	}
	f.drop() // a second walk reads the file
	if n == f.Len() {
		return nil
	}
	i := 0
	return f.Source.Walk(func(k int, c *eval.Case) bool {
		if i < n {
			i++
			return true
		}
		return yield(k, c)
	})
}

// A sink hands the results a Committer lets through to a store writer. The
// Committer calls Put from its check goroutine as well as from the runner's
// collector, which calls Err: the first error of Put is kept atomically.
type sink struct {
	w     *store.Writer
	suite *suiteStore           // a failure to store the suite stops the run too
	err   atomic.Pointer[error] // the first error of Put
}

var (
	_ endpoint.Sink = (*sink)(nil)
	_ runner.Sink   = (*endpoint.Committer)(nil)
)

// Put queues r for storing; the Sink's Put has no error, so the first one is
// kept for Err.
func (s *sink) Put(r eval.Result) {
	if err := s.w.Put(r); err != nil {
		first := err // only a failed Put allocates
		s.err.CompareAndSwap(nil, &first)
	}
}

// Err returns the first error of Put, of the writer's transactions or of
// storing the suite.
func (s *sink) Err() error {
	if err := s.err.Load(); err != nil {
		return *err
	}
	if err := s.w.Err(); err != nil {
		return err
	}
	return s.suite.Err()
}
