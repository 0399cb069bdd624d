package runner

import (
	"strings"
	"testing"
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
		{"long, clipped on a rune boundary", long, strings.Repeat("é", 150) + "…"},
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
