package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
	"github.com/evalpin/evalpin/internal/untrusted"
	openai "github.com/sashabaranov/go-openai"
)

// DefaultRecheck is how often a lock that no response carries (Ollama's) is
// re-probed during a run when Prober.Recheck is zero.
const DefaultRecheck = 10 * time.Second

// A Prober asks endpoints which lock they serve. Its zero value is ready to
// use; every field has a documented default.
type Prober struct {
	// Client makes the requests; nil means http.DefaultClient. Give it a
	// timeout or pass a context with a deadline.
	Client *http.Client
	// APIKey, if set, is sent as a bearer token on every request the probe
	// makes. It is set on each request, not in a transport, so that the
	// client's redirect policy decides whether a redirect carries it (the
	// net/http default drops it on a redirect to another host).
	APIKey string
	// SkipCompletion leaves out the one-token completion the probe sends to read
	// the Evalpin-Lock header and system_fingerprint of a real response.
	// Without it a lock reported only in system_fingerprint is not seen.
	SkipCompletion bool
	// Recheck is how often a Target re-probes a lock that responses do not
	// carry (Ollama's derived lock); 0 means DefaultRecheck.
	Recheck time.Duration
	// VerifyManifest recomputes the id of a manifest published in the
	// well-known document; nil means the lock package's (lock.Parse, then ID).
	VerifyManifest func(manifest []byte) (lockid.ID, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Attempts bounds the tries of each probe request: a connection error,
	// a timeout, 429 or a 5xx is tried again, so that one blip does not make
	// a server look lockless. 0 means DefaultAttempts.
	Attempts int
	// RetryWait is the wait before the first retry, doubled before each
	// further one; 0 means DefaultRetryWait.
	RetryWait time.Duration
}

// DefaultAttempts and DefaultRetryWait are the Prober's retry defaults: three
// tries over about 0.75 s.
const (
	DefaultAttempts  = 3
	DefaultRetryWait = 250 * time.Millisecond
)

// A Report is what one endpoint reported about the lock it serves.
type Report struct {
	Endpoint string `json:"endpoint"`        // the OpenAI base URL, as given
	Origin   string `json:"origin"`          // its scheme and host
	Model    string `json:"model,omitempty"` // the model the probe looked at
	// Claims are the locks the endpoint reports, in order of precedence.
	Claims []Claim `json:"claims"`
	// Evidence is what else the endpoint says about itself; never a lock.
	Evidence []Evidence `json:"evidence"`
	// Notes say why sources were absent or not accepted.
	Notes []string `json:"notes,omitempty"`
	// Problems are contradictions that refuse the endpoint whatever its
	// claims: a manifest whose id differs from the published one, two sources
	// reporting different locks.
	Problems []string `json:"problems,omitempty"`

	problem error        // the first problem, as a refusal
	stopped string       // why the well-known document says no lock is served now
	served  []string     // the models the endpoint lists
	ollama  bool         // the endpoint answers Ollama's native API
	down    error        // why the endpoint could not be reached at all, or nil
	auth    error        // an answer of 401 or 403: the credentials were refused
	suggest string       // a base URL that answers where Endpoint does not ("…/v1")
	expect  expectations // what every response of this endpoint must carry
	// markers are what changes when the deliverable behind a re-probed claim
	// is replaced, even by one with the same content: the sidecar's claim
	// generation, Ollama's modified_at. A Target's checks require them
	// unchanged.
	markers markers
	// docs are the identity documents of the claimed locks that have one:
	// a verified well-known manifest, an Ollama identity.
	docs map[lockid.ID][]byte
}

// Document returns the identity document of lock as the endpoint gave it or
// evalpin derived it: the lock manifest a well-known document published
// (whose id evalpin recomputed), or the canonical ollama.Identity of Ollama's
// derived lock. It returns nil when the endpoint reports lock without a
// document (a header, a fingerprint, a model name, a well-known document
// without a manifest) or does not report lock.
func (r *Report) Document(lock lockid.ID) []byte {
	return r.docs[lock]
}

// setDocument records the identity document of lock.
func (r *Report) setDocument(lock lockid.ID, doc []byte) {
	if len(doc) == 0 {
		return
	}
	if r.docs == nil {
		r.docs = map[lockid.ID][]byte{}
	}
	r.docs[lock] = doc
}

// expectations are what CheckResponse requires of one endpoint's responses.
type expectations struct {
	header      lockid.ID // required Evalpin-Lock value, "" if none
	fingerprint lockid.ID // required system_fingerprint, "" if none
	model       string    // required response model (compared as modelMatch), "" if none
	ollama      bool      // the lock is Ollama's derived one: re-probe it
}

// markers are the change markers of an endpoint's re-probed claims.
type markers struct {
	generation     string // the well-known document's "generation"
	wellKnownModel string // the well-known document's "model"
	ollamaModified string // /api/show's "modified_at"
}

// Probe asks the endpoint at baseURL which lock it serves for model. It fails
// only on a bad URL or a cancelled context; an endpoint that answers nothing
// useful yields a Report without claims, which Choose refuses. A trailing
// slash of baseURL is dropped: Report.Endpoint is the URL without it.
func (p *Prober) Probe(ctx context.Context, baseURL, model string) (*Report, error) {
	baseURL = NormalizeBaseURL(baseURL)
	origin, err := Origin(baseURL)
	if err != nil {
		return nil, err
	}
	r := &Report{Endpoint: baseURL, Origin: origin, Model: model, Claims: []Claim{}, Evidence: []Evidence{}}

	// The GETs are independent; ask them all at once.
	var (
		wk       wellKnownResult
		models   modelsResult
		ollamaV  string
		engineEv [4][]Evidence
		wg       sync.WaitGroup
	)
	wg.Go(func() { wk = p.wellKnown(ctx, origin) })
	wg.Go(func() { models = p.models(ctx, baseURL) })
	wg.Go(func() { ollamaV = p.ollamaVersion(ctx, origin) })
	wg.Go(func() { engineEv[0] = p.tgiInfo(ctx, origin) })
	wg.Go(func() { engineEv[1] = p.llamaCppProps(ctx, origin) })
	wg.Go(func() { engineEv[2] = p.sglangInfo(ctx, origin) })
	wg.Go(func() { engineEv[3] = p.version(ctx, origin) })
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	if ollamaV != "" {
		r.ollama = true
		r.Evidence = append(r.Evidence, Evidence{Name: "engine", Value: "ollama " + ollamaV, From: "GET /api/version"})
	}
	for _, ev := range engineEv {
		r.Evidence = append(r.Evidence, ev...)
	}

	// The model: as given, else the only one served.
	served := models.ids
	if ollamaV != "" && len(served) == 0 {
		served = p.ollamaTags(ctx, origin, r)
		models.from = "GET /api/tags"
	}
	if len(served) > 0 {
		r.Evidence = append(r.Evidence, Evidence{Name: "served models", Value: strings.Join(served, ", "), From: models.from})
	}
	if r.Model == "" && len(served) == 1 {
		r.Model = served[0]
	}
	r.served = served
	if wk.claim == nil && len(served) == 0 && ollamaV == "" {
		r.down = models.down // nothing answered at all
	}
	r.auth = models.auth
	if models.status == http.StatusNotFound && !strings.HasSuffix(baseURL, "/v1") {
		r.suggest = p.suggestV1(ctx, baseURL)
	}
	if n, ok := models.maxLen[r.Model]; ok {
		r.Evidence = append(r.Evidence, Evidence{Name: "max context", Value: strconv.Itoa(n), From: "GET /v1/models max_model_len"})
	}
	r.Notes = append(r.Notes, models.notes...)

	// 1. The well-known document, which vouches for one model when it
	// names one (evalpin serve --model).
	switch {
	case wk.claim != nil && wk.model != "" && r.Model != "" && !sameModel(r.ollama, wk.model, r.Model):
		r.Notes = append(r.Notes, fmt.Sprintf("GET %s vouches for model %q only, not %q", lockid.WellKnownPath, wk.model, r.Model))
	case wk.claim != nil:
		r.Claims = append(r.Claims, *wk.claim)
		r.expect.header = wk.claim.Lock
		r.setDocument(wk.claim.Lock, wk.manifest)
		r.markers.generation, r.markers.wellKnownModel = wk.generation, wk.model
	}
	r.Notes = append(r.Notes, wk.notes...)
	r.stopped = wk.stopped
	for _, e := range wk.problems {
		r.addProblem(e)
	}

	// 4. A served model name name@sha256:<hex>.
	if lockName := modelNameLock(r.Model, served); lockName != "" {
		r.Model = lockName
		r.Claims = append(r.Claims, Claim{
			Lock:     lockid.ID(lockName[strings.LastIndex(lockName, "@")+1:]),
			Source:   SourceModelName,
			Strength: StrengthDeclared,
			How:      fmt.Sprintf("served model name %q in GET /v1/models (declared by the operator; checked as the model of every response)", lockName),
		})
		r.expect.model = lockName
	}

	// 2, 3. A real completion: its header and system_fingerprint.
	switch {
	case p.SkipCompletion:
		r.Notes = append(r.Notes, "no probe completion sent (skipped)")
	case r.Model == "":
		r.Notes = append(r.Notes, "no probe completion sent: "+whichModel(served))
	default:
		p.completion(ctx, baseURL, r)
	}

	// 5. Ollama's own hashes.
	if ollamaV != "" {
		switch {
		case r.Model == "":
			r.Notes = append(r.Notes, "no Ollama lock derived: "+whichModel(served))
		default:
			id, show, err := p.ollamaShow(ctx, origin, r.Model, ollamaV)
			if err != nil {
				r.Notes = append(r.Notes, "no Ollama lock derived: "+err.Error())
				break
			}
			r.setDocument(id.Lock(), id.Canonical())
			r.markers.ollamaModified = show.ModifiedAt
			r.Claims = append(r.Claims, Claim{
				Lock:     id.Lock(),
				Source:   SourceOllama,
				Strength: StrengthStrong,
				How:      "derived from Ollama's blob digests, template, parameters and system prompt (POST /api/show) and engine version (GET /api/version); responses carry no lock, so every response's model name is checked and the lock is re-probed during the run",
			})
			r.Evidence = append(r.Evidence, ollamaEvidence(show)...)
		}
	}

	r.checkConsistent()
	slices.SortStableFunc(r.Claims, func(a, b Claim) int { return precedence[a.Source] - precedence[b.Source] })
	return r, nil
}

// whichModel says why the probe could not pick a model.
func whichModel(served []string) string {
	if len(served) == 0 {
		return "the endpoint lists no models"
	}
	return fmt.Sprintf("the endpoint serves %d models and none was named", len(served))
}

// addProblem records a contradiction that refuses the endpoint.
func (r *Report) addProblem(err error) {
	r.Problems = append(r.Problems, err.Error())
	if r.problem == nil {
		r.problem = err
	}
}

// checkConsistent refuses an endpoint whose evalpin-scheme claims (all but
// Ollama's, which is another scheme) name different locks.
func (r *Report) checkConsistent() {
	var first *Claim
	for i := range r.Claims {
		c := &r.Claims[i]
		if c.Source == SourceOllama {
			continue
		}
		if first == nil {
			first = c
			continue
		}
		if c.Lock != first.Lock {
			r.addProblem(refusef(ErrInconsistent,
				"the server reports two different locks; fix its configuration so that every source names one lock",
				"endpoint %s: %s reports %s but %s reports %s", r.Endpoint, first.Source, first.Lock, c.Source, c.Lock))
		}
	}
}

// why returns the report's notes as " (note; note)" for a refusal, escaped
// because they quote what the endpoint answered; "" without notes.
func (r *Report) why() string {
	if len(r.Notes) == 0 {
		return ""
	}
	return " (" + untrusted.Clip(strings.Join(r.Notes, "; "), 1000) + ")"
}

// Lock returns the lock the endpoint reports by precedence, or "" when it
// reports none.
func (r *Report) Lock() lockid.ID {
	if len(r.Claims) == 0 {
		return ""
	}
	return r.Claims[0].Lock
}

// Choose applies the refusal rules to one endpoint: it returns the claim for
// expect (any lock the endpoint reports; the first by precedence when expect
// is ""), or a refusal when the endpoint contradicts itself, reports no lock,
// or does not report expect.
func (r *Report) Choose(expect lockid.ID) (Claim, error) {
	if r.problem != nil {
		return Claim{}, r.problem
	}
	if r.auth != nil {
		return Claim{}, fault.Errorf(fault.Input, "",
			"endpoint %s: %w: %v", r.Endpoint, fault.ErrUnauthorized, r.auth)
	}
	if r.suggest != "" {
		return Claim{}, fault.Errorf(fault.Input, "pass the OpenAI base URL, which ends in /v1 for most engines",
			"endpoint %s answers GET %s with 404, but %s answers it: did you mean %s?", r.Endpoint, apiURL(r.Endpoint, "/models"), r.suggest, r.suggest)
	}
	if r.Model != "" && len(r.served) > 0 && !r.serves(r.Model) {
		return Claim{}, fault.Mark(fault.Errorf(fault.Input, "",
			"endpoint %s does not serve model %q (served: %s)", r.Endpoint, untrusted.Clip(r.Model, 100), untrusted.Clip(strings.Join(r.served, ", "), 300)), ErrModelNotServed)
	}
	if len(r.Claims) == 0 && r.stopped != "" {
		return Claim{}, refusef(ErrNoLock,
			"restore the model files the server checks, or lock the new deliverable with 'evalpin lock create', then restart the server",
			"endpoint %s stopped claiming its lock: %s", r.Endpoint, untrusted.Clip(r.stopped, 300))
	}
	if len(r.Claims) == 0 && r.down != nil {
		return Claim{}, fault.Errorf(fault.Input, "check the URL and that the server is running and listening there",
			"endpoint %s unreachable: %w", r.Endpoint, r.down)
	}
	if len(r.Claims) == 0 && r.Model == "" && len(r.served) > 1 {
		return Claim{}, fault.Mark(fault.Errorf(fault.Input, "",
			"endpoint %s serves %d models (%s): which one?", r.Endpoint, len(r.served), untrusted.Clip(strings.Join(r.served, ", "), 200)), ErrWhichModel)
	}
	if len(r.Claims) == 0 {
		return Claim{}, refusef(ErrNoLock,
			"front the engine with 'evalpin serve --lock FILE --model-dir DIR --upstream URL' (see docs/protocol.md for the other ways), then check with 'evalpin probe URL'",
			"endpoint %s%s", r.Endpoint, r.why())
	}
	if expect == "" {
		return r.Claims[0], nil
	}
	for _, c := range r.Claims {
		if c.Lock == expect {
			return c, nil
		}
	}
	var locks []string
	for _, c := range r.Claims {
		if !slices.Contains(locks, string(c.Lock)) {
			locks = append(locks, string(c.Lock))
		}
	}
	return Claim{}, refusef(ErrWrongLock, "",
		"endpoint %s serves %s, not the expected %s", r.Endpoint, strings.Join(locks, " and "), expect)
}

// Served returns the models the endpoint lists, as it names them.
func (r *Report) Served() []string { return slices.Clone(r.served) }

// serves reports whether model is among the models the endpoint lists, by
// the engine's naming rules.
func (r *Report) serves(model string) bool {
	return slices.ContainsFunc(r.served, func(s string) bool { return sameModel(r.ollama, s, model) })
}

// sameModel reports whether two model names name one model: by Ollama's
// rules on an Ollama endpoint (tiny ≡ tiny:latest ≡ library/tiny:latest),
// else exactly.
func sameModel(ollama bool, a, b string) bool {
	if ollama {
		return ollamaName(a) == ollamaName(b)
	}
	return a == b
}

// expectationsFor returns what the endpoint's responses must carry when the
// run's lock came from claim.
func (r *Report) expectationsFor(c Claim) expectations {
	e := r.expect
	if c.Source == SourceOllama {
		e.ollama = true
		if e.model == "" {
			e.model = r.Model
		}
	}
	return e
}

// maxBody bounds what evalpin reads of any probe answer; manifests of large
// repositories fit easily.
const maxBody = 32 << 20

// get fetches url and decodes a JSON body into v. It returns the status
// (0 when the request failed) and the body when the status is not 2xx.
func (p *Prober) get(ctx context.Context, url string, v any) (int, []byte, error) {
	return p.do(ctx, http.MethodGet, url, nil, v)
}

func (p *Prober) do(ctx context.Context, method, url string, body any, v any) (int, []byte, error) {
	resp, err := p.send(ctx, method, url, body)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, data, fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return resp.StatusCode, data, fmt.Errorf("%s %s: not the expected JSON: %w", method, url, err)
	}
	return resp.StatusCode, data, nil
}

