package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/testbed"
)

// "evalpin probe" on the real Ollama test bed: it reports Ollama's native
// lock, strong, with the engine's version as evidence; a model that differs
// only in its template has another lock, and --expect-lock of the first
// refuses it with exit 3 and a hint.
func TestProbeOllamaEndToEnd(t *testing.T) {
	ol := testbed.Ollama(t)
	ol.Create(t, "tiny-chat", testbed.Generate(t, testbed.ModelOptions{Template: "chat"}))
	ol.Create(t, "tiny-compact", testbed.Generate(t, testbed.ModelOptions{Template: "compact"}))
	ctx := context.Background()

	probe := func(model string) endpoint.ProbeResult {
		t.Helper()
		code, stdout, stderr := runCmd(ctx, "probe", "--format", "json", "--model", model, ol.BaseURL())
		if code != fault.ExitOK {
			t.Fatalf("probe %s: exit %d\n%s\nserver log:\n%s", model, code, stderr, ol.Log())
		}
		var out endpoint.ProbeResult
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("probe %s: %v\n%s", model, err, stdout)
		}
		if out.Source != endpoint.SourceOllama || out.Strength != endpoint.StrengthStrong || !lockid.Valid(string(out.Lock)) ||
			!strings.HasPrefix(string(out.Lock), lockid.OllamaPrefix) {
			t.Fatalf("probe %s: lock %q from %s (%s), want Ollama's strong derived lock", model, out.Lock, out.Source, out.Strength)
		}
		var engine string
		for _, e := range out.Endpoints[0].Evidence {
			if e.Name == "engine" {
				engine = e.Value
			}
		}
		if !strings.HasPrefix(engine, "ollama ") || engine == "ollama 0.0.0" {
			t.Errorf("probe %s: engine evidence %q, want Ollama's version", model, engine)
		}
		return out
	}
	chat, compact := probe("tiny-chat"), probe("tiny-compact")
	if chat.Lock == compact.Lock {
		t.Fatalf("models differing only in template share lock %s", chat.Lock)
	}
	if again := probe("tiny-chat"); again.Lock != chat.Lock {
		t.Fatalf("lock of one model changed between probes: %s, then %s", chat.Lock, again.Lock)
	}

	code, stdout, stderr := runCmd(ctx, "probe", "--model", "tiny-compact", "--expect-lock", string(chat.Lock), ol.BaseURL())
	if code != fault.ExitLockRefused || !strings.Contains(stderr, "not the expected "+string(chat.Lock)) || !strings.Contains(stderr, "Try: ") {
		t.Fatalf("--expect-lock of the chat model on the compact one: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, string(compact.Lock)+"  [ollama, strong]") {
		t.Errorf("the refused probe does not show what the endpoint serves:\n%s", stdout)
	}
}
