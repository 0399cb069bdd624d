package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
	"github.com/evalpin/evalpin/internal/testbed"
)

// chatOnce sends one greedy chat completion and returns what CheckResponse
// needs of the response.
func chatOnce(t *testing.T, baseURL, model string) (http.Header, string, string) {
	t.Helper()
	body, _ := json.Marshal(testbed.ChatRequest{Model: model, Messages: []testbed.ChatMessage{{Role: "user", Content: "hello"}}, MaxTokens: 4})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/chat/completions", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Model             string `json:"model"`
		SystemFingerprint string `json:"system_fingerprint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("chat: %s, %v", resp.Status, err)
	}
	return resp.Header, out.SystemFingerprint, out.Model
}

// On the real Ollama test bed: the derived lock is found, is the same on
// another server with another model store, changes when only the template
// does (and the identity documents say so), and --expect-lock refuses the
// other one; real responses pass the per-response check.
func TestOllamaEndToEnd(t *testing.T) {
	srv := testbed.Ollama(t)
	chat := testbed.Generate(t, testbed.ModelOptions{Template: "chat"})
	compact := testbed.Generate(t, testbed.ModelOptions{Template: "compact"})
	srv.Create(t, "tiny-chat", chat)
	srv.Create(t, "tiny-compact", compact)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	target, err := Resolve(ctx, nil, []string{srv.BaseURL()}, "tiny-chat", "")
	if err != nil {
		t.Fatalf("Resolve: %v\nserver log:\n%s", err, srv.Log())
	}
	if target.Claim.Source != SourceOllama || target.Claim.Strength != StrengthStrong || target.Lock.Kind() != lockid.Ollama {
		t.Fatalf("claim = %+v, want Ollama's derived lock", target.Claim)
	}
	chatLock := target.Lock

	other, err := Resolve(ctx, nil, []string{srv.BaseURL()}, "tiny-compact", "")
	if err != nil {
		t.Fatal(err)
	}
	if other.Lock == chatLock {
		t.Fatalf("models differing only in template share lock %s", chatLock)
	}
	// Each target carries the identity document its lock hashes; the two
	// documents differ in the template alone.
	chatID, err := ollama.ParseIdentity(chatLock, target.Document())
	if err != nil {
		t.Fatalf("the chat model's identity document: %v", err)
	}
	compactID, err := ollama.ParseIdentity(other.Lock, other.Document())
	if err != nil {
		t.Fatalf("the compact model's identity document: %v", err)
	}
	if got, want := ollama.Diff(chatID, compactID).Words(), "template changed; weights same; parameters same; engine same"; got != want {
		t.Errorf("ollama.Diff = %q, want %q", got, want)
	}
	_, err = Resolve(ctx, nil, []string{srv.BaseURL()}, "tiny-compact", chatLock)
	if !errors.Is(err, ErrWrongLock) {
		t.Fatalf("expecting the chat template's lock of the compact one: err = %v, want ErrWrongLock", err)
	}

	// Another server, another OLLAMA_MODELS and HOME: the same model has the
	// same lock.
	srv2 := testbed.Ollama(t)
	srv2.Create(t, "renamed:v1", chat)
	again, err := Resolve(ctx, nil, []string{srv2.BaseURL()}, "renamed:v1", chatLock)
	if err != nil {
		t.Fatalf("the same model on another server: %v", err)
	}
	if again.Lock != chatLock {
		t.Fatalf("lock on another server = %s, want %s", again.Lock, chatLock)
	}

	// Real responses pass the per-response check; a response of the other
	// model does not.
	for _, model := range []string{"tiny-chat", "tiny-chat:latest"} {
		h, fp, respModel := chatOnce(t, srv.BaseURL(), model)
		if got, err := target.CheckResponse(srv.BaseURL(), h, fp, respModel); err != nil || got != chatLock {
			t.Fatalf("CheckResponse(%s) = %s, %v", model, got, err)
		}
	}
	if err := target.Recheck(ctx); err != nil {
		t.Fatalf("Recheck of an unchanged model: %v", err)
	}
	h, fp, respModel := chatOnce(t, srv.BaseURL(), "tiny-compact")
	if _, err := target.CheckResponse(srv.BaseURL(), h, fp, respModel); !errors.Is(err, ErrLockChanged) {
		t.Fatalf("response of another model: err = %v, want ErrLockChanged", err)
	}
}

// Re-creating the model under the same name with another template is caught
// by the re-probe.
func TestOllamaEndToEndRecreated(t *testing.T) {
	srv := testbed.Ollama(t)
	srv.Create(t, "tiny", testbed.Generate(t, testbed.ModelOptions{Template: "chat"}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	target, err := Resolve(ctx, nil, []string{srv.BaseURL()}, "tiny", "")
	if err != nil {
		t.Fatal(err)
	}
	srv.Create(t, "tiny", testbed.Generate(t, testbed.ModelOptions{Template: "compact"}))
	if err := target.Recheck(ctx); !errors.Is(err, ErrLockChanged) {
		t.Fatalf("Recheck after re-creating the model: err = %v, want ErrLockChanged", err)
	}
}
