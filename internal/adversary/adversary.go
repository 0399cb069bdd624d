// Package adversary is a scriptable OpenAI-compatible server for evalpin's
// tests: it serves a lock on the channels its Config names (the well-known
// document, the Evalpin-Lock header, system_fingerprint, a served model name)
// and misbehaves on a plan — after N completions it swaps the lock on one
// channel, drops a channel, echoes the request's Authorization header,
// redirects to another host, refuses credentials, answers an error or cuts
// its body — so that tests can try to break evalpin's guarantees end to end,
// through the CLI, with exact counts.
//
// Every request it answers is logged as an Event with a sequence number, so
// that a test can tell which completions a lock check came after. Hooks run
// before a completion is answered, which lets a test trigger a change after
// exactly N responses instead of after a sleep.
package adversary

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The channels a lock can travel on (docs/protocol.md §3).
type Channels struct {
	WellKnown   bool // GET /.well-known/evalpin-lock names the lock
	Header      bool // every response carries Evalpin-Lock
	Fingerprint bool // completions carry the lock in system_fingerprint
	ModelName   bool // the model is served as Model@<lock>
}

// Config is the server's initial behaviour. The zero value serves model
// "adv" with no lock at all.
type Config struct {
	Lock     string   // the lock on every channel of Channels
	Channels Channels // where the lock travels
	Model    string   // the served model's name (default "adv")
	// WellKnownModel and Generation, when set, go into the well-known
	// document as evalpin serve writes them.
	WellKnownModel, Generation string
	// Answer returns the output for a prompt; nil echoes it ("echo: " +
	// prompt).
	Answer func(prompt string) string
	// Latency holds each completion back this long.
	Latency time.Duration
	// Counted reports whether a completion of prompt counts: only counted
	// completions are numbered, run hooks and follow rules; the others (a
	// lock probe's) are answered as the server stands. Nil counts all.
	Counted func(prompt string) bool
}

// An Action changes how completions (and, for lock changes, every channel)
// are answered from the completion it first applies to.
type Action struct {
	// SetLock, when not nil, replaces the lock on the channels it names with
	// Lock ("" withdraws it from them).
	SetLock *LockChange
	// Drop leaves the named channels out of completions (the header,
	// system_fingerprint; the model field when Channels.ModelName).
	Drop Channels
	// DropModel leaves the model field out of completions.
	DropModel bool
	// EchoAuth puts the request's Authorization header in the output and
	// in error messages.
	EchoAuth bool
	// Status, when not 0, answers completions with this status and Body,
	// with the lock header when the header channel is on.
	Status int
	Body   string
	// NullContent answers a completion whose content is null.
	NullContent bool
	// CutBody answers 200 and breaks the body off mid-way.
	CutBody bool
	// Redirect, when set, answers every request with 307 to this origin
	// plus the request's path.
	Redirect string
}

// A LockChange is a lock swapped in on some channels.
type LockChange struct {
	Lock     string
	Channels Channels
}

// A Rule applies an Action to completions After+1 … Until (1-based; Until 0
// means for good), and only to those whose prompt contains Match when it is
// set. Later rules override earlier ones field by field.
type Rule struct {
	After, Until int64
	Match        string
	Action       Action
}

// An Event is one request the server answered, in order.
type Event struct {
	Seq    int64  // 1, 2, … over all requests
	Route  string // "METHOD /path"
	N      int64  // for completions: the completion's number (1-based)
	Prompt string // for completions
	Status int    // the status answered
}

// A Server is the adversarial server; it is an http.Handler.
type Server struct {
	mu          sync.Mutex
	cfg         Config
	rules       []Rule
	hooks       []func(n int64) // before completion n is answered
	seq         int64
	completions int64
	events      []Event
	lock        map[string]string // channel name → current lock
	authSeen    []string          // Authorization headers received, in order
	cond        *sync.Cond        // signalled on every event
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	if cfg.Model == "" {
		cfg.Model = "adv"
	}
	s := &Server{cfg: cfg, lock: map[string]string{}}
	s.cond = sync.NewCond(&s.mu)
	for _, ch := range channelNames(cfg.Channels) {
		s.lock[ch] = cfg.Lock
	}
	return s
}

// channelNames lists the channels set in c.
func channelNames(c Channels) []string {
	var names []string
	if c.WellKnown {
		names = append(names, "well-known")
	}
	if c.Header {
		names = append(names, "header")
	}
	if c.Fingerprint {
		names = append(names, "fingerprint")
	}
	if c.ModelName {
		names = append(names, "model-name")
	}
	return names
}

