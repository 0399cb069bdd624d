package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/ollama"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// lockedDir writes files (slash-separated path → content) into a new directory and locks it
// with the serving layer s.
func lockedDir(t *testing.T, files map[string]string, s lock.Serving) (string, *lock.Manifest) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := lock.Create(context.Background(), dir, lock.Options{Serving: s})
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func TestExpectOllama(t *testing.T) {
	const full = `FROM ./model.gguf
FROM mmproj.gguf
ADAPTER ./lora.gguf
TEMPLATE """{{ .System }} {{ .Prompt }}"""
SYSTEM "Answer in one word."
RENDERER qwen3-coder
PARSER qwen3-coder
PARAMETER temperature 0.70
PARAMETER stop "<|end|>"
MESSAGE user "Is the sky blue?"
MESSAGE assistant Yes.
`
	files := func(modelfile string) map[string]string {
		fs := map[string]string{"model.gguf": "weights", "mmproj.gguf": "projector", "lora.gguf": "adapter",
			"lora-dir/adapter_model.safetensors": "safetensors"}
		if modelfile != "" {
			fs["Modelfile"] = modelfile
		}
		return fs
	}
	for _, tt := range []struct {
		name      string
		modelfile string // "" for none
		serving   lock.Serving
		want      *OllamaExpect
		err       string
	}{
		{
			name:      "everything the Modelfile says",
			modelfile: full,
			serving:   lock.Serving{Engine: "Ollama", EngineVersion: "0.12.6"},
			want: &OllamaExpect{
				Modelfile: "Modelfile",
				Models:    []string{sum("weights"), sum("projector")},
				Adapters:  []string{sum("adapter")},
				Template:  "{{ .System }} {{ .Prompt }}",
				System:    "Answer in one word.",
				Renderer:  "qwen3-coder",
				Parser:    "qwen3-coder",
				Parameters: []ollama.Parameter{
					{Name: "temperature", Value: "0.70"}, {Name: "stop", Value: "<|end|>"},
				},
				Messages:      []string{"user: Is the sky blue?", "assistant: Yes."},
				EngineVersion: "0.12.6",
			},
		},
		{
			name:      "the least: one FROM and a TEMPLATE",
			modelfile: "FROM ./model.gguf\nTEMPLATE {{ .Prompt }}\n",
			want:      &OllamaExpect{Modelfile: "Modelfile", Models: []string{sum("weights")}, Template: "{{ .Prompt }}"},
		},
		{
			name:      "an empty TEMPLATE is one",
			modelfile: "FROM ./model.gguf\nTEMPLATE \"\"\n",
			want:      &OllamaExpect{Modelfile: "Modelfile", Models: []string{sum("weights")}},
		},
		{
			name:      "another engine",
			modelfile: full,
			serving:   lock.Serving{Engine: "vllm"},
			err:       `the lock's serving engine is "vllm", not ollama`,
		},
		{
			name: "no Modelfile",
			err:  "the lock has no Ollama Modelfile, so it does not say which weights, template and parameters Ollama must serve",
		},
		{
			name:      "FROM a registry",
			modelfile: "FROM llama3.2\nTEMPLATE {{ .Prompt }}\n",
			err:       "FROM llama3.2 in Modelfile names no file of the lock (a model in a registry, or a directory that Ollama converts into a new blob), so Ollama's blobs cannot be held against the lock",
		},
		{
			name:      "ADAPTER a directory Ollama converts",
			modelfile: "FROM ./model.gguf\nADAPTER ./lora-dir\nTEMPLATE {{ .Prompt }}\n",
			err:       "ADAPTER ./lora-dir in Modelfile names no file of the lock (a model in a registry, or a directory that Ollama converts into a new blob), so Ollama's blobs cannot be held against the lock",
		},
		{
			name:      "no FROM",
			modelfile: "TEMPLATE {{ .Prompt }}\n",
			err:       "Modelfile has no FROM line",
		},
		{
			name:      "no TEMPLATE",
			modelfile: "FROM ./model.gguf\n",
			err:       "Modelfile has no TEMPLATE, so the lock does not say which chat template Ollama serves (Ollama takes one from the weights' metadata or its own default)",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, m := lockedDir(t, files(tt.modelfile), tt.serving)
			got, err := ExpectOllama(dir, m)
			if tt.err != "" {
				if fmt.Sprint(err) != tt.err || got != nil {
					t.Fatalf("ExpectOllama = %+v, %v; want the error\n%s", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ExpectOllama =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestExpectOllamaChanged checks that a Modelfile changed since the lock is
// refused, not read.
func TestExpectOllamaChanged(t *testing.T) {
	dir, m := lockedDir(t, map[string]string{"model.gguf": "weights", "Modelfile": "FROM ./model.gguf\nTEMPLATE {{ .Prompt }}\n"}, lock.Serving{})
	os.WriteFile(filepath.Join(dir, "Modelfile"), []byte("FROM ./model.gguf\nTEMPLATE {{ .System }}\n"), 0o644)
	if _, err := ExpectOllama(dir, m); fmt.Sprint(err) != "the locked Modelfile: Modelfile changed since it was verified" {
		t.Errorf("ExpectOllama = %v, want the Modelfile refused as changed", err)
	}
}