// send makes a probe request, trying it again after a transient failure (see
// Prober.Attempts). The last answer, or error, is returned.
func (p *Prober) send(ctx context.Context, method, url string, body any) (*http.Response, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	attempts, wait := p.Attempts, p.RetryWait
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if wait <= 0 {
		wait = DefaultRetryWait
	}
	for n := 1; ; n++ {
		resp, err := p.sendOnce(ctx, method, url, b)
		if n >= attempts || ctx.Err() != nil || !transient(resp, err) {
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		wait *= 2
	}
}

// transient reports whether a probe request's outcome may be different when
// tried again: no answer at all, 429, or a 5xx other than 501 and 505. A 503
// of a sidecar that stopped claiming its lock is not transient (it lasts
// until the sidecar is restarted); resp's body stays readable.
func transient(resp *http.Response, err error) bool {
	if err != nil {
		return true
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		return true
	case code < 500 || code == http.StatusNotImplemented || code == http.StatusHTTPVersionNotSupported:
		return false
	case code == http.StatusServiceUnavailable:
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(data))
		return !bytes.Contains(data, []byte(`"`+lockid.LockMismatchCode+`"`))
	}
	return true
}

// sendOnce makes one probe request.
func (p *Prober) sendOnce(ctx context.Context, method, url string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if p.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+p.APIKey)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	return c.Do(req)
}

