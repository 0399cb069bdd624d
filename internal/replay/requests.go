package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// maxLine is the longest line an incident log may have: a request body with
// a long conversation, or a response with a long output.
const maxLine = 64 << 20

// maxProblems is how many malformed lines an error names.
const maxProblems = 10

// A Request is one recorded request of an incident log: its case id (the
// Batch line's custom_id, else "line-N"), its prompt and the settings it was
// sent with, each nil where the body did not say.
type Request struct {
	Line     int // 1-based, in its file
	ID       string
	Messages []eval.Message // chat form
	Prompt   *string        // raw form (/v1/completions)
	Params   Params
}

// Params are the settings of a recorded request that a replay reproduces;
// a nil field was not in the body.
type Params struct {
	Temperature      *float64 `json:"temperature"`
	TopP             *float64 `json:"top_p"`
	MaxTokens        *int     `json:"max_tokens"`
	Seed             *int64   `json:"seed"`
	Stop             []string `json:"stop"`
	PresencePenalty  *float64 `json:"presence_penalty"`
	FrequencyPenalty *float64 `json:"frequency_penalty"`
}

// A Recorded is one output then, from a Batch output file: the output, or
// the error of the request that failed.
type Recorded struct {
	Line   int
	Output string
	Error  string
}

// A LineError lists the malformed lines of an incident log, by line number.
type LineError struct {
	File     string
	Problems []string // "line N: what is wrong", at most maxProblems
	More     int
}

func (e *LineError) Error() string {
	var b strings.Builder
	n := len(e.Problems) + e.More
	fmt.Fprintf(&b, "%s: %d malformed line%s", untrusted.Line(e.File), n, plural(n))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n  … and %d more", e.More)
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// lines calls fn with each non-blank line of r and its 1-based number, and
// collects fn's problems into a *LineError for file.
func lines(file string, r io.Reader, fn func(n int, line []byte) error) error {
	e := &LineError{File: file}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\ufeff"))
		}
		if len(line) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			if len(e.Problems) == maxProblems {
				e.More++
				continue
			}
			e.Problems = append(e.Problems, fmt.Sprintf("line %d: %s", n, err))
		}
	}
	if err := sc.Err(); err != nil {
		return fault.Errorf(fault.Input, "", "read %s: line %d: %w", untrusted.Line(file), n+1, err)
	}
	if len(e.Problems) > 0 {
		return fault.Errorf(fault.Input, "", "%w", e)
	}
	return nil
}

// ErrNoRequests: an incident log holds no request.
var ErrNoRequests = errors.New("no requests")

