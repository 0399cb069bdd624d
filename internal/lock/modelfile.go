package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoModelfile is returned by ReadModelfile for a lock without an Ollama
// Modelfile.
var ErrNoModelfile = errors.New("the lock has no Ollama Modelfile")

// A Modelfile is what the locked Ollama Modelfile of a deliverable tells
// Ollama to serve, so that it can be held against what Ollama says it loaded
// (POST /api/show). Strings are as the lock reads them: unquoted, """ blocks
// as written between the quotes.
type Modelfile struct {
	// Path is the Modelfile's path in the manifest.
	Path string
	// From are the FROM lines (the weights, then any projector) and Adapters
	// the ADAPTER lines, in order.
	From     []ModelfileRef
	Adapters []ModelfileRef
	// Template, System, Renderer and Parser are nil when the Modelfile has
	// no such line.
	Template, System, Renderer, Parser *string
	// Parameters are the PARAMETER lines, in order; names in lower case.
	Parameters []ModelfileParameter
	// Messages are the MESSAGE lines, in order.
	Messages []ModelfileMessage
}

// A ModelfileRef is the argument of a FROM or ADAPTER line.
type ModelfileRef struct {
	Arg string // as written, e.g. "./model.gguf"
	// Path is the locked file it names (slash-separated, relative to the
	// model directory), or "" when it names none: a model in a registry, or
	// a directory that Ollama converts into a new blob.
	Path   string
	SHA256 string // hex SHA-256 of the file at Path, from the manifest
}

// A ModelfileParameter is one PARAMETER line.
type ModelfileParameter struct{ Name, Value string }

// A ModelfileMessage is one MESSAGE line.
type ModelfileMessage struct{ Role, Content string }

// ReadModelfile reads the Ollama Modelfile that m locks from the model
// directory dir: the one Modelfile in m, or the one named "Modelfile" at
// the top of the directory when there are several. Its content must still
// hash to the locked SHA-256 (verify dir against m first). A lock without a
// Modelfile is ErrNoModelfile.
func ReadModelfile(dir string, m *Manifest) (*Modelfile, error) {
	var found []File
	for _, f := range m.Files {
		if !strings.Contains(f.Path, "#") && isModelfile(f.Path) {
			found = append(found, f)
		}
	}
	if len(found) == 0 {
		return nil, ErrNoModelfile
	}
	f := found[0]
	if len(found) > 1 {
		i := -1
		for j, g := range found {
			if g.Path == "Modelfile" {
				i = j
			}
		}
		if i < 0 {
			names := make([]string, len(found))
			for j, g := range found {
				names[j] = clean(g.Path)
			}
			return nil, fmt.Errorf("the lock has %d Modelfiles (%s) and none is named Modelfile at the top of the directory", len(found), strings.Join(names, ", "))
		}
		f = found[i]
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
	if err != nil {
		return nil, fmt.Errorf("read the locked Modelfile: %w", err)
	}
	sum := sha256.Sum256(data)
	locked := hex.EncodeToString(sum[:]) == f.SHA256
	if m.Version >= 2 {
		// A version 2 entry records the canonical form, not the bytes.
		a, err := analyzeModelfile(data)
		locked = err == nil && a.V2.Canon.SHA256 == f.SHA256
	}
	if !locked {
		return nil, fmt.Errorf("%s changed since it was verified", clean(f.Path))
	}
	ins, err := parseModelfileAs(data, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", clean(f.Path), err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("model directory: %w", err)
	}
	sums := make(map[string]string, len(m.Files))
	for _, g := range m.Files {
		sums[g.Path] = g.SHA256
	}
	mf := &Modelfile{Path: f.Path}
	for _, in := range ins {
		arg := in.Args
		switch in.Name {
		case "FROM", "ADAPTER":
			ref := ModelfileRef{Arg: arg}
			if _, rel, inside := refTarget(absDir, f.Path, arg); inside && sums[rel] != "" {
				ref.Path, ref.SHA256 = rel, sums[rel]
			}
			if in.Name == "FROM" {
				mf.From = append(mf.From, ref)
			} else {
				mf.Adapters = append(mf.Adapters, ref)
			}
		case "TEMPLATE":
			mf.Template = &arg
		case "SYSTEM":
			mf.System = &arg
		case "RENDERER":
			mf.Renderer = &arg
		case "PARSER":
			mf.Parser = &arg
		case "PARAMETER":
			name, value, _ := strings.Cut(arg, " ")
			mf.Parameters = append(mf.Parameters, ModelfileParameter{Name: name, Value: value})
		case "MESSAGE":
			role, content, _ := strings.Cut(arg, " ")
			mf.Messages = append(mf.Messages, ModelfileMessage{Role: role, Content: content})
		}
	}
	return mf, nil
}
