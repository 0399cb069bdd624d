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
				progressbar.OptionFullWidth(),
			)
		}
		bar.Describe(fmt.Sprintf("run: %d errors, %d in flight (limit %d), %d retries", c.Errors, c.InFlight, c.Limit, c.Retries))
		bar.Set(c.Done)
	}
	stopTicks := every(Interval, update)
	return func() {
		stopTicks()
		if bar != nil {
			bar.Clear()
		}
	}
}

// every calls fn every interval, from a goroutine of its own, until the
// returned function is called; that returns once fn no longer runs.
func every(interval time.Duration, fn func()) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				fn()
			case <-quit:
				return
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
	}
}

// Lines writes a line of counts to w every interval until the returned
// function is called: for a log that is not a terminal (a CI job's), where
// a bar cannot be redrawn and a long quiet run may be taken for a hung one.
// Each line says how many case samples are done of the total, the rate
// since the start, the time left at that rate, and the errors and retries.
func Lines(w io.Writer, interval time.Duration, counts func() Counts) (stop func()) {
	start := time.Now()
	return every(interval, func() { fmt.Fprintln(w, Line(counts(), time.Since(start))) })
}

// Line says counts in one line, elapsed after the start: "progress: 1200 of
// 5000 case samples (24%), 310.2/s, about 12s left; 3 errors, 2 retries, 64
// in flight".
func Line(c Counts, elapsed time.Duration) string {
	pct, rate, left := 0.0, 0.0, "time left unknown"
	if c.Total > 0 {
		pct = 100 * float64(c.Done) / float64(c.Total)
	}
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(c.Done) / s
	}
	if rate > 0 {
		left = "about " + time.Duration(float64(c.Total-c.Done)/rate*float64(time.Second)).Round(time.Second).String() + " left"
	}
	return fmt.Sprintf("progress: %d of %d case samples (%.0f%%), %.1f/s, %s; %d errors, %d retries, %d in flight",
		c.Done, c.Total, pct, rate, left, c.Errors, c.Retries, c.InFlight)
}
