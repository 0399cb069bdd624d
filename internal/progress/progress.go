// Package progress shows how far a long run has got while it runs: a bar on
// a terminal, redrawn a few times a second from the run's counters. It draws;
// the runner only counts.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Counts are what the bar shows of a run: how many of Total case samples are
// done, and the state of the requests.
type Counts struct {
	Total, Done     int // case samples to request, and handed on so far
	Errors, Retries int // of Done, failed; attempts repeated
	InFlight, Limit int // requests in flight, and the adaptive limit
}

// Interval is how often the bar is redrawn.
const Interval = 250 * time.Millisecond

// Bar draws a progress bar on w from counts every Interval until the
// returned function is called, which clears it. The bar is made once counts
// knows its total: a bar of unknown length would start a spinner goroutine of
// its own.
func Bar(w io.Writer, counts func() Counts) (stop func()) {
	var bar *progressbar.ProgressBar
	update := func() {
		c := counts()
		if bar == nil {
			if c.Total == 0 {
				return
			}
			bar = progressbar.NewOptions(c.Total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("results"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(0),
				progressbar.OptionSetWidth(30),
			)
		}
		bar.Describe(fmt.Sprintf("run: %d errors, %d in flight (limit %d), %d retries", c.Errors, c.InFlight, c.Limit, c.Retries))
		bar.Set(c.Done)
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(Interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				update()
			case <-quit:
				return
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
		if bar != nil {
			bar.Clear()
		}
	}
}
