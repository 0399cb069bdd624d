package endpoint

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
)

// handlerTransport answers a client's requests with a handler, in memory.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}

// FuzzProbe serves a probe the fuzzer's well-known document, model list,
// completion response and Evalpin-Lock header, and Ollama's /api/version
// and /api/show answers, and checks that the probe never panics nor fails,
// and that every claim it makes holds against the plain parsers: each lock
// is a lock id; a claim of strength manifest has a document lock.Parse
// accepts with that id; an Ollama claim's document ollama.ParseIdentity
// accepts under its lock. The report renders as text and JSON.
func FuzzProbe(f *testing.F) {
	m := lock.Manifest{Version: lock.Version, Files: []lock.File{{Path: "m.gguf", Size: 1, SHA256: strings.Repeat("a", 64), Role: lock.RoleWeights}}, Generation: map[string]any{}}
	if err := m.Seal(); err != nil {
		f.Fatal(err)
	}
	manifest, _ := m.Marshal()
	wk, _ := json.Marshal(map[string]any{"lock": m.Lock, "manifest": json.RawMessage(manifest), "model": "tiny"})
	show, _ := json.Marshal(ollamaShowFixture("/models", strings.Repeat("b", 64), "{{ .Prompt }}"))
	models := `{"data":[{"id":"tiny","max_model_len":4096}]}`
	completion := `{"model":"tiny","system_fingerprint":"` + string(m.Lock) + `","choices":[]}`
	f.Add(wk, []byte(models), []byte(completion), string(m.Lock), []byte(`{"version":"0.17.4"}`), show)
	f.Add([]byte(`{"lock":"sha256:zz"}`), []byte(`{"data":[{"id":"tiny@sha256:`+strings.Repeat("c", 64)+`"}]}`), []byte(`{"error":"x"}`), "bad", []byte(`{}`), []byte(`null`))
	f.Add([]byte(`{"lock":"`+string(m.Lock)+`","manifest":{}}`), []byte(`{"data":[]}`), []byte(`[`), "", []byte(`{"version":""}`), []byte(`{"modelfile":"FROM /x/blobs/sha256-zz\nADAPTER"}`))
	f.Fuzz(func(t *testing.T, wellKnown, modelList, completion []byte, header string, version, showBody []byte) {
		mux := http.NewServeMux()
		body := func(b []byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if len(b) == 0 {
					http.NotFound(w, r)
					return
				}
				w.Write(b)
			}
		}
		mux.Handle("GET "+lockid.WellKnownPath, body(wellKnown))
		mux.Handle("GET /v1/models", body(modelList))
		mux.Handle("GET /api/version", body(version))
		mux.Handle("POST /api/show", body(showBody))
		mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
			if header != "" && !strings.ContainsAny(header, "\r\n\x00") {
				w.Header().Set(lockid.Header, header)
			}
			w.Write(completion)
		})
		p := &Prober{Client: &http.Client{Transport: handlerTransport{mux}}, Attempts: 1, RetryWait: time.Millisecond}
		r, err := p.Probe(context.Background(), "http://fuzz.test/v1", "")
		if err != nil {
			t.Fatalf("Probe failed: %v", err)
		}
		for _, c := range r.Claims {
			if !c.Lock.Valid() {
				t.Fatalf("claim %+v: not a lock id", c)
			}
			doc := r.Document(c.Lock)
			switch {
			case c.Strength == StrengthManifest:
				got, err := lock.Parse(doc)
				if err != nil || got.Lock != c.Lock {
					t.Fatalf("claim %+v: its manifest: %v", c, err)
				}
			case c.Source == SourceOllama:
				if _, err := ollama.ParseIdentity(c.Lock, doc); err != nil {
					t.Fatalf("claim %+v: its identity: %v", c, err)
				}
			}
		}
		if err := WriteText(io.Discard, []*Report{r}, nil); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(io.Discard, []*Report{r}, nil, nil); err != nil {
			t.Fatal(err)
		}
	})
}