// A Document is the well-known document: the lock a server serves and,
// optionally, its manifest. A server that no longer serves its lock answers
// 503 with Error set instead.
type Document struct {
	Lock     lockid.ID       `json:"lock,omitempty"`
	Manifest json.RawMessage `json:"manifest,omitempty"`
	// Model, when set, is the one model the lock is vouched for (evalpin
	// serve --model); the claim does not cover requests for other models.
	Model string `json:"model,omitempty"`
	// Generation, when set, changes whenever the server establishes its
	// claim anew (a restarted sidecar): a change marker that a re-probe
	// requires unchanged, even where the lock is the same.
	Generation string `json:"generation,omitempty"`
	Error      *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code,omitempty"`
	} `json:"error,omitempty"`
}

type wellKnownResult struct {
	claim      *Claim
	manifest   []byte // the claim's manifest, once its id is recomputed
	model      string // the model the claim is vouched for, "" for any
	generation string // the claim's change marker
	stopped    string // why a server that speaks the protocol claims no lock now
	notes      []string
	problems   []error
}

func (p *Prober) wellKnown(ctx context.Context, origin string) wellKnownResult {
	var res wellKnownResult
	var doc Document
	status, body, err := p.get(ctx, origin+lockid.WellKnownPath, &doc)
	switch {
	case status == http.StatusNotFound:
		res.notes = append(res.notes, "GET "+lockid.WellKnownPath+": 404, the server does not speak the lock protocol")
		return res
	case err != nil && status/100 == 2:
		res.problems = append(res.problems, refusef(ErrManifestMismatch,
			"the server's well-known document must be JSON: {\"lock\": \"sha256:…\", \"manifest\": {…}}",
			"endpoint %s: GET %s: %v", origin, lockid.WellKnownPath, err))
		return res
	case err != nil:
		// The server may publish why it stopped claiming its lock.
		_ = json.Unmarshal(body, &doc)
		if doc.Error != nil && doc.Error.Message != "" {
			res.stopped = untrusted.Cut(doc.Error.Message, 300)
			res.notes = append(res.notes, fmt.Sprintf("GET %s: %d: %s", lockid.WellKnownPath, status, res.stopped))
		} else {
			res.notes = append(res.notes, fmt.Sprintf("GET %s: %v", lockid.WellKnownPath, err))
		}
		return res
	}
	if doc.Lock == "" {
		res.notes = append(res.notes, "GET "+lockid.WellKnownPath+": the document names no lock")
		return res
	}
	if !doc.Lock.Valid() {
		res.problems = append(res.problems, refusef(ErrManifestMismatch,
			"the well-known lock must be a lock id such as sha256:<64 hex digits>",
			"endpoint %s: well-known lock %q is not a lock id", origin, untrusted.Cut(string(doc.Lock), 100)))
		return res
	}
	c := Claim{Lock: doc.Lock, Source: SourceWellKnown, Strength: StrengthDeclared,
		How: "GET " + lockid.WellKnownPath + " without a manifest (declared by the server; checked in the Evalpin-Lock header of every response)"}
	if len(doc.Manifest) > 0 && string(doc.Manifest) != "null" {
		verify := p.VerifyManifest
		if verify == nil {
			verify = verifyManifest
		}
		id, err := verify(doc.Manifest)
		if err != nil {
			res.problems = append(res.problems, refusef(ErrManifestMismatch,
				"regenerate the lock file with 'evalpin lock create' and restart the server",
				"endpoint %s: well-known manifest: %v", origin, err))
			return res
		}
		if id != doc.Lock {
			res.problems = append(res.problems, refusef(ErrManifestMismatch,
				"regenerate the lock file with 'evalpin lock create' and restart the server",
				"endpoint %s: well-known lock is %s but its manifest hashes to %s", origin, doc.Lock, id))
			return res
		}
		res.manifest = slices.Clone([]byte(doc.Manifest))
		c.Strength = StrengthManifest
		c.How = "GET " + lockid.WellKnownPath + " with its manifest, whose id evalpin recomputed (checked in the Evalpin-Lock header of every response)"
	}
	res.claim = &c
	res.model, res.generation = doc.Model, doc.Generation
	return res
}

