package ollama

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// The parts of an Ollama identity, in the order Diff lists them.
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

// The statuses of a part (docs/protocol.md §7). They are the words a lock
// manifest's diff uses for a role (lock.Changed, lock.Added, lock.Removed):
// this package does not import internal/lock, which the sidecar has no use
// for, and internal/identity's tests hold the two equal.
const (
	Same    = "same"
	Changed = "changed"
	Added   = "added"   // only in B
	Removed = "removed" // only in A
)

// A PartStatus says how one part of two identities differs.
type PartStatus struct {
	Part   string `json:"part"`   // one of the Part constants
	Status string `json:"status"` // Same, Changed, Added or Removed
	// Changes name what changed in a part made of named values: parameters by
	// name, renderer and parser, the engine's version. Values are as the
	// identity holds them ("" when unset); several values of one parameter
	// (stop sequences) are joined by a space.
	Changes []FieldChange `json:"changes,omitempty"`
}

// A FieldChange is one named value that differs, as a lock manifest's diff
// has them (lock.FieldChange): "" when unset.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// An IdentityDiff says what differs between two identities A and B, part by
// part; Words puts it in words. A part that neither identity has (no
// adapters, no system prompt) is left out.
type IdentityDiff struct {
	A     lockid.ID    `json:"a"`
	B     lockid.ID    `json:"b"`
	Parts []PartStatus `json:"parts"`
}

// Diff compares the identities a and b.
func Diff(a, b Identity) IdentityDiff {
	d := IdentityDiff{A: a.Lock(), B: b.Lock(), Parts: []PartStatus{}}
	add := func(part string, x, y []string, changes []FieldChange) {
		if len(x) == 0 && len(y) == 0 {
			return
		}
		p := PartStatus{Part: part, Status: Same, Changes: changes}
		switch {
		case len(x) == 0:
			p.Status = Added
		case len(y) == 0:
			p.Status = Removed
		case !slices.Equal(x, y):
			p.Status = Changed
		}
		if p.Status == Same {
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
	rp := func(o Identity) []string {
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
func parameterChanges(a, b []string) []FieldChange {
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
	var out []FieldChange
	for _, n := range names {
		if ga[n] != gb[n] {
			out = append(out, FieldChange{Field: n, Old: ga[n], New: gb[n]})
		}
	}
	return out
}

// fieldChanges lists the named values that differ.
func fieldChanges(names, a, b []string) []FieldChange {
	var out []FieldChange
	for i, n := range names {
		if a[i] != b[i] {
			out = append(out, FieldChange{Field: n, Old: a[i], New: b[i]})
		}
	}
	return out
}

// Same reports whether the two identities are the same.
func (d IdentityDiff) Same() bool {
	for _, p := range d.Parts {
		if p.Status != Same {
			return false
		}
	}
	return true
}

// Words says what differs in one line, differing parts first, each group in
// the order of the Part constants: "template changed; weights same;
// parameters same; engine same", or with named values "parameters:
// temperature 0.7 → 0.2; …" and "engine: version 0.12.3 → 0.12.6". Values
// come from the engine: they are cut to 80 characters and quoted when they
// hold anything but printable text or one of ',' ';' '→'.
func (d IdentityDiff) Words() string {
	var diff, same []string
	for _, p := range d.Parts {
		switch {
		case p.Status == Same:
			same = append(same, p.Part+" "+Same)
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
