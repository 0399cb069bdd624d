// Package runner replays a suite against OpenAI-compatible endpoints at high
// concurrency and hands every result to a Sink.
//
// The runner knows nothing of the store, the endpoint lock protocol or suite
// files: it takes a Plan, hands eval.Results to a Sink, and checks locks with
// the function in its Config.
//
// # Plans and passes
//
// A Plan is what to request: jobs (case samples) walked in passes, which Run
// pulls as workers become free rather than listing them up front, so a plan
// can stream a suite, a shard or a subset without holding it. SuitePlan makes
// the plan of an eval.Suite: pass k requests sample k of every case, so the
// repeats of a case are spread across the run, never back to back; a resumed
// run leaves out what is stored.
//
// # Requests
//
// Each case sample is one request: chat cases (Messages) to
// POST {endpoint}/chat/completions, raw cases (Prompt) to
// POST {endpoint}/completions. Every sampling parameter is in the body,
// temperature 0 included: go-openai's request types drop zero values
// (omitempty), so the runner sends its own body types. It reads responses
// with types of its own too, which tell an absent content from an empty one,
// keep a completion's system_fingerprint and decode faster than go-openai's;
// go-openai's ErrorResponse and APIError read error bodies in the OpenAI
// shapes. wire.go says why at each type, and names the test or benchmark that
// pins it.
// With Config.Batch > 1, raw cases of one pass with identical settings are
// packed into one /completions request with a list of prompts and mapped back
// by each choice's index; a pass's last, partly filled requests are sent when
// the pass ends, so no request holds two samples of a case (the engine would
// batch them together, and their disagreement would not measure its noise).
//
// # Concurrency
//
// A fixed pool of Config.Concurrency workers (errgroup) sends the requests,
// and an AIMD limit bounds how many are in flight: it halves on 429 or 503
// (once per window of requests, not once per rejected request) and grows by
// one per success while at least half of it is in use. The HTTP transport
// keeps Concurrency idle connections per host, so a run dials each
// connection once. Requests are spread round-robin over Config.Endpoints,
// replicas of one lock; a retry goes to the next replica.
//
// # Failures
//
// 429, 408 and 5xx answers, timeouts and connection errors are retried up to
// Config.MaxAttempts times with exponential back-off and jitter, or after the
// time a Retry-After header asks for (seconds or an HTTP date). Answers no
// retry can fix (400, 401, 403, 404, a prompt longer than the context) and
// malformed 2xx answers (not JSON, no choices, another content type, a
// choice whose content or text is absent or null; an empty string is an
// output) become results with ErrorKind and Error set; so do requests that fail every
// attempt, with one of TransientKinds, which a resumed run requests again. An
// endpoint that cannot be reached at all stops the run instead of failing
// every case.
//
// # Locks
//
// Config.CheckResponse sees every response whose result is handed on, before
// it is. When it fails, that result is dropped, in-flight requests are
// cancelled and Run returns the error: outputs of another lock are never
// stored under this one. A 503 with the error code lockid.LockMismatchCode, with
// which "evalpin serve" disowns its lock, stops the run the same way on the
// first answer, without retries.
//
// # Interrupts and resume
//
// Cancelling Run's context stops dispatching; requests in flight finish
// (each within Config.Timeout) and their results are handed on, and Run
// returns an error wrapping the context's cause. Closing Config.HardStop
// cancels in-flight requests at once; their results are dropped. Results not
// handed on are never recorded as failures, so a resumed run (the skip of
// SuitePlan) requests exactly the case samples that are missing or failed
// transiently.
//
// # Performance
//
// The benchmarks compare the runner (with scoring and a sink that encodes
// each result) with the hey load generator on the same stub server
// (internal/stubserver), run as a separate process; see bench_test.go and
// scripts/bench-runner.sh.
package runner
