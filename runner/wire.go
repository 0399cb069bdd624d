package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/untrusted"
	openai "github.com/sashabaranov/go-openai"
)

// chatRequest is the body of POST /chat/completions. go-openai's
// ChatCompletionRequest cannot be used for it: its Temperature, TopP and
// penalties are float32 with omitempty, so greedy decoding (temperature 0)
// never reaches the wire and the server's default (Ollama's /v1: 1.0)
// applies (sashabaranov/go-openai#9, #678); its messages leave out an empty
// content, and it leaves out an empty stop list. (Its Seed is a pointer, so
// seed 0 would survive.) Here every sampling parameter is always sent; only
// the engine-specific ones are omitted when unset. TestWireBody pins what the
// runner sends, TestOpenAIRequestsDropZeroValues what go-openai would drop.
type chatRequest struct {
	Model          string         `json:"model"`
	Messages       []eval.Message `json:"messages"`
	samplingParams                // flattened into the same object
	Logprobs       bool           `json:"logprobs,omitempty"`
}

// completionRequest is the body of POST /completions; Prompt is a string, or a
// list of strings when several raw prompts are packed into one request.
// go-openai's CompletionRequest drops the same zero values as its chat request
// (TestOpenAIRequestsDropZeroValues).
type completionRequest struct {
	Model          string `json:"model"`
	Prompt         any    `json:"prompt"`
	samplingParams        // flattened into the same object
	Logprobs       *int   `json:"logprobs,omitempty"`
}

// samplingParams are the parameters that decide an output.
type samplingParams struct {
	Temperature       float64  `json:"temperature"`
	TopP              float64  `json:"top_p"`
	N                 int      `json:"n"`
	Seed              int64    `json:"seed"`
	MaxTokens         int      `json:"max_tokens"`
	Stop              []string `json:"stop"` // [] rather than null when empty
	PresencePenalty   float64  `json:"presence_penalty"`
	FrequencyPenalty  float64  `json:"frequency_penalty"`
	TopK              *int     `json:"top_k,omitempty"`
	MinP              *float64 `json:"min_p,omitempty"`
	RepetitionPenalty *float64 `json:"repetition_penalty,omitempty"`
	Stream            bool     `json:"stream"`
}

func params(s eval.Settings) samplingParams {
	stop := s.Stop
	if stop == nil {
		stop = []string{}
	}
	return samplingParams{
		Temperature:       s.Temperature,
		TopP:              s.TopP,
		N:                 1,
		Seed:              s.Seed,
		MaxTokens:         s.MaxTokens,
		Stop:              stop,
		PresencePenalty:   s.PresencePenalty,
		FrequencyPenalty:  s.FrequencyPenalty,
		TopK:              s.TopK,
		MinP:              s.MinP,
		RepetitionPenalty: s.RepetitionPenalty,
	}
}

// chatMessages returns the messages of c with s.System prepended when c has no
// system message of its own.
func chatMessages(c *eval.Case, s eval.Settings) []eval.Message {
	if s.System == "" {
		return c.Messages
	}
	for _, m := range c.Messages {
		if m.Role == "system" {
			return c.Messages
		}
	}
	msgs := make([]eval.Message, 0, len(c.Messages)+1)
	msgs = append(msgs, eval.Message{Role: "system", Content: s.System})
	return append(msgs, c.Messages...)
}

// encodeTask returns the request path and body for t.
func encodeTask(model string, t *task) (path string, body []byte, err error) {
	s := *t.jobs[0].settings
	if !t.raw {
		req := chatRequest{Model: model, Messages: chatMessages(t.jobs[0].c, s), samplingParams: params(s), Logprobs: s.Logprobs}
		body, err = json.Marshal(req)
		return "/chat/completions", body, err
	}
	req := completionRequest{Model: model, samplingParams: params(s)}
	if s.Logprobs {
		one := 1
		req.Logprobs = &one
	}
	if len(t.jobs) == 1 {
		req.Prompt = t.jobs[0].c.Prompt
	} else {
		prompts := make([]string, len(t.jobs))
		for i, j := range t.jobs {
			prompts[i] = j.c.Prompt
		}
		req.Prompt = prompts
	}
	body, err = json.Marshal(req)
	return "/completions", body, err
}

