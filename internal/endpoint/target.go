package endpoint

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A Target is the resolved lock of the endpoints of one run: every replica
// reports it, and CheckResponse holds each response to it. A Target is safe
// for concurrent use.
type Target struct {
	// Lock is the lock every endpoint serves.
	Lock lockid.ID
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

// Evidence returns the value the first endpoint that reports evidence name
// gives it ("quantization": Ollama's quantization level), or "".
func (t *Target) Evidence(name string) string {
	for _, r := range t.Reports {
		for _, e := range r.Evidence {
			if e.Name == name {
				return e.Value
			}
		}
	}
	return ""
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
}

// Resolve probes every endpoint of a run (its OpenAI base URLs) for model
// with the zero Prober and client, and applies the refusal rules.
func Resolve(ctx context.Context, client *http.Client, baseURLs []string, model string, expect lockid.ID) (*Target, error) {
	return (&Prober{Client: client}).Resolve(ctx, baseURLs, model, expect)
}

// Resolve probes every endpoint of a run concurrently and applies the refusal
// rules: each endpoint must report a lock, the lock must be expect when that
// is set, and all endpoints must report the same lock. The refusals are
// *fault.Error of kind fault.LockRefused wrapping ErrNoLock, ErrWrongLock,
// ErrManifestMismatch, ErrInconsistent or ErrDisagree.
func (p *Prober) Resolve(ctx context.Context, baseURLs []string, model string, expect lockid.ID) (*Target, error) {
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
		return nil, fault.Errorf(fault.Input, "", "%w", ErrNoEndpoint)
	}
	baseURLs = slices.Clone(baseURLs)
	for i, u := range baseURLs {
		baseURLs[i] = NormalizeBaseURL(u)
	}
	for i, u := range baseURLs {
		if slices.Contains(baseURLs[:i], u) {
			return nil, fault.Errorf(fault.Input, "give each endpoint once", "endpoint %s given twice", u)
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
func (p *Prober) Decide(reports []*Report, expect lockid.ID) (*Target, error) {
	if len(reports) == 0 {
		return nil, fault.Errorf(fault.Input, "", "%w", ErrNoEndpoint)
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
			return nil, fault.Mark(refusef(ErrDisagree, "",
				"endpoint %s serves model %q but %s serves %q", reports[0].Endpoint, t.Model, r.Endpoint, r.Model), ErrModelsDiffer)
		}
		t.eps[r.Endpoint] = &watch{report: r, expect: r.expectationsFor(c)}
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

// CheckResponse holds one completion (a 2xx answer) of endpoint (as given to
// Resolve) to the run's lock: h are its headers, systemFingerprint and model
// the fields of its body, "" when absent. It returns the lock to store the
// output under, or a refusal wrapping ErrLockChanged or ErrLockMissing; after
// the first refusal every call refuses, so that nothing more is stored under
// the run's lock.
//
// The channel that established the lock must vouch for the very response:
// the Evalpin-Lock header whenever the endpoint published the well-known
// document or sent the header at probe time; system_fingerprint when the lock
// came from it; the model field for a served name name@sha256:<hex>, and for
// Ollama's derived lock the model's name. A completion that lacks the field
// is refused like one that names another lock: silence is not consent.
//
// A lock that responses do not carry (Ollama's, the well-known document's
// generation) vouches for them only through a check that starts after they
// arrive: see Committer.
func (t *Target) CheckResponse(endpoint string, h http.Header, systemFingerprint string, model string) (lockid.ID, error) {
	w, err := t.watch(endpoint)
	if err != nil {
		return "", err
	}
	if err := t.checkHeader(endpoint, w, h); err != nil {
		return "", err
	}
	e := w.expect
	if e.fingerprint != "" {
		switch lockid.ID(systemFingerprint) {
		case e.fingerprint:
		case "":
			return "", t.refuse(refusef(ErrLockMissing, changedHint,
				"endpoint %s: a completion carries no system_fingerprint (the run's lock is %s)", endpoint, e.fingerprint))
		default:
			return "", t.refuse(refusef(ErrLockChanged, changedHint,
				"endpoint %s: a completion carries system_fingerprint %q, not the run's %s", endpoint, untrusted.Cut(systemFingerprint, 100), e.fingerprint))
		}
	}
	if e.model != "" && !modelMatch(e, model) {
		if model == "" {
			return "", t.refuse(refusef(ErrLockMissing, changedHint,
				"endpoint %s: a completion names no model (the run's is %q)", endpoint, e.model))
		}
		return "", t.refuse(refusef(ErrLockChanged, changedHint,
			"endpoint %s: a completion names model %q, not %q", endpoint, untrusted.Cut(model, 100), e.model))
	}
	return t.Lock, nil
}

// CheckErrorResponse holds an error answer (not 2xx) that is recorded as a
// case's result, such as a 400 for a prompt too long for the model, to the
// run's lock. Such a body is no completion, so only the Evalpin-Lock header
// can vouch for it, and it must where the endpoint's lock travels in the
// header. It returns the lock to record, or a refusal as CheckResponse does.
// Transient failures (429, 5xx) are not recorded as results and need no
// check: a load balancer answers those without the header.
func (t *Target) CheckErrorResponse(endpoint string, h http.Header) (lockid.ID, error) {
	w, err := t.watch(endpoint)
	if err != nil {
		return "", err
	}
	if err := t.checkHeader(endpoint, w, h); err != nil {
		return "", err
	}
	return t.Lock, nil
}

// watch returns the watch of endpoint, or the target's refusal.
func (t *Target) watch(endpoint string) (*watch, error) {
	if err := t.refused.Load(); err != nil {
		return nil, *err
	}
	w := t.eps[endpoint]
	if w == nil {
		if w = t.eps[NormalizeBaseURL(endpoint)]; w == nil {
			return nil, fmt.Errorf("check response: endpoint %q was not resolved", endpoint)
		}
	}
	return w, nil
}

// checkHeader checks the Evalpin-Lock header of a response where the
// endpoint's lock travels in it.
func (t *Target) checkHeader(endpoint string, w *watch, h http.Header) error {
	want := w.expect.header
	if want == "" {
		return nil
	}
	switch got := lockid.ID(h.Get(lockid.Header)); got {
	case want:
		return nil
	case "":
		return t.refuse(refusef(ErrLockMissing, changedHint,
			"endpoint %s: a response carries no %s header (the run's lock is %s)", endpoint, lockid.Header, t.Lock))
	default:
		return t.refuse(refusef(ErrLockChanged, changedHint,
			"endpoint %s: a response carries %s %s, not the run's %s", endpoint, lockid.Header, untrusted.Clip(string(got), 100), want))
	}
}

// modelMatch compares a response's model with the expected one: exactly, or
// by Ollama's name rules for Ollama's lock.
func modelMatch(e expectations, model string) bool {
	if e.ollama {
		return ollamaName(model) == ollamaName(e.model)
	}
	return model == e.model
}

const changedHint = "the endpoint's deliverable changed or a replica serves another one. Fix the deployment, check it with 'evalpin probe URL', then rerun the same command: it resumes the run against a server of the run's lock"

// reprobeHint is the hint of a re-probe that got no answer: the lock could
// not be confirmed.
const reprobeHint = "the endpoint did not confirm its lock when it was checked again mid-run. Check it with 'evalpin probe URL', then rerun the same command to resume"

// Reprobed reports whether some endpoint's lock is vouched for by a claim
// that no response carries and that only a re-probe can confirm: Ollama's
// derived lock (with its modified_at), or the well-known document (with its
// generation and model), which must agree with the header responses carry —
// two channels that disagree are a lock change. Results of such an endpoint
// are held by a Committer until a check that started after they arrived
// confirms them.
func (t *Target) Reprobed() bool {
	for _, w := range t.eps {
		if w.report.bracketed() {
			return true
		}
	}
	return false
}

// bracketed reports whether the endpoint's results need a check that
// brackets them (see Reprobed).
func (r *Report) bracketed() bool {
	return slices.ContainsFunc(r.Claims, func(c Claim) bool {
		return c.Source == SourceWellKnown || c.Source == SourceOllama
	})
}

// reprobed reports whether the report has a claim that Recheck re-probes:
// a bracketed one, or a served model name, whose listing Recheck checks
// (each response vouches for itself with its model field).
func (r *Report) reprobed() bool {
	return r.bracketed() || slices.ContainsFunc(r.Claims, func(c Claim) bool { return c.Source == SourceModelName })
}

// Recheck re-probes every claim of every endpoint that responses do not
// carry — the well-known document with its generation and model, a served
// name name@sha256:<hex> in the model list, Ollama's derived lock with its
// modified_at — and refuses unless each still says what it said when the
// lock was resolved. A refusal sticks like CheckResponse's. A Committer
// calls it to confirm the results it holds; call it directly after the last
// response when there is no Committer.
func (t *Target) Recheck(ctx context.Context) error {
	if err := t.refused.Load(); err != nil {
		return *err
	}
	errs := make([]error, len(t.Reports))
	var wg sync.WaitGroup
	for i, r := range t.Reports {
		if r.reprobed() {
			wg.Go(func() { errs[i] = t.reconfirm(ctx, r) })
		}
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

// reconfirm re-probes the claims of one endpoint that responses do not
// carry, with their change markers.
func (t *Target) reconfirm(ctx context.Context, r *Report) error {
	p := t.prober
	for _, c := range r.Claims {
		switch c.Source {
		case SourceWellKnown:
			wk := p.wellKnown(ctx, r.Origin)
			switch {
			case len(wk.problems) > 0:
				return refusef(ErrLockChanged, changedHint, "endpoint %s: re-probe: %s", r.Endpoint, untrusted.Clip(wk.problems[0].Error(), 300))
			case wk.stopped != "":
				return refusef(ErrLockChanged, changedHint, "endpoint %s: re-probe: the server stopped claiming its lock: %s", r.Endpoint, untrusted.Clip(wk.stopped, 300))
			case wk.claim == nil:
				return refusef(ErrNoLock, reprobeHint, "endpoint %s: re-probe: GET %s no longer names a lock%s", r.Endpoint, lockid.WellKnownPath, notes(wk.notes))
			case wk.claim.Lock != c.Lock:
				return refusef(ErrLockChanged, changedHint, "endpoint %s: re-probe: GET %s now names lock %s, not the run's %s", r.Endpoint, lockid.WellKnownPath, wk.claim.Lock, c.Lock)
			case wk.generation != r.markers.generation:
				return refusef(ErrLockChanged, changedHint, "endpoint %s: re-probe: the server established its claim of %s anew (generation %q, was %q): it was restarted, and what it served before is not vouched for", r.Endpoint, c.Lock, untrusted.Cut(wk.generation, 64), untrusted.Cut(r.markers.generation, 64))
			case wk.model != r.markers.wellKnownModel:
				return refusef(ErrLockChanged, changedHint, "endpoint %s: re-probe: the lock is now vouched for model %q, not %q", r.Endpoint, untrusted.Cut(wk.model, 100), untrusted.Cut(r.markers.wellKnownModel, 100))
			}
		case SourceModelName:
			m := p.models(ctx, r.Endpoint)
			if !slices.Contains(m.ids, r.Model) {
				return refusef(ErrLockChanged, changedHint, "endpoint %s: re-probe: GET /v1/models no longer lists %q%s", r.Endpoint, r.Model, notes(m.notes))
			}
		case SourceOllama:
			version := p.ollamaVersion(ctx, r.Origin)
			if version == "" {
				return refusef(ErrNoLock, reprobeHint, "endpoint %s: re-probe: GET /api/version failed", r.Endpoint)
			}
			id, show, err := p.ollamaShow(ctx, r.Origin, r.Model, version)
			switch {
			case err != nil:
				return refusef(ErrNoLock, reprobeHint, "endpoint %s: re-probe: %s", r.Endpoint, untrusted.Clip(err.Error(), 300))
			case id.Lock() != c.Lock:
				return refusef(ErrLockChanged, changedHint, "endpoint %s: re-probe: model %q now has lock %s, not the run's %s", r.Endpoint, r.Model, id.Lock(), c.Lock)
			case show.ModifiedAt != r.markers.ollamaModified:
				return refusef(ErrLockChanged, changedHint, "endpoint %s: re-probe: model %q was created again (modified_at %s, was %s); its lock reads the same now, but what it served in between is not vouched for", r.Endpoint, r.Model, untrusted.Clip(show.ModifiedAt, 40), untrusted.Clip(r.markers.ollamaModified, 40))
			}
		}
	}
	return nil
}

// notes returns a re-probe's notes as " (note; note)", escaped, or "".
func notes(ns []string) string {
	if len(ns) == 0 {
		return ""
	}
	return " (" + untrusted.Clip(strings.Join(ns, "; "), 500) + ")"
}

// Refused returns the target's refusal, or nil while it has none.
func (t *Target) Refused() error {
	if err := t.refused.Load(); err != nil {
		return *err
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