type modelsResult struct {
	ids    []string
	maxLen map[string]int
	from   string
	notes  []string
	status int   // the HTTP status, 0 without an answer
	down   error // the request failed before any HTTP answer
	auth   error // the answer was 401 or 403
}

// models lists the served models and their context lengths. The list is not
// decoded into go-openai's ModelsList: its Model has no max_model_len (vLLM's
// context length, reported as evidence; TestOpenAIModelLacksMaxModelLen), and
// of the fields it has the probe reads only the id.
func (p *Prober) models(ctx context.Context, baseURL string) modelsResult {
	res := modelsResult{from: "GET /v1/models"}
	var list struct {
		Data []struct {
			ID          string `json:"id"`
			MaxModelLen int    `json:"max_model_len"`
		} `json:"data"`
	}
	code, body, err := p.get(ctx, apiURL(baseURL, "/models"), &list)
	res.status = code
	if err != nil {
		res.notes = append(res.notes, err.Error())
		switch {
		case code == 0 && ctx.Err() == nil:
			res.down = err
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			res.auth = authError(err, body)
		}
		return res
	}
	res.maxLen = map[string]int{}
	for _, m := range list.Data {
		res.ids = append(res.ids, m.ID)
		if m.MaxModelLen > 0 {
			res.maxLen[m.ID] = m.MaxModelLen
		}
	}
	return res
}