// chatResponse and completionResponse are the parts of a response the runner
// reads. go-openai's response types are not used for them:
//   - its ChatCompletionMessage.Content and CompletionChoice.Text are plain
//     strings, so a content that is absent or null decodes as "", the same as
//     an empty output; an engine that answers 200 without an output (a
//     reasoning model that spent max_tokens thinking, a refusal, a tool call)
//     would be stored as a model that answered nothing
//     (TestOpenAITypesLoseAbsentContent);
//   - its CompletionResponse has no system_fingerprint, which the lock check
//     reads (TestOpenAICompletionResponseLacksFingerprint);
//   - its ChatCompletionResponse is slower on the hot path: the
//     UnmarshalJSON of its message type runs json.Unmarshal again over the
//     message (which validates it once more, and decodes multi-part content
//     twice) and it fills fields the runner does not read. On a typical chat
//     body it takes about 1.5 times the time and the allocations of
//     chatResponse (BenchmarkOpenAIChatDecode).
//
// Where both take a body, they agree with go-openai's types
// (FuzzDecodeAgreesWithOpenAI). Content and Text are pointers: nil when the
// field is absent or null. That costs one small allocation per choice
// (BenchmarkDecode).
type chatResponse struct {
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Usage             usage        `json:"usage"`
	Choices           []chatChoice `json:"choices"`
}

// chatChoice is a choice of a chatResponse.
type chatChoice struct {
	Message struct {
		Content *string `json:"content"`
	} `json:"message"`
	FinishReason string `json:"finish_reason"`
}

type completionResponse struct {
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Usage             usage  `json:"usage"`
	Choices           []struct {
		Index        int     `json:"index"`
		Text         *string `json:"text"`
		FinishReason string  `json:"finish_reason"`
	} `json:"choices"`
}

// usage is a response's token counts.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// An answer is one choice of a response.
type answer struct {
	output, finish string
}

// A decoded response: the answers in prompt order plus what the lock check
// and the summary need.
type decoded struct {
	answers           []answer
	usage             usage
	model             string
	systemFingerprint string
	// completion is set once the body is a completion with choices, even
	// when a choice has no output: the lock check then holds it to the run's
	// lock like any completion.
	completion bool
}

// decode parses a 2xx response body for a task of n prompts. Its errors are
// the malformed-response messages recorded in results. A choice whose output
// is absent or null is such an error, an empty output is not; with that error
// the decoded model, fingerprint and usage are still set, for the lock check.
func decode(raw bool, n int, contentType string, body []byte) (decoded, error) {
	var d decoded
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		if contentType == "" {
			contentType = "none"
		}
		return d, fmt.Errorf("response content type is %s, want application/json (is the endpoint an OpenAI-compatible /v1 base URL?)", untrusted.Cut(contentType, 80))
	}
	if !raw {
		r, ok := decodeChatFast(body)
		if !ok {
			r = chatResponse{}
			if err := json.Unmarshal(body, &r); err != nil {
				return d, fmt.Errorf("response is not valid JSON: %v (body starts %q)", err, untrusted.Cut(string(body), 80))
			}
		}
		if len(r.Choices) == 0 {
			return d, noChoices(body)
		}
		c := r.Choices[0]
		d = decoded{usage: r.Usage, model: r.Model, systemFingerprint: r.SystemFingerprint, completion: true}
		if c.Message.Content == nil {
			// The lock check still reads the model and fingerprint.
			return d, noOutput("choices[0].message.content", c.FinishReason)
		}
		d.answers = []answer{{*c.Message.Content, c.FinishReason}}
		return d, nil
	}
	var r completionResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return d, fmt.Errorf("response is not valid JSON: %v (body starts %q)", err, untrusted.Cut(string(body), 80))
	}
	if len(r.Choices) == 0 {
		return d, noChoices(body)
	}
	d.model, d.usage, d.systemFingerprint, d.completion = r.Model, r.Usage, r.SystemFingerprint, true
	d.answers = make([]answer, n)
	seen := make([]bool, n)
	for _, c := range r.Choices {
		if c.Index < 0 || c.Index >= n {
			return decoded{}, fmt.Errorf("response choice index %d out of range for %d prompts", c.Index, n)
		}
		if seen[c.Index] {
			return decoded{}, fmt.Errorf("response has two choices with index %d", c.Index)
		}
		if c.Text == nil {
			d.answers = nil // the lock check still reads the model and fingerprint
			return d, noOutput(fmt.Sprintf("choices[%d].text", c.Index), c.FinishReason)
		}
		seen[c.Index] = true
		d.answers[c.Index] = answer{*c.Text, c.FinishReason}
	}
	for i, ok := range seen {
		if !ok {
			return decoded{}, fmt.Errorf("response has no choice for prompt %d of %d", i, n)
		}
	}
	return d, nil
}

