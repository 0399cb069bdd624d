package endpoint

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// A Target is the resolved lock of the endpoints of one run: every replica
// reports it, and CheckResponse holds each response to it. A Target is safe
// for concurrent use.
type Target struct {
	// Lock is the lock every endpoint serves.
	Lock eval.LockID
	// Model is the model name requests must carry: the one asked for, the only
	// one served, or the full served name name@sha256:<hex>.
	Model string
	// Claim says how the first endpoint reported Lock.
	Claim Claim
	// Reports are the probes of the endpoints, in the order given.
	Reports []*Report

	prober  *Prober
	eps     map[string]*watch
	refused atomic.Pointer[error] // the first refusal; every later check returns it
}

// Document returns the identity document of the run's lock (see
// Report.Document): the first endpoint's that has one, or nil.
func (t *Target) Document() []byte {
	for _, r := range t.Reports {
		if doc := r.Document(t.Lock); doc != nil {
			return doc
		}
	}
	return nil
}

// A watch is what CheckResponse knows about one endpoint.
type watch struct {
	report *Report
	expect expectations
	// For Ollama's lock: when the identity is next re-probed (unix
	// nanoseconds), and a lock so that one response at a time re-probes.
	next atomic.Int64
	mu   sync.Mutex
}

// Resolve probes every endpoint of a run (its OpenAI base URLs) for model
// with the zero Prober and client, and applies the refusal rules.
func Resolve(ctx context.Context, client *http.Client, baseURLs []string, model string, expect eval.LockID) (*Target, error) {
	return (&Prober{Client: client}).Resolve(ctx, baseURLs, model, expect)
}

// Resolve probes every endpoint of a run concurrently and applies the refusal
// rules: each endpoint must report a lock, the lock must be expect when that
// is set, and all endpoints must report the same lock. The refusals are
// *eval.Error of kind eval.KindLockRefused wrapping ErrNoLock, ErrWrongLock,
// ErrManifestMismatch, ErrInconsistent or ErrDisagree.
func (p *Prober) Resolve(ctx context.Context, baseURLs []string, model string, expect eval.LockID) (*Target, error) {
	reports, err := p.ProbeAll(ctx, baseURLs, model)
	if err != nil {
		return nil, err
	}
	return p.Decide(reports, expect)
}

