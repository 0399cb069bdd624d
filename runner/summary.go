package runner

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// A Summary describes a finished (or stopped) run.
type Summary struct {
	Cases    int            // distinct cases with at least one result in this run
	Results  int            // results handed to the sink
	Skipped  int            // case samples already stored, not requested
	Errors   map[string]int // results with Error set, by ErrorKind
	Requests int            // HTTP requests sent, retries included
	Retries  int            // of Requests, repeats after a retryable failure

	PromptTokens     int // as the servers reported them
	CompletionTokens int
	Elapsed          time.Duration
	RequestsPerSec   float64 // Requests / Elapsed
	ResultsPerSec    float64 // Results / Elapsed
	TokensPerSec     float64 // CompletionTokens / Elapsed

	// Latency percentiles of the successful results (nearest rank, exact
	// to the microsecond: a run of a million cases keeps 4 bytes a result).
	P50, P95, P99 time.Duration

	Endpoints    map[string]int // results per endpoint
	PeakInFlight int            // most requests in flight at once
	LowestLimit  int            // lowest adaptive concurrency limit reached
}

// ErrorCount is the number of results with Error set.
func (s Summary) ErrorCount() int {
	n := 0
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// A collector owns the sink: it is the only goroutine that calls it, and it
// gathers what the Summary needs on the way.
type collector struct {
	put       Sink
	abort     context.CancelCauseFunc
	sinkErr   error
	results   int
	cases     map[string]struct{} // without keys
	keys      func(string) (int, bool)
	keySet    eval.KeySet // the cases seen, by key
	distinct  int
	errors    map[string]int
	endpoints map[string]int
	latencies []uint32 // in microseconds, rounded up: 4 bytes a result
}

func newCollector(sink Sink, total int, abort context.CancelCauseFunc) *collector {
	return &collector{
		put:       sink,
		abort:     abort,
		cases:     make(map[string]struct{}),
		errors:    make(map[string]int),
		endpoints: make(map[string]int),
		latencies: make([]uint32, 0, total),
	}
}

// keyed makes c count the distinct cases by their keys (Plan.Keys), below
// n; nil keys keeps their ids.
func (c *collector) keyed(keys func(string) (int, bool), n int) {
	if keys != nil {
		c.keys, c.keySet = keys, eval.NewKeySet(n)
	}
}

// see counts the case of id, once.
func (c *collector) see(id string) {
	if c.keys != nil {
		if k, ok := c.keys(id); ok {
			if !c.keySet.Has(k) {
				c.keySet.Add(k)
				c.distinct++
			}
			return
		}
	}
	c.cases[id] = struct{}{}
}

// run hands every result from out to the sink until out is closed. After a
// sink error it stops the run and discards the rest, but keeps draining so no
// worker blocks.
func (c *collector) run(out <-chan []eval.Result, r *Runner) {
	for batch := range out {
		for _, res := range batch {
			if c.sinkErr != nil {
				continue
			}
			c.put.Put(res)
			if err := c.put.Err(); err != nil {
				c.sinkErr = err
				c.abort(err)
				continue
			}
			c.results++
			c.see(res.CaseID)
			c.endpoints[res.Endpoint]++
			r.done.Add(1)
			if res.Error != "" {
				c.errors[res.ErrorKind]++
				r.errs.Add(1)
				continue
			}
			c.latencies = append(c.latencies, micros(res.Latency))
		}
	}
}

// summary computes the Summary after run has returned.
func (c *collector) summary(elapsed time.Duration, r *Runner) Summary {
	s := Summary{
		Cases:            len(c.cases) + c.distinct,
		Results:          c.results,
		Errors:           c.errors,
		Requests:         int(r.requests.Load()),
		Retries:          int(r.retries.Load()),
		PromptTokens:     int(r.promptTokens.Load()),
		CompletionTokens: int(r.completionTokens.Load()),
		Elapsed:          elapsed,
		Endpoints:        c.endpoints,
	}
	if secs := elapsed.Seconds(); secs > 0 {
		s.RequestsPerSec = float64(s.Requests) / secs
		s.ResultsPerSec = float64(s.Results) / secs
		s.TokensPerSec = float64(s.CompletionTokens) / secs
	}
	slices.Sort(c.latencies)
	s.P50 = time.Duration(percentile(c.latencies, 50)) * time.Microsecond
	s.P95 = time.Duration(percentile(c.latencies, 95)) * time.Microsecond
	s.P99 = time.Duration(percentile(c.latencies, 99)) * time.Microsecond
	return s
}

// micros returns d in whole microseconds, rounded up, at most 2³²-1 (71
// minutes, beyond any request's timeout).
func micros(d time.Duration) uint32 {
	return uint32(min((max(d, 0)+time.Microsecond-1)/time.Microsecond, math.MaxUint32))
}

// percentile returns the p-th percentile of sorted by the nearest-rank
// method: the smallest value with at least p% of the values at or below it.
func percentile[T int64 | uint32 | time.Duration](sorted []T, p float64) T {
	if len(sorted) == 0 {
		return 0
	}
	// rank = ceil(p/100 · n), computed in integers to avoid float rounding.
	n := len(sorted)
	rank := (int(p*100)*n + 9999) / 10000
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}
