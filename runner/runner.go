package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

// The error kinds the runner records in eval.Result.ErrorKind.
const (
	ErrBadRequest    = "bad_request"    // 400, 413, 422: the server rejected the request
	ErrContextLength = "context_length" // prompt plus max_tokens exceed the model's context
	ErrNotFound      = "not_found"      // 404: unknown model or path
	ErrAuth          = "auth"           // 401, 403
	ErrRateLimited   = "rate_limited"   // 429 on every attempt
	ErrServer        = "server"         // 5xx on every attempt
	ErrTimeout       = "timeout"        // no answer within Config.Timeout on every attempt
	ErrConnection    = "connection"     // no HTTP answer at all on every attempt
	ErrMalformed     = "malformed"      // a 2xx response that is not a completion
	ErrTruncated     = "truncated"      // every attempt's answer was cut off mid-body
	ErrHTTP          = "http"           // any other status
)

// TransientKinds returns the error kinds of requests that failed every
// attempt for a reason outside the case: overload, a server error, a timeout,
// the network. They say nothing about the model, so a resumed run requests
// those case samples again and replaces the stored failures; the other kinds
// answer the case itself and stay.
func TransientKinds() []string {
	return []string{ErrRateLimited, ErrServer, ErrTimeout, ErrConnection}
}

// ErrorKinds returns every error kind the runner records.
func ErrorKinds() []string {
	return []string{ErrBadRequest, ErrContextLength, ErrNotFound, ErrAuth, ErrRateLimited, ErrServer, ErrTimeout, ErrConnection, ErrMalformed, ErrTruncated, ErrHTTP}
}

// A Sink receives the results of a run, one at a time, from a single
// goroutine. Put must not wait on disk: a store batches and writes in the
// background. Err reports the first infrastructure failure (a failed write);
// it is called after every Put, so it must be cheap, and a non-nil error stops
// the run.
type Sink interface {
	Put(eval.Result)
	Err() error
}