// authError describes a 401 or 403 answer: the request's error and the
// server's message, which may echo what was sent (it is untrusted). The
// OpenAI shape, {"error":{"message":…}}, is go-openai's ErrorResponse, a
// bare error object (older vLLM, SGLang) its APIError; the
// {"error":"…"} of TGI and of vLLM's --api-key check, for which go-openai
// has no type, is read by hand (TestAuthError).
func authError(err error, body []byte) error {
	msg := ""
	var r openai.ErrorResponse
	var api openai.APIError
	var tgi struct {
		Error string `json:"error"`
	}
	switch {
	case json.Unmarshal(body, &r) == nil && r.Error != nil && r.Error.Message != "":
		msg = r.Error.Message
	case json.Unmarshal(body, &api) == nil && api.Message != "":
		msg = api.Message
	case json.Unmarshal(body, &tgi) == nil:
		msg = tgi.Error
	}
	if msg == "" {
		return err
	}
	return fmt.Errorf("%v: %s", err, untrusted.Clip(msg, 200))
}

// suggestV1 returns baseURL + "/v1" when that answers GET /models with a
// model list where baseURL answered 404: the user left /v1 out.
func (p *Prober) suggestV1(ctx context.Context, baseURL string) string {
	var list struct {
		Data []json.RawMessage `json:"data"`
	}
	try := baseURL + "/v1"
	if _, _, err := p.get(ctx, apiURL(try, "/models"), &list); err != nil || list.Data == nil {
		return ""
	}
	return try
}

