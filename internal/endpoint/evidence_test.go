package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/lockid"
	openai "github.com/sashabaranov/go-openai"
)

// The engines' own descriptions, in the shapes they answer today, are read as
// evidence and never as a lock: the endpoint is refused for having none.
func TestEngineEvidence(t *testing.T) {
	tests := []struct {
		name   string
		routes map[string]string // body by "METHOD /path"; others answer 404
		want   []Evidence
	}{{
		name: "TGI 3",
		routes: map[string]string{
			"GET /info": `{"model_id":"mistralai/Ministral-8B-Instruct-2410","model_sha":"4847e87e","model_pipeline_tag":null,` +
				`"max_input_tokens":32767,"max_total_tokens":32768,"router":"text-generation-router","version":"3.2.1","sha":"4d28897b","docker_label":"sha-4d28897"}`,
		},
		want: []Evidence{
			{"engine", "text-generation-inference 3.2.1 (4d28897b)", "GET /info (TGI)"},
			{"model revision", "mistralai/Ministral-8B-Instruct-2410@4847e87e", "GET /info (TGI)"},
			{"max context", "32768", "GET /info (TGI)"},
		},
	}, {
		name: "llama.cpp",
		routes: map[string]string{
			"GET /props": `{"default_generation_settings":{"params":{},"n_ctx":4096},"total_slots":4,"model_alias":"",` +
				`"model_path":"/models/qwen-q4.gguf","modalities":{"vision":false,"audio":false},"chat_template":"{{x}}","build_info":"b6000-abcdef1"}`,
		},
		want: []Evidence{
			{"engine", "llama.cpp b6000-abcdef1", "GET /props (llama.cpp)"},
			{"model revision", "/models/qwen-q4.gguf", "GET /props (llama.cpp)"},
			{"max context", "4096", "GET /props (llama.cpp)"},
		},
	}, {
		name: "SGLang",
		routes: map[string]string{
			"GET /model_info": `{"model_path":"qwen/qwen2.5-0.5b-instruct","tokenizer_path":"qwen/qwen2.5-0.5b-instruct","is_generation":true,` +
				`"preferred_sampling_params":null,"weight_version":"default"}`,
		},
		want: []Evidence{
			{"model revision", "qwen/qwen2.5-0.5b-instruct", "GET /model_info (SGLang)"},
			{"weight version", "default", "GET /model_info (SGLang)"},
		},
	}, {
		name: "SGLang before /model_info",
		routes: map[string]string{
			"GET /get_model_info": `{"model_path":"/models/llama","tokenizer_path":"/models/llama-tok","is_generation":true}`,
		},
		want: []Evidence{
			{"model revision", "/models/llama", "GET /get_model_info (SGLang)"},
			{"tokenizer", "/models/llama-tok", "GET /get_model_info (SGLang)"},
		},
	}, {
		name:   "vLLM",
		routes: map[string]string{"GET /version": `{"version":"0.11.0"}`, "GET /v1/models": vllmModels},
		want: []Evidence{
			{"engine version", "0.11.0", "GET /version (vLLM)"},
			{"served models", "m", "GET /v1/models"},
			{"max context", "4096", "GET /v1/models max_model_len"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, ok := tt.routes[r.Method+" "+r.URL.Path]
				if !ok {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(body))
			}))
			defer srv.Close()
			r, err := (&Prober{SkipCompletion: true}).Probe(context.Background(), srv.URL+"/v1", "m")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Evidence, tt.want) {
				t.Errorf("evidence:\n got %q\nwant %q", r.Evidence, tt.want)
			}
			if len(r.Claims) != 0 {
				t.Errorf("claims %+v from evidence", r.Claims)
			}
			if _, err := r.Choose(""); !errors.Is(err, ErrNoLock) {
				t.Errorf("Choose: %v, want ErrNoLock", err)
			}
		})
	}
}

