// Package stubserver is a loopback OpenAI-compatible server for tests and
// benchmarks: it answers POST …/chat/completions and …/completions with an
// echo of the prompt after a configurable latency, so that what is measured
// is the client, not a model. It lists its one model at GET /v1/models and,
// given a lock, publishes it at GET /.well-known/evalpin-lock, so that
// "evalpin run" itself can be pointed at it.
package stubserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Config configures a stub server.
type Config struct {
	// Latency is how long each answer is held back (0: none).
	Latency time.Duration
	// Lock, if set, is sent in the Evalpin-Lock header of every answer.
	Lock string
	// Model is the model name answered (default "stub").
	Model string
	// Script, if set, answers each prompt instead of Echo: Begin when the
	// request arrives, End when it is answered (a Planted model's Process).
	Script Script
}

// A Script decides the answers of a stub server. The prompts of a packed
// request all Begin before any End, as an engine batches them together.
type Script interface {
	Begin(prompt string) string
	End(prompt string)
}

// A Server is an http.Handler that answers completion requests.
type Server struct {
	cfg      Config
	requests atomic.Int64
	created  int64
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	if cfg.Model == "" {
		cfg.Model = "stub"
	}
	return &Server{cfg: cfg, created: time.Now().Unix()}
}

// Requests returns the number of completion requests answered so far.
func (s *Server) Requests() int64 { return s.requests.Load() }

type request struct {
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Prompt    json.RawMessage `json:"prompt"`
	MaxTokens int             `json:"max_tokens"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type chatResponse struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []chatChoice `json:"choices"`
	Usage             usage        `json:"usage"`
}

type chatChoice struct {
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
	FinishReason string      `json:"finish_reason"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type completionResponse struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             usage              `json:"usage"`
}

type completionChoice struct {
	Index        int    `json:"index"`
	Text         string `json:"text"`
	FinishReason string `json:"finish_reason"`
}

// Echo is the output the stub answers for a prompt: "echo: " and the prompt.
func Echo(prompt string) string { return "echo: " + prompt }

// ServeHTTP answers POST requests whose path ends in /chat/completions or
// /completions, GET /v1/models, and GET /.well-known/evalpin-lock when the
// Config has a lock; anything else is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		s.serveGet(w, r)
		return
	}
	chat := strings.HasSuffix(r.URL.Path, "/chat/completions")
	if r.Method != http.MethodPost || (!chat && !strings.HasSuffix(r.URL.Path, "/completions")) {
		http.NotFound(w, r)
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"object":"error","message":"invalid JSON body","code":400}`))
		return
	}
	// The prompts, and their answers, are taken before the latency: a
	// Script sees the request in flight for as long as it is held.
	var prompts []string
	if chat {
		last := ""
		if len(req.Messages) > 0 {
			last = req.Messages[len(req.Messages)-1].Content
		}
		prompts = []string{last}
	} else {
		var one string
		if json.Unmarshal(req.Prompt, &one) == nil {
			prompts = []string{one}
		} else if json.Unmarshal(req.Prompt, &prompts) != nil || len(prompts) == 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"object":"error","message":"prompt must be a string or a list of strings","code":400}`))
			return
		}
	}
	outs := make([]string, len(prompts))
	for i, p := range prompts {
		outs[i] = s.answer(p)
	}
	if s.cfg.Script != nil {
		defer func() {
			for _, p := range prompts {
				s.cfg.Script.End(p)
			}
		}()
	}
	if s.cfg.Latency > 0 {
		t := time.NewTimer(s.cfg.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	n := s.requests.Add(1)
	id := "cmpl-" + strconv.FormatInt(n, 10)
	var body any
	if chat {
		body = chatResponse{
			ID: id, Object: "chat.completion", Created: s.created, Model: s.cfg.Model, SystemFingerprint: "fp_stub",
			Choices: []chatChoice{{Message: chatMessage{Role: "assistant", Content: outs[0]}, FinishReason: "stop"}},
			Usage:   tokens(prompts[0], outs[0]),
		}
	} else {
		resp := completionResponse{ID: id, Object: "text_completion", Created: s.created, Model: s.cfg.Model, SystemFingerprint: "fp_stub"}
		for i, p := range prompts {
			resp.Choices = append(resp.Choices, completionChoice{Index: i, Text: outs[i], FinishReason: "stop"})
			u := tokens(p, outs[i])
			resp.Usage.PromptTokens += u.PromptTokens
			resp.Usage.CompletionTokens += u.CompletionTokens
			resp.Usage.TotalTokens += u.TotalTokens
		}
		body = resp
	}
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if s.cfg.Lock != "" {
		h.Set("Evalpin-Lock", s.cfg.Lock)
	}
	w.Write(b)
}

// answer is the output for prompt: the Script's, else Echo.
func (s *Server) answer(prompt string) string {
	if s.cfg.Script != nil {
		return s.cfg.Script.Begin(prompt)
	}
	return Echo(prompt)
}

// serveGet answers the model list and the lock document.
func (s *Server) serveGet(w http.ResponseWriter, r *http.Request) {
	var body any
	switch {
	case r.URL.Path == "/v1/models":
		type model struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		}
		body = struct {
			Object string  `json:"object"`
			Data   []model `json:"data"`
		}{"list", []model{{s.cfg.Model, "model", s.created, "stub"}}}
	case r.URL.Path == "/.well-known/evalpin-lock" && s.cfg.Lock != "":
		body = map[string]string{"lock": s.cfg.Lock}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// tokens counts words as tokens, which is all a stub needs.
func tokens(prompt, out string) usage {
	p, c := len(strings.Fields(prompt)), len(strings.Fields(out))
	return usage{PromptTokens: p, CompletionTokens: c, TotalTokens: p + c}
}