// ParseRequests reads an incident log from r, named file: OpenAI Batch API
// input lines ({"custom_id", "method", "url", "body"}) or bare
// chat-completion request bodies, one a line, mixed as they come. A malformed
// line is named by its number (a *LineError); so is a custom_id given twice.
func ParseRequests(file string, r io.Reader) ([]Request, error) {
	var reqs []Request
	seen := map[string]int{}
	err := lines(file, r, func(n int, line []byte) error {
		req, err := parseRequest(n, line)
		if err != nil {
			return err
		}
		if first, ok := seen[req.ID]; ok {
			return fmt.Errorf("custom_id %q is also on line %d", untrusted.Clip(req.ID, 60), first)
		}
		seen[req.ID] = n
		reqs = append(reqs, req)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(reqs) == 0 {
		return nil, fault.Errorf(fault.Input, "", "%s: %w", untrusted.Line(file), ErrNoRequests)
	}
	return reqs, nil
}

// batchLine is a line of a Batch input file, or a bare body when it has
// none of these fields.
type batchLine struct {
	CustomID *string         `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// body is what a replay reads of a request body.
type body struct {
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Prompt              json.RawMessage `json:"prompt"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Stop                json.RawMessage `json:"stop"`
	Params
}

// parseRequest parses line n of an incident log.
func parseRequest(n int, line []byte) (Request, error) {
	var bl batchLine
	if err := json.Unmarshal(line, &bl); err != nil {
		return Request{}, fmt.Errorf("not a JSON object: %s", untrusted.Clip(err.Error(), 120))
	}
	req := Request{Line: n, ID: fmt.Sprintf("line-%d", n)}
	raw := json.RawMessage(line)
	if bl.CustomID != nil || bl.Body != nil {
		switch {
		case bl.CustomID == nil || *bl.CustomID == "":
			return Request{}, errors.New(`a Batch line needs a "custom_id"`)
		case strings.IndexFunc(*bl.CustomID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return Request{}, fmt.Errorf("custom_id %q contains white space, which a case id cannot", untrusted.Clip(*bl.CustomID, 60))
		case bl.Body == nil:
			return Request{}, errors.New(`a Batch line needs a "body"`)
		case bl.Method != "" && bl.Method != "POST":
			return Request{}, fmt.Errorf("method %q: only POST requests are replayed", untrusted.Clip(bl.Method, 20))
		case bl.URL != "" && !strings.HasSuffix(bl.URL, "/chat/completions") && !strings.HasSuffix(bl.URL, "/completions"):
			return Request{}, fmt.Errorf("url %q: only /v1/chat/completions and /v1/completions are replayed", untrusted.Clip(bl.URL, 60))
		}
		req.ID, raw = *bl.CustomID, bl.Body
	}
	var b body
	if err := json.Unmarshal(raw, &b); err != nil {
		return Request{}, fmt.Errorf("the request body: %s", untrusted.Clip(err.Error(), 120))
	}
	req.Params = b.Params
	if req.Params.MaxTokens == nil {
		req.Params.MaxTokens = b.MaxCompletionTokens
	}
	var err error
	if req.Params.Stop, err = stopList(b.Stop); err != nil {
		return Request{}, err
	}
	switch {
	case len(b.Messages) > 0 && b.Prompt != nil:
		return Request{}, errors.New(`the body has both "messages" and "prompt"`)
	case len(b.Messages) > 0:
		for i, m := range b.Messages {
			text, err := content(m.Content)
			if err != nil {
				return Request{}, fmt.Errorf("messages[%d]: %w", i, err)
			}
			if m.Role != "system" && m.Role != "user" && m.Role != "assistant" {
				return Request{}, fmt.Errorf("messages[%d]: role %q is not replayed (system, user or assistant)", i, untrusted.Clip(m.Role, 20))
			}
			req.Messages = append(req.Messages, eval.Message{Role: m.Role, Content: text})
		}
	case b.Prompt != nil:
		var p string
		if err := json.Unmarshal(b.Prompt, &p); err != nil {
			return Request{}, errors.New(`"prompt" must be one string`)
		}
		req.Prompt = &p
	default:
		return Request{}, errors.New(`the body has no "messages" (nor a "prompt")`)
	}
	return req, nil
}

// content reads a message's content: a string, or text parts.
func content(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("content must be a string or a list of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("a %q part is not replayed: text only", untrusted.Clip(p.Type, 20))
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// stopList reads "stop": absent, null, a string or a list of strings.
func stopList(raw json.RawMessage) ([]string, error) {
	if raw == nil || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New(`"stop" must be a string or a list of strings`)
	}
	return list, nil
}

// outputLine is a line of a Batch output file.
type outputLine struct {
	CustomID *string `json:"custom_id"`
	Response *struct {
		StatusCode int `json:"status_code"`
		Body       struct {
			Choices []struct {
				Message *struct {
					Content *string `json:"content"`
				} `json:"message"`
				Text *string `json:"text"`
			} `json:"choices"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		} `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// ParseOutputs reads a Batch output file from r, named file: custom_id →
// response.body.choices[0].message.content (or .text for a completion),
// the outputs then; a request that failed then is recorded with its error.
func ParseOutputs(file string, r io.Reader) (map[string]Recorded, error) {
	out := map[string]Recorded{}
	err := lines(file, r, func(n int, line []byte) error {
		var ol outputLine
		if err := json.Unmarshal(line, &ol); err != nil {
			return fmt.Errorf("not a JSON object: %s", untrusted.Clip(err.Error(), 120))
		}
		if ol.CustomID == nil || *ol.CustomID == "" {
			return errors.New(`a Batch output line needs a "custom_id"`)
		}
		id := *ol.CustomID
		if first, ok := out[id]; ok {
			return fmt.Errorf("custom_id %q is also on line %d", untrusted.Clip(id, 60), first.Line)
		}
		rec, err := recorded(ol)
		if err != nil {
			return err
		}
		rec.Line = n
		out[id] = rec
		return nil
	})
	return out, err
}

// recorded is the output then of a Batch output line.
func recorded(ol outputLine) (Recorded, error) {
	switch {
	case ol.Error != nil:
		return Recorded{Error: strings.TrimSpace(ol.Error.Code + " " + ol.Error.Message)}, nil
	case ol.Response == nil:
		return Recorded{}, errors.New(`the line has neither "response" nor "error"`)
	case ol.Response.Body.Error != nil:
		return Recorded{Error: fmt.Sprintf("status %d: %s", ol.Response.StatusCode, ol.Response.Body.Error.Message)}, nil
	case ol.Response.StatusCode != 0 && ol.Response.StatusCode != 200:
		return Recorded{Error: fmt.Sprintf("status %d", ol.Response.StatusCode)}, nil
	case len(ol.Response.Body.Choices) == 0:
		return Recorded{}, errors.New("the response has no choices")
	}
	c := ol.Response.Body.Choices[0]
	switch {
	case c.Message != nil && c.Message.Content != nil:
		return Recorded{Output: *c.Message.Content}, nil
	case c.Text != nil:
		return Recorded{Output: *c.Text}, nil
	}
	return Recorded{}, errors.New("choices[0] has no message content (nor text)")
}
