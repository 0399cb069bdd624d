package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
)

// baseIdentity is the identity the diff tests change one part of.
func baseIdentity() OllamaIdentity {
	return OllamaIdentity{
		EngineVersion: "0.17.4",
		Models:        []string{"sha256:" + ollamaDigest},
		Template:      "{{ .Prompt }}",
		System:        "Be brief.",
		Parameters:    []string{`stop "<|end|>"`, `stop "<|user|>"`, "temperature 0.7"},
	}
}

func TestDiffOllamaWords(t *testing.T) {
	tests := []struct {
		name   string
		change func(o *OllamaIdentity)
		words  string
	}{
		{"same", nil,
			"weights same; template same; system prompt same; parameters same; engine same"},
		{"template only", func(o *OllamaIdentity) { o.Template = "{{ .System }}{{ .Prompt }}" },
			"template changed; weights same; system prompt same; parameters same; engine same"},
		{"weights", func(o *OllamaIdentity) { o.Models = []string{"sha256:" + strings.Repeat("2", 64)} },
			"weights changed; template same; system prompt same; parameters same; engine same"},
		{"a projector added to the weights", func(o *OllamaIdentity) { o.Models = append(o.Models, "sha256:"+strings.Repeat("4", 64)) },
			"weights changed; template same; system prompt same; parameters same; engine same"},
		{"one parameter", func(o *OllamaIdentity) { o.Parameters[2] = "temperature 0.2" },
			"parameters: temperature 0.7 → 0.2; weights same; template same; system prompt same; engine same"},
		{"a parameter added and a stop sequence removed", func(o *OllamaIdentity) {
			o.Parameters = []string{"num_ctx 4096", `stop "<|end|>"`, "temperature 0.7"}
		}, `parameters: num_ctx (none) → 4096, stop "<|end|>" "<|user|>" → "<|end|>"; weights same; template same; system prompt same; engine same`},
		{"parameters removed", func(o *OllamaIdentity) { o.Parameters = nil },
			`parameters: stop "<|end|>" "<|user|>" → (none), temperature 0.7 → (none); weights same; template same; system prompt same; engine same`},
		{"system prompt removed", func(o *OllamaIdentity) { o.System = "" },
			"system prompt removed; weights same; template same; parameters same; engine same"},
		{"an adapter added", func(o *OllamaIdentity) { o.Adapters = []string{"sha256:" + strings.Repeat("3", 64)} },
			"adapters added; weights same; template same; system prompt same; parameters same; engine same"},
		{"messages added", func(o *OllamaIdentity) { o.Messages = []string{"user: hi", "assistant: hello"} },
			"messages added; weights same; template same; system prompt same; parameters same; engine same"},
		{"a renderer added", func(o *OllamaIdentity) { o.Renderer, o.Parser = "qwen3-coder", "qwen3-coder" },
			"renderer/parser: renderer (none) → qwen3-coder, parser (none) → qwen3-coder; weights same; template same; system prompt same; parameters same; engine same"},
		{"engine upgraded", func(o *OllamaIdentity) { o.EngineVersion = "0.18.0" },
			"engine: version 0.17.4 → 0.18.0; weights same; template same; system prompt same; parameters same"},
		{"several parts, in part order", func(o *OllamaIdentity) {
			o.EngineVersion, o.Template, o.Models = "0.18.0", "x", []string{"sha256:" + strings.Repeat("2", 64)}
		}, "weights changed; template changed; engine: version 0.17.4 → 0.18.0; system prompt same; parameters same"},
		{"a value with an escape sequence is quoted", func(o *OllamaIdentity) { o.Parameters[2] = "temperature \x1b[2J0" },
			`parameters: temperature 0.7 → "\x1b[2J0"; weights same; template same; system prompt same; engine same`},
		{"a long value is shortened", func(o *OllamaIdentity) { o.Parameters[2] = "temperature " + strings.Repeat("9", 200) },
			"parameters: temperature 0.7 → " + strings.Repeat("9", 79) + "…; weights same; template same; system prompt same; engine same"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := baseIdentity(), baseIdentity()
			if tt.change != nil {
				tt.change(&b)
			}
			d := DiffOllama(a, b)
			if got := d.Words(); got != tt.words {
				t.Errorf("Words() =\n%s\nwant\n%s", got, tt.words)
			}
			if got, want := d.Same(), tt.change == nil; got != want {
				t.Errorf("Same() = %v, want %v", got, want)
			}
			if d.A != a.Lock() || d.B != b.Lock() {
				t.Errorf("A, B = %s, %s; want the identities' locks", d.A, d.B)
			}
		})
	}
}

