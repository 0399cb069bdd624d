package runner

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	openai "github.com/sashabaranov/go-openai"
)

func TestErrorMessage(t *testing.T) {
	long := strings.Repeat("é", 400)
	tests := []struct {
		name, body, want string
	}{
		// go-openai's ErrorResponse.
		{"OpenAI", `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, "Incorrect API key provided"},
		{"Ollama", `{"error":{"message":"model \"x\" not found, try pulling it first","type":"api_error","param":null,"code":null}}`, `model "x" not found, try pulling it first`},
		{"vLLM since vllm-project/vllm#22099", `{"error":{"message":"This model's maximum context length is 2048 tokens.","type":"BadRequestError","param":null,"code":400}}`, "This model's maximum context length is 2048 tokens."},
		{"a list of messages", `{"error":{"message":["a is required","b is required"],"type":"invalid_request_error"}}`, "a is required, b is required"},
		// go-openai's APIError, not wrapped.
		{"older vLLM", `{"object":"error","message":"This model's maximum context length is 2048 tokens.","type":"BadRequestError","param":null,"code":400}`, "This model's maximum context length is 2048 tokens."},
		{"SGLang", `{"object":"error","message":"The input (5000 tokens) is longer than the model's context length (4096 tokens).","type":"BadRequestError","param":null,"code":400}`, "The input (5000 tokens) is longer than the model's context length (4096 tokens)."},
		// The shapes go-openai has no type for.
		{"TGI", `{"error":"Input validation error: inputs must have less than 4096 tokens","error_type":"validation"}`, "Input validation error: inputs must have less than 4096 tokens"},
		{"FastAPI", `{"detail":"Not Found"}`, `"Not Found"`},
		{"FastAPI validation", `{"detail":[{"loc":["body","model"],"msg":"field required"}]}`, `[{"loc":["body","model"],"msg":"field required"}]`},
		{"an error object without a message", `{"error":{"type":"server_error"}}`, `{"error":{"type":"server_error"}}`},
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

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"evalpin serve", `{"error":{"message":"evalpin serve: this server no longer claims its lock: model.gguf (weights) changed","type":"evalpin_lock_mismatch","param":null,"code":"evalpin_lock_mismatch"}}`, "evalpin_lock_mismatch"},
		{"OpenAI", `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, "rate_limit_exceeded"},
		{"a number (vLLM)", `{"error":{"message":"bad","type":"BadRequestError","param":null,"code":400}}`, ""},
		{"null (Ollama)", `{"error":{"message":"bad","type":"api_error","param":null,"code":null}}`, ""},
		{"not wrapped", `{"object":"error","message":"bad","code":"evalpin_lock_mismatch"}`, ""},
		{"TGI", `{"error":"bad","error_type":"validation"}`, ""},
		{"not JSON", "Service Unavailable", ""},
	}
	for _, tt := range tests {
		if got := errorCode([]byte(tt.body)); got != tt.want {
			t.Errorf("%s: errorCode = %q, want %q", tt.name, got, tt.want)
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

// TestOpenAIRequestsDropZeroValues pins why the runner encodes requests with
// its own types (see chatRequest): go-openai's request types leave out every
// zero value they tag omitempty, so a greedy request reaches the server without
// its temperature, and the server's default applies. The test encodes the
// runner's request for the default settings (temperature 0) and go-openai's
// request with the same values, and lists what go-openai's lacks. Should it
// fail, go-openai has changed its tags, and the comments at chatRequest need
// revisiting.
func TestOpenAIRequestsDropZeroValues(t *testing.T) {
	s := eval.DefaultSettings()
	seed := int(s.Seed)
	keys := func(t *testing.T, body []byte) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	missing := func(ours, theirs map[string]any) []string {
		var out []string
		for k := range ours {
			if _, ok := theirs[k]; !ok {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return out
	}

	t.Run("chat", func(t *testing.T) {
		c := eval.Case{Messages: []eval.Message{{Role: "user", Content: "What is 2+2?"}, {Role: "assistant", Content: ""}, {Role: "user", Content: "Again."}}}
		_, body, err := encodeTask("m", &task{jobs: []job{{c: &c, settings: &s}}})
		if err != nil {
			t.Fatal(err)
		}
		req := openai.ChatCompletionRequest{
			Model: "m", Temperature: float32(s.Temperature), TopP: float32(s.TopP), N: 1, Seed: &seed,
			MaxTokens: s.MaxTokens, Stop: []string{}, PresencePenalty: float32(s.PresencePenalty), FrequencyPenalty: float32(s.FrequencyPenalty),
		}
		for _, m := range c.Messages {
			req.Messages = append(req.Messages, openai.ChatCompletionMessage{Role: m.Role, Content: m.Content})
		}
		theirs, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		ours, oai := keys(t, body), keys(t, theirs)
		if got, want := missing(ours, oai), []string{"frequency_penalty", "presence_penalty", "stop", "temperature"}; !slices.Equal(got, want) {
			t.Errorf("go-openai's chat request lacks %q, want %q\n ours:   %s\n theirs: %s", got, want, body, theirs)
		}
		// The seed is a pointer there: 0 survives.
		if oai["seed"] != 0.0 {
			t.Errorf("go-openai's seed = %v, want 0", oai["seed"])
		}
		// An empty turn loses its content.
		if turn := oai["messages"].([]any)[1].(map[string]any); turn["content"] != nil {
			t.Errorf("go-openai's empty assistant turn = %v, want it without content", turn)
		}
		if turn := ours["messages"].([]any)[1].(map[string]any); turn["content"] != "" {
			t.Errorf("the runner's empty assistant turn = %v, want content \"\"", turn)
		}
	})

	t.Run("completion", func(t *testing.T) {
		c := eval.Case{Prompt: "once upon"}
		_, body, err := encodeTask("m", &task{raw: true, jobs: []job{{c: &c, settings: &s}}})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := json.Marshal(openai.CompletionRequest{
			Model: "m", Prompt: c.Prompt, Temperature: float32(s.Temperature), TopP: float32(s.TopP), N: 1, Seed: &seed,
			MaxTokens: s.MaxTokens, Stop: []string{}, PresencePenalty: float32(s.PresencePenalty), FrequencyPenalty: float32(s.FrequencyPenalty),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := missing(keys(t, body), keys(t, theirs)), []string{"frequency_penalty", "presence_penalty", "stop", "temperature"}; !slices.Equal(got, want) {
			t.Errorf("go-openai's completion request lacks %q, want %q\n ours:   %s\n theirs: %s", got, want, body, theirs)
		}
	})
}

// TestOpenAICompletionResponseLacksFingerprint pins why the runner decodes
// /completions responses into its own type (see completionResponse):
// go-openai's CompletionResponse has no system_fingerprint, and the lock check
// reads it (a lock declared through vLLM's --fingerprint-mode custom). Should
// it fail, go-openai has the field now.
func TestOpenAICompletionResponseLacksFingerprint(t *testing.T) {
	const fp = "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	body := []byte(`{"id":"cmpl-1","object":"text_completion","created":1741000000,"model":"m","system_fingerprint":"` + fp + `",` +
		`"choices":[{"index":0,"text":" 4","logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"total_tokens":4,"completion_tokens":1}}`)
	var r openai.CompletionResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(again), fp) {
		t.Errorf("go-openai's CompletionResponse kept the fingerprint: %s", again)
	}
	d, err := decode(true, 1, "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	if d.systemFingerprint != fp {
		t.Errorf("decoded fingerprint %q, want %q", d.systemFingerprint, fp)
	}
}

// FuzzDecodeAgreesWithOpenAI holds the runner's decoder equal to the plain
// one it replaces, go-openai's response types, where both take a body: the
// same outputs, finish reasons, model and token counts. Where they differ
// (an absent or null content, multi-part content, a completion's
// system_fingerprint) the runner is right by design, and the tests above pin
// each difference.
func FuzzDecodeAgreesWithOpenAI(f *testing.F) {
	for _, b := range decodeBodies {
		f.Add([]byte(b.body), b.raw)
	}
	f.Add([]byte(`{"model":"m","choices":[{"message":{"content":"","Content":"b"},"finish_reason":"length"}],"usage":{"prompt_tokens":1}}`), false)
	f.Add([]byte(`{"model":"m","choices":[{"index":1,"text":"b"},{"index":0,"text":"a"}]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, raw bool) {
		if !raw {
			var r openai.ChatCompletionResponse
			if json.Unmarshal(body, &r) != nil || len(r.Choices) == 0 {
				return
			}
			d, err := decode(false, 1, "application/json", body)
			if err != nil {
				return
			}
			c := r.Choices[0]
			if got, want := d.answers[0], (answer{c.Message.Content, string(c.FinishReason)}); got != want {
				t.Errorf("answer %+v, go-openai's %+v", got, want)
			}
			if d.model != r.Model || d.systemFingerprint != r.SystemFingerprint ||
				d.usage.PromptTokens != r.Usage.PromptTokens || d.usage.CompletionTokens != r.Usage.CompletionTokens {
				t.Errorf("decoded %+v, go-openai's %+v", d, r)
			}
			return
		}
		var r openai.CompletionResponse
		if json.Unmarshal(body, &r) != nil || len(r.Choices) == 0 || len(r.Choices) > 64 {
			return
		}
		d, err := decode(true, len(r.Choices), "application/json", body)
		if err != nil {
			return
		}
		for _, c := range r.Choices {
			if got, want := d.answers[c.Index], (answer{c.Text, c.FinishReason}); got != want {
				t.Errorf("answer %d %+v, go-openai's %+v", c.Index, got, want)
			}
		}
		var usage openai.Usage
		if r.Usage != nil {
			usage = *r.Usage
		}
		if d.model != r.Model || d.usage.PromptTokens != usage.PromptTokens || d.usage.CompletionTokens != usage.CompletionTokens {
			t.Errorf("decoded %+v, go-openai's %+v", d, r)
		}
	})
}

// FuzzDecodeChatFast holds decodeChatFast equal to json.Unmarshal into a
// chatResponse: where it takes a body, json.Unmarshal takes it without error
// and decodes the same response.
func FuzzDecodeChatFast(f *testing.F) {
	for _, b := range decodeBodies {
		f.Add([]byte(b.body))
	}
	for _, body := range []string{
		`{"model":"m","choices":[{"message":{"content":"","Content":"b"},"finish_reason":"length"}],"usage":{"prompt_tokens":1}}`,
		`{"model":"m","choices":[{"message":{"content":null},"finish_reason":"tool_calls"},{"message":{"content":"b"}}]}`,
		`{"model":"m\u00e9","system_fingerprint":"fp \"q\"\n","choices":[],"usage":{"prompt_tokens":-0,"completion_tokens":12}}`,
		`{"model":"m","usage":{"prompt_tokens":1.5},"choices":null}`,
		`{"MODEL":"m","model":"n","choices":[{"message":{"content":"\ud800 é \xff"}}]}`,
		` { "choices" : [ { "message" : { "role" : "assistant" , "content" : "a" } , "finish_reason" : "stop" } ] , "x" : [1, {"y": "}"}] } `,
		`{"choices":[{"message":{"content":["a"]}}]}`,
		`{"usage":{"prompt_tokens":123456789012345678901}}`,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := decodeChatFast(body)
		if !ok {
			return
		}
		var want chatResponse
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("decodeChatFast took %q, json.Unmarshal: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeChatFast(%q)\n%+v\njson.Unmarshal\n%+v", body, got, want)
		}
	})
}

// TestDecodeChatFastTakes checks that decodeChatFast takes the bodies engines
// send, so that the fast path is the one taken, and leaves to json.Unmarshal
// those it cannot take exactly.
func TestDecodeChatFastTakes(t *testing.T) {
	for _, tt := range []struct {
		body string
		want bool
	}{
		{decodeBodies[0].body, true},
		{`{"id":"c","model":"stub","system_fingerprint":"fp_stub","choices":[{"index":0,"message":{"role":"assistant","content":"echo: What is 2+2?\nFour é"},"finish_reason":"stop"}],"usage":{"prompt_tokens":6,"completion_tokens":7,"total_tokens":13}}`, true},
		{`{"choices":[{"message":{"content":null}}]}`, true},
		{`{"Model":"m"}`, false},
		{`{"model":"m","model":"n"}`, false},
		{`{"usage":{"prompt_tokens":1e3}}`, false},
		{`{"choices":null}`, false},
		{`{"model":"m"`, false},
	} {
		if _, ok := decodeChatFast([]byte(tt.body)); ok != tt.want {
			t.Errorf("decodeChatFast(%s) took it: %v, want %v", tt.body, ok, tt.want)
		}
	}
}

// FuzzEncodeChatFast holds encodeChatFast equal to encodeTask's json.Marshal
// of the chat request, its cached tail reused across settings that differ.
func FuzzEncodeChatFast(f *testing.F) {
	f.Add("stub", "user", "What is 2+2? Answer briefly. #000000", "", 0.0, 256, "", false)
	f.Add("m<&>", "user", "line\nbreak \"q\" \\ é \u2028 \xff", "be brief", 0.7, 0, "\n\n", true)
	f.Add("", "", "", "sys <b>", -1.5, 1, "END", false)
	var tails tailCache
	f.Fuzz(func(t *testing.T, model, role, content, system string, temp float64, maxTokens int, stop string, logprobs bool) {
		if math.IsNaN(temp) || math.IsInf(temp, 0) {
			return // json.Marshal refuses them; settings never hold them
		}
		s := eval.DefaultSettings()
		s.Temperature, s.MaxTokens, s.System, s.Logprobs = temp, maxTokens, system, logprobs
		if stop != "" {
			s.Stop = []string{stop, "x"}
		}
		c := eval.Case{ID: "c", Messages: []eval.Message{{Role: role, Content: content}, {Role: "assistant", Content: stop}}}
		tk := &task{jobs: []job{{c: &c, settings: &s}}}
		_, want, err := encodeTask(model, tk)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // encoded, then from the cache
			got, err := encodeChatFast(model, tk, &tails)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encodeChatFast\n%s\njson.Marshal\n%s", got, want)
			}
		}
	})
}
