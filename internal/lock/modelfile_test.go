package lock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeDir writes files (path → content) into a new directory and locks it.
func writeDir(t *testing.T, files map[string]string) (string, *Manifest) {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := Create(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func sumOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestReadModelfile(t *testing.T) {
	const modelfile = `# a comment
FROM ./model.gguf
FROM ./mmproj.gguf
ADAPTER lora.gguf
TEMPLATE """{{ if .System }}<|system|>
{{ .System }}{{ end }}<|user|>
{{ .Prompt }}
"""
SYSTEM "Answer in one word."
PARAMETER stop "<|end|>"
PARAMETER Temperature 0.7
PARAMETER stop <|user|>
MESSAGE user "Is the sky blue?"
MESSAGE assistant """Yes,
always."""
RENDERER qwen3-coder
LICENSE "MIT"
`
	dir, m := writeDir(t, map[string]string{
		"Modelfile": modelfile, "model.gguf": "weights", "mmproj.gguf": "projector", "lora.gguf": "adapter",
	})
	mf, err := ReadModelfile(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	refs := func(rs []ModelfileRef) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Arg+"="+r.Path+"@"+r.SHA256[:8])
		}
		return strings.Join(out, " ")
	}
	if got, want := refs(mf.From), "./model.gguf=model.gguf@"+sumOf("weights")[:8]+" ./mmproj.gguf=mmproj.gguf@"+sumOf("projector")[:8]; got != want {
		t.Errorf("From = %s, want %s", got, want)
	}
	if got, want := refs(mf.Adapters), "lora.gguf=lora.gguf@"+sumOf("adapter")[:8]; got != want {
		t.Errorf("Adapters = %s, want %s", got, want)
	}
	if mf.Template == nil || *mf.Template != "{{ if .System }}<|system|>\n{{ .System }}{{ end }}<|user|>\n{{ .Prompt }}\n" {
		t.Errorf("Template = %q", deref(mf.Template))
	}
	if deref(mf.System) != "Answer in one word." || deref(mf.Renderer) != "qwen3-coder" || mf.Parser != nil {
		t.Errorf("System %q, Renderer %q, Parser %v", deref(mf.System), deref(mf.Renderer), mf.Parser)
	}
	want := []ModelfileParameter{{"stop", "<|end|>"}, {"temperature", "0.7"}, {"stop", "<|user|>"}}
	if len(mf.Parameters) != len(want) {
		t.Fatalf("Parameters = %v", mf.Parameters)
	}
	for i := range want {
		if mf.Parameters[i] != want[i] {
			t.Errorf("Parameters = %v, want %v", mf.Parameters, want)
		}
	}
	msgs := []ModelfileMessage{{"user", "Is the sky blue?"}, {"assistant", "Yes,\nalways."}}
	if len(mf.Messages) != 2 || mf.Messages[0] != msgs[0] || mf.Messages[1] != msgs[1] {
		t.Errorf("Messages = %q, want %q", mf.Messages, msgs)
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestReadModelfileRefusals(t *testing.T) {
	t.Run("no Modelfile", func(t *testing.T) {
		dir, m := writeDir(t, map[string]string{"model.gguf": "weights"})
		if _, err := ReadModelfile(dir, m); !errors.Is(err, ErrNoModelfile) {
			t.Errorf("err = %v, want ErrNoModelfile", err)
		}
	})
	t.Run("FROM a registry model", func(t *testing.T) {
		dir, m := writeDir(t, map[string]string{"Modelfile": "FROM llama3.2\nTEMPLATE x\n"})
		mf, err := ReadModelfile(dir, m)
		if err != nil || len(mf.From) != 1 || mf.From[0].Path != "" || mf.From[0].Arg != "llama3.2" {
			t.Errorf("ReadModelfile = %+v, %v; want a FROM naming no locked file", mf, err)
		}
	})
	t.Run("changed since verified", func(t *testing.T) {
		dir, m := writeDir(t, map[string]string{"Modelfile": "FROM ./model.gguf\n", "model.gguf": "w"})
		os.WriteFile(filepath.Join(dir, "Modelfile"), []byte("FROM ./model.gguf\nTEMPLATE y\n"), 0o644)
		if _, err := ReadModelfile(dir, m); err == nil || !strings.Contains(err.Error(), "Modelfile changed since it was verified") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("several Modelfiles, one at the top", func(t *testing.T) {
		dir, m := writeDir(t, map[string]string{"Modelfile": "FROM ./a.gguf\n", "alt/Modelfile": "FROM ../a.gguf\n", "a.gguf": "w"})
		mf, err := ReadModelfile(dir, m)
		if err != nil || mf.Path != "Modelfile" {
			t.Errorf("ReadModelfile = %+v, %v", mf, err)
		}
	})
	t.Run("several Modelfiles, none at the top", func(t *testing.T) {
		dir, m := writeDir(t, map[string]string{"q4.Modelfile": "FROM ./a.gguf\n", "q8.Modelfile": "FROM ./a.gguf\n", "a.gguf": "w"})
		if _, err := ReadModelfile(dir, m); err == nil || !strings.Contains(err.Error(), "2 Modelfiles (q4.Modelfile, q8.Modelfile)") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a FROM file in a subdirectory", func(t *testing.T) {
		dir, m := writeDir(t, map[string]string{"ollama/Modelfile": "FROM ../weights/a.gguf\nTEMPLATE x\n", "weights/a.gguf": "w"})
		mf, err := ReadModelfile(dir, m)
		if err != nil || len(mf.From) != 1 || mf.From[0].Path != "weights/a.gguf" || mf.From[0].SHA256 != sumOf("w") {
			t.Errorf("ReadModelfile = %+v, %v", mf, err)
		}
	})
}
