package runs

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/runner"
)

// A suiteStore stores a suite's cases in the background, and owns the
// goroutine that does.
type suiteStore struct {
	done chan struct{} // closed when the goroutine has returned
	err  error         // set before done is closed
}

// storeSuite starts storing suite into db with put. An interrupt does not
// stop it: the cases of an interrupted run are stored too, which costs a few
// transactions of a bounded size.
func storeSuite(ctx context.Context, db *store.DB, suite eval.Suite, put func(context.Context, *store.DB, eval.Suite) error) *suiteStore {
	s := &suiteStore{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := put(context.WithoutCancel(ctx), db, suite); err != nil {
			s.err = fmt.Errorf("store suite: %w", err)
		}
	}()
	return s
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
func (s *suiteStore) Wait() error {
	<-s.done
	return s.err
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