// ProbeAll probes the endpoints concurrently and returns their reports in the
// order given. Like Probe, it fails only on bad input or a cancelled context.
func (p *Prober) ProbeAll(ctx context.Context, baseURLs []string, model string) ([]*Report, error) {
	if len(baseURLs) == 0 {
		return nil, eval.Errorf(eval.KindInput, "name an endpoint with --endpoint URL", "no endpoint given")
	}
	for i, u := range baseURLs {
		if slices.Contains(baseURLs[:i], u) {
			return nil, eval.Errorf(eval.KindInput, "give each endpoint once", "endpoint %s given twice", u)
		}
	}
	reports := make([]*Report, len(baseURLs))
	errs := make([]error, len(baseURLs))
	var wg sync.WaitGroup
	for i, u := range baseURLs {
		wg.Go(func() { reports[i], errs[i] = p.Probe(ctx, u, model) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return reports, nil
}

// Decide applies the refusal rules to the reports of one run's endpoints (as
// ProbeAll returns them) and returns the run's Target.
func (p *Prober) Decide(reports []*Report, expect eval.LockID) (*Target, error) {
	if len(reports) == 0 {
		return nil, eval.Errorf(eval.KindInput, "name an endpoint with --endpoint URL", "no endpoint given")
	}
	first, err := reports[0].Choose(expect)
	if err != nil {
		return nil, err
	}
	t := &Target{Lock: first.Lock, Model: reports[0].Model, Claim: first, Reports: reports, prober: p, eps: map[string]*watch{}}
	for _, r := range reports {
		c, err := r.Choose(t.Lock)
		switch {
		case err != nil && expect == "" && r.problem == nil && len(r.Claims) > 0:
			return nil, refusef(ErrDisagree,
				"every endpoint of one run must serve the same lock; remove the odd one or redeploy it ('evalpin probe URL...' shows each)",
				"endpoint %s serves %s but %s serves %s", reports[0].Endpoint, t.Lock, r.Endpoint, r.Lock())
		case err != nil:
			return nil, err
		}
		if r.Model != t.Model && !(c.Source == SourceOllama && ollamaName(r.Model) == ollamaName(t.Model)) {
			return nil, refusef(ErrDisagree, "name the model with --model so that every endpoint serves it",
				"endpoint %s serves model %q but %s serves %q", reports[0].Endpoint, t.Model, r.Endpoint, r.Model)
		}
		w := &watch{report: r, expect: r.expectationsFor(c)}
		w.next.Store(p.now().Add(p.recheck()).UnixNano())
		t.eps[r.Endpoint] = w
	}
	return t, nil
}

func (p *Prober) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Prober) recheck() time.Duration {
	if p.Recheck > 0 {
		return p.Recheck
	}
	return DefaultRecheck
}

// CheckResponse holds one response of endpoint (as given to Resolve) to the
// run's lock: h are the response's headers, systemFingerprint and model the
// fields of its body. It returns the lock to store the output under, or a
// refusal wrapping ErrLockChanged or ErrLockMissing; after the first refusal
// every call refuses, so that nothing more is stored under the run's lock.
//
// What is checked depends on how the lock was reported: the Evalpin-Lock
// header, the system_fingerprint, the served model name; for Ollama's derived
// lock, which no response carries, the response's model name, and the lock is
// re-probed once every Prober.Recheck by the response that finds it due (Ollama's
// lock is therefore checked per response only by model name, and a change of
// the model under the same name is caught within the recheck interval).
// Call Recheck after the last response to close that window.
//
// An error response, whose body is no completion, is passed with
// systemFingerprint and model both "": only its header can be checked, so it
// is accepted unless the endpoint's lock travels in the header.
func (t *Target) CheckResponse(endpoint string, h http.Header, systemFingerprint string, model string) (eval.LockID, error) {
	if err := t.refused.Load(); err != nil {
		return "", *err
	}
	w := t.eps[endpoint]
	if w == nil {
		return "", fmt.Errorf("check response: endpoint %q was not resolved", endpoint)
	}
	e := w.expect
	if e.header != "" {
		switch got := h.Get(Header); got {
		case e.header:
		case "":
			return "", t.refuse(refusef(ErrLockMissing, changedHint,
				"endpoint %s: a response carries no %s header (the run's lock is %s)", endpoint, Header, t.Lock))
		default:
			return "", t.refuse(refusef(ErrLockChanged, changedHint,
				"endpoint %s: a response carries %s %s, not the run's %s", endpoint, Header, untrusted(got, 100), e.header))
		}
	}
	// An error response has no completion body: both fields are "". Only
	// the header can be checked on it.
	completion := systemFingerprint != "" || model != ""
	if e.fingerprint != "" && completion {
		switch systemFingerprint {
		case e.fingerprint:
		case "":
			return "", t.refuse(refusef(ErrLockMissing, changedHint,
				"endpoint %s: a response carries no system_fingerprint (the run's lock is %s)", endpoint, e.fingerprint))
		default:
			return "", t.refuse(refusef(ErrLockChanged, changedHint,
				"endpoint %s: a response carries system_fingerprint %q, not the run's %s", endpoint, truncate(systemFingerprint, 100), e.fingerprint))
		}
	}
	if e.model != "" && completion && !modelMatch(e, model) {
		return "", t.refuse(refusef(ErrLockChanged, changedHint,
			"endpoint %s: a response names model %q, not %q", endpoint, truncate(model, 100), e.model))
	}
	if e.ollama && t.prober.now().UnixNano() >= w.next.Load() && w.mu.TryLock() {
		defer w.mu.Unlock()
		if err := t.reprobeOllama(w); err != nil {
			return "", t.refuse(err)
		}
	}
	return t.Lock, nil
}

// modelMatch compares a response's model with the expected one: exactly, or
// by Ollama's name rules for Ollama's lock.
func modelMatch(e expectations, model string) bool {
	if e.ollama {
		return ollamaName(model) == ollamaName(e.model)
	}
	return model == e.model
}

const changedHint = "the endpoint's deliverable changed or a replica serves another one; nothing after the change was stored. Fix the deployment, check it with 'evalpin probe URL', then rerun the same command to resume"

// reprobeHint is the hint of a re-probe that got no answer: the lock could
// not be confirmed, so nothing more is stored under it.
const reprobeHint = "the endpoint did not confirm its lock when it was checked again mid-run, so nothing after that was stored. Check it with 'evalpin probe URL', then rerun the same command to resume"

// reprobeTimeout bounds one re-probe made inside CheckResponse.
const reprobeTimeout = 30 * time.Second

// reprobeOllama derives the endpoint's Ollama lock again and refuses a change.
func (t *Target) reprobeOllama(w *watch) error {
	ctx, cancel := context.WithTimeout(context.Background(), reprobeTimeout)
	defer cancel()
	r := w.report
	id, err := t.ollamaLock(ctx, r)
	if err != nil {
		return err
	}
	w.next.Store(t.prober.now().Add(t.prober.recheck()).UnixNano())
	return t.compare(r, id)
}

func (t *Target) ollamaLock(ctx context.Context, r *Report) (eval.LockID, error) {
	version := t.prober.ollamaVersion(ctx, r.Origin)
	if version == "" {
		return "", refusef(ErrNoLock, reprobeHint, "endpoint %s: re-probe: GET /api/version failed", r.Endpoint)
	}
	id, _, err := t.prober.ollamaShow(ctx, r.Origin, r.Model, version)
	if err != nil {
		return "", refusef(ErrNoLock, reprobeHint, "endpoint %s: re-probe: %s", r.Endpoint, untrusted(err.Error(), 300))
	}
	return id.Lock(), nil
}

func (t *Target) compare(r *Report, id eval.LockID) error {
	if id != t.Lock {
		return refusef(ErrLockChanged, changedHint, "endpoint %s: re-probe: model %q now has lock %s, not the run's %s", r.Endpoint, r.Model, id, t.Lock)
	}
	return nil
}

// Recheck probes every endpoint again and refuses if one no longer reports
// the run's lock. Call it after the last response, before a run is declared
// complete: it closes the window in which a lock that responses do not carry
// (Ollama's) could have changed unseen.
func (t *Target) Recheck(ctx context.Context) error {
	if err := t.refused.Load(); err != nil {
		return *err
	}
	// Responses carry the header and fingerprint, and CheckResponse checked
	// them; the re-probe needs no completion.
	quiet := *t.prober
	quiet.SkipCompletion = true
	errs := make([]error, len(t.Reports))
	var wg sync.WaitGroup
	for i, r := range t.Reports {
		wg.Go(func() {
			nr, err := quiet.Probe(ctx, r.Endpoint, r.Model)
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = t.sameClaims(r, nr)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return t.refuse(err)
		}
	}
	return nil
}

// sameClaims refuses a re-probe that lost or changed a claim the endpoint
// made when the run's lock was resolved (the well-known document, the served
// model name, Ollama's derived lock).
func (t *Target) sameClaims(old, now *Report) error {
	if now.problem != nil {
		return refusef(ErrLockChanged, changedHint, "re-probe: %v", now.problem)
	}
	for _, c := range old.Claims {
		if c.Source == SourceHeader || c.Source == SourceFingerprint {
			continue // carried by every response, and checked there
		}
		if !slices.ContainsFunc(now.Claims, func(n Claim) bool { return n.Source == c.Source && n.Lock == c.Lock }) {
			return refusef(ErrLockChanged, changedHint, "endpoint %s: re-probe: %s no longer reports %s%s", old.Endpoint, c.Source, c.Lock, now.why())
		}
	}
	return nil
}

// refuse records the target's first refusal and returns it.
func (t *Target) refuse(err error) error {
	if t.refused.CompareAndSwap(nil, &err) {
		return err
	}
	return *t.refused.Load()
}
