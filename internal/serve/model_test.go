package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
	"github.com/evalpin/evalpin/internal/untrusted"
)

var (
	tinyBlob  = strings.Repeat("a", 64)
	otherBlob = strings.Repeat("b", 64)
)

// tinyShow is what the Ollama-like engine reports for the locked model:
// parameters padded and in another order than the Modelfile's, as Ollama
// prints them from a map.
func tinyShow() fakeShow {
	return fakeShow{
		blobs:      []string{tinyBlob},
		template:   "{{ .Prompt }}",
		parameters: "stop                           \"<|end|>\"\nnum_ctx                        4096\ntemperature                    0.7\nstop                           \"<|user|>\"",
		modifiedAt: "2026-01-02T03:04:05.123456789Z",
	}
}

// tinyExpect is what the lock says Ollama must report for the model.
func tinyExpect() *OllamaExpect {
	return &OllamaExpect{
		Modelfile: "Modelfile",
		Models:    []string{"sha256:" + tinyBlob},
		Template:  "{{ .Prompt }}",
		Parameters: []ollama.Parameter{
			{Name: "num_ctx", Value: "4096"}, {Name: "stop", Value: "<|end|>"}, {Name: "temperature", Value: "0.70"}, {Name: "stop", Value: "<|user|>"},
		},
	}
}

// twoOllama is an Ollama-like engine serving the locked tiny and another
// model.
func twoOllama(t *testing.T) *fakeEngine {
	other := fakeShow{blobs: []string{otherBlob}, template: "{{ .System }} {{ .Prompt }}", modifiedAt: "2026-01-01T00:00:00Z"}
	return newFakeEngine(t, true, fakeModel{id: "other:latest", show: other}, fakeModel{id: "tiny:latest", show: tinyShow()})
}

func strp(s string) *string { return &s }

// twoVLLM is a vLLM-like engine serving a base model and a LoRA adapter.
func twoVLLM(t *testing.T) *fakeEngine {
	return newFakeEngine(t, false,
		fakeModel{id: "Qwen/Qwen2.5-0.5B", root: strp("Qwen/Qwen2.5-0.5B")},
		fakeModel{id: "sql-lora", root: strp("/adapters/sql-lora"), parent: strp("Qwen/Qwen2.5-0.5B")})
}

// ollamaConfig returns a sidecar Config whose lock matches tiny.
func ollamaConfig(t *testing.T, model string) Config {
	return Config{Model: model, Check: fileCheck(t, modelDir(t)), Recheck: time.Hour,
		Ollama: func() (*OllamaExpect, error) { return tinyExpect(), nil }}
}