// NormalizeBaseURL returns an OpenAI base URL without its trailing slashes,
// the form every endpoint is named by (Report.Endpoint, Target's checks, the
// runner's requests).
func NormalizeBaseURL(baseURL string) string {
	return strings.TrimRight(baseURL, "/")
}

// modelNameLock returns the served name of the form name@sha256:<hex> that
// model names (in full, or by the part before '@'), or "".
func modelNameLock(model string, served []string) string {
	if model == "" {
		return ""
	}
	for _, s := range served {
		i := strings.LastIndex(s, "@sha256:")
		if i < 0 || !lockid.Valid(s[i+1:]) {
			continue
		}
		if s == model || s[:i] == model {
			return s
		}
	}
	return ""
}

// completion sends a one-token chat completion and records the lock its
// response carries. The request is not go-openai's ChatCompletionRequest,
// which would drop "temperature": 0 (runner's
// TestOpenAIRequestsDropZeroValues); of the response the probe reads two
// top-level fields.
func (p *Prober) completion(ctx context.Context, baseURL string, r *Report) {
	const what = "probe completion (POST /v1/chat/completions, 1 token)"
	body := map[string]any{
		"model":       r.Model,
		"messages":    []map[string]string{{"role": "user", "content": "Say OK."}},
		"max_tokens":  1,
		"temperature": 0,
		"stream":      false,
	}
	resp, err := p.send(ctx, http.MethodPost, apiURL(baseURL, "/chat/completions"), body)
	if err != nil {
		r.Notes = append(r.Notes, what+": "+err.Error())
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	header := resp.Header.Get(lockid.Header)
	if resp.StatusCode/100 != 2 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: %s", what, resp.Status))
	}
	if (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) && r.auth == nil {
		r.auth = authError(fmt.Errorf("%s: %s", what, resp.Status), data)
	}
	var out struct {
		Model             string `json:"model"`
		SystemFingerprint string `json:"system_fingerprint"`
	}
	_ = json.Unmarshal(data, &out)

	if header != "" {
		switch {
		case !lockid.Valid(header):
			r.addProblem(refusef(ErrManifestMismatch, "the Evalpin-Lock header must be a lock id such as sha256:<64 hex digits>",
				"endpoint %s: %s header %q is not a lock id", r.Endpoint, lockid.Header, untrusted.Cut(header, 100)))
		default:
			r.Claims = append(r.Claims, Claim{Lock: lockid.ID(header), Source: SourceHeader, Strength: StrengthDeclared,
				How: lockid.Header + " header of a probe completion (declared by the server; checked on every response)"})
			r.expect.header = lockid.ID(header)
		}
	}
	if fp := out.SystemFingerprint; fp != "" {
		if lockid.Valid(fp) {
			r.Claims = append(r.Claims, Claim{Lock: lockid.ID(fp), Source: SourceFingerprint, Strength: StrengthDeclared,
				How: "system_fingerprint of a probe completion, e.g. vLLM --fingerprint-mode custom (declared by the operator; checked on every response)"})
			r.expect.fingerprint = lockid.ID(fp)
		} else {
			r.Evidence = append(r.Evidence, Evidence{Name: "system_fingerprint", Value: fp, From: what})
		}
	}
}