// Plan adds rules.
func (s *Server) Plan(rules ...Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, rules...)
}

// ClearPlan removes every rule and hook: the server answers as it stands.
func (s *Server) ClearPlan() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules, s.hooks = nil, nil
}

// OnCompletion adds a hook called before completion n is answered (n is
// 1-based), outside the server's lock: it may block, change the server or
// wait for events.
func (s *Server) OnCompletion(hook func(n int64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, hook)
}

// SetLock swaps lock in on the channels named, at once.
func (s *Server) SetLock(lock string, on Channels) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range channelNames(on) {
		s.lock[ch] = lock
	}
}

// SetGeneration changes the well-known document's generation.
func (s *Server) SetGeneration(g string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Generation = g
}

// Events returns the requests answered so far.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Completions returns how many completions were answered.
func (s *Server) Completions() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.completions
}

// AuthSeen returns the Authorization headers of the requests received.
func (s *Server) AuthSeen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.authSeen...)
}

// WaitFor blocks until an event satisfies cond or timeout passes, and
// reports whether one did. Tests use it in hooks to wait for a lock check.
func (s *Server) WaitFor(timeout time.Duration, cond func(e Event, all []Event) bool) bool {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for _, e := range s.events {
			if cond(e, s.events) {
				return true
			}
		}
		if !time.Now().Before(deadline) {
			return false
		}
		s.cond.Wait()
	}
}

// CheckAfter reports whether a request of route was answered after
// completion n was: a lock check that started after the n-th result arrived.
func CheckAfter(route string, n int64) func(e Event, all []Event) bool {
	return func(e Event, all []Event) bool {
		if e.Route != route {
			return false
		}
		for _, c := range all {
			if c.N == n && c.Route == routeChat {
				return e.Seq > c.Seq
			}
		}
		return false
	}
}

// The routes the server answers.
const (
	routeChat       = "POST /v1/chat/completions"
	routeCompletion = "POST /v1/completions"
	// RouteWellKnown is the well-known document's route, for CheckAfter.
	RouteWellKnown = "GET /.well-known/evalpin-lock"
	routeModels    = "GET /v1/models"
)

// RouteChat is the chat completions route, for events.
const RouteChat = routeChat

// record logs an event; s.mu is held.
func (s *Server) record(e Event) {
	s.seq++
	e.Seq = s.seq
	s.events = append(s.events, e)
	s.cond.Broadcast()
}

// action returns the combined action for completion n of prompt; s.mu is
// held. Uncounted completions (n 0) follow no rule.
func (s *Server) action(n int64, prompt string) Action {
	var a Action
	for _, r := range s.rules {
		if n == 0 || n <= r.After || (r.Until > 0 && n > r.Until) || !strings.Contains(prompt, r.Match) {
			continue
		}
		x := r.Action
		if x.SetLock != nil {
			a.SetLock = x.SetLock
		}
		a.Drop.Header = a.Drop.Header || x.Drop.Header
		a.Drop.Fingerprint = a.Drop.Fingerprint || x.Drop.Fingerprint
		a.Drop.ModelName = a.Drop.ModelName || x.Drop.ModelName
		a.DropModel = a.DropModel || x.DropModel
		a.EchoAuth = a.EchoAuth || x.EchoAuth
		a.NullContent = a.NullContent || x.NullContent
		a.CutBody = a.CutBody || x.CutBody
		if x.Status != 0 {
			a.Status, a.Body = x.Status, x.Body
		}
		if x.Redirect != "" {
			a.Redirect = x.Redirect
		}
	}
	return a
}