func TestBind(t *testing.T) {
	tests := []struct {
		name   string
		ollama bool // an Ollama-like engine, else vLLM-like
		served []string
		model  string // Config.Model
		want   string // the bound model; "" for an error
		err    string // part of the error
	}{
		{name: "vLLM: the only model", served: []string{"m"}, want: "m"},
		{name: "vLLM: two models and no --model", served: []string{"b", "a"}, err: "serves 2 models (a, b); evalpin serve vouches for one"},
		{name: "vLLM: two models, one named", served: []string{"a", "b"}, model: "b", want: "b"},
		{name: "vLLM: names are exact", served: []string{"a", "b"}, model: "B", err: "does not serve model B; it serves a, b"},
		{name: "vLLM: none", served: nil, err: "serves no model"},
		{name: "vLLM: none, one named", served: nil, model: "a", err: "does not serve model a: it serves none"},
		{name: "Ollama: short name", ollama: true, served: []string{"other:latest", "tiny:latest"}, model: "tiny", want: "tiny:latest"},
		{name: "Ollama: full name", ollama: true, served: []string{"other:latest", "tiny:latest"}, model: "registry.ollama.ai/library/tiny:latest", want: "tiny:latest"},
		{name: "Ollama: case and namespace", ollama: true, served: []string{"other:latest", "tiny:latest"}, model: "library/TINY", want: "tiny:latest"},
		{name: "Ollama: another tag", ollama: true, served: []string{"other:latest", "tiny:latest"}, model: "tiny:q4", err: "does not serve model tiny:q4; it serves other:latest, tiny:latest"},
		{name: "Ollama: two and no --model", ollama: true, served: []string{"tiny:latest", "other:latest"}, err: "serves 2 models (other:latest, tiny:latest)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var models []fakeModel
			for _, id := range tt.served {
				models = append(models, fakeModel{id: id, show: tinyShow()})
			}
			e := newFakeEngine(t, tt.ollama, models...)
			u, _ := url.Parse(e.URL())
			s, err := New(Config{Upstream: u, Lock: testLock, Model: tt.model, Check: func(context.Context) error { return nil },
				Ollama: func() (*OllamaExpect, error) { return tinyExpect(), nil }})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(context.Background())
			got, _ := s.Bound()
			if tt.err != "" {
				var me *ModelError
				if err == nil || !strings.Contains(err.Error(), tt.err) || fault.KindOf(err) != fault.Input || !errors.As(err, &me) {
					t.Fatalf("Check: err = %v (kind %v), want an input ModelError containing %q", err, fault.KindOf(err), tt.err)
				}
				if ok, _ := s.Claiming(); ok {
					t.Error("claiming the lock after a binding error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got != tt.want {
				t.Errorf("bound to %q, want %q", got, tt.want)
			}
		})
	}
}

// request is one request of a routing table.
type request struct {
	method, path, body string
	header             map[string]string
}

func (r request) send(t *testing.T, base string) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, base+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.path != "" && strings.Contains(r.path, "%") {
		req.URL.RawPath = r.path
		req.URL.Path, _ = url.PathUnescape(r.path)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// errorCode returns the code of an OpenAI-shaped error body, or "".
func errorCode(t *testing.T, body []byte) string {
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    string  `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return ""
	}
	if e.Error.Type != e.Error.Code || e.Error.Message == "" {
		t.Errorf("error body %s: want type equal to code and a message", body)
	}
	return e.Error.Code
}

// Every class of path, in front of a two-model Ollama-like engine, bound
// to tiny: what reaches the engine carries the lock, and everything else is
// refused without it.
func TestRoutesOllama(t *testing.T) {
	e := twoOllama(t)
	cfg := ollamaConfig(t, "tiny")
	cfg.MaxBody = 1 << 20
	base, _ := sidecar(t, e.URL(), cfg)
	// Just over the bound: the sidecar reads all but a few bytes of it.
	big := `{"model":"tiny","prompt":"` + strings.Repeat("x", int(cfg.MaxBody)) + `"}`
	tests := []struct {
		name   string
		req    request
		status int
		code   string // the sidecar's error code; "" when passed on
		passed bool   // the engine saw it
	}{
		// A body that names the bound model, by any of Ollama's names for it.
		{"chat", request{"POST", "/v1/chat/completions", `{"model":"tiny","messages":[]}`, nil}, 200, "", true},
		{"chat tiny:latest", request{"POST", "/v1/chat/completions", `{"model":"tiny:latest"}`, nil}, 200, "", true},
		{"chat library/tiny:latest", request{"POST", "/v1/chat/completions", `{"model":"library/tiny:latest"}`, nil}, 200, "", true},
		{"chat full name", request{"POST", "/v1/chat/completions", `{"model":"registry.ollama.ai/library/tiny:latest"}`, nil}, 200, "", true},
		{"chat upper case", request{"POST", "/v1/chat/completions", `{"model":"TINY"}`, nil}, 200, "", true},
		{"completions", request{"POST", "/v1/completions", `{"model":"tiny","prompt":"a"}`, nil}, 200, "", true},
		{"embeddings", request{"POST", "/v1/embeddings", `{"model":"tiny","input":"a"}`, nil}, 200, "", true},
		{"api chat", request{"POST", "/api/chat", `{"model":"tiny"}`, nil}, 200, "", true},
		{"api generate", request{"POST", "/api/generate", `{"model":"tiny","prompt":"a"}`, nil}, 200, "", true},
		{"api embed", request{"POST", "/api/embed", `{"model":"tiny","input":"a"}`, nil}, 200, "", true},
		{"api embeddings", request{"POST", "/api/embeddings", `{"model":"tiny","prompt":"a"}`, nil}, 200, "", true},
		{"api show", request{"POST", "/api/show", `{"model":"tiny","verbose":false}`, nil}, 200, "", true},
		{"api show legacy name", request{"POST", "/api/show", `{"name":"tiny","verbose":false}`, nil}, 200, "", true},
		{"a model key in another case", request{"POST", "/api/chat", `{"Model":"tiny"}`, nil}, 200, "", true},

		// Another model.
		{"chat other", request{"POST", "/v1/chat/completions", `{"model":"other","messages":[]}`, nil}, 404, CodeModelNotFound, false},
		{"chat other:latest", request{"POST", "/v1/chat/completions", `{"model":"other:latest"}`, nil}, 404, CodeModelNotFound, false},
		{"chat another tag", request{"POST", "/v1/chat/completions", `{"model":"tiny:q4"}`, nil}, 404, CodeModelNotFound, false},
		{"api generate other", request{"POST", "/api/generate", `{"model":"other"}`, nil}, 404, CodeModelNotFound, false},
		{"api show other by name", request{"POST", "/api/show", `{"name":"other"}`, nil}, 404, CodeModelNotFound, false},
		{"api show empty model, other name", request{"POST", "/api/show", `{"model":"","name":"other"}`, nil}, 404, CodeModelNotFound, false},
		{"Go's decoder reads the key in any case", request{"POST", "/api/chat", `{"MODEL":"other"}`, nil}, 404, CodeModelNotFound, false},

		// A model that cannot be told.
		{"no model", request{"POST", "/v1/chat/completions", `{"messages":[]}`, nil}, 400, CodeModelRequired, false},
		{"empty model", request{"POST", "/v1/chat/completions", `{"model":""}`, nil}, 400, CodeModelRequired, false},
		{"null model", request{"POST", "/v1/chat/completions", `{"model":null}`, nil}, 400, CodeModelRequired, false},
		{"model not a string", request{"POST", "/v1/chat/completions", `{"model":["tiny"]}`, nil}, 400, CodeModelRequired, false},
		{"not JSON", request{"POST", "/v1/chat/completions", `model=tiny`, nil}, 400, CodeModelRequired, false},
		{"a JSON list", request{"POST", "/v1/chat/completions", `[{"model":"tiny"}]`, nil}, 400, CodeModelRequired, false},
		{"trailing data", request{"POST", "/v1/chat/completions", `{"model":"tiny"}{"model":"other"}`, nil}, 400, CodeModelRequired, false},
		{"two keys, two models", request{"POST", "/api/chat", `{"model":"tiny","Model":"other"}`, nil}, 400, CodeModelRequired, false},
		{"model and name disagree", request{"POST", "/api/show", `{"model":"tiny","name":"other"}`, nil}, 400, CodeModelRequired, false},
		{"compressed", request{"POST", "/v1/chat/completions", `{"model":"tiny"}`, map[string]string{"Content-Encoding": "gzip"}}, 400, CodeModelRequired, false},
		{"too large", request{"POST", "/v1/completions", big, nil}, 413, CodeTooLarge, false},

		// Lists cut down to the bound model (checked further below), and
		// the one model by id.
		{"v1 models", request{"GET", "/v1/models", "", nil}, 200, "", true},
		{"api tags", request{"GET", "/api/tags", "", nil}, 200, "", true},
		{"api ps", request{"GET", "/api/ps", "", nil}, 200, "", true},
		{"v1 model tiny", request{"GET", "/v1/models/tiny", "", nil}, 200, "", true},
		{"v1 model tiny:latest escaped", request{"GET", "/v1/models/tiny%3Alatest", "", nil}, 200, "", true},
		{"v1 model other", request{"GET", "/v1/models/other", "", nil}, 404, CodeModelNotFound, false},

		// Engine information without a model.
		{"api version", request{"GET", "/api/version", "", nil}, 200, "", true},
		{"version", request{"GET", "/version", "", nil}, 200, "", true},
		{"health", request{"GET", "/health", "", nil}, 200, "", true},
		{"info", request{"GET", "/info", "", nil}, 200, "", true},
		{"props", request{"GET", "/props", "", nil}, 200, "", true},
		{"model_info", request{"GET", "/model_info", "", nil}, 200, "", true},
		{"get_model_info", request{"GET", "/get_model_info", "", nil}, 200, "", true},
		{"metrics", request{"GET", "/metrics", "", nil}, 200, "", true},

		// Refused: they change the model store, or cannot be attributed.
		{"post props", request{"POST", "/props", `{"n_ctx":1}`, nil}, 403, CodeNotVouched, false},
		{"create", request{"POST", "/api/create", `{"model":"tiny","from":"other"}`, nil}, 403, CodeNotVouched, false},
		{"pull", request{"POST", "/api/pull", `{"model":"tiny"}`, nil}, 403, CodeNotVouched, false},
		{"push", request{"POST", "/api/push", `{"model":"tiny"}`, nil}, 403, CodeNotVouched, false},
		{"copy", request{"POST", "/api/copy", `{"source":"other","destination":"tiny"}`, nil}, 403, CodeNotVouched, false},
		{"delete", request{"DELETE", "/api/delete", `{"model":"tiny"}`, nil}, 403, CodeNotVouched, false},
		{"blobs", request{"POST", "/api/blobs/sha256-" + tinyBlob, "GGUF", nil}, 403, CodeNotVouched, false},
		{"head blobs", request{"HEAD", "/api/blobs/sha256-" + tinyBlob, "", nil}, 403, "", false},
		{"responses", request{"POST", "/v1/responses", `{"model":"tiny"}`, nil}, 403, CodeNotVouched, false},
		{"unknown", request{"GET", "/v1/files", "", nil}, 403, CodeNotVouched, false},
		{"root", request{"GET", "/", "", nil}, 403, CodeNotVouched, false},
		{"GET chat", request{"GET", "/v1/chat/completions", "", nil}, 403, CodeNotVouched, false},
		{"escaped slash", request{"POST", "/v1/chat%2Fcompletions", `{"model":"tiny"}`, nil}, 403, CodeNotVouched, false},
		{"trailing slash", request{"POST", "/v1/chat/completions/", `{"model":"tiny"}`, nil}, 403, CodeNotVouched, false},
		{"double slash", request{"POST", "//v1/chat/completions", `{"model":"tiny"}`, nil}, 403, CodeNotVouched, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.requests())
			resp, body := tt.req.send(t, base)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.req.method, tt.req.path, resp.StatusCode, untrusted.Cut(string(body), 300), tt.status)
			}
			if got := tt.req.method != "HEAD" && errorCode(t, body) != ""; got != (tt.code != "") || (got && errorCode(t, body) != tt.code) {
				t.Errorf("body %s: want error code %q", untrusted.Cut(string(body), 300), tt.code)
			}
			lock := resp.Header.Get(lockid.Header)
			if tt.passed != (lock == testLock) {
				t.Errorf("%s = %q; want the lock on what is passed on, none on a refusal", lockid.Header, lock)
			}
			seen := e.requests()[before:]
			if tt.passed != (len(seen) == 1) || len(seen) > 1 {
				t.Fatalf("the engine saw %v, want it to see the request: %v", seen, tt.passed)
			}
			if tt.passed && tt.req.body != "" && seen[0].body != tt.req.body {
				t.Errorf("the engine got the body %q, want %q", seen[0].body, tt.req.body)
			}
		})
	}

	// The lists name the bound model only.
	for _, tt := range []struct{ path, list, key string }{{"/v1/models", "data", "id"}, {"/api/tags", "models", "name"}, {"/api/ps", "models", "name"}} {
		_, body := request{method: "GET", path: tt.path}.send(t, base)
		var doc map[string]json.RawMessage
		var got []map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%s: %s: %v", tt.path, body, err)
		}
		if err := json.Unmarshal(doc[tt.list], &got); err != nil {
			t.Fatalf("%s: %s: %v", tt.path, body, err)
		}
		if len(got) != 1 || got[0][tt.key] != "tiny:latest" {
			t.Errorf("%s lists %v, want tiny:latest alone", tt.path, got)
		}
	}
}

// In front of a vLLM-like engine, names are exact, Ollama's paths are
// refused, and a LoRA adapter is a model of its own.
func TestRoutesVLLM(t *testing.T) {
	e := twoVLLM(t)
	base, _ := sidecar(t, e.URL(), Config{Model: "sql-lora", Check: fileCheck(t, modelDir(t)), Recheck: time.Hour})
	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"the adapter", request{"POST", "/v1/chat/completions", `{"model":"sql-lora"}`, nil}, 200, ""},
		{"the base model", request{"POST", "/v1/chat/completions", `{"model":"Qwen/Qwen2.5-0.5B"}`, nil}, 404, CodeModelNotFound},
		{"another case", request{"POST", "/v1/completions", `{"model":"SQL-LoRA"}`, nil}, 404, CodeModelNotFound},
		{"Ollama's latest tag means nothing here", request{"POST", "/v1/completions", `{"model":"sql-lora:latest"}`, nil}, 404, CodeModelNotFound},
		{"a key in another case", request{"POST", "/v1/completions", `{"Model":"sql-lora"}`, nil}, 200, ""},
		{"Ollama's chat", request{"POST", "/api/chat", `{"model":"sql-lora"}`, nil}, 403, CodeNotVouched},
		{"Ollama's tags", request{"GET", "/api/tags", "", nil}, 403, CodeNotVouched},
		{"Ollama's version", request{"GET", "/api/version", "", nil}, 403, CodeNotVouched},
		{"vLLM's version", request{"GET", "/version", "", nil}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := tt.req.send(t, base)
			if resp.StatusCode != tt.status || errorCode(t, body) != tt.code {
				t.Fatalf("%d %s, want %d with code %q", resp.StatusCode, body, tt.status, tt.code)
			}
			if (tt.code == "") != (resp.Header.Get(lockid.Header) == testLock) {
				t.Errorf("%s = %q", lockid.Header, resp.Header.Get(lockid.Header))
			}
		})
	}
	_, body := request{method: "GET", path: "/v1/models"}.send(t, base)
	var list struct {
		Data []struct {
			ID     string `json:"id"`
			Parent string `json:"parent"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Data) != 1 || list.Data[0].ID != "sql-lora" || list.Data[0].Parent != "Qwen/Qwen2.5-0.5B" {
		t.Errorf("/v1/models = %s (%v), want sql-lora alone, with its parent", body, err)
	}
}

// A streamed response for the bound model reaches the client event by
// event, though its request body was read to tell the model: the engine
// holds the second event back until the client has read the first.
func TestStreamingAfterAttribution(t *testing.T) {
	for _, ollamaLike := range []bool{true, false} {
		e := twoOllama(t)
		cfg := ollamaConfig(t, "tiny")
		model := "tiny"
		if !ollamaLike {
			e = twoVLLM(t)
			cfg = Config{Model: "sql-lora", Check: fileCheck(t, modelDir(t)), Recheck: time.Hour}
			model = "sql-lora"
		}
		base, _ := sidecar(t, e.URL(), cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", strings.NewReader(`{"model":"`+model+`","stream":true}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get(lockid.Header) != testLock {
			t.Errorf("stream lacks the %s header", lockid.Header)
		}
		rd := bufio.NewReader(resp.Body)
		line, err := rd.ReadString('\n')
		if err != nil || line != "data: {\"n\":1}\n" {
			t.Fatalf("first event: %q, %v", line, err)
		}
		close(e.release)
		rest, err := io.ReadAll(rd)
		if err != nil || string(rest) != "\ndata: {\"n\":2}\n\ndata: [DONE]\n\n" {
			t.Fatalf("rest of the stream: %q, %v", rest, err)
		}
		resp.Body.Close()
		cancel()
	}
}

// A request for another model is refused even when it is the first after
// start: nothing of it reaches the engine.
func TestOtherModelNeverReachesTheEngine(t *testing.T) {
	e := twoOllama(t)
	base, _ := sidecar(t, e.URL(), ollamaConfig(t, "tiny"))
	before := len(e.requests()) // the sidecar's own checks
	for _, m := range []string{"other", "other:latest", "library/other"} {
		resp, body := request{"POST", "/v1/chat/completions", `{"model":"` + m + `","stream":true}`, nil}.send(t, base)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get(lockid.Header) != "" || !strings.Contains(string(body), `evalpin serve vouches for model \"tiny:latest\" only`) {
			t.Errorf("%s: %d %s with %s %q", m, resp.StatusCode, body, lockid.Header, resp.Header.Get(lockid.Header))
		}
	}
	if seen := e.requests(); len(seen) != before {
		t.Errorf("the engine saw %v", seen[before:])
	}
}