// The diff's statuses and named changes, as a program reads them.
func TestDiffOllamaParts(t *testing.T) {
	a, b := baseIdentity(), baseIdentity()
	b.System = ""
	b.Parameters = []string{"temperature 0.2"}
	d := DiffOllama(a, b)
	want := []OllamaPart{
		{Part: PartWeights, Status: "same"},
		{Part: PartTemplate, Status: "same"},
		{Part: PartSystem, Status: lock.Removed},
		{Part: PartParameters, Status: lock.Changed, Changes: []lock.FieldChange{
			{Field: "stop", Old: `"<|end|>" "<|user|>"`, New: ""},
			{Field: "temperature", Old: "0.7", New: "0.2"},
		}},
		{Part: PartEngine, Status: "same"},
	}
	got, _ := json.Marshal(d.Parts)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(got, wantJSON) {
		t.Errorf("parts\n%s\nwant\n%s", got, wantJSON)
	}
}

func TestParseOllamaIdentity(t *testing.T) {
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
		{"another scheme", id, edit(ollamaScheme, "evalpin-ollama-lock/2"), `scheme "evalpin-ollama-lock/2"`},
		{"data after the object", id, append(bytes.Clone(doc), []byte(`{}`)...), "data after"},
		{"not JSON", id, []byte("<html>"), "not an Ollama identity document"},
		{"a lock manifest", id, []byte(`{"version":1,"files":[]}`), `unknown field "version"`},
		{"an evalpin lock id", lockid.ID("sha256:" + strings.Repeat("a", 64)), doc, "is not an Ollama lock"},
		{"no lock id", "ollama:latest", doc, "is not an Ollama lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOllamaIdentity(tt.id, tt.doc)
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

// The identity document travels on the Report and the Target: Ollama's
// derived lock carries its canonical identity, a well-known manifest its
// manifest, a lock without a document none.
func TestTargetDocument(t *testing.T) {
	manifest, manifestID := sealedManifest(t, "c")
	tmpl := "{{ .Prompt }}"
	tests := []struct {
		name string
		fake *fakeEngine
		want func(lock lockid.ID, doc []byte) bool
	}{
		{"ollama", &fakeEngine{ollama: ollamaFake("/root/.ollama/models", tmpl)}, func(l lockid.ID, doc []byte) bool {
			o, err := ParseOllamaIdentity(l, doc)
			return err == nil && l == wantOllamaLock(tmpl) && o.Template == tmpl
		}},
		{"well-known with manifest", &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(manifestID, manifest), header: string(manifestID)},
			func(l lockid.ID, doc []byte) bool {
				return l == manifestID && bytes.Equal(doc, bytes.TrimSpace(manifest))
			}},
		{"well-known without manifest", &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA},
			func(l lockid.ID, doc []byte) bool { return l == lockA && doc == nil }},
		{"header only", &fakeEngine{models: []string{"m"}, header: lockA},
			func(l lockid.ID, doc []byte) bool { return l == lockA && doc == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.fake.start(t)
			model := ""
			if tt.fake.ollama != nil {
				model = "tiny"
			}
			target, err := Resolve(context.Background(), srv.Client(), []string{srv.URL + "/v1"}, model, "")
			if err != nil {
				t.Fatal(err)
			}
			if doc := target.Document(); !tt.want(target.Lock, doc) {
				t.Fatalf("lock %s, document %.200s: not the lock's identity document", target.Lock, doc)
			}
			if other := target.Reports[0].Document(lockB); other != nil {
				t.Errorf("Document of a lock not reported = %.100s, want nil", other)
			}
		})
	}
}