func (p *Prober) ollamaVersion(ctx context.Context, origin string) string {
	var v struct {
		Version string `json:"version"`
	}
	if _, _, err := p.get(ctx, origin+"/api/version", &v); err != nil {
		return ""
	}
	return v.Version
}

// ollamaTags lists the installed models from /api/tags. Their digests are
// not used: they change with the OLLAMA_MODELS path and the host, so they are
// no lock.
func (p *Prober) ollamaTags(ctx context.Context, origin string, r *Report) []string {
	var tags struct {
		Models []struct {
			Name string `json:"name"`
		} `json:"models"`
	}
	if _, _, err := p.get(ctx, origin+"/api/tags", &tags); err != nil {
		r.Notes = append(r.Notes, err.Error())
		return nil
	}
	var names []string
	for _, m := range tags.Models {
		names = append(names, m.Name)
	}
	return names
}

// ollamaShow fetches /api/show and derives the model's identity.
func (p *Prober) ollamaShow(ctx context.Context, origin, model, version string) (ollama.Identity, *ollamaShow, error) {
	var show ollamaShow
	if _, body, err := p.do(ctx, http.MethodPost, origin+"/api/show", map[string]string{"model": model}, &show); err != nil {
		var msg struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &msg) == nil && msg.Error != "" {
			return ollama.Identity{}, nil, fmt.Errorf("POST /api/show %q: %s", model, untrusted.Clip(msg.Error, 200))
		}
		return ollama.Identity{}, nil, err
	}
	id, err := ollamaIdentity(version, &show)
	if err != nil {
		return ollama.Identity{}, nil, fmt.Errorf("POST /api/show %q: %w", model, err)
	}
	return id, &show, nil
}

