package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/ollama"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// The engine kinds the sidecar tells apart.
const (
	// EngineOllama is Ollama: it answers GET /api/version, names models by
	// its own rules (ollama.Name) and says what it loaded in POST /api/show.
	EngineOllama = "ollama"
	// EngineOpenAI is any other OpenAI-compatible server (vLLM, SGLang,
	// llama.cpp, TGI): models are named exactly as GET /v1/models lists
	// them, and a model's "root" there is the only thing it says about what
	// it loaded.
	EngineOpenAI = "openai"
)

// The values of Upstream.RootCheck.
const (
	RootModelDir  = "model-dir"   // root is the model directory (os.SameFile)
	RootNotOnHost = "not-on-host" // an absolute path that does not exist here: evidence only
	RootNotAPath  = "not-a-path"  // a repository id or a relative path: evidence only
)

// An Upstream is what the sidecar found the engine serving for its model at
// its last check, published in the well-known document as "upstream".
// Every string in it comes from the engine.
type Upstream struct {
	// Engine is EngineOllama or EngineOpenAI.
	Engine string `json:"engine"`
	// Version is the engine's version: Ollama's GET /api/version, else GET
	// /version where the engine answers it (vLLM).
	Version string `json:"version,omitempty"`
	// Checked lists what was held against the lock, e.g. "weights",
	// "template", "parameters" for Ollama, or "root" for a vLLM model
	// directory on this host. Empty: the name alone was checked.
	Checked []string `json:"checked"`

	// Ollama's POST /api/show: the blobs of the FROM lines (weights, then
	// any projector) and of the ADAPTER lines, the SHA-256 of the template,
	// the parameters ("name value", sorted by name) and the modification
	// time of the model's manifest, which every `ollama create` changes.
	Blobs          []string `json:"blobs,omitempty"`
	Adapters       []string `json:"adapters,omitempty"`
	TemplateSHA256 string   `json:"template_sha256,omitempty"`
	Parameters     []string `json:"parameters,omitempty"`
	ModifiedAt     string   `json:"modified_at,omitempty"`

	// GET /v1/models: the model's "root" (the path or repository it was
	// loaded from; a LoRA adapter's path) and "parent" (a LoRA adapter's
	// base model), and what could be checked of root (RootModelDir,
	// RootNotOnHost or RootNotAPath).
	Root      string `json:"root,omitempty"`
	Parent    string `json:"parent,omitempty"`
	RootCheck string `json:"root_check,omitempty"`
}

// Describe says what of the engine's model was held against the lock, in a
// line for the operator's log; the engine's strings are clipped and escaped.
func (u *Upstream) Describe() string {
	what := "only its name checked: the engine says nothing about what it loaded that could be held against the lock"
	if len(u.Checked) > 0 {
		what = "checked against the lock: " + untrusted.Line(strings.Join(u.Checked, ", "))
	}
	switch u.RootCheck {
	case RootNotOnHost:
		what += "; its root " + untrusted.Clip(u.Root, 300) + " is not a path on this host (evidence only)"
	case RootNotAPath:
		what += "; its root " + untrusted.Clip(u.Root, 300) + " is not a path (evidence only)"
	}
	return what
}

// An OllamaExpect is what the lock says an Ollama engine must have loaded
// for the model: POST /api/show must report exactly this.
type OllamaExpect struct {
	// Modelfile is the locked Modelfile's path, for messages.
	Modelfile string
	// Models and Adapters are "sha256:<hex>" of the files the FROM and
	// ADAPTER lines name, in order. Ollama names each blob by the SHA-256 of
	// its content, so an unconverted GGUF's blob has the file's hash.
	Models   []string
	Adapters []string
	// Template, System, Renderer and Parser are the Modelfile's TEMPLATE,
	// SYSTEM, RENDERER and PARSER ("" when it has none).
	Template, System, Renderer, Parser string
	// Parameters are its PARAMETER lines, in order.
	Parameters []ollama.Parameter
	// Messages are its MESSAGE lines as "role: content", in order.
	Messages []string
	// EngineVersion, when set, must be Ollama's version (the lock's
	// serving.engine_version; a leading "v" is ignored).
	EngineVersion string
}

