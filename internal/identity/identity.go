// Package identity reads and compares the identity documents of locks
// (docs/protocol.md §7). A lock's identity document is what its id hashes,
// stored with the lock and carried by baseline files, kept so that a diff
// can say what differs between two locks and not only that their ids do.
// Its kind follows from the id's prefix:
//
//	sha256:<hex>         evalpin's lock manifest (internal/lock)
//	ollama:sha256:<hex>  the identity evalpin derived from Ollama (internal/ollama)
//
// This package is the one place that tells them apart; each kind is read,
// verified and compared by its own package.
package identity

import (
	"fmt"
	"io"
	"strings"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A Document is the identity document of a lock, verified: Parse is the only
// way to make one, so a Document is always the document of its ID. The zero
// Document is the document of no lock.
type Document struct {
	id       lockid.ID
	manifest *lock.Manifest   // for a lock of kind lockid.Manifest
	ollama   *ollama.Identity // for a lock of kind lockid.Ollama
}

// Parse reads doc as the identity document of id, of the kind id's prefix
// names, and verifies that it is id's:
//
//   - for "sha256:", a lock manifest that lock.Parse accepts and whose id is
//     id;
//   - for "ollama:sha256:", an Ollama identity whose canonical form hashes to
//     id (ollama.ParseIdentity).
//
// A document of one kind under an id of the other, or under an id of any
// other kind, is refused. The error says why; doc is untrusted, and nothing
// of it is quoted unescaped.
func Parse(id lockid.ID, doc []byte) (Document, error) {
	switch id.Kind() {
	case lockid.Manifest:
		m, err := lock.Parse(doc)
		if err != nil {
			return Document{}, err
		}
		got, err := m.ID()
		if err != nil {
			return Document{}, err
		}
		if got != id {
			return Document{}, fmt.Errorf("it is the manifest of lock %s", untrusted.Line(string(got)))
		}
		return Document{id: id, manifest: m}, nil
	case lockid.Ollama:
		o, err := ollama.ParseIdentity(id, doc)
		if err != nil {
			return Document{}, err
		}
		return Document{id: id, ollama: &o}, nil
	}
	return Document{}, fmt.Errorf("evalpin knows no identity document for a lock of this kind")
}

// ID returns the lock that d is the identity document of.
func (d Document) ID() lockid.ID { return d.id }

// Words says in one line what differs between the locks of d and e, as
// their kind's diff puts it: lock.Diff(…).Words() for two lock manifests
// ("template changed; tokenizer same; weights same; serving same"),
// ollama.Diff(…).Words() for two Ollama identities ("template changed;
// weights same; parameters same; engine same"). It returns "" when the two
// are of different kinds, or either is the zero Document: there are no parts
// to compare, and a report names the two ids instead.
func (d Document) Words(e Document) string {
	switch {
	case d.manifest != nil && e.manifest != nil:
		return lock.Diff(d.manifest, e.manifest).Words()
	case d.ollama != nil && e.ollama != nil:
		return ollama.Diff(*d.ollama, *e.ollama).Words()
	}
	return ""
}

// Manifest returns d's lock manifest; nil for a document of another kind.
func (d Document) Manifest() *lock.Manifest { return d.manifest }

// WriteText writes d for people: a lock manifest as lock.Manifest.WriteText
// writes it; an Ollama identity as its id and each of its fields, the
// engine's text made safe to show.
func (d Document) WriteText(w io.Writer) error {
	switch {
	case d.manifest != nil:
		return d.manifest.WriteText(w)
	case d.ollama == nil:
		return fmt.Errorf("no identity document")
	}
	o := d.ollama
	var b strings.Builder
	fmt.Fprintf(&b, "Lock:           %s (derived from Ollama)\n", d.id)
	line := func(name string, vals ...string) {
		for i, v := range vals {
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(&b, "%-16s%s\n", name, untrusted.Cut(untrusted.Line(v), 100))
		}
		if len(vals) == 0 {
			fmt.Fprintf(&b, "%-16s(none)\n", name)
		}
	}
	line("Models:", o.Models...)
	line("Adapters:", o.Adapters...)
	line("Engine version:", o.EngineVersion)
	line("Parameters:", o.Parameters...)
	line("Template:", o.Template)
	line("System:", o.System)
	line("Messages:", o.Messages...)
	line("Renderer:", o.Renderer)
	line("Parser:", o.Parser)
	_, err := io.WriteString(w, b.String())
	return err
}

// Marshal returns d's document as its kind encodes it: a lock manifest's
// JSON (lock.Manifest.Marshal), an Ollama identity's canonical form.
func (d Document) Marshal() ([]byte, error) {
	switch {
	case d.manifest != nil:
		return d.manifest.Marshal()
	case d.ollama != nil:
		return d.ollama.Canonical(), nil
	}
	return nil, fmt.Errorf("no identity document")
}

// ReadFile reads the lock file at path as the identity document of its
// lock (lock.ReadFileID, then Parse).
func ReadFile(path string) (Document, error) {
	_, id, data, err := lock.ReadFileID(path)
	if err != nil {
		return Document{}, err
	}
	return Parse(id, data)
}

// Write writes d for people (WriteText), or its document as JSON (Marshal)
// when asJSON is set.
func (d Document) Write(w io.Writer, asJSON bool) error {
	if !asJSON {
		return d.WriteText(w)
	}
	data, err := d.Marshal()
	if err == nil {
		_, err = w.Write(data)
	}
	return err
}

// WriteDiff writes what differs between the locks of d and e: for two lock
// manifests, lock.Diff's words and its changes file by file (as JSON, the
// words and the diff); otherwise the words of Words, or that the two are of
// different kinds.
func WriteDiff(w io.Writer, d, e Document, asJSON bool) error {
	if d.manifest != nil && e.manifest != nil {
		diff := lock.Diff(d.manifest, e.manifest)
		if !asJSON {
			return diff.WriteText(w)
		}
		return untrusted.WriteJSON(w, struct {
			Words string `json:"words"`
			lock.ManifestDiff
		}{diff.Words(), diff}, true)
	}
	words := d.Words(e)
	if words == "" {
		words = fmt.Sprintf("%s and %s are locks of different kinds: no parts to compare", d.id, e.id)
	}
	if asJSON {
		return untrusted.WriteJSON(w, map[string]string{"words": words}, true)
	}
	_, err := fmt.Fprintln(w, untrusted.Line(words))
	return err
}
