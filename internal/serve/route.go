package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/internal/untrusted"
)

// A route says how the sidecar treats a request, by method and path.
type route int

const (
	routeRefuse  route = iota // not vouched for: 403
	routeModel                // a JSON body names the model: proxied only for the bound one
	routeList                 // a list of models: proxied, the answer filtered to the bound one
	routeModelID              // GET /v1/models/{id}: proxied only for the bound one
	routeInfo                 // engine information without a model: proxied
)

// A pathRule is the treatment of one path.
type pathRule struct {
	route   route
	methods string // the methods allowed, e.g. "GET HEAD"
	ollama  bool   // only when the upstream is Ollama
	// keys are the fields of the JSON body that name the model (routeModel),
	// or of each entry of a list (routeList).
	keys []string
	// list is the field of a routeList answer that holds the list.
	list string
}

// paths maps each path the sidecar passes on to its treatment; every other
// path (Ollama's /api/create, /api/pull, /api/push, /api/copy, /api/delete,
// /api/blobs/…, and anything unknown) is refused: the sidecar vouches for a
// fixed deliverable and cannot say which model such a request changes.
var paths = map[string]pathRule{
	"/v1/chat/completions": {route: routeModel, methods: "POST", keys: []string{"model"}},
	"/v1/completions":      {route: routeModel, methods: "POST", keys: []string{"model"}},
	"/v1/embeddings":       {route: routeModel, methods: "POST", keys: []string{"model"}},
	"/api/chat":            {route: routeModel, methods: "POST", ollama: true, keys: []string{"model"}},
	"/api/generate":        {route: routeModel, methods: "POST", ollama: true, keys: []string{"model"}},
	"/api/embed":           {route: routeModel, methods: "POST", ollama: true, keys: []string{"model"}},
	"/api/embeddings":      {route: routeModel, methods: "POST", ollama: true, keys: []string{"model"}},
	// Ollama still reads the legacy "name" when "model" is empty.
	"/api/show": {route: routeModel, methods: "POST", ollama: true, keys: []string{"model", "name"}},

	"/v1/models": {route: routeList, methods: "GET HEAD", keys: []string{"id"}, list: "data"},
	"/api/tags":  {route: routeList, methods: "GET HEAD", ollama: true, keys: []string{"name", "model"}, list: "models"},
	"/api/ps":    {route: routeList, methods: "GET HEAD", ollama: true, keys: []string{"name", "model"}, list: "models"},

	"/api/version":    {route: routeInfo, methods: "GET HEAD", ollama: true},
	"/version":        {route: routeInfo, methods: "GET HEAD"},
	"/health":         {route: routeInfo, methods: "GET HEAD"},
	"/info":           {route: routeInfo, methods: "GET HEAD"},
	"/props":          {route: routeInfo, methods: "GET HEAD"}, // llama.cpp's POST /props changes settings
	"/model_info":     {route: routeInfo, methods: "GET HEAD"},
	"/get_model_info": {route: routeInfo, methods: "GET HEAD"},
	"/metrics":        {route: routeInfo, methods: "GET HEAD"},
}

// modelsPrefix starts GET /v1/models/{id}.
const modelsPrefix = "/v1/models/"

// ruleOf returns the treatment of r by an upstream of engine. The path is
// matched as sent (escaped), so that no encoding can make one path pass for
// another at the engine.
func ruleOf(r *http.Request, engine string) pathRule {
	p := r.URL.EscapedPath()
	rule, ok := paths[p]
	if !ok && strings.HasPrefix(p, modelsPrefix) && len(p) > len(modelsPrefix) {
		rule, ok = pathRule{route: routeModelID, methods: "GET HEAD"}, true
	}
	if !ok || (rule.ollama && engine != EngineOllama) || !strings.Contains(" "+rule.methods+" ", " "+r.Method+" ") {
		return pathRule{route: routeRefuse}
	}
	return rule
}

// The error codes of the sidecar's refusals of a request.
const (
	CodeModelNotFound = "model_not_found"           // 404: the request names another model
	CodeModelRequired = "evalpin_model_required"    // 400: the request's model cannot be told
	CodeTooLarge      = "evalpin_request_too_large" // 413: a body too large to read for its model
	CodeNotVouched    = "evalpin_not_vouched"       // 403: a path the sidecar does not vouch for
)

// errUnattributable is why a body's model cannot be told.
type errUnattributable string

func (e errUnattributable) Error() string { return string(e) }

