package serve

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
)

// newChecked returns a sidecar for engine e with cfg, not yet checked.
func newChecked(t *testing.T, e *fakeEngine, cfg Config) *Server {
	t.Helper()
	u, _ := url.Parse(e.URL())
	cfg.Upstream = u
	if cfg.Lock == "" {
		cfg.Lock = testLock
	}
	if cfg.Check == nil {
		cfg.Check = func(context.Context) error { return nil }
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The sidecar refuses to start when what Ollama reports for the model is
// not what the lock says, naming the difference.
func TestOllamaCheckAtStart(t *testing.T) {
	tests := []struct {
		name   string
		show   func(*fakeShow)     // changes what Ollama reports
		expect func(*OllamaExpect) // changes what the lock says
		err    string              // part of the refusal; "" passes
	}{
		{name: "the locked deliverable"},
		{name: "parameters in another order, padded, values in other spellings",
			show: func(s *fakeShow) {
				s.parameters = "temperature 0.7\n   stop \"<|end|>\"  \nstop \"<|user|>\"\nnum_ctx 4096\n"
			}},
		{name: "another weights blob", show: func(s *fakeShow) { s.blobs = []string{otherBlob} },
			err: "its weights are sha256:bbbbbbbbbbbb…, the locked Modelfile's FROM files are sha256:aaaaaaaaaaaa…"},
		{name: "a projector more", show: func(s *fakeShow) { s.blobs = append(s.blobs, otherBlob) },
			err: "its weights are sha256:aaaaaaaaaaaa…, sha256:bbbbbbbbbbbb…, the locked Modelfile's FROM files are sha256:aaaaaaaaaaaa…"},
		{name: "an adapter more", show: func(s *fakeShow) { s.adapters = []string{otherBlob} },
			err: "its adapters are sha256:bbbbbbbbbbbb…, the locked Modelfile's ADAPTER files are (none)"},
		{name: "another template", show: func(s *fakeShow) { s.template = "{{ .System }}{{ .Prompt }}" },
			err: "its template (sha256 "},
		{name: "another system prompt", show: func(s *fakeShow) { s.system = "Be brief." },
			err: `its system prompt "Be brief." is not the locked Modelfile's (none)`},
		{name: "another parameter value", show: func(s *fakeShow) { s.parameters = strings.Replace(s.parameters, "0.7", "0.2", 1) },
			err: `its parameter temperature is "0.2", the locked Modelfile's is "0.70"`},
		{name: "a parameter more", show: func(s *fakeShow) { s.parameters += "\nseed 42" },
			err: `its parameter seed is "42", the locked Modelfile's is unset`},
		{name: "a parameter less", show: func(s *fakeShow) {
			s.parameters = strings.Replace(s.parameters, "num_ctx                        4096\n", "", 1)
		},
			err: `its parameter num_ctx is unset, the locked Modelfile's is "4096"`},
		{name: "stop sequences in another order", show: func(s *fakeShow) {
			s.parameters = "stop \"<|user|>\"\nstop \"<|end|>\"\nnum_ctx 4096\ntemperature 0.7"
		}, err: `its parameter stop is "<|user|>" "<|end|>", the locked Modelfile's is "<|end|>" "<|user|>"`},
		{name: "a parameter Ollama ignores", expect: func(x *OllamaExpect) {
			x.Parameters = append(x.Parameters, ollama.Parameter{Name: "penalize_newline", Value: "true"})
		}},
		{name: "a parameter Ollama ignores, reported with another value", show: func(s *fakeShow) { s.parameters += "\nmirostat 1" },
			expect: func(x *OllamaExpect) {
				x.Parameters = append(x.Parameters, ollama.Parameter{Name: "mirostat", Value: "2"})
			},
			err: `its parameter mirostat is "1", the locked Modelfile's is "2"`},
		{name: "another engine version", expect: func(x *OllamaExpect) { x.EngineVersion = "0.12.6" },
			err: `Ollama is version "0.17.4", the lock's engine_version is 0.12.6`},
		{name: "the locked engine version", expect: func(x *OllamaExpect) { x.EngineVersion = "v0.17.4" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := twoOllama(t)
			if tt.show != nil {
				e.set("tiny:latest", func(m *fakeModel) { tt.show(&m.show) })
			}
			want := tinyExpect()
			if tt.expect != nil {
				tt.expect(want)
			}
			s := newChecked(t, e, Config{Model: "tiny", Ollama: func() (*OllamaExpect, error) { return want, nil }})
			err := s.Check(context.Background())
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMismatch) || fault.KindOf(err) != fault.LockRefused || fault.HintOf(err) == "" {
				t.Fatalf("Check: err = %v, want a refusal wrapping ErrMismatch with a hint", err)
			}
			if !strings.Contains(err.Error(), "the engine does not serve lock "+testLock+" as model tiny:latest: ") || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %q, want it to name the model and say %q", err, tt.err)
			}
			if ok, reason := s.Claiming(); ok || reason != err.Error() {
				t.Errorf("Claiming = %v, %q", ok, reason)
			}
		})
	}
}