// A ModelError says that the model the sidecar is to vouch for cannot be
// chosen from what the upstream serves. It is an input error.
type ModelError struct {
	Upstream string   // the upstream's origin
	Model    string   // the model asked for; "" when none was
	Served   []string // the models the upstream serves
}

func (e *ModelError) Error() string {
	switch {
	case e.Model != "":
		if len(e.Served) == 0 {
			return fmt.Sprintf("the engine at %s does not serve model %s: it serves none", e.Upstream, e.Model)
		}
		return fmt.Sprintf("the engine at %s does not serve model %s; it serves %s", e.Upstream, e.Model, listNames(e.Served))
	case len(e.Served) == 0:
		return fmt.Sprintf("the engine at %s serves no model", e.Upstream)
	}
	return fmt.Sprintf("the engine at %s serves %d models (%s); evalpin serve vouches for one", e.Upstream, len(e.Served), listNames(e.Served))
}

// listNames joins up to 20 names.
func listNames(names []string) string {
	const show = 20
	if len(names) > show {
		return strings.Join(names[:show], ", ") + fmt.Sprintf(" and %d more", len(names)-show)
	}
	return strings.Join(names, ", ")
}

// ErrUpstreamDown is wrapped by the input error of the first Check when the
// upstream did not answer within Config.UpstreamWait.
var ErrUpstreamDown = errors.New("the engine did not answer")

// A transientError is a check that could not reach the upstream: no HTTP
// answer, or a 429 or 5xx (an engine loading, restarting or overloaded).
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func isTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// checkTimeout bounds one request of a check.
const checkTimeout = 30 * time.Second

// maxCheckBody bounds an answer the sidecar reads for a check (an Ollama
// /api/show of a large model's metadata included).
const maxCheckBody = 64 << 20

// errNotFound is a 404 from the upstream.
var errNotFound = errors.New("404 Not Found")

// call sends a request for a check to the upstream and decodes a 2xx JSON
// answer into out. A request that gets no answer, or a 429 or 5xx, is a
// transientError; another status is an error naming it (errNotFound for a
// 404).
func (s *Server) call(ctx context.Context, method, path string, body any, out any) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := *s.cfg.Upstream
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = ""
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	what := method + " " + path
	resp, err := s.client.Do(req)
	if err != nil {
		return &transientError{fmt.Errorf("%s: %w", what, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCheckBody+1))
	if err != nil {
		return &transientError{fmt.Errorf("%s: %w", what, err)}
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code >= 500:
		return &transientError{fmt.Errorf("%s: %s", what, resp.Status)}
	case code == http.StatusNotFound:
		return fmt.Errorf("%s: %w", what, errNotFound)
	case code/100 != 2:
		return fmt.Errorf("%s: %s%s", what, resp.Status, upstreamMessage(data))
	}
	if len(data) > maxCheckBody {
		return fmt.Errorf("%s: the answer is larger than %d MiB", what, maxCheckBody>>20)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: the answer is not the JSON expected: %w", what, err)
	}
	return nil
}

// upstreamMessage returns ": " and the error message of an upstream's error
// body ({"error": "..."} or {"error": {"message": "..."}}), cut short, or "".
func upstreamMessage(data []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &e) != nil || len(e.Error) == 0 {
		return ""
	}
	var msg string
	if json.Unmarshal(e.Error, &msg) != nil {
		var obj struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(e.Error, &obj) != nil {
			return ""
		}
		msg = obj.Message
	}
	if msg == "" {
		return ""
	}
	return ": " + untrusted.Cut(msg, 200)
}

// A servedModel is one entry of GET /v1/models.
type servedModel struct {
	ID     string  `json:"id"`
	Root   *string `json:"root"`
	Parent *string `json:"parent"`
}

// listing is what the upstream said it serves.
type listing struct {
	engine  string
	version string
	models  []servedModel // /v1/models, then (Ollama) /api/tags names not listed there
}