// servedModel is the model name the server lists; s.mu is held.
func (s *Server) servedModel() string {
	if s.cfg.Channels.ModelName && s.lock["model-name"] != "" {
		return s.cfg.Model + "@" + s.lock["model-name"]
	}
	return s.cfg.Model
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	s.mu.Lock()
	s.authSeen = append(s.authSeen, r.Header.Get("Authorization"))
	// A redirect planned for good applies to every request.
	if a := s.action(s.completions+1, ""); a.Redirect != "" {
		s.record(Event{Route: route, Status: http.StatusTemporaryRedirect})
		s.mu.Unlock()
		http.Redirect(w, r, a.Redirect+r.URL.Path, http.StatusTemporaryRedirect)
		return
	}
	if lock := s.lock["header"]; lock != "" {
		w.Header().Set("Evalpin-Lock", lock)
	}
	w.Header().Set("Content-Type", "application/json")
	switch route {
	case RouteWellKnown:
		lock := s.lock["well-known"]
		if lock == "" {
			s.record(Event{Route: route, Status: 404})
			s.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		doc := map[string]any{"lock": lock}
		if s.cfg.WellKnownModel != "" {
			doc["model"] = s.cfg.WellKnownModel
		}
		if s.cfg.Generation != "" {
			doc["generation"] = s.cfg.Generation
		}
		s.record(Event{Route: route, Status: 200})
		s.mu.Unlock()
		json.NewEncoder(w).Encode(doc)
	case routeModels:
		m := s.servedModel()
		s.record(Event{Route: route, Status: 200})
		s.mu.Unlock()
		fmt.Fprintf(w, `{"object":"list","data":[{"id":%q,"object":"model"}]}`, m)
	case routeChat, routeCompletion:
		s.mu.Unlock()
		s.complete(w, r, route)
	default:
		s.record(Event{Route: route, Status: 404})
		s.mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"message":"no route %s"}}`, route)
	}
}

// complete answers a completion request.
func (s *Server) complete(w http.ResponseWriter, r *http.Request, route string) {
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
		Prompt string `json:"prompt"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"invalid JSON body"}}`)
		return
	}
	prompt := req.Prompt
	if len(req.Messages) > 0 {
		prompt = req.Messages[len(req.Messages)-1].Content
	}
	s.mu.Lock()
	var n int64
	var hooks []func(int64)
	if s.cfg.Counted == nil || s.cfg.Counted(prompt) {
		s.completions++
		n = s.completions
		hooks = append(hooks, s.hooks...)
	}
	s.mu.Unlock()
	for _, h := range hooks {
		h(n)
	}
	if s.cfg.Latency > 0 {
		select {
		case <-time.After(s.cfg.Latency):
		case <-r.Context().Done():
			return
		}
	}

	s.mu.Lock()
	a := s.action(n, prompt)
	if a.SetLock != nil {
		for _, ch := range channelNames(a.SetLock.Channels) {
			s.lock[ch] = a.SetLock.Lock
		}
	}
	header, fingerprint := s.lock["header"], ""
	if s.cfg.Channels.Fingerprint {
		fingerprint = s.lock["fingerprint"]
	}
	model := req.Model
	if s.cfg.Channels.ModelName {
		model = s.servedModel()
	}
	answer := s.cfg.Answer
	auth := r.Header.Get("Authorization")
	status := 200
	if a.Status != 0 {
		status = a.Status
	}
	s.record(Event{Route: route, N: n, Prompt: prompt, Status: status})
	s.mu.Unlock()

	if a.Drop.Header || header == "" {
		w.Header().Del("Evalpin-Lock")
	} else {
		w.Header().Set("Evalpin-Lock", header)
	}
	if a.Drop.Fingerprint {
		fingerprint = ""
	}
	if a.Drop.ModelName || a.DropModel {
		model = ""
	}
	if a.Status != 0 {
		body := a.Body
		if a.EchoAuth {
			body = fmt.Sprintf(`{"error":{"message":"invalid credentials: %s"}}`, jsonText(auth))
		}
		w.WriteHeader(a.Status)
		fmt.Fprint(w, body)
		return
	}
	out := "echo: " + prompt
	if answer != nil {
		out = answer(prompt)
	}
	if a.EchoAuth {
		out += " (you sent " + auth + ")"
	}
	var content any = out
	if a.NullContent {
		content = nil
	}
	resp := map[string]any{"id": fmt.Sprint("c", n), "object": "chat.completion", "created": 0}
	if model != "" {
		resp["model"] = model
	}
	if fingerprint != "" {
		resp["system_fingerprint"] = fingerprint
	}
	if route == routeChat {
		resp["choices"] = []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": content}}}
	} else {
		resp["object"] = "text_completion"
		resp["choices"] = []any{map[string]any{"index": 0, "finish_reason": "stop", "text": content}}
	}
	resp["usage"] = map[string]int{"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
	body, _ := json.Marshal(resp)
	if a.CutBody {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(200)
		w.Write(body[:len(body)/2])
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	w.Write(body)
}

// jsonText escapes s for a JSON string without its quotes.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}
