package stubserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServeHTTP(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		code                     int
		want                     []string // texts of the choices, in index order
	}{
		{"chat", "POST", "/v1/chat/completions", `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi there"}]}`, 200, []string{"echo: hi there"}},
		{"raw", "POST", "/v1/completions", `{"prompt":"once"}`, 200, []string{"echo: once"}},
		{"raw list", "POST", "/v1/completions", `{"prompt":["a","b","c"]}`, 200, []string{"echo: a", "echo: b", "echo: c"}},
		{"raw empty list", "POST", "/v1/completions", `{"prompt":[]}`, 400, nil},
		{"bad JSON", "POST", "/v1/chat/completions", `{`, 400, nil},
		{"other path", "POST", "/v1/embeddings", `{}`, 404, nil},
		{"GET", "GET", "/v1/chat/completions", ``, 404, nil},
	}
	for _, tt := range []struct {
		path string
		lock string
		code int
		want string
	}{
		{"/v1/models", "", 200, `{"object":"list","data":[{"id":"stub","object":"model","created":1,"owned_by":"stub"}]}`},
		{"/.well-known/evalpin-lock", "sha256:ab", 200, `{"lock":"sha256:ab"}`},
		{"/.well-known/evalpin-lock", "", 404, ""},
	} {
		s := New(Config{Lock: tt.lock})
		s.created = 1
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
		if got := strings.TrimSpace(w.Body.String()); w.Code != tt.code || (tt.code == 200 && got != tt.want) {
			t.Errorf("GET %s (lock %q) = %d %s, want %d %s", tt.path, tt.lock, w.Code, got, tt.code, tt.want)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Config{Lock: "sha256:ab"})
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.code, w.Body)
			}
			if tt.code != http.StatusOK {
				return
			}
			if got := w.Header().Get("Evalpin-Lock"); got != "sha256:ab" {
				t.Errorf("lock header %q", got)
			}
			var resp struct {
				Model   string
				Choices []struct {
					Index   int
					Text    string
					Message struct{ Content string }
				}
				Usage struct {
					CompletionTokens int `json:"completion_tokens"`
				}
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if len(resp.Choices) != len(tt.want) {
				t.Fatalf("%d choices, want %d", len(resp.Choices), len(tt.want))
			}
			for i, c := range resp.Choices {
				got := c.Text + c.Message.Content
				if c.Index != i || got != tt.want[i] {
					t.Errorf("choice %d = %d %q, want %q", i, c.Index, got, tt.want[i])
				}
			}
			if resp.Model != "stub" || resp.Usage.CompletionTokens == 0 || s.Requests() != 1 {
				t.Errorf("model %q, completion tokens %d, requests %d", resp.Model, resp.Usage.CompletionTokens, s.Requests())
			}
		})
	}
}