// A lock that cannot say what Ollama must load refuses an Ollama engine.
func TestOllamaWithoutExpectation(t *testing.T) {
	for _, cfg := range []Config{
		{Model: "tiny"},
		{Model: "tiny", Ollama: func() (*OllamaExpect, error) { return nil, errors.New("the lock has no Ollama Modelfile") }},
	} {
		s := newChecked(t, twoOllama(t), cfg)
		err := s.Check(context.Background())
		if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "cannot be held against what Ollama serves as tiny:latest: ") {
			t.Errorf("Check: %v", err)
		}
	}
}

// Changes under a running sidecar: each drops the claim for good at the
// next check; an engine that does not answer a check changes nothing.
func TestOllamaRecheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(*fakeEngine)
		err    string // part of the reason; "" keeps the claim
	}{
		{name: "nothing changed", change: func(*fakeEngine) {}},
		{name: "re-created with the same content", change: func(e *fakeEngine) {
			e.set("tiny:latest", func(m *fakeModel) { m.show.modifiedAt = "2026-02-01T00:00:00Z" })
		}, err: `it was re-created (modified_at "2026-02-01T00:00:00Z", was 2026-01-02T03:04:05.123456789Z)`},
		{name: "re-created with another template", change: func(e *fakeEngine) {
			e.set("tiny:latest", func(m *fakeModel) { m.show.template, m.show.modifiedAt = "x", "2026-02-01T00:00:00Z" })
		}, err: "its template (sha256 "},
		{name: "re-created with other weights", change: func(e *fakeEngine) {
			e.set("tiny:latest", func(m *fakeModel) { m.show.blobs = []string{otherBlob} })
		}, err: "its weights are sha256:bbbbbbbbbbbb…"},
		{name: "deleted", change: func(e *fakeEngine) {
			e.mu.Lock()
			e.models = e.models[:1]
			e.mu.Unlock()
		}, err: "Ollama has no such model (POST /api/show: 404)"},
		{name: "upgraded", change: func(e *fakeEngine) {
			e.mu.Lock()
			e.version = "0.18.0"
			e.mu.Unlock()
		}, err: `Ollama's version is now "0.18.0", was "0.17.4"`},
		{name: "busy", change: func(e *fakeEngine) {
			e.mu.Lock()
			e.showDown = true
			e.mu.Unlock()
		}},
		{name: "down", change: func(e *fakeEngine) {
			e.mu.Lock()
			e.down = 100
			e.mu.Unlock()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := twoOllama(t)
			var logs []string
			cfg := ollamaConfig(t, "tiny")
			cfg.Logf = func(f string, args ...any) { logs = append(logs, f) }
			base, s := sidecar(t, e.URL(), cfg)
			if resp, _ := (request{"POST", "/api/generate", `{"model":"tiny"}`, nil}).send(t, base); resp.StatusCode != 200 {
				t.Fatalf("before the change: %d", resp.StatusCode)
			}
			tt.change(e)
			err := s.Check(context.Background())
			resp, body := request{"POST", "/api/generate", `{"model":"tiny"}`, nil}.send(t, base)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if ok, _ := s.Claiming(); !ok {
					t.Fatal("no longer claiming")
				}
				return
			}
			if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "the engine no longer serves lock "+testLock+" as model tiny:latest: "+tt.err) {
				t.Fatalf("Check: err = %v, want the reason %q", err, tt.err)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(lockid.Header) != "" || errorCode(t, body) != "evalpin_lock_mismatch" ||
				!strings.Contains(string(body), "this server no longer claims its lock: the engine no longer serves lock") {
				t.Errorf("after the change: %d %s with %s %q", resp.StatusCode, body, lockid.Header, resp.Header.Get(lockid.Header))
			}
			if !strings.Contains(strings.Join(logs, "\n"), "stopped claiming") {
				t.Errorf("logs %q lack the drop", logs)
			}
			// Putting it back does not bring the claim back.
			e.mu.Lock()
			e.models, e.version, e.showDown, e.down = twoOllama(t).models, "0.17.4", false, 0
			e.mu.Unlock()
			if err := s.Check(context.Background()); !errors.Is(err, ErrMismatch) {
				t.Errorf("after restoring: Check = %v, want the refusal to stick", err)
			}
		})
	}
}