// vllmModels is vLLM's answer to GET /v1/models.
const vllmModels = `{"object":"list","data":[{"id":"m","object":"model","created":1741000000,"owned_by":"vllm","root":"/models/m","parent":null,"max_model_len":4096,` +
	`"permission":[{"id":"modelperm-1","object":"model_permission","created":1741000000,"allow_create_engine":false,"allow_sampling":true,"allow_logprobs":true,` +
	`"allow_search_indices":false,"allow_view":true,"allow_fine_tuning":false,"organization":"*","group":null,"is_blocking":false}]}]}`

// TestOpenAIModelLacksMaxModelLen pins why the probe decodes the model list
// into its own type (see Prober.models): go-openai's Model keeps the id but
// not vLLM's max_model_len, which TestEngineEvidence reports as evidence.
// Should it fail, go-openai has the field now.
func TestOpenAIModelLacksMaxModelLen(t *testing.T) {
	var list openai.ModelsList
	if err := json.Unmarshal([]byte(vllmModels), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Models) != 1 || list.Models[0].ID != "m" {
		t.Fatalf("go-openai's list = %+v, want model m", list.Models)
	}
	again, err := json.Marshal(list.Models[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(again), "4096") {
		t.Errorf("go-openai's Model kept max_model_len: %s", again)
	}
}

// A refused credential is reported with the server's message, in each
// engine's error shape.
func TestAuthError(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"OpenAI", `{"error":{"message":"Incorrect API key provided: sk-1234","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, "Incorrect API key provided: sk-1234"},
		{"older vLLM", `{"object":"error","message":"Unauthorized","type":"Unauthorized","param":null,"code":401}`, "Unauthorized"},
		{"vLLM --api-key, TGI", `{"error":"Unauthorized"}`, "Unauthorized"},
		{"no message", `{"error":{"type":"auth"}}`, ""},
		{"not JSON", "Unauthorized\n", ""},
	}
	for _, tt := range tests {
		base := errors.New("GET /v1/models: 401 Unauthorized")
		got := authError(base, []byte(tt.body)).Error()
		want := base.Error()
		if tt.want != "" {
			want += ": " + tt.want
		}
		if got != want {
			t.Errorf("%s: authError = %q, want %q", tt.name, got, want)
		}
	}
}

// Text an endpoint sends reaches a refusal's message escaped: the message is
// printed on a terminal as is.
func TestRefusalEscapesEndpointText(t *testing.T) {
	const hostile = "files \x1b]0;pwned\x07changed\n\x1b[2J"
	noRaw := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("no refusal")
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\x1b\x07\n") {
			t.Errorf("refusal carries the endpoint's control characters: %q", msg)
		} else if !strings.Contains(msg, `\x1b]0;pwned\x07changed\n`) {
			t.Errorf("refusal lost the endpoint's reason: %q", msg)
		}
	}
	ctx := context.Background()

	t.Run("stopped sidecar", func(t *testing.T) {
		msg, _ := json.Marshal(hostile)
		f := &fakeEngine{models: []string{"m"}, wellKnownCode: 503,
			wellKnown: `{"error":{"message":` + string(msg) + `,"code":"evalpin_lock_mismatch"}}`}
		_, err := Resolve(ctx, nil, []string{f.start(t).URL + "/v1"}, "", "")
		noRaw(t, err)
	})
	t.Run("ollama error", func(t *testing.T) {
		f := &fakeEngine{models: []string{"other"}, ollama: ollamaFake("/m", "T")}
		srv := f.start(t)
		// The fake answers /api/show for "other" with an error that quotes the
		// name; the name carries the hostile text.
		_, err := Resolve(ctx, nil, []string{srv.URL + "/v1"}, hostile, "")
		if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07\n") {
			t.Errorf("refusal = %q, want it without control characters", err)
		}
	})
	t.Run("header mid-run", func(t *testing.T) {
		f := &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}
		srv := f.start(t)
		target, err := Resolve(ctx, nil, []string{srv.URL + "/v1"}, "", "")
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set(lockid.Header, hostile)
		_, err = target.CheckResponse(srv.URL+"/v1", h, "", "m")
		if !errors.Is(err, ErrLockChanged) || strings.ContainsAny(err.Error(), "\x1b\x07\n") {
			t.Errorf("refusal = %q, want ErrLockChanged without control characters", err)
		}
	})
}
