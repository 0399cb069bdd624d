package ollama

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/lockid"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The canonical document is the specification's worked example
// (docs/protocol.md §3.1); a change to it changes every Ollama lock.
func TestCanonicalGolden(t *testing.T) {
	id := Identity{
		EngineVersion: "0.17.4",
		Models:        []string{"sha256:" + strings.Repeat("1", 64)},
		Template:      "{{ if .System }}<|system|>\n{{ .System }}{{ end }}<|user|>\n{{ .Prompt }}\u0001\"\\",
		Parameters:    []string{`stop "<|end|>"`, `stop "<|user|>"`, "temperature 0"},
		System:        "Answer in one word. ünïcode",
		Renderer:      "r",
		Parser:        "p",
	}
	got := string(id.Canonical()) + "\n" + string(id.Lock()) + "\n"
	golden := filepath.Join("testdata", "ollama-canonical.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("canonical document changed:\ngot  %s\nwant %s", got, want)
	}
}

// Canonical writes every key, lists as [] when empty (never null), and
// invalid UTF-8 as U+FFFD; the zero identity has a lock like any other.
func TestCanonicalEmpty(t *testing.T) {
	got := string(Identity{Template: "a\xffb"}.Canonical())
	want := `{"adapters":[],"engine_version":"","messages":[],"models":[],"parameters":[],"parser":"","renderer":"","scheme":"evalpin-ollama-lock/1","system":"","template":"a` + "\uFFFD" + `b"}`
	if got != want {
		t.Fatalf("Canonical() =\n%s\nwant\n%s", got, want)
	}
}

func TestParseIdentity(t *testing.T) {
	o := baseIdentity()
	o.Messages = []string{"user: hi"}
	o.Adapters = []string{"sha256:" + strings.Repeat("3", 64)}
	o.Renderer = "r"
	doc, id := o.Canonical(), o.Lock()
	edit := func(old, new string) []byte { return bytes.Replace(doc, []byte(old), []byte(new), 1) }
	other := baseIdentity()

	tests := []struct {
		name string
		id   lockid.ID
		doc  []byte
		err  string // "" when the document is accepted
	}{
		{"canonical", id, doc, ""},
		{"indented, same identity", id, func() []byte {
			var b bytes.Buffer
			json.Indent(&b, doc, "", "  ")
			return b.Bytes()
		}(), ""},
		{"template edited", id, edit(`{{ .Prompt }}`, `{{ .System }}`), "the identity document is lock ollama:sha256:"},
		{"the document of another lock", id, other.Canonical(), "not " + string(id)},
		{"an unknown key", id, edit(`"adapters"`, `"extra":1,"adapters"`), `unknown field "extra"`},
		{"another scheme", id, edit(scheme, "evalpin-ollama-lock/2"), `scheme "evalpin-ollama-lock/2"`},
		{"data after the object", id, append(bytes.Clone(doc), []byte(`{}`)...), "data after"},
		{"not JSON", id, []byte("<html>"), "not an Ollama identity document"},
		{"a lock manifest", id, []byte(`{"version":1,"files":[]}`), `unknown field "version"`},
		{"an evalpin lock id", lockid.ID("sha256:" + strings.Repeat("a", 64)), doc, "is not an Ollama lock"},
		{"no lock id", "ollama:latest", doc, "is not an Ollama lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIdentity(tt.id, tt.doc)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Canonical(), doc) || got.Lock() != id {
					t.Fatalf("parsed %+v, want the identity back", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want one containing %q", err, tt.err)
			}
		})
	}
}
