package identity

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
)

// A doc is a lock id and a document to parse as its identity document.
type doc struct {
	id  lockid.ID
	doc []byte
}

// manifestDoc returns a sealed lock manifest of one weights file whose
// content hash is 64 times weights, and its id.
func manifestDoc(t testing.TB, weights string) doc {
	t.Helper()
	m := &lock.Manifest{
		Version: lock.Version,
		Files: []lock.File{
			{Path: "model.gguf", Size: 3, SHA256: strings.Repeat(weights, 64), Role: lock.RoleWeights},
		},
		Serving:    lock.Serving{Engine: "vllm", EngineVersion: "0.6.3"},
		Generation: map[string]any{},
	}
	if err := m.Seal(); err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return doc{m.Lock, data}
}

// ollamaDoc returns an Ollama identity of one blob with template and
// temperature, as its canonical document and lock.
func ollamaDoc(template, temperature string) doc {
	o := ollama.Identity{
		EngineVersion: "0.12.6",
		Models:        []string{"sha256:" + strings.Repeat("2", 64)},
		Template:      template,
		Parameters:    []string{"temperature " + temperature},
	}
	return doc{o.Lock(), o.Canonical()}
}

func TestParse(t *testing.T) {
	m, m2 := manifestDoc(t, "a"), manifestDoc(t, "b")
	o, o2 := ollamaDoc("{{ .Prompt }}", "0"), ollamaDoc("{{ .System }}{{ .Prompt }}", "0")
	indented := func(doc []byte) []byte {
		var b bytes.Buffer
		json.Indent(&b, doc, "", "  ")
		return b.Bytes()
	}
	tests := []struct {
		name string
		id   lockid.ID
		doc  []byte
		err  string // part of the error; "" when the document is accepted
	}{
		{"a manifest", m.id, m.doc, ""},
		{"an Ollama identity", o.id, o.doc, ""},
		{"an Ollama identity re-encoded", o.id, indented(o.doc), ""},
		{"a hand-edited manifest", m.id, bytes.Replace(m.doc, []byte(`"model.gguf"`), []byte(`"model2.gguf"`), 1), "lock manifest was edited by hand"},
		{"a hand-edited Ollama identity", o.id, bytes.Replace(o.doc, []byte(`Prompt`), []byte(`System`), 1),
			"the identity document is lock ollama:sha256:"},
		{"the manifest of another lock", m.id, m2.doc, "it is the manifest of lock " + string(m2.id)},
		{"the Ollama identity of another lock", o2.id, o.doc,
			"the identity document is lock " + string(o.id) + ", not " + string(o2.id) + " (edited, or stored under another lock)"},
		{"a manifest under an Ollama lock", o.id, m.doc, "not an Ollama identity document"},
		{"an Ollama identity under an evalpin lock", m.id, o.doc, "not a lock manifest"},
		{"not JSON", m.id, []byte("<html>"), "not a lock manifest"},
		{"a lock of an unknown kind", lockid.ID("foo:sha256:" + strings.Repeat("f", 64)), m.doc,
			"evalpin knows no identity document for a lock of this kind"},
		{"no lock id", "tiny:latest", o.doc, "evalpin knows no identity document for a lock of this kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.id, tt.doc)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := d.ID(); got != tt.id {
					t.Fatalf("ID() = %s, want %s", got, tt.id)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse accepted the document as lock %s", d.ID())
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want one containing %q", err, tt.err)
			}
			if d != (Document{}) {
				t.Errorf("Parse refused with a Document %+v, want the zero Document", d)
			}
		})
	}
}

func TestWords(t *testing.T) {
	mA, mB := manifestDoc(t, "a"), manifestDoc(t, "b")
	oA, oB := ollamaDoc("{{ .Prompt }}", "0"), ollamaDoc("{{ .System }}{{ .Prompt }}", "0")
	oC := ollamaDoc("{{ .Prompt }}", "0.7")
	tests := []struct {
		name  string
		a, b  doc
		words string
	}{
		{"two manifests", mA, mB, "weights changed; serving same"},
		{"the same manifest", mA, mA, "weights same; serving same"},
		{"two Ollama identities", oA, oB, "template changed; weights same; parameters same; engine same"},
		{"an Ollama parameter", oA, oC, "parameters: temperature 0 → 0.7; weights same; template same; engine same"},
		{"the same Ollama lock", oA, oA, "weights same; template same; parameters same; engine same"},
		{"a manifest and an Ollama identity", mA, oA, ""},
		{"an Ollama identity and a manifest", oB, mB, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.a.id, tt.a.doc)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(tt.b.id, tt.b.doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Words(b); got != tt.words {
				t.Errorf("Words = %q, want %q", got, tt.words)
			}
		})
	}
	a, _ := Parse(oA.id, oA.doc)
	if got := a.Words(Document{}); got != "" {
		t.Errorf("Words(the zero Document) = %q, want \"\"", got)
	}
	if got := (Document{}).Words(a); got != "" {
		t.Errorf("the zero Document's Words = %q, want \"\"", got)
	}
}

// An Ollama identity's diff speaks as a manifest's does: its part statuses
// are lock's words for a role, and its field changes convert to lock's (the
// conversion compiles only while the two have the same fields) with the same
// JSON.
func TestOllamaDiffSpeaksAsLock(t *testing.T) {
	for _, tt := range []struct{ ollama, lock string }{
		{ollama.Changed, lock.Changed},
		{ollama.Added, lock.Added},
		{ollama.Removed, lock.Removed},
	} {
		if tt.ollama != tt.lock {
			t.Errorf("ollama status %q, lock's %q", tt.ollama, tt.lock)
		}
	}
	c := ollama.FieldChange{Field: "temperature", Old: "0.7", New: ""}
	got, _ := json.Marshal(c)
	want, _ := json.Marshal(lock.FieldChange(c))
	if !bytes.Equal(got, want) {
		t.Errorf("ollama.FieldChange %s, lock.FieldChange %s", got, want)
	}
}