// list asks the upstream what it serves: GET /v1/models, GET /api/version
// (Ollama answers it), and for Ollama GET /api/tags.
func (s *Server) list(ctx context.Context) (*listing, error) {
	var models struct {
		Data []servedModel `json:"data"`
	}
	if err := s.call(ctx, http.MethodGet, "/v1/models", nil, &models); err != nil {
		return nil, err
	}
	l := &listing{engine: EngineOpenAI, models: models.Data}
	var v struct {
		Version *string `json:"version"`
	}
	err := s.call(ctx, http.MethodGet, "/api/version", nil, &v)
	switch {
	case isTransient(err):
		return nil, err
	case err == nil && v.Version != nil:
		l.engine, l.version = EngineOllama, *v.Version
	}
	if l.engine == EngineOllama {
		var tags struct {
			Models []struct {
				Name string `json:"name"`
			} `json:"models"`
		}
		if err := s.call(ctx, http.MethodGet, "/api/tags", nil, &tags); err != nil {
			return nil, err
		}
		for _, t := range tags.Models {
			if !slices.ContainsFunc(l.models, func(m servedModel) bool { return sameModel(EngineOllama, m.ID, t.Name) }) {
				l.models = append(l.models, servedModel{ID: t.Name})
			}
		}
	} else {
		// vLLM answers its version here; evidence only.
		var v struct {
			Version string `json:"version"`
		}
		if err := s.call(ctx, http.MethodGet, "/version", nil, &v); err == nil {
			l.version = v.Version
		}
	}
	return l, nil
}

// sameModel reports whether a and b name one model by the naming rules of
// engine.
func sameModel(engine, a, b string) bool {
	if engine == EngineOllama {
		return ollama.SameModel(a, b)
	}
	return a != "" && a == b
}

// bind chooses the model to vouch for from l: Config.Model, or the only
// model served. The name is the one the upstream lists.
func (s *Server) bind(l *listing) (servedModel, error) {
	var names []string
	for _, m := range l.models {
		if !slices.ContainsFunc(names, func(n string) bool { return sameModel(l.engine, n, m.ID) }) {
			names = append(names, m.ID)
		}
	}
	slices.Sort(names) // the engines list them in no stable order
	origin := s.cfg.Upstream.Redacted()
	if s.cfg.Model == "" {
		if len(names) != 1 {
			return servedModel{}, &fault.Error{Kind: fault.Input, Err: &ModelError{Upstream: origin, Served: names}}
		}
		return l.models[0], nil
	}
	for _, m := range l.models {
		if sameModel(l.engine, m.ID, s.cfg.Model) {
			return m, nil
		}
	}
	return servedModel{}, &fault.Error{Kind: fault.Input, Err: &ModelError{Upstream: origin, Model: s.cfg.Model, Served: names}}
}

// inspect asks the upstream what it serves as model and holds it against
// the lock. prev is what the last check found (nil at the first): a model
// re-created since, or a root that moved, fails the check. An error that is
// not transient is a mismatch.
func (s *Server) inspect(ctx context.Context, engine, model string, prev *Upstream) (*Upstream, error) {
	if engine == EngineOllama {
		return s.inspectOllama(ctx, model, prev)
	}
	return s.inspectOpenAI(ctx, model, prev)
}

