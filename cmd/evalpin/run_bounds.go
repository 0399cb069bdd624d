package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// The bounds of the numeric flags of "evalpin run". A value outside them is
// an input error, reported before any endpoint is probed or the database
// touched: each bound lies far beyond any real use, and values past it
// exhaust memory or overflow what engines accept. --samples and --max-tokens
// are bounded by eval.SamplesLimit and eval.MaxTokensLimit.
const (
	// runMaxConcurrency bounds --concurrency. Beyond thousands of requests
	// in flight a run is limited by the servers and by the ephemeral ports
	// (about 28,000 connections to one host), not by evalpin. The runner
	// allocates little per unit of the limit up front (a 24-byte slot of its
	// result channel); workers, connections and buffers grow with the
	// requests actually in flight.
	runMaxConcurrency = 1 << 16
	// runMaxRetries bounds --retries: with back-off capped at 30 s, 100
	// retries already wait most of an hour for one request.
	runMaxRetries = 100
	// runMaxBatch bounds --batch, the prompts packed into one /completions
	// request; the runner reserves room for this many per packed request.
	runMaxBatch = 1024
	// runMinTimeout and runMaxTimeout bound --timeout, which bounds one
	// attempt: below a millisecond is a unit typo, above a day a hung
	// server.
	runMinTimeout = time.Millisecond
	runMaxTimeout = 24 * time.Hour
)

// runTimeoutRange is the range of --timeout, as the help and errors print it.
var runTimeoutRange = runShortDuration(runMinTimeout) + " to " + runShortDuration(runMaxTimeout)

// runShortDuration formats d without trailing zero units: 24h, not 24h0m0s.
func runShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// runBoundsError returns the input error of a flag whose value is outside
// [lo, hi]; the bounds and the value are given as printed.
func runBoundsError(flag, lo, hi, value string) error {
	return usageErrorf("run: --%s must be in range [%s, %s], not %s", flag, lo, hi, value)
}

// runCheckBounds checks the numeric flags of o against their bounds.
func runCheckBounds(o *runOptions) error {
	ints := []struct {
		flag      string
		v, lo, hi int
		check     bool
	}{
		{"concurrency", o.concurrency, 1, runMaxConcurrency, true},
		{"retries", o.retries, 0, runMaxRetries, true},
		{"batch", o.batch, 1, runMaxBatch, true},
		{"samples", o.samples, 1, eval.SamplesLimit, o.set["samples"]},
		{"max-tokens", o.maxTokens, 1, eval.MaxTokensLimit, o.set["max-tokens"]},
	}
	for _, b := range ints {
		if b.check && (b.v < b.lo || b.v > b.hi) {
			return runBoundsError(b.flag, strconv.Itoa(b.lo), strconv.Itoa(b.hi), strconv.Itoa(b.v))
		}
	}
	if o.timeout < runMinTimeout || o.timeout > runMaxTimeout {
		return runBoundsError("timeout", runShortDuration(runMinTimeout), runShortDuration(runMaxTimeout), o.timeout.String())
	}
	return nil
}