// A model changed mid-serve is caught by the re-check loop within its
// interval, without anyone calling Check.
func TestOllamaRecreatedMidServe(t *testing.T) {
	e := twoOllama(t)
	cfg := ollamaConfig(t, "tiny")
	const recheck = 20 * time.Millisecond
	cfg.Recheck = recheck
	base, s := sidecar(t, e.URL(), cfg)
	e.set("tiny:latest", func(m *fakeModel) { m.show.modifiedAt = "2026-03-01T00:00:00Z" })
	deadline := time.Now().Add(100 * recheck)
	for ok, _ := s.Claiming(); ok; ok, _ = s.Claiming() {
		if time.Now().After(deadline) {
			t.Fatalf("still claiming %v after the model was re-created", 100*recheck)
		}
		time.Sleep(recheck / 4)
	}
	resp, body := get(t, base+lockid.WellKnownPath)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "it was re-created") {
		t.Errorf("well-known after the change: %d %s", resp.StatusCode, body)
	}
}

// The root a vLLM-like engine lists for the model: the model directory
// passes, another directory on this host refuses, and a path elsewhere or a
// repository id is evidence only; a root that moves drops the claim.
func TestOpenAIRoot(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	gguf := filepath.Join(dir, "model.gguf")
	if err := os.WriteFile(gguf, []byte("GGUF"), 0o644); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(other, "model.gguf")
	if err := os.WriteFile(stray, []byte("GGUF"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		root    *string
		check   string // Upstream.RootCheck
		checked bool   // "root" in Upstream.Checked
		err     string
	}{
		{name: "the model directory", root: strp(dir), check: RootModelDir, checked: true},
		{name: "the model directory through a link", root: strp(link), check: RootModelDir, checked: true},
		{name: "a GGUF file in the model directory", root: strp(gguf), check: RootModelDir, checked: true},
		{name: "another directory", root: strp(other), err: "its root \"" + other + "\" is not the model directory " + dir},
		{name: "a GGUF file elsewhere", root: strp(stray), err: "its root \"" + stray + "\" is not the model directory " + dir},
		{name: "a path in a container", root: strp("/models/qwen-in-container"), check: RootNotOnHost},
		{name: "a repository id", root: strp("Qwen/Qwen2.5-0.5B"), check: RootNotAPath},
		{name: "no root", root: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEngine(t, false, fakeModel{id: "qwen", root: tt.root}, fakeModel{id: "lora", root: strp(other), parent: strp("qwen")})
			s := newChecked(t, e, Config{Model: "qwen", ModelDir: dir})
			err := s.Check(context.Background())
			if tt.err != "" {
				if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Check: err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			up := s.state.Load().upstream
			if up.RootCheck != tt.check || (len(up.Checked) == 1) != tt.checked || up.Engine != EngineOpenAI {
				t.Errorf("upstream = %+v, want root check %q, root checked %v", up, tt.check, tt.checked)
			}

			// The root moves under the running sidecar.
			e.set("qwen", func(m *fakeModel) { m.root = strp("/models/elsewhere") })
			if err := s.Check(context.Background()); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), `its root is now "/models/elsewhere"`) {
				t.Errorf("after the root moved: Check = %v", err)
			}
		})
	}
}