func (s *Server) inspectOllama(ctx context.Context, model string, prev *Upstream) (*Upstream, error) {
	want, err := s.ollamaExpect()
	if err != nil {
		return nil, err
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := s.call(ctx, http.MethodGet, "/api/version", nil, &v); err != nil {
		return nil, err
	}
	var show ollama.Show
	if err := s.call(ctx, http.MethodPost, "/api/show", map[string]string{"model": model}, &show); err != nil {
		if errors.Is(err, errNotFound) {
			return nil, errors.New("Ollama has no such model (POST /api/show: 404)")
		}
		return nil, err
	}
	return checkOllama(model, v.Version, &show, want, prev)
}

// checkOllama holds Ollama's POST /api/show of model against want.
func checkOllama(model, version string, show *ollama.Show, want *OllamaExpect, prev *Upstream) (*Upstream, error) {
	models, adapters, err := ollama.Blobs(show.Modelfile)
	if err != nil {
		return nil, fmt.Errorf("Ollama's modelfile of %s: %w", model, err)
	}
	params := ollama.ParseParameters(show.Parameters)
	up := &Upstream{
		Engine:         EngineOllama,
		Version:        version,
		Blobs:          models,
		Adapters:       adapters,
		TemplateSHA256: sha256Hex(show.Template),
		ModifiedAt:     show.ModifiedAt,
		Checked:        []string{"weights", "adapters", "template", "system", "parameters", "messages", "renderer", "parser"},
	}
	for _, p := range params {
		up.Parameters = append(up.Parameters, p.String())
	}
	var diffs []string
	differ := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	mf := "the locked " + want.Modelfile
	if !sameDigests(models, want.Models) {
		differ("its weights are %s, %s's FROM files are %s", shortDigests(models), mf, shortDigests(want.Models))
	}
	if !sameDigests(adapters, want.Adapters) {
		differ("its adapters are %s, %s's ADAPTER files are %s", shortDigests(adapters), mf, shortDigests(want.Adapters))
	}
	if show.Template != want.Template {
		differ("its template (sha256 %s) is not the TEMPLATE of %s (sha256 %s)", sha256Hex(show.Template)[:12], mf, sha256Hex(want.Template)[:12])
	}
	for _, f := range []struct{ name, got, want string }{
		{"system prompt", show.System, want.System},
		{"renderer", show.Renderer, want.Renderer},
		{"parser", show.Parser, want.Parser},
	} {
		if f.got != f.want {
			differ("its %s %s is not %s's %s", f.name, quoteOrNone(f.got), mf, quoteOrNone(f.want))
		}
	}
	diffs = append(diffs, parameterDiffs(params, want.Parameters, mf)...)
	var msgs []string
	for _, m := range show.Messages {
		msgs = append(msgs, m.Role+": "+m.Content)
	}
	if !slices.Equal(msgs, want.Messages) {
		differ("its %d messages are not the %d MESSAGE lines of %s", len(msgs), len(want.Messages), mf)
	}
	if want.EngineVersion != "" {
		up.Checked = append(up.Checked, "engine_version")
		if strings.TrimPrefix(version, "v") != strings.TrimPrefix(want.EngineVersion, "v") {
			differ("Ollama is version %s, the lock's engine_version is %s", quoteOrNone(version), want.EngineVersion)
		}
	}
	if prev != nil && prev.Version != version {
		differ("Ollama's version is now %s, was %s", quoteOrNone(version), quoteOrNone(prev.Version))
	}
	if prev != nil && prev.ModifiedAt != show.ModifiedAt {
		differ("it was re-created (modified_at %s, was %s)", quoteOrNone(show.ModifiedAt), prev.ModifiedAt)
	}
	if len(diffs) > 0 {
		return up, errors.New(strings.Join(diffs, "; "))
	}
	return up, nil
}

// parameterDiffs names each parameter whose values differ between Ollama's
// (got) and the locked Modelfile's (want).
func parameterDiffs(got []ollama.Parameter, want []ollama.Parameter, mf string) []string {
	values := func(ps []ollama.Parameter) (map[string][]string, []string) {
		m := map[string][]string{}
		var names []string
		for _, p := range ps {
			name := strings.ToLower(p.Name)
			if _, ok := m[name]; !ok {
				names = append(names, name)
			}
			m[name] = append(m[name], p.Value)
		}
		return m, names
	}
	g, gNames := values(got)
	w, wNames := values(want)
	names := slices.Compact(slices.Sorted(slices.Values(append(gNames, wNames...))))
	var diffs []string
	for _, n := range names {
		a, b := g[n], w[n]
		if len(a) == 0 && ollama.Ignored(n) {
			continue // Ollama drops it at create: it changes nothing
		}
		if !sameValues(a, b) {
			diffs = append(diffs, fmt.Sprintf("its parameter %s is %s, %s's is %s", n, valuesText(a), mf, valuesText(b)))
		}
	}
	return diffs
}

// sameValues reports whether two lists of a parameter's values are one to
// Ollama, in order.
func sameValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !ollama.SameValue(a[i], b[i]) {
			return false
		}
	}
	return true
}

