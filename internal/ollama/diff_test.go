package ollama

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// baseIdentity is the identity the diff tests change one part of.
func baseIdentity() Identity {
	return Identity{
		EngineVersion: "0.17.4",
		Models:        []string{"sha256:" + strings.Repeat("1", 64)},
		Template:      "{{ .Prompt }}",
		System:        "Be brief.",
		Parameters:    []string{`stop "<|end|>"`, `stop "<|user|>"`, "temperature 0.7"},
	}
}

func TestDiffWords(t *testing.T) {
	tests := []struct {
		name   string
		change func(o *Identity)
		words  string
	}{
		{"same", nil,
			"weights same; template same; system prompt same; parameters same; engine same"},
		{"template only", func(o *Identity) { o.Template = "{{ .System }}{{ .Prompt }}" },
			"template changed; weights same; system prompt same; parameters same; engine same"},
		{"weights", func(o *Identity) { o.Models = []string{"sha256:" + strings.Repeat("2", 64)} },
			"weights changed; template same; system prompt same; parameters same; engine same"},
		{"a projector added to the weights", func(o *Identity) { o.Models = append(o.Models, "sha256:"+strings.Repeat("4", 64)) },
			"weights changed; template same; system prompt same; parameters same; engine same"},
		{"one parameter", func(o *Identity) { o.Parameters[2] = "temperature 0.2" },
			"parameters: temperature 0.7 → 0.2; weights same; template same; system prompt same; engine same"},
		{"a parameter added and a stop sequence removed", func(o *Identity) {
			o.Parameters = []string{"num_ctx 4096", `stop "<|end|>"`, "temperature 0.7"}
		}, `parameters: num_ctx (none) → 4096, stop "<|end|>" "<|user|>" → "<|end|>"; weights same; template same; system prompt same; engine same`},
		{"parameters removed", func(o *Identity) { o.Parameters = nil },
			`parameters: stop "<|end|>" "<|user|>" → (none), temperature 0.7 → (none); weights same; template same; system prompt same; engine same`},
		{"system prompt removed", func(o *Identity) { o.System = "" },
			"system prompt removed; weights same; template same; parameters same; engine same"},
		{"an adapter added", func(o *Identity) { o.Adapters = []string{"sha256:" + strings.Repeat("3", 64)} },
			"adapters added; weights same; template same; system prompt same; parameters same; engine same"},
		{"messages added", func(o *Identity) { o.Messages = []string{"user: hi", "assistant: hello"} },
			"messages added; weights same; template same; system prompt same; parameters same; engine same"},
		{"a renderer added", func(o *Identity) { o.Renderer, o.Parser = "qwen3-coder", "qwen3-coder" },
			"renderer/parser: renderer (none) → qwen3-coder, parser (none) → qwen3-coder; weights same; template same; system prompt same; parameters same; engine same"},
		{"engine upgraded", func(o *Identity) { o.EngineVersion = "0.18.0" },
			"engine: version 0.17.4 → 0.18.0; weights same; template same; system prompt same; parameters same"},
		{"several parts, in part order", func(o *Identity) {
			o.EngineVersion, o.Template, o.Models = "0.18.0", "x", []string{"sha256:" + strings.Repeat("2", 64)}
		}, "weights changed; template changed; engine: version 0.17.4 → 0.18.0; system prompt same; parameters same"},
		{"a value with an escape sequence is quoted", func(o *Identity) { o.Parameters[2] = "temperature \x1b[2J0" },
			`parameters: temperature 0.7 → "\x1b[2J0"; weights same; template same; system prompt same; engine same`},
		{"a long value is shortened", func(o *Identity) { o.Parameters[2] = "temperature " + strings.Repeat("9", 200) },
			"parameters: temperature 0.7 → " + strings.Repeat("9", 79) + "…; weights same; template same; system prompt same; engine same"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := baseIdentity(), baseIdentity()
			if tt.change != nil {
				tt.change(&b)
			}
			d := Diff(a, b)
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
func TestDiffParts(t *testing.T) {
	a, b := baseIdentity(), baseIdentity()
	b.System = ""
	b.Parameters = []string{"temperature 0.2"}
	d := Diff(a, b)
	want := []PartStatus{
		{Part: PartWeights, Status: Same},
		{Part: PartTemplate, Status: Same},
		{Part: PartSystem, Status: Removed},
		{Part: PartParameters, Status: Changed, Changes: []FieldChange{
			{Field: "stop", Old: `"<|end|>" "<|user|>"`, New: ""},
			{Field: "temperature", Old: "0.7", New: "0.2"},
		}},
		{Part: PartEngine, Status: Same},
	}
	got, _ := json.Marshal(d.Parts)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(got, wantJSON) {
		t.Errorf("parts\n%s\nwant\n%s", got, wantJSON)
	}
}