// noOutput is the error for a 2xx response whose choice has no output: the
// field at path is absent or null. An empty string is an output. The finish
// reason says why, when there is one ("length": a reasoning model spent
// max_tokens before answering).
func noOutput(path, finish string) error {
	if finish != "" {
		return fmt.Errorf("response has no output: %s is absent or null (finish_reason %q)", path, untrusted.Cut(finish, 40))
	}
	return fmt.Errorf("response has no output: %s is absent or null", path)
}

// noChoices is the error for a 2xx response without choices; some engines
// answer an error that way.
func noChoices(body []byte) error {
	if bytes.Contains(body, []byte(`"error"`)) {
		return fmt.Errorf("response has no choices: %s", errorMessage(body))
	}
	return errors.New("response has no choices")
}

// errorMessage extracts a server's error message from an error body. The
// OpenAI shape, {"error":{"message":…}} (OpenAI, Ollama, llama.cpp, evalpin
// serve, vLLM since vllm-project/vllm#22099), is go-openai's ErrorResponse,
// and the bare error object of older vLLM and of SGLang,
// {"object":"error","message":…}, is its APIError. go-openai has no type for
// TGI's {"error":"…"} or FastAPI's {"detail":…}; they are read here. A body
// in none of these shapes is its own message. TestErrorMessage has each
// shape. The text is untrusted; it is clipped, and renderers escape it.
func errorMessage(body []byte) string {
	var r openai.ErrorResponse
	if json.Unmarshal(body, &r) == nil && r.Error != nil && r.Error.Message != "" {
		return untrusted.Cut(r.Error.Message, 300)
	}
	var api openai.APIError
	if json.Unmarshal(body, &api) == nil && api.Message != "" {
		return untrusted.Cut(api.Message, 300)
	}
	var e struct {
		Error  any `json:"error"`
		Detail any `json:"detail"`
	}
	if json.Unmarshal(body, &e) == nil {
		if s, ok := e.Error.(string); ok && s != "" {
			return untrusted.Cut(s, 300)
		}
		if e.Detail != nil {
			b, _ := json.Marshal(e.Detail)
			return untrusted.Cut(string(b), 300)
		}
	}
	return untrusted.Cut(strings.TrimSpace(string(body)), 300)
}

// errorCode returns the code of an OpenAI-shaped error body (go-openai's
// ErrorResponse), or "" when there is none or it is not a string: vLLM's is
// the HTTP status, a number. go-openai's APIError takes no error object
// without a message; the one code the runner looks for, evalpin serve's
// lockid.LockMismatchCode, always comes with one (docs/protocol.md).
func errorCode(body []byte) string {
	var r openai.ErrorResponse
	if json.Unmarshal(body, &r) != nil || r.Error == nil {
		return ""
	}
	code, _ := r.Error.Code.(string)
	return code
}