// bodyModel returns the model a JSON request body names in its fields keys.
// Field names are matched without regard to case, as Go's encoding/json
// (Ollama) matches them, and every field that names a model must name the
// same one, so that no engine can read another model from the body than the
// sidecar did (Ollama's /api/show reads "model", else the legacy "name").
func bodyModel(body []byte, keys []string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return "", errUnattributable("the body is not a JSON object")
	}
	model := ""
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		raw := obj[k]
		if !slices.ContainsFunc(keys, func(key string) bool { return strings.EqualFold(k, key) }) ||
			bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return "", errUnattributable(fmt.Sprintf("%q is not a string", k))
		}
		switch {
		case name == "":
		case model == "":
			model = name
		case name != model:
			return "", errUnattributable(fmt.Sprintf("the body names two models, %q and %q", model, name))
		}
	}
	if model == "" {
		return "", errUnattributable("the body names no model")
	}
	return model, nil
}

// attribute reads the body of a routeModel request (at most MaxBody bytes)
// and returns it when it names the bound model; otherwise it answers the
// refusal itself and returns false.
func (s *Server) attribute(w http.ResponseWriter, r *http.Request, rule pathRule, st *state) ([]byte, bool) {
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		writeError(w, http.StatusBadRequest, CodeModelRequired,
			"evalpin serve: a request body with Content-Encoding "+strconv.Quote(ce)+" cannot be read for its model; send it uncompressed")
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBody+1))
	if err != nil {
		if r.Context().Err() == nil {
			writeError(w, http.StatusBadRequest, CodeModelRequired, "evalpin serve: reading the request body: "+err.Error())
		}
		return nil, false
	}
	if int64(len(body)) > s.cfg.MaxBody {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("evalpin serve: the request body is larger than %d bytes, the most it reads to tell the model", s.cfg.MaxBody))
		return nil, false
	}
	model, err := bodyModel(body, rule.keys)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeModelRequired,
			"evalpin serve: cannot tell which model the request is for ("+err.Error()+"); name model "+strconv.Quote(st.model)+" in the JSON body's \"model\" field")
		return nil, false
	}
	if !sameModel(st.engine, model, st.model) {
		s.notOurs(w, model, st)
		return nil, false
	}
	return body, true
}

// notOurs answers a request for another model than the bound one.
func (s *Server) notOurs(w http.ResponseWriter, model string, st *state) {
	writeError(w, http.StatusNotFound, CodeModelNotFound,
		fmt.Sprintf("evalpin serve vouches for model %s only, not %s", strconv.Quote(st.model), strconv.Quote(untrusted.Cut(model, 200))))
}

// notVouched answers a request the sidecar does not pass on.
func notVouched(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusForbidden, CodeNotVouched,
		"evalpin serve vouches for one model of a fixed deliverable and does not pass on "+r.Method+" "+strconv.Quote(untrusted.Cut(r.URL.EscapedPath(), 200)))
}

// filterKey carries a filtering of a list request to ModifyResponse.
type filterKey struct{}

// A filtering is a routeList request's rule and the state that routed it.
type filtering struct {
	rule pathRule
	st   *state
}

// maxList bounds a list of models the sidecar filters.
const maxList = 16 << 20

// filter cuts a list of models in a 2xx JSON answer down to the bound
// model. Answers of other statuses, and to HEAD, pass as they are.
func filter(resp *http.Response, rule pathRule, st *state) error {
	if resp.StatusCode/100 != 2 || resp.Request.Method == http.MethodHead {
		return nil
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return fmt.Errorf("the list of models came with Content-Encoding %q", ce)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxList+1))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading the list of models: %w", err)
	}
	if len(data) > maxList {
		return fmt.Errorf("the list of models is larger than %d MiB", maxList>>20)
	}
	var doc map[string]json.RawMessage
	var items []json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("the list of models is not a JSON object: %w", err)
	}
	if raw, ok := doc[rule.list]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("%q of the list of models is not a list: %w", rule.list, err)
		}
	}
	kept := []json.RawMessage{}
	for _, it := range items {
		var fields map[string]json.RawMessage
		if json.Unmarshal(it, &fields) != nil {
			continue
		}
		for _, k := range rule.keys {
			var name string
			if json.Unmarshal(fields[k], &name) == nil && sameModel(st.engine, name, st.model) {
				kept = append(kept, it)
				break
			}
		}
	}
	list, err := marshal(kept)
	if err != nil {
		return err
	}
	doc[rule.list] = list
	out, err := marshal(doc)
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.TransferEncoding = nil
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	resp.Header.Del("Etag")
	return nil
}

// marshal encodes v without escaping HTML characters, which would change
// the engine's strings.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
