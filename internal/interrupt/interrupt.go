// Package interrupt escalates the interrupts of a run. The first Ctrl-C
// cancels the command's context (main's signal.NotifyContext), which stops
// dispatching and lets the requests in flight finish and be stored; a watch
// sees it too and waits for another. The second closes the hard stop, which
// makes the runner abandon the requests in flight; should the run still not
// have stopped after a grace period, the process exits.
//
// Nothing stored is lost that way: each batch of results is one transaction,
// the results of an unfinished batch are not stored and so are requested
// again on resume, and a result stored twice is one row.
package interrupt

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// A Config is what a watch watches and does.
type Config struct {
	// Signals delivers the interrupts.
	Signals <-chan os.Signal
	// Out is where the watch says what each interrupt does; it must be safe
	// for use by another goroutine.
	Out io.Writer
	// Grace is how long the run may take to stop after the second
	// interrupt before Exit is called.
	Grace time.Duration
	// Exit ends the process.
	Exit func()
}

// Watch watches cfg.Signals until the returned stop is called, and returns
// the hard stop, which the second interrupt closes. stop ends the watch and
// disarms the exit: call it once the run has stopped.
func Watch(cfg Config) (hard <-chan struct{}, stop func()) {
	h := make(chan struct{})
	quit := make(chan struct{})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		timer *time.Timer
	)
	wg.Go(func() {
		for n := 0; ; {
			select {
			case <-cfg.Signals:
				n++
			case <-quit:
				return
			}
			switch n {
			case 1:
				fmt.Fprintln(cfg.Out, "interrupt: waiting for the requests in flight and storing their results (Ctrl-C again to abandon them)")
			case 2:
				fmt.Fprintln(cfg.Out, "second interrupt: abandoning the requests in flight")
				close(h)
				mu.Lock()
				timer = time.AfterFunc(cfg.Grace, func() {
					fmt.Fprintf(cfg.Out, "evalpin: still stopping after %v; exiting (stored results are kept; the same command resumes the run)\n", cfg.Grace)
					cfg.Exit()
				})
				mu.Unlock()
				return
			}
		}
	})
	return h, func() {
		close(quit)
		wg.Wait()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
	}
}

// A SyncWriter serializes writes to W, which a watch, a progress bar and the
// command share.
type SyncWriter struct {
	mu sync.Mutex
	W  io.Writer
}

// Write writes p to W, one call at a time.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.W.Write(p)
}
