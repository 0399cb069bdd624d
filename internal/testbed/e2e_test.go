package testbed

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// These tests run the real Ollama from `make testbed`; under plain go test
// without EVALPIN_OLLAMA they skip.

func ask(t *testing.T, s *Server, model, prompt string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seed := 7
	content, finish, err := s.Chat(ctx, ChatRequest{
		Model:       model,
		Messages:    []ChatMessage{{Role: "user", Content: prompt}},
		Temperature: 0,
		Seed:        &seed,
		MaxTokens:   16,
	})
	if err != nil {
		t.Fatal(err)
	}
	if finish != "length" {
		t.Errorf("%s: finish_reason %q, want length (the model should not emit </s>)", model, finish)
	}
	return content
}

// TestOllamaServesGeneratedModel is the test bed's end to end check: the
// built Ollama loads the generated GGUF, answers in vocabulary words, and
// answers the same twice at temperature 0; another seed is another version,
// and a template-only change shows in /api/show but not in the weights.
func TestOllamaServesGeneratedModel(t *testing.T) {
	s := Ollama(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	v, err := s.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v == "" || v == "0.0.0" {
		t.Errorf("/api/version = %q: the build lost its version stamp", v)
	}

	models := []struct {
		name string
		opts ModelOptions
	}{
		{"tiny-v1", ModelOptions{Seed: 1}},
		{"tiny-v1-compact", ModelOptions{Seed: 1, Template: "compact"}},
		{"tiny-v2", ModelOptions{Seed: 2}},
		{"tiny-v1-f32", ModelOptions{Seed: 1, DType: "f32"}},
	}
	for _, m := range models {
		s.Create(t, m.name, Generate(t, m.opts))
	}

	wordSet := map[string]bool{}
	for _, w := range words {
		wordSet[w] = true
	}
	const prompt = "Which river is near the old garden?"
	answers := map[string]string{}
	for _, m := range models {
		first := ask(t, s, m.name, prompt)
		if second := ask(t, s, m.name, prompt); second != first {
			t.Errorf("%s: answers differ at temperature 0:\n%q\n%q", m.name, first, second)
		}
		got := strings.Fields(first)
		if len(got) < 8 {
			t.Errorf("%s: answer %q has %d words, want about 16", m.name, first, len(got))
		}
		for _, w := range got {
			if !wordSet[w] {
				t.Errorf("%s: answer %q has %q, not a vocabulary word", m.name, first, w)
				break
			}
		}
		answers[m.name] = first
		t.Logf("%s: %q", m.name, first)
	}
	if answers["tiny-v1"] == answers["tiny-v2"] {
		t.Errorf("seeds 1 and 2 answer the same: %q", answers["tiny-v1"])
	}

	show := map[string]ModelInfo{}
	for _, name := range []string{"tiny-v1", "tiny-v1-compact", "tiny-v2"} {
		if show[name], err = s.Show(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if show["tiny-v1"].Template != Templates["chat"] || show["tiny-v1-compact"].Template != Templates["compact"] {
		t.Errorf("/api/show templates = %q and %q, want the chat and compact templates",
			show["tiny-v1"].Template, show["tiny-v1-compact"].Template)
	}
	if !regexp.MustCompile(`num_thread\s+1`).MatchString(show["tiny-v1"].Parameters) {
		t.Errorf("/api/show parameters = %q, want num_thread 1", show["tiny-v1"].Parameters)
	}
	// The Modelfile names the weights blob by digest: a template-only change
	// keeps it, another seed changes it.
	blob := regexp.MustCompile(`sha256-[0-9a-f]{64}`)
	b1, bc, b2 := blob.FindString(show["tiny-v1"].Modelfile), blob.FindString(show["tiny-v1-compact"].Modelfile), blob.FindString(show["tiny-v2"].Modelfile)
	if b1 == "" || b1 != bc || b1 == b2 {
		t.Errorf("weight blobs: v1 %q, v1-compact %q, v2 %q; want v1 = v1-compact != v2", b1, bc, b2)
	}
}

// TestServerStop checks that Stop ends the server and can be repeated.
func TestServerStop(t *testing.T) {
	s := Ollama(t)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.Version(ctx); err == nil {
		t.Fatal("server still answers after Stop")
	}
}

func BenchmarkOllamaChat(b *testing.B) {
	s := Ollama(b)
	s.Create(b, "tiny", Generate(b, ModelOptions{}))
	ctx := context.Background()
	req := ChatRequest{Model: "tiny", Messages: []ChatMessage{{Role: "user", Content: "hello"}}, MaxTokens: 16}
	if _, _, err := s.Chat(ctx, req); err != nil { // loads the model
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := s.Chat(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOllamaDeterministic checks what evalpin's replay relies on: at
// temperature 0 with a fixed seed, answers do not depend on concurrency or
// on a server restart.
func TestOllamaDeterministic(t *testing.T) {
	bin := Binary(t)
	modelDir := Generate(t, ModelOptions{Seed: 3})
	prompts := []string{"Where is the river?", "Tell me a story about the sea.", "What is the first number?", "hello"}

	s := Ollama(t)
	s.Create(t, "tiny", modelDir)
	want := map[string]string{}
	for _, p := range prompts {
		want[p] = ask(t, s, "tiny", p)
	}

	const workers = 16
	type answer struct{ prompt, got string }
	results := make(chan answer, workers)
	errs := make(chan error, workers)
	for i := range workers {
		go func() {
			p := prompts[i%len(prompts)]
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			seed := 7
			got, _, err := s.Chat(ctx, ChatRequest{Model: "tiny", Messages: []ChatMessage{{Role: "user", Content: p}}, Seed: &seed, MaxTokens: 16})
			if err != nil {
				errs <- err
				return
			}
			results <- answer{p, got}
		}()
	}
	for range workers {
		select {
		case err := <-errs:
			t.Fatal(err)
		case a := <-results:
			if a.got != want[a.prompt] {
				t.Errorf("concurrent answer to %q = %q, want %q", a.prompt, a.got, want[a.prompt])
			}
		}
	}

	// A fresh server with a fresh model store answers the same.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s2, err := Start(ctx, bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Stop()
	s2.Create(t, "tiny", modelDir)
	for _, p := range prompts {
		if got := ask(t, s2, "tiny", p); got != want[p] {
			t.Errorf("after restart, answer to %q = %q, want %q", p, got, want[p])
		}
	}
}
