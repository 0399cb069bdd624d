package runner

import (
	"encoding/json"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"
)

func TestErrorMessage(t *testing.T) {
	long := strings.Repeat("é", 400)
	tests := []struct {
		name, body, want string
	}{
		{"OpenAI, Ollama", `{"error":{"message":"model 'x' not found","type":"invalid_request_error"}}`, "model 'x' not found"},
		{"vLLM", `{"object":"error","message":"This model's maximum context length is 2048 tokens.","type":"BadRequestError","code":400}`, "This model's maximum context length is 2048 tokens."},
		{"TGI", `{"error":"Input validation error: inputs must have less than 4096 tokens","error_type":"validation"}`, "Input validation error: inputs must have less than 4096 tokens"},
		{"FastAPI", `{"detail":"Not Found"}`, `"Not Found"`},
		{"plain text", "upstream connect error\n", "upstream connect error"},
		{"invalid UTF-8", "bad \xff byte", "bad \uFFFD byte"},
		{"long, clipped on a rune boundary", long, strings.Repeat("é", 299) + "…"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		if got := errorMessage([]byte(tt.body)); got != tt.want {
			t.Errorf("%s: errorMessage = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestIsContextLength(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens", true}, // vLLM, OpenAI
		{"the request exceeds the available context size, try increasing it", true},                      // llama.cpp
		{"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096", true},             // TGI
		{"The input (5000 tokens) is longer than the model's context length (4096 tokens).", true},       // SGLang
		{"temperature must be non-negative", false},
		{"Unknown model", false},
	}
	for _, tt := range tests {
		if got := isContextLength(tt.msg); got != tt.want {
			t.Errorf("isContextLength(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestDecode(t *testing.T) {
	const meta = `"model":"m","system_fingerprint":"fp","usage":{"prompt_tokens":3,"completion_tokens":4}`
	tests := []struct {
		name string
		raw  bool
		n    int
		body string
		want []string // the outputs; nil when decode must fail
		err  string   // in the error
	}{
		// Chat: an empty string is an output; an absent or null content is not.
		{"chat", false, 1, `{` + meta + `,"choices":[{"message":{"role":"assistant","content":"4"},"finish_reason":"stop"}]}`, []string{"4"}, ""},
		{"chat empty content", false, 1, `{` + meta + `,"choices":[{"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}`, []string{""}, ""},
		{"chat null content", false, 1, `{` + meta + `,"choices":[{"message":{"role":"assistant","content":null},"finish_reason":"stop"}]}`, nil, `choices[0].message.content is absent or null (finish_reason "stop")`},
		{"chat no content", false, 1, `{` + meta + `,"choices":[{"message":{"role":"assistant"},"finish_reason":"length"}]}`, nil, `choices[0].message.content is absent or null (finish_reason "length")`},
		{"chat no message", false, 1, `{` + meta + `,"choices":[{"index":0}]}`, nil, "choices[0].message.content is absent or null"},
		{"chat refusal", false, 1, `{` + meta + `,"choices":[{"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}`, nil, "no output"},
		{"chat content not a string", false, 1, `{` + meta + `,"choices":[{"message":{"content":[{"type":"text","text":"4"}]}}]}`, nil, "not valid JSON"},
		{"chat no choices", false, 1, `{` + meta + `,"choices":[]}`, nil, "no choices"},

		// Completions, one prompt or several packed into one request.
		{"completion", true, 1, `{` + meta + `,"choices":[{"index":0,"text":" 4","finish_reason":"stop"}]}`, []string{" 4"}, ""},
		{"completion empty text", true, 1, `{` + meta + `,"choices":[{"index":0,"text":"","finish_reason":"stop"}]}`, []string{""}, ""},
		{"completion null text", true, 1, `{` + meta + `,"choices":[{"index":0,"text":null,"finish_reason":"stop"}]}`, nil, `choices[0].text is absent or null (finish_reason "stop")`},
		{"completion no text", true, 1, `{` + meta + `,"choices":[{"index":0,"finish_reason":"length"}]}`, nil, `choices[0].text is absent or null (finish_reason "length")`},
		{"packed", true, 3, `{` + meta + `,"choices":[{"index":2,"text":"c"},{"index":0,"text":""},{"index":1,"text":"b"}]}`, []string{"", "b", "c"}, ""},
		{"packed, one null", true, 3, `{` + meta + `,"choices":[{"index":0,"text":"a"},{"index":1,"text":null},{"index":2,"text":"c"}]}`, nil, "choices[1].text is absent or null"},
		{"packed, one missing", true, 2, `{` + meta + `,"choices":[{"index":0,"text":"a"}]}`, nil, "no choice for prompt 1 of 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := decode(tt.raw, tt.n, "application/json; charset=utf-8", []byte(tt.body))
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("decode error = %v, want one containing %q", err, tt.err)
				}
				if strings.Contains(tt.err, "absent or null") && (d.model != "m" || d.systemFingerprint != "fp" || d.usage.CompletionTokens != 4) {
					t.Errorf("decoded %+v: want the model, fingerprint and usage kept for the lock check", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(d.answers) != len(tt.want) {
				t.Fatalf("%d answers, want %d", len(d.answers), len(tt.want))
			}
			for i, a := range d.answers {
				if a.output != tt.want[i] {
					t.Errorf("answer %d = %q, want %q", i, a.output, tt.want[i])
				}
			}
			if d.model != "m" || d.systemFingerprint != "fp" || d.usage.PromptTokens != 3 {
				t.Errorf("decoded %+v: want model m, fingerprint fp, 3 prompt tokens", d)
			}
		})
	}
}

// TestOpenAITypesLoseAbsentContent pins why the runner decodes responses
// into its own types (see chatResponse): go-openai's types decode an absent
// or null content as "", the same as an empty output. Should this test fail,
// go-openai can tell them apart now, and the comment needs revisiting.
func TestOpenAITypesLoseAbsentContent(t *testing.T) {
	for _, body := range []string{
		`{"choices":[{"message":{"role":"assistant","content":""}}]}`,
		`{"choices":[{"message":{"role":"assistant","content":null}}]}`,
		`{"choices":[{"message":{"role":"assistant"}}]}`,
	} {
		var r openai.ChatCompletionResponse
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if got := r.Choices[0].Message.Content; got != "" {
			t.Errorf("%s: go-openai content = %q, want \"\"", body, got)
		}
	}
	for _, body := range []string{
		`{"choices":[{"index":0,"text":""}]}`,
		`{"choices":[{"index":0,"text":null}]}`,
		`{"choices":[{"index":0}]}`,
	} {
		var r openai.CompletionResponse
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if got := r.Choices[0].Text; got != "" {
			t.Errorf("%s: go-openai text = %q, want \"\"", body, got)
		}
	}
}