// Config configures a Runner. The zero value of a field selects the default
// given in its comment.
type Config struct {
	// Endpoints are the OpenAI base URLs (e.g. http://host:8000/v1) of
	// replicas serving one lock; requests are spread across them round-robin,
	// and a retry goes to the next one. At least one is required.
	Endpoints []string
	// Model is the model name sent in every request; required.
	Model string
	// APIKey, if set, is sent as a bearer token.
	APIKey string

	// Concurrency is the most requests in flight at once over all endpoints
	// (default 128). It is also the size of the connection pool.
	Concurrency int
	// MinConcurrency is the floor the adaptive limit backs off to under
	// overload (default 1).
	MinConcurrency int
	// Timeout bounds one attempt of one request, including reading the
	// answer (default 10 minutes: long generations on a busy server are slow).
	Timeout time.Duration
	// MaxAttempts bounds the attempts per request, retries included (default 6).
	MaxAttempts int
	// BackoffBase and BackoffMax shape the exponential back-off between
	// attempts (defaults 250 ms and 30 s). A Retry-After header wins.
	BackoffBase, BackoffMax time.Duration
	// Batch packs up to this many raw-prompt jobs of one pass with identical
	// settings into one /completions request, the prompt being a list
	// (default 1: no packing). Only for engines that accept a list (vLLM, SGLang, OpenAI).
	// A packed request's token usage cannot be split by prompt: its results
	// carry zero token counts, and the Summary counts the request's usage.
	Batch int

	// CheckResponse is called on every completion, a 2xx answer, before its
	// result is handed on. It gets the endpoint's base URL, the response
	// headers, and the system_fingerprint and model of the body ("" where
	// absent, or where the body is no valid completion). It returns the lock
	// the response was served by, recorded in each Result. An error stops the
	// run: the response's result is dropped, in-flight requests are
	// cancelled, and Run returns the error wrapped, as an
	// fault.LockRefused error unless it already has a kind.
	// If nil, the lockid.Header value is recorded unchecked.
	CheckResponse func(endpoint string, h http.Header, systemFingerprint, model string) (lockid.ID, error)
	// CheckErrorResponse is called, like CheckResponse, on an error answer
	// whose failure is recorded as the case's result (a 400, a 404, an answer
	// cut off mid-body on every attempt): only its headers can vouch for it.
	// Failures recorded as transient (429, 5xx, timeouts, after the last
	// retry) are not checked: load balancers answer those without the lock
	// header, and a resumed run requests them again. If nil, the lockid.Header
	// value is recorded unchecked.
	CheckErrorResponse func(endpoint string, h http.Header) (lockid.ID, error)
	// Sink receives every result; required.
	Sink Sink
	// HardStop, when closed, cancels in-flight requests at once and drops
	// their results (a second Ctrl-C). The first cancel of Run's context
	// only stops dispatching.
	HardStop <-chan struct{}

	// Client sends the requests; nil builds one whose transport keeps
	// Concurrency idle connections per host.
	Client *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// A Runner replays plans as its Config says. Its Progress may be read from
// any goroutine while Run runs; one Run at a time.
type Runner struct {
	cfg    Config
	client *http.Client
	lim    *limiter      // the current run's
	next   atomic.Uint64 // round-robin endpoint counter
	header http.Header   // every request's headers
	// ownTransport is the transport New made, whose idle connections Run
	// closes when it ends; nil when Config.Client was given.
	ownTransport *http.Transport

	total, skipped, done, errs, retries, requests atomic.Int64
	promptTokens, completionTokens                atomic.Int64
	running                                       atomic.Bool
	tails                                         tailCache               // of chat request bodies; emptied by Run
	curLim                                        atomic.Pointer[limiter] // r.lim, for Progress
}

// New validates cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fault.Errorf(fault.Input, "give the OpenAI base URL of the server, e.g. http://localhost:8000/v1", "runner: no endpoint")
	}
	cfg.Endpoints = slices.Clone(cfg.Endpoints)
	for i, ep := range cfg.Endpoints {
		if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
			return nil, fault.Errorf(fault.Input, "write the endpoint as an http:// or https:// URL, e.g. http://localhost:8000/v1", "runner: endpoint %q is not an http(s) URL", ep)
		}
		cfg.Endpoints[i] = strings.TrimRight(ep, "/")
	}
	if cfg.Model == "" {
		return nil, fault.Errorf(fault.Input, "name the model the server serves (see GET /v1/models)", "runner: no model name")
	}
	if cfg.Sink == nil {
		return nil, errors.New("runner: no sink")
	}
	if err := checkLimits(&cfg); err != nil {
		return nil, err
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MinConcurrency <= 0 {
		cfg.MinConcurrency = 1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 250 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	if cfg.Batch == 0 {
		cfg.Batch = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Runner{cfg: cfg, client: cfg.Client, header: http.Header{
		"Content-Type": {"application/json"},
		"Accept":       {"application/json"},
	}}
	if cfg.APIKey != "" {
		r.header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	if r.client == nil {
		r.ownTransport = NewTransport(cfg.Concurrency, len(cfg.Endpoints))
		r.client = &http.Client{Transport: r.ownTransport}
	}
	return r, nil
}

// NewTransport returns an HTTP transport for concurrency requests in flight
// spread over hosts hosts: every connection is kept for reuse, so a steady run
// opens each connection once.
func NewTransport(concurrency, hosts int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = concurrency
	t.MaxIdleConns = concurrency * max(hosts, 1)
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// Progress is a snapshot of a run's counters.
type Progress struct {
	Total    int // case samples to request in this run (skipped ones excluded)
	Skipped  int // case samples already stored
	Done     int // results handed to the sink
	Errors   int // of Done, results with Error set
	Retries  int // attempts repeated after a retryable failure
	InFlight int // requests in flight now
	Limit    int // the adaptive concurrency limit now
}

// Progress returns the counters of the current or last run.
func (r *Runner) Progress() Progress {
	p := Progress{
		Total:   int(r.total.Load()),
		Skipped: int(r.skipped.Load()),
		Done:    int(r.done.Load()),
		Errors:  int(r.errs.Load()),
		Retries: int(r.retries.Load()),
	}
	if lim := r.curLim.Load(); lim != nil {
		p.Limit, p.InFlight, _, _ = lim.state()
	}
	return p
}

// A Job is one case sample to request.
type Job struct {
	Case   *eval.Case
	Sample int
	// Settings are the case's settings: the suite's, with the case's
	// Overrides applied. The jobs of one case may share one pointer; the
	// runner reads it and never writes it.
	Settings *eval.Settings
}

// A Plan is what Run requests: jobs walked in passes, in order, each pass
// pulled only as workers become free, so that a plan need not be held in
// memory. Raw-prompt jobs are packed into one request (Config.Batch) only
// with jobs of the same pass: a plan that puts the samples of a case in
// different passes (SuitePlan) never has two of them answered by one
// request, and so never co-batched by the engine.
type Plan struct {
	// Passes yields the passes, each of which yields its jobs.
	Passes iter.Seq[iter.Seq[Job]]
	// Total is how many jobs Passes yields: Progress's Total, and what an
	// interrupted Run says it had to do. 0 if not known.
	Total int
	// Skipped is how many case samples the plan leaves out because they
	// are stored already; Summary and Progress report it.
	Skipped int
	// Keys, when set, numbers the plan's cases from 0 to Cases-1
	// (eval.Source.Key), so that the Summary counts distinct cases with a
	// bit each rather than a set of their ids.
	Keys  func(caseID string) (int, bool)
	Cases int
}

// SuitePlan returns the plan of suite at suite.Settings: pass k requests
// sample k of every case, in the suite's order, so that the repeats of a case
// are spread across the run rather than sent back to back. Case samples for
// which skip reports true (stored already: resume) are left out; a nil skip
// leaves out none. Total and Skipped are counted up front, calling skip once
// per case sample; the passes call it again as they are walked, so skip must
// give the same answers while the plan runs.
func SuitePlan(suite eval.Suite, skip func(caseID string, sample int) bool) Plan {
	samples := max(suite.Settings.Samples, 1)
	defaults := suite.Settings
	cases := suite.Cases
	p := Plan{}
	if skip == nil {
		skip = func(string, int) bool { return false }
		p.Total = len(cases) * samples
	} else {
		for k := range samples {
			for i := range cases {
				if skip(cases[i].ID, k) {
					p.Skipped++
				} else {
					p.Total++
				}
			}
		}
	}
	// The settings of a case with overrides are made once, on the first
	// pass, and shared by its jobs on every pass.
	var own []*eval.Settings
	settings := func(i int) *eval.Settings {
		o := &cases[i].Overrides
		if o.MaxTokens == nil && o.Stop == nil && o.Temperature == nil && o.Seed == nil {
			return &defaults
		}
		if own == nil {
			own = make([]*eval.Settings, len(cases))
		}
		if own[i] == nil {
			own[i] = ptr(defaults.With(*o))
		}
		return own[i]
	}
	p.Passes = func(yield func(iter.Seq[Job]) bool) {
		for k := range samples {
			pass := func(yield func(Job) bool) {
				for i := range cases {
					if skip(cases[i].ID, k) {
						continue
					}
					if !yield(Job{Case: &cases[i], Sample: k, Settings: settings(i)}) {
						return
					}
				}
			}
			if !yield(pass) {
				return
			}
		}
	}
	return p
}

// SourcePlan returns the plan of the cases of src at defaults, walked as
// SuitePlan's: pass k requests sample k of every case for which skip (by
// its key) reports false, in suite order, reading src once a pass and
// holding none of its cases beyond those in flight. total and skipped are
// the Plan's Total and Skipped, which the caller counts (a walk of src to
// count them would cost a reading of the file). A pass that src cannot walk
// (its file changed) ends, fail is given the error, and no pass follows.
func SourcePlan(src eval.Source, defaults eval.Settings, total, skipped int, skip func(key, sample int) bool, fail func(error)) Plan {
	samples := max(defaults.Samples, 1)
	failed := false
	p := Plan{Total: total, Skipped: skipped, Keys: src.Key, Cases: src.Len()}
	p.Passes = func(yield func(iter.Seq[Job]) bool) {
		for k := range samples {
			stopped := false
			pass := func(yield func(Job) bool) {
				if failed {
					return
				}
				err := src.Walk(func(key int, c *eval.Case) bool {
					if skip(key, k) {
						return true
					}
					settings := &defaults
					if o := &c.Overrides; o.MaxTokens != nil || o.Stop != nil || o.Temperature != nil || o.Seed != nil {
						settings = ptr(defaults.With(*o))
					}
					if !yield(Job{Case: c, Sample: k, Settings: settings}) {
						stopped = true
						return false
					}
					return true
				})
				if err != nil {
					failed = true
					fail(err)
				}
			}
			if !yield(pass) || stopped || failed {
				return
			}
		}
	}
	return p
}

// A job is one case sample, as a request is made of them.
type job struct {
	c        *eval.Case
	sample   int
	settings *eval.Settings // shared by the jobs of a case
}

// A task is one request: one job, or several raw jobs packed together.
type task struct {
	raw  bool
	jobs []job
	one  [1]job        // jobs of an unpacked task, without a second allocation
	done chan struct{} // closed when the task has ended, handed on or not
}

// An inFlight tracks, by case id, the task that holds a case's latest sample
// until it ends, so that the next sample of the case is not sent while an
// earlier one is in flight: passes spread the repeats of a case across the
// run, but at the seam of two passes (a suite smaller than the in-flight
// window, or a slow request still out when the next pass reaches its case)
// two samples could otherwise be answered side by side and co-batched by the
// engine, which makes repeats agree more than independent requests do and
// the noise floor too low (docs/statistics.md, "Output drift").
type inFlight struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// waitFor returns a channel closed when no sample of the case id is in
// flight any more; nil when none is.
func (f *inFlight) waitFor(id string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[id]
}

// start records t's cases as in flight until end(t).
func (f *inFlight) start(t *task) {
	t.done = make(chan struct{})
	f.mu.Lock()
	for _, j := range t.jobs {
		f.m[j.c.ID] = t.done
	}
	f.mu.Unlock()
}

// end records that t has ended.
func (f *inFlight) end(t *task) {
	f.mu.Lock()
	for _, j := range t.jobs {
		if f.m[j.c.ID] == t.done {
			delete(f.m, j.c.ID)
		}
	}
	f.mu.Unlock()
	close(t.done)
}

// A packer turns a pass's jobs into tasks: each chat job, and each raw job
// when Config.Batch is 1, is a task of its own; raw jobs with equal settings
// are packed up to Batch a request.
type packer struct {
	batch int
	key   map[*eval.Settings]string // settings → their hash, made once per pointer
	open  map[string]*task          // settings hash → the raw task being packed (nil: none now)
	order []string                  // keys of open, in the order they were opened
}

func newPacker(batch int) *packer {
	p := &packer{batch: batch}
	if batch > 1 {
		p.key = make(map[*eval.Settings]string)
		p.open = make(map[string]*task)
	}
	return p
}

// add takes j and returns the task that is ready to be sent, if one is.
func (p *packer) add(j Job) *task {
	raw := j.Case.Messages == nil
	jb := job{c: j.Case, sample: j.Sample, settings: j.Settings}
	if !raw || p.batch == 1 {
		t := &task{raw: raw}
		t.one[0] = jb
		t.jobs = t.one[:]
		return t
	}
	key, ok := p.key[j.Settings]
	if !ok {
		key = j.Settings.Hash()
		p.key[j.Settings] = key
	}
	t, listed := p.open[key]
	if t == nil {
		t = &task{raw: true, jobs: make([]job, 0, p.batch)}
		p.open[key] = t
		if !listed {
			p.order = append(p.order, key)
		}
	}
	t.jobs = append(t.jobs, jb)
	if len(t.jobs) < p.batch {
		return nil
	}
	p.open[key] = nil // full: sent now; the key keeps its place in order
	return t
}

// flush returns the tasks still being packed, in the order they were opened,
// and starts afresh: the end of a pass.
func (p *packer) flush() []*task {
	var ts []*task
	for _, key := range p.order {
		if t := p.open[key]; t != nil {
			ts = append(ts, t)
		}
	}
	clear(p.open)
	p.order = p.order[:0]
	return ts
}

func ptr[T any](v T) *T { return &v }

// errHardStop is the cause of a run's cancellation by Config.HardStop.
var errHardStop = fmt.Errorf("in-flight requests cancelled: %w", context.Canceled)

// Run requests every job of plan, pass by pass, and hands each result to the
// Sink. Failed requests are results with Error set; Run returns an error
// only when the run could not finish: ctx cancelled (the error wraps
// ctx's cause, and says the run was interrupted; in-flight requests were
// finished and handed on first), Config.HardStop, a lock check failure, an
// unreachable endpoint, or a sink error. The Summary is valid either way.
func (r *Runner) Run(ctx context.Context, plan Plan) (Summary, error) {
	if !r.running.CompareAndSwap(false, true) {
		return Summary{}, errors.New("runner: Run called while running")
	}
	defer r.running.Store(false)
	if r.ownTransport != nil {
		defer r.ownTransport.CloseIdleConnections()
	}
	cfg := r.cfg
	start := cfg.Now()
	for _, c := range []*atomic.Int64{&r.total, &r.skipped, &r.done, &r.errs, &r.retries, &r.requests, &r.promptTokens, &r.completionTokens} {
		c.Store(0)
	}
	r.tails.last.Store(nil) // a plan's settings are its own
	r.lim = newLimiter(cfg.Concurrency, cfg.MinConcurrency)
	r.curLim.Store(r.lim)
	total, skipped := plan.Total, plan.Skipped
	r.total.Store(int64(total))
	r.skipped.Store(int64(skipped))

	// Requests live in reqCtx, which the first cancel of ctx does not reach:
	// in-flight requests finish. Dispatching, waiting for a slot and sleeping
	// before a retry stop in dispatchCtx, which ctx's cancel does reach.
	reqCtx, abort := context.WithCancelCause(context.WithoutCancel(ctx))
	defer abort(nil)
	if cfg.HardStop != nil {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-cfg.HardStop:
				abort(errHardStop)
			case <-stop:
			}
		}()
	}
	g, gctx := errgroup.WithContext(reqCtx)
	dispatchCtx, cancelDispatch := context.WithCancel(gctx)
	defer cancelDispatch()
	defer context.AfterFunc(ctx, cancelDispatch)()

	out := make(chan []eval.Result, cfg.Concurrency)
	col := newCollector(cfg.Sink, total, abort)
	col.keyed(plan.Keys, plan.Cases)
	var colDone sync.WaitGroup
	colDone.Go(func() { col.run(out, r) })

	// A pool of at most Concurrency workers, not a goroutine per task: a
	// worker's stack grows once to what JSON and HTTP need, instead of once
	// per request. A worker is started when a task finds none free, so a
	// small plan starts no more workers than it has tasks.
	work := make(chan *task)
	var dropped atomic.Int64
	workers := 0
	fl := &inFlight{m: make(map[string]chan struct{})}
	worker := func() error {
		for t := range work {
			handed, err := r.do(dispatchCtx, gctx, t, out)
			fl.end(t)
			if !handed {
				dropped.Add(int64(len(t.jobs)))
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	dispatched := 0
	send := func(t *task) bool {
		fl.start(t)
		select {
		case work <- t:
			dispatched += len(t.jobs)
			return true
		default:
		}
		if workers < cfg.Concurrency {
			workers++
			g.Go(worker)
		}
		select {
		case work <- t:
			dispatched += len(t.jobs)
			return true
		case <-dispatchCtx.Done():
			fl.end(t)
			return false
		}
	}
	// The plan is walked here, pulled as tasks are taken. Packs are closed
	// at the end of each pass: a request never holds jobs of two passes, and
	// a job waits while an earlier sample of its case is in flight
	// (inFlight), so no two samples of a case are ever in flight together.
	exhausted := true
	pk := newPacker(cfg.Batch)
	if plan.Passes == nil {
		plan.Passes = func(func(iter.Seq[Job]) bool) {}
	}
dispatch:
	for pass := range plan.Passes {
		for j := range pass {
			if dispatchCtx.Err() != nil {
				exhausted = false
				break dispatch
			}
			if w := fl.waitFor(j.Case.ID); w != nil {
				select {
				case <-w:
				case <-dispatchCtx.Done():
					exhausted = false
					break dispatch
				}
			}
			if t := pk.add(j); t != nil && !send(t) {
				exhausted = false
				break dispatch
			}
		}
		for _, t := range pk.flush() {
			if !send(t) {
				exhausted = false
				break dispatch
			}
		}
	}
	close(work)
	werr := g.Wait()
	close(out)
	colDone.Wait()

	elapsed := cfg.Now().Sub(start)
	sum := col.summary(elapsed, r)
	sum.Skipped = skipped
	_, _, sum.PeakInFlight, sum.LowestLimit = r.lim.state()

	// What was not handed on: requests abandoned, and jobs never sent.
	missing := int(dropped.Load())
	if !exhausted {
		missing += max(total-dispatched, 1)
	}
	stored := fmt.Sprintf("%d of %d", sum.Results, total)
	if total == 0 { // a plan of unknown size
		stored = strconv.Itoa(sum.Results)
	}
	switch {
	case col.sinkErr != nil:
		return sum, fmt.Errorf("store results: %w", col.sinkErr)
	case werr != nil:
		return sum, werr
	case errors.Is(context.Cause(reqCtx), errHardStop) && missing > 0:
		return sum, fmt.Errorf("run stopped: %s results stored, %d requests abandoned; the same command resumes it: %w", stored, missing, errHardStop)
	case ctx.Err() != nil && missing > 0:
		return sum, fmt.Errorf("run interrupted: %s results stored; the same command resumes it: %w", stored, context.Cause(ctx))
	}
	return sum, nil
}

// An outcome classifies one attempt.
type outcome int

const (
	outDone      outcome = iota // results ready (success or a malformed 2xx)
	outPermanent                // an error no retry can fix; recorded
	outRetry                    // overload, server error, timeout or connection error
	outAborted                  // reqCtx ended: nothing to record
	outRefused                  // the lock check failed or the endpoint disowned its lock: stop the run
)

// An attempt is what one try of a task produced.
type attempt struct {
	outcome    outcome
	results    []eval.Result // outDone
	kind, msg  string        // outPermanent, outRetry: the error to record
	err        error         // outRefused; outRetry for connection errors
	overload   bool          // 429 or 503: back off the concurrency limit
	conn       bool          // no HTTP response at all
	retryAfter time.Duration
	hasRA      bool
	header     http.Header // of an error response, for the lock check
}

// do runs task t to completion: it returns whether t's results were handed on,
// and an error only when the whole run must stop.
func (r *Runner) do(dispatchCtx, reqCtx context.Context, t *task, out chan<- []eval.Result) (bool, error) {
	cfg := &r.cfg
	path, body, err := r.encode(t)
	if err != nil {
		return false, fmt.Errorf("encode request for case %s: %w", t.jobs[0].c.ID, err)
	}
	// Requests are spread round-robin; a task's retries go on to the next
	// replicas in turn, so one replica that is down does not fail a case.
	first := r.next.Add(1) - 1
	for n := 1; ; n++ {
		epoch, err := r.lim.acquire(dispatchCtx)
		if err != nil {
			return false, nil
		}
		ep := cfg.Endpoints[int((first+uint64(n-1))%uint64(len(cfg.Endpoints)))]
		a := r.try(reqCtx, ep, path, body, t)
		if a.outcome == outDone {
			r.lim.success()
		}
		r.lim.release()

		switch a.outcome {
		case outDone:
			out <- a.results
			return true, nil
		case outPermanent:
			return r.handError(t, ep, a, a.msg, out)
		case outAborted:
			return false, nil
		case outRefused:
			return false, a.err
		}
		if a.overload {
			r.lim.overload(epoch)
		}
		if n >= cfg.MaxAttempts {
			if a.conn {
				return false, fault.Errorf(fault.Incomplete,
					"check that the server is up and that the endpoint is its OpenAI base URL, e.g. http://localhost:8000/v1",
					"endpoint %s unreachable (%d attempts): %w", ep, n, a.err)
			}
			return r.handError(t, ep, a, fmt.Sprintf("%s (after %d attempts)", a.msg, n), out)
		}
		wait := backoff(n, cfg.BackoffBase, cfg.BackoffMax)
		if a.hasRA {
			// Never earlier than asked; up to 10% later, so that requests
			// told the same time do not all return at once.
			wait = a.retryAfter + rand.N(a.retryAfter/10+1)
		}
		r.retries.Add(1)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-dispatchCtx.Done():
			// Interrupted while waiting to retry: left for resume, not
			// recorded as a failure of the case.
			timer.Stop()
			return false, nil
		}
	}
}

// encode returns the request path and body of t: encodeTask's, a chat
// request's from the cached tail of its settings (encodeChatFast).
func (r *Runner) encode(t *task) (string, []byte, error) {
	if t.raw {
		return encodeTask(r.cfg.Model, t)
	}
	body, err := encodeChatFast(r.cfg.Model, t, &r.tails)
	return "/chat/completions", body, err
}

// bufPool holds response body buffers.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxBody bounds a response body; no completion of sane length comes near it.
const maxBody = 64 << 20

// try sends t's request once to ep.
func (r *Runner) try(ctx context.Context, ep, path string, body []byte, t *task) attempt {
	cfg := &r.cfg
	actx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, ep+path, bytes.NewReader(body))
	if err != nil {
		return attempt{outcome: outPermanent, kind: ErrBadRequest, msg: err.Error()}
	}
	req.Header = r.header // shared and read-only: neither Client nor Transport writes it
	r.requests.Add(1)
	start := cfg.Now()
	resp, err := r.client.Do(req)
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err == nil {
		_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
	}
	latency := cfg.Now().Sub(start)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return attempt{outcome: outAborted}
		case errors.Is(err, context.DeadlineExceeded):
			return attempt{outcome: outRetry, kind: ErrTimeout, msg: fmt.Sprintf("no answer from %s within %v", ep, cfg.Timeout)}
		case resp != nil && resp.StatusCode/100 == 3:
			// The client's redirect policy refused to follow (to another
			// host, say): the endpoint is misnamed, which no retry fixes.
			return attempt{outcome: outRefused, err: fault.Errorf(fault.Input, "",
				"endpoint %s answered %d and its redirect was not followed: %w", ep, resp.StatusCode, err)}
		case resp != nil:
			// The server answered, then the body broke off: the answer to
			// this case may break every time, so after the last attempt it
			// is the case's result, not an unreachable endpoint.
			return attempt{outcome: outRetry, kind: ErrTruncated, header: resp.Header,
				msg: fmt.Sprintf("HTTP %d from %s cut off mid-body: %v", resp.StatusCode, ep, err)}
		}
		return attempt{outcome: outRetry, conn: true, err: err, kind: ErrConnection, msg: err.Error()}
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		a := classify(ep, resp, buf.Bytes(), cfg.Now())
		a.header = resp.Header
		return a
	}

	d, derr := decode(t.raw, len(t.jobs), resp.Header.Get("Content-Type"), buf.Bytes())
	var lock lockid.ID
	if !d.completion {
		// No completion: its failure, not an output, is recorded, and only
		// the headers can vouch for it.
		lock, err = r.checkErrorLock(ep, resp.Header)
	} else {
		lock, err = r.checkLock(ep, resp.Header, d.systemFingerprint, d.model)
	}
	if err != nil {
		return attempt{outcome: outRefused, err: err}
	}
	r.promptTokens.Add(int64(d.usage.PromptTokens))
	r.completionTokens.Add(int64(d.usage.CompletionTokens))

	results := make([]eval.Result, len(t.jobs))
	for i, j := range t.jobs {
		res := eval.Result{
			CaseID:   j.c.ID,
			CaseHash: j.c.Hash,
			Sample:   j.sample,
			Latency:  latency,
			Lock:     lock,
			Endpoint: ep,
		}
		if derr != nil {
			res.ErrorKind, res.Error = ErrMalformed, "malformed response from "+ep+": "+derr.Error()
		} else {
			a := d.answers[i]
			res.Output, res.FinishReason = a.output, a.finish
			if len(t.jobs) == 1 {
				res.PromptTokens, res.CompletionTokens = d.usage.PromptTokens, d.usage.CompletionTokens
			}
			if len(j.c.Scorers) > 0 {
				res.Checks = make([]eval.Check, len(j.c.Scorers))
				for k, s := range j.c.Scorers {
					res.Checks[k] = s.Score(a.output)
				}
			}
		}
		results[i] = res
	}
	return attempt{outcome: outDone, results: results}
}

// checkLock runs Config.CheckResponse on a completion of ep, or reads the
// lockid.Header when there is no check. Its errors are lock refusals.
func (r *Runner) checkLock(ep string, h http.Header, fingerprint, model string) (lockid.ID, error) {
	if r.cfg.CheckResponse == nil {
		return lockid.ID(h.Get(lockid.Header)), nil
	}
	return lockErr(ep)(r.cfg.CheckResponse(ep, h, fingerprint, model))
}

// checkErrorLock runs Config.CheckErrorResponse on an error answer of ep
// that is recorded as a result.
func (r *Runner) checkErrorLock(ep string, h http.Header) (lockid.ID, error) {
	if r.cfg.CheckErrorResponse == nil {
		return lockid.ID(h.Get(lockid.Header)), nil
	}
	return lockErr(ep)(r.cfg.CheckErrorResponse(ep, h))
}

// lockErr returns a function that wraps a lock check's error as a lock
// refusal of ep.
func lockErr(ep string) func(lockid.ID, error) (lockid.ID, error) {
	return func(lock lockid.ID, err error) (lockid.ID, error) {
		return lock, wrapLockErr(ep, err)
	}
}

func wrapLockErr(ep string, err error) error {
	if err != nil {
		if fault.KindOf(err) == fault.Internal {
			return fault.Errorf(fault.LockRefused, "", "lock check on %s: %w", ep, err)
		}
		return fmt.Errorf("lock check on %s: %w", ep, err)
	}
	return nil
}

// handError hands on the error results of t's final failed attempt a. An
// error response recorded as the case's result is lock-checked first, like
// every response whose result is handed on. A transient failure (429, 5xx, a
// timeout) is not: it says nothing of the case and is requested again on
// resume, and a load balancer answers it without the lock header. (A sidecar
// that stops claiming its lock answers a 503 whose code stops the run before
// this.)
func (r *Runner) handError(t *task, ep string, a attempt, msg string, out chan<- []eval.Result) (bool, error) {
	results := errorResults(t, ep, a.kind, msg)
	if a.header != nil && !slices.Contains(TransientKinds(), a.kind) {
		lock, err := r.checkErrorLock(ep, a.header)
		if err != nil {
			return false, fmt.Errorf("%s: %w", msg, err)
		}
		for i := range results {
			results[i].Lock = lock
		}
	}
	out <- results
	return true, nil
}

// classify turns an error response into an attempt.
func classify(ep string, resp *http.Response, body []byte, now time.Time) attempt {
	code := resp.StatusCode
	msg := fmt.Sprintf("HTTP %d from %s", code, ep)
	if m := errorMessage(body); m != "" {
		msg += ": " + m
	}
	a := attempt{outcome: outPermanent, kind: ErrHTTP, msg: msg}
	switch {
	case code == http.StatusServiceUnavailable && errorCode(body) == lockid.LockMismatchCode:
		a.outcome = outRefused
		a.err = fault.Errorf(fault.LockRefused,
			"check the model files behind the endpoint ('evalpin lock verify'), restart 'evalpin serve', then run the same command again",
			"endpoint %s stopped claiming its lock: %s", ep, errorMessage(body))
	case code == http.StatusTooManyRequests:
		a.outcome, a.kind, a.overload = outRetry, ErrRateLimited, true
	case code == http.StatusServiceUnavailable:
		a.outcome, a.kind, a.overload = outRetry, ErrServer, true
	case code == http.StatusRequestTimeout:
		a.outcome, a.kind = outRetry, ErrTimeout
	case code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported:
		a.outcome, a.kind = outRetry, ErrServer
	case code == http.StatusNotFound:
		a.kind = ErrNotFound
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		// The credentials, not the case: stop the run, store nothing.
		a.outcome, a.kind = outRefused, ErrAuth
		a.err = fault.Errorf(fault.Input, "", "endpoint %s answered %d: %w: %s", ep, code, fault.ErrUnauthorized, errorMessage(body))
	case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge || code == http.StatusUnprocessableEntity:
		a.kind = ErrBadRequest
		if isContextLength(msg) {
			a.kind = ErrContextLength
		}
	}
	if a.outcome == outRetry {
		a.retryAfter, a.hasRA = retryAfter(resp.Header, now)
	}
	return a
}

// isContextLength reports whether a 400's message says the prompt is too long,
// in the words vLLM, SGLang, TGI, llama.cpp and OpenAI use.
func isContextLength(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"context length", "context_length", "maximum context", "context window", "too long", "exceeds the available context", "max_total_tokens", "input validation error: `inputs` tokens"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// errorResults records a failure of every job of t.
func errorResults(t *task, ep, kind, msg string) []eval.Result {
	results := make([]eval.Result, len(t.jobs))
	for i, j := range t.jobs {
		results[i] = eval.Result{CaseID: j.c.ID, CaseHash: j.c.Hash, Sample: j.sample, Endpoint: ep, ErrorKind: kind, Error: msg}
	}
	return results
}