// The well-known document names the model, the generation and what the
// engine said; /healthz names the model; a new sidecar has a new
// generation.
func TestWellKnownDocument(t *testing.T) {
	e := twoOllama(t)
	var gens []string
	for range 2 {
		cfg := ollamaConfig(t, "tiny")
		cfg.Manifest = json.RawMessage(`{"version":1}`)
		base, _ := sidecar(t, e.URL(), cfg)
		resp, body := get(t, base+lockid.WellKnownPath)
		var doc struct {
			Lock       string          `json:"lock"`
			Manifest   json.RawMessage `json:"manifest"`
			Model      string          `json:"model"`
			Generation string          `json:"generation"`
			Upstream   Upstream        `json:"upstream"`
			VerifiedAt time.Time       `json:"verified_at"`
			RecheckMS  int64           `json:"recheck_ms"`
		}
		if err := json.Unmarshal(body, &doc); err != nil || resp.StatusCode != 200 || resp.Header.Get(lockid.Header) != testLock {
			t.Fatalf("well-known: %d %s %v", resp.StatusCode, body, err)
		}
		if doc.Lock != testLock || string(doc.Manifest) != `{"version":1}` || doc.Model != "tiny:latest" ||
			!regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(doc.Generation) || doc.VerifiedAt.IsZero() || doc.RecheckMS != time.Hour.Milliseconds() {
			t.Errorf("well-known = %s", body)
		}
		up := doc.Upstream
		if up.Engine != EngineOllama || up.Version != "0.17.4" || len(up.Blobs) != 1 || up.Blobs[0] != "sha256:"+tinyBlob ||
			up.ModifiedAt != "2026-01-02T03:04:05.123456789Z" || up.TemplateSHA256 != sha256Hex("{{ .Prompt }}") ||
			strings.Join(up.Parameters, ",") != "num_ctx 4096,stop <|end|>,stop <|user|>,temperature 0.7" ||
			!strings.Contains(strings.Join(up.Checked, ","), "weights,adapters,template") {
			t.Errorf("upstream = %+v", up)
		}
		gens = append(gens, doc.Generation)
		_, body = get(t, base+HealthPath)
		var h map[string]string
		if json.Unmarshal(body, &h) != nil || h["model"] != "tiny:latest" || h["lock"] != testLock || h["status"] != "ok" {
			t.Errorf("healthz = %s", body)
		}
	}
	if gens[0] == gens[1] {
		t.Errorf("two sidecars share the generation %s", gens[0])
	}
}

// At start the sidecar waits for an engine that is not up yet, up to
// UpstreamWait, and then gives up with an input error.
func TestUpstreamWait(t *testing.T) {
	tests := []struct {
		name string
		down int           // requests answered 503 first
		wait time.Duration // Config.UpstreamWait
		ok   bool
	}{
		{name: "up after a while", down: 3, wait: 30 * time.Second, ok: true},
		{name: "not up in time", down: 1 << 30, wait: 300 * time.Millisecond},
		{name: "asked once", down: 1, wait: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := twoOllama(t)
			e.down = tt.down
			var logs []string
			s := newChecked(t, e, Config{Model: "tiny", UpstreamWait: tt.wait, Ollama: func() (*OllamaExpect, error) { return tinyExpect(), nil },
				Logf: func(f string, args ...any) { logs = append(logs, f) }})
			start := time.Now()
			err := s.Check(context.Background())
			if tt.ok {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if !strings.Contains(strings.Join(logs, "\n"), "waiting up to") {
					t.Errorf("logs %q do not say it waits", logs)
				}
				return
			}
			if !errors.Is(err, ErrUpstreamDown) || fault.KindOf(err) != fault.Input || !strings.Contains(err.Error(), "did not answer") {
				t.Fatalf("Check: err = %v, want an input error wrapping ErrUpstreamDown", err)
			}
			if took := time.Since(start); took > max(tt.wait, 0)+5*time.Second {
				t.Errorf("gave up after %v, wait %v", took, tt.wait)
			}
			if ok, _ := s.Claiming(); ok {
				t.Error("claiming")
			}
		})
	}
}

// An engine that does not list its models is an input error.
func TestUpstreamListsNoModels(t *testing.T) {
	engine := httptest.NewServer(http.NotFoundHandler())
	defer engine.Close()
	u, _ := url.Parse(engine.URL)
	s, err := New(Config{Upstream: u, Lock: testLock, Check: func(context.Context) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); fault.KindOf(err) != fault.Input || !strings.Contains(err.Error(), "did not list the models it serves: GET /v1/models: 404") {
		t.Errorf("Check: %v", err)
	}
}