func valuesText(vs []string) string {
	if len(vs) == 0 {
		return "unset"
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = quoteOrNone(v)
	}
	return strings.Join(q, " ")
}

// quoteOrNone quotes an engine's string, cut to 80 bytes, or says "(none)".
func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", untrusted.Cut(s, 80))
}

func sameDigests(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// shortDigests shows digests by their first 12 hex digits.
func shortDigests(ds []string) string {
	if len(ds) == 0 {
		return "(none)"
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		if n := len("sha256:") + 12; len(d) > n {
			d = d[:n] + "…"
		}
		out[i] = d
	}
	return strings.Join(out, ", ")
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// ollamaExpect returns what the lock says Ollama must serve, or the reason
// it says nothing Ollama can be held against. It asks Config.Ollama once,
// after the directory matched; its caller holds checkMu.
func (s *Server) ollamaExpect() (*OllamaExpect, error) {
	if s.expect == nil {
		if s.cfg.Ollama == nil {
			return nil, errors.New("the lock says nothing about what Ollama must load")
		}
		want, err := s.cfg.Ollama()
		if err != nil {
			return nil, err
		}
		s.expect = want
	}
	return s.expect, nil
}

// inspectOpenAI finds model in GET /v1/models and checks its root: a path
// on this host must be the model directory.
func (s *Server) inspectOpenAI(ctx context.Context, model string, prev *Upstream) (*Upstream, error) {
	var models struct {
		Data []servedModel `json:"data"`
	}
	if err := s.call(ctx, http.MethodGet, "/v1/models", nil, &models); err != nil {
		return nil, err
	}
	i := slices.IndexFunc(models.Data, func(m servedModel) bool { return m.ID == model })
	if i < 0 {
		return nil, errors.New("GET /v1/models no longer lists it")
	}
	m := models.Data[i]
	up := &Upstream{Engine: EngineOpenAI, Checked: []string{}}
	if prev != nil {
		up.Version = prev.Version
	}
	if m.Parent != nil {
		up.Parent = *m.Parent
	}
	if m.Root != nil {
		up.Root = *m.Root
		switch {
		case !filepath.IsAbs(up.Root):
			up.RootCheck = RootNotAPath
		default:
			fi, err := os.Stat(up.Root)
			if err != nil {
				up.RootCheck = RootNotOnHost
				break
			}
			up.RootCheck = RootModelDir
			up.Checked = append(up.Checked, "root")
			if s.cfg.ModelDir != "" && !inModelDir(up.Root, fi, s.cfg.ModelDir) {
				return up, fmt.Errorf("its root %s is not the model directory %s", quoteOrNone(up.Root), s.cfg.ModelDir)
			}
		}
	}
	if prev != nil && (prev.Root != up.Root || prev.Parent != up.Parent) {
		return up, fmt.Errorf("its root is now %s (parent %s), was %s (parent %s)",
			quoteOrNone(up.Root), quoteOrNone(up.Parent), quoteOrNone(prev.Root), quoteOrNone(prev.Parent))
	}
	return up, nil
}

// inModelDir reports whether root (whose FileInfo is fi) is the model
// directory dir, or a file directly in it (an engine serving one GGUF file).
func inModelDir(root string, fi os.FileInfo, dir string) bool {
	d, err := os.Stat(dir)
	if err != nil {
		return false
	}
	if os.SameFile(fi, d) {
		return true
	}
	if !fi.Mode().IsRegular() {
		return false
	}
	parent, err := os.Stat(filepath.Dir(root))
	return err == nil && os.SameFile(parent, d)
}
