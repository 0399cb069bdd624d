package endpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// ollamaDoc is the identity document as Canonical writes it.
type ollamaDoc struct {
	Adapters      []string `json:"adapters"`
	EngineVersion string   `json:"engine_version"`
	Messages      []string `json:"messages"`
	Models        []string `json:"models"`
	Parameters    []string `json:"parameters"`
	Parser        string   `json:"parser"`
	Renderer      string   `json:"renderer"`
	Scheme        string   `json:"scheme"`
	System        string   `json:"system"`
	Template      string   `json:"template"`
}

// ParseOllamaIdentity reads an identity document (as Canonical writes it)
// back into the identity, and verifies that it is the identity of id: the
// document names evalpin's derivation scheme, has no other keys, and its
// canonical form hashes to id. A document that fails is refused with an
// error saying why; the document is untrusted text, and nothing of it is
// quoted unescaped.
func ParseOllamaIdentity(id lockid.ID, doc []byte) (OllamaIdentity, error) {
	if id.Kind() != lockid.Ollama {
		return OllamaIdentity{}, fmt.Errorf("%s is not an Ollama lock (%s<64 hex digits>)", untrusted.Clip(string(id), 100), lockid.OllamaPrefix)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var d ollamaDoc
	if err := dec.Decode(&d); err != nil {
		return OllamaIdentity{}, fmt.Errorf("not an Ollama identity document: %s", untrusted.Clip(err.Error(), 200))
	}
	if _, err := dec.Token(); err != io.EOF {
		return OllamaIdentity{}, fmt.Errorf("not an Ollama identity document: data after the JSON object")
	}
	if d.Scheme != ollamaScheme {
		return OllamaIdentity{}, fmt.Errorf("identity document of scheme %q, want %q", untrusted.Clip(d.Scheme, 100), ollamaScheme)
	}
	o := OllamaIdentity{
		EngineVersion: d.EngineVersion, Models: d.Models, Adapters: d.Adapters,
		Template: d.Template, System: d.System, Parameters: d.Parameters, Messages: d.Messages,
		Renderer: d.Renderer, Parser: d.Parser,
	}
	if got := o.Lock(); got != id {
		return OllamaIdentity{}, fmt.Errorf("the identity document is lock %s, not %s (edited, or stored under another lock)", got, id)
	}
	return o, nil
}

// The parts of an Ollama identity, in the order OllamaDiff lists them.
const (
	PartWeights    = "weights"         // the FROM blobs: weights and any projector
	PartAdapters   = "adapters"        // the ADAPTER blobs
	PartTemplate   = "template"        // the chat template
	PartSystem     = "system prompt"   // the default system prompt
	PartParameters = "parameters"      // PARAMETER lines, by name
	PartMessages   = "messages"        // MESSAGE turns
	PartRenderer   = "renderer/parser" // the built-in renderer and parser
	PartEngine     = "engine"          // the Ollama version
)

// An OllamaPart says how one part of two Ollama identities differs.
type OllamaPart struct {
	Part string `json:"part"` // one of the Part constants
	// Status is "same", or lock.Changed, lock.Added (only in B) or
	// lock.Removed (only in A).
	Status string `json:"status"`
	// Changes name what changed in a part made of named values: parameters by
	// name, renderer and parser, the engine's version. Values are as the
	// identity holds them ("" when unset); several values of one parameter
	// (stop sequences) are joined by a space.
	Changes []lock.FieldChange `json:"changes,omitempty"`
}

// An OllamaDiff says what differs between two Ollama identities A and B,
// part by part; Words puts it in words. A part that neither identity has
// (no adapters, no system prompt) is left out.
type OllamaDiff struct {
	A     lockid.ID    `json:"a"`
	B     lockid.ID    `json:"b"`
	Parts []OllamaPart `json:"parts"`
}

// DiffOllama compares the identities a and b.
func DiffOllama(a, b OllamaIdentity) OllamaDiff {
	d := OllamaDiff{A: a.Lock(), B: b.Lock(), Parts: []OllamaPart{}}
	add := func(part string, x, y []string, changes []lock.FieldChange) {
		if len(x) == 0 && len(y) == 0 {
			return
		}
		p := OllamaPart{Part: part, Status: "same", Changes: changes}
		switch {
		case len(x) == 0:
			p.Status = lock.Added
		case len(y) == 0:
			p.Status = lock.Removed
		case !slices.Equal(x, y):
			p.Status = lock.Changed
		}
		if p.Status == "same" {
			p.Changes = nil
		}
		d.Parts = append(d.Parts, p)
	}
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	add(PartWeights, a.Models, b.Models, nil)
	add(PartAdapters, a.Adapters, b.Adapters, nil)
	add(PartTemplate, one(a.Template), one(b.Template), nil)
	add(PartSystem, one(a.System), one(b.System), nil)
	add(PartParameters, a.Parameters, b.Parameters, parameterChanges(a.Parameters, b.Parameters))
	add(PartMessages, a.Messages, b.Messages, nil)
	rp := func(o OllamaIdentity) []string {
		if o.Renderer == "" && o.Parser == "" {
			return nil
		}
		return []string{o.Renderer, o.Parser}
	}
	add(PartRenderer, rp(a), rp(b),
		fieldChanges([]string{"renderer", "parser"}, []string{a.Renderer, a.Parser}, []string{b.Renderer, b.Parser}))
	add(PartEngine, one(a.EngineVersion), one(b.EngineVersion),
		fieldChanges([]string{"version"}, []string{a.EngineVersion}, []string{b.EngineVersion}))
	return d
}

// parameterChanges compares two identities' parameter lines ("name value",
// sorted by name) name by name.
func parameterChanges(a, b []string) []lock.FieldChange {
	group := func(lines []string) map[string]string {
		m := map[string]string{}
		for _, l := range lines {
			name, value, _ := strings.Cut(l, " ")
			if v, ok := m[name]; ok {
				m[name] = v + " " + value
			} else {
				m[name] = value
			}
		}
		return m
	}
	ga, gb := group(a), group(b)
	var names []string
	for n := range ga {
		names = append(names, n)
	}
	for n := range gb {
		if _, ok := ga[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var out []lock.FieldChange
	for _, n := range names {
		if ga[n] != gb[n] {
			out = append(out, lock.FieldChange{Field: n, Old: ga[n], New: gb[n]})
		}
	}
	return out
}

// fieldChanges lists the named values that differ.
func fieldChanges(names, a, b []string) []lock.FieldChange {
	var out []lock.FieldChange
	for i, n := range names {
		if a[i] != b[i] {
			out = append(out, lock.FieldChange{Field: n, Old: a[i], New: b[i]})
		}
	}
	return out
}

// Same reports whether the two identities are the same.
func (d OllamaDiff) Same() bool {
	for _, p := range d.Parts {
		if p.Status != "same" {
			return false
		}
	}
	return true
}

// Words says what differs in one line, differing parts first, each group in
// the order of the Part constants: "template changed; weights same;
// parameters same; engine same", or with named values "parameters:
// temperature 0.7 → 0.2; …" and "engine: version 0.12.3 → 0.12.6". Values
// come from the engine: they are shortened to 80 bytes and quoted when they
// hold anything but printable text.
func (d OllamaDiff) Words() string {
	var diff, same []string
	for _, p := range d.Parts {
		switch {
		case p.Status == "same":
			same = append(same, p.Part+" same")
		case len(p.Changes) > 0:
			cs := make([]string, len(p.Changes))
			for i, c := range p.Changes {
				cs[i] = fmt.Sprintf("%s %s → %s", shownValue(c.Field), shownValue(c.Old), shownValue(c.New))
			}
			diff = append(diff, p.Part+": "+strings.Join(cs, ", "))
		default:
			diff = append(diff, p.Part+" "+p.Status)
		}
	}
	return strings.Join(append(diff, same...), "; ")
}

// shownValue renders a value for a line of words: "(none)" when empty,
// shortened, and quoted when untrusted.Line would change it.
func shownValue(s string) string {
	if s == "" {
		return "(none)"
	}
	s = untrusted.Cut(s, 80)
	if untrusted.Line(s) != s || strings.ContainsAny(s, ",;→") {
		return strconv.Quote(s)
	}
	return s
}