// tgiInfo reads Text Generation Inference's /info: the model id and its Hub
// revision, evidence only. model_dtype is gone from TGI 3's answer.
func (p *Prober) tgiInfo(ctx context.Context, origin string) []Evidence {
	const from = "GET /info (TGI)"
	var info struct {
		ModelID        string `json:"model_id"`
		ModelSHA       string `json:"model_sha"`
		ModelDtype     string `json:"model_dtype"`
		Version        string `json:"version"`
		SHA            string `json:"sha"` // the commit TGI was built from
		MaxTotalTokens int    `json:"max_total_tokens"`
	}
	if _, _, err := p.get(ctx, origin+"/info", &info); err != nil || info.ModelID == "" {
		return nil
	}
	engine := strings.TrimSpace("text-generation-inference " + info.Version)
	if info.SHA != "" {
		engine += " (" + info.SHA + ")"
	}
	ev := []Evidence{{Name: "engine", Value: engine, From: from}}
	rev := info.ModelID
	if info.ModelSHA != "" {
		rev += "@" + info.ModelSHA
	}
	ev = append(ev, Evidence{Name: "model revision", Value: rev, From: from})
	if info.ModelDtype != "" {
		ev = append(ev, Evidence{Name: "dtype", Value: info.ModelDtype, From: from})
	}
	if info.MaxTotalTokens > 0 {
		ev = append(ev, Evidence{Name: "max context", Value: strconv.Itoa(info.MaxTotalTokens), From: from})
	}
	return ev
}

// llamaCppProps reads llama.cpp's /props: the build, the model path and the
// context of a slot, evidence only.
func (p *Prober) llamaCppProps(ctx context.Context, origin string) []Evidence {
	const from = "GET /props (llama.cpp)"
	var props struct {
		ModelPath string `json:"model_path"`
		BuildInfo string `json:"build_info"`
		Defaults  struct {
			NCtx int `json:"n_ctx"`
		} `json:"default_generation_settings"`
	}
	if _, _, err := p.get(ctx, origin+"/props", &props); err != nil || (props.ModelPath == "" && props.BuildInfo == "") {
		return nil
	}
	var ev []Evidence
	if props.BuildInfo != "" {
		ev = append(ev, Evidence{Name: "engine", Value: "llama.cpp " + props.BuildInfo, From: from})
	}
	if props.ModelPath != "" {
		ev = append(ev, Evidence{Name: "model revision", Value: props.ModelPath, From: from})
	}
	if n := props.Defaults.NCtx; n > 0 {
		ev = append(ev, Evidence{Name: "max context", Value: strconv.Itoa(n), From: from})
	}
	return ev
}

// sglangInfo reads SGLang's /model_info, or /get_model_info, its deprecated
// name in older versions: the model path and the weight version, evidence
// only.
func (p *Prober) sglangInfo(ctx context.Context, origin string) []Evidence {
	var info struct {
		ModelPath     string `json:"model_path"`
		TokenizerPath string `json:"tokenizer_path"`
		WeightVersion string `json:"weight_version"`
	}
	from := "GET /model_info (SGLang)"
	if _, _, err := p.get(ctx, origin+"/model_info", &info); err != nil || info.ModelPath == "" {
		from = "GET /get_model_info (SGLang)"
		if _, _, err := p.get(ctx, origin+"/get_model_info", &info); err != nil || info.ModelPath == "" {
			return nil
		}
	}
	ev := []Evidence{{Name: "model revision", Value: info.ModelPath, From: from}}
	if info.WeightVersion != "" {
		ev = append(ev, Evidence{Name: "weight version", Value: info.WeightVersion, From: from})
	}
	if info.TokenizerPath != "" && info.TokenizerPath != info.ModelPath {
		ev = append(ev, Evidence{Name: "tokenizer", Value: info.TokenizerPath, From: from})
	}
	return ev
}

// version reads vLLM's GET /version: the engine version.
func (p *Prober) version(ctx context.Context, origin string) []Evidence {
	var v struct {
		Version string `json:"version"`
	}
	if _, _, err := p.get(ctx, origin+"/version", &v); err != nil || v.Version == "" {
		return nil
	}
	return []Evidence{{Name: "engine version", Value: v.Version, From: "GET /version (vLLM)"}}
}
