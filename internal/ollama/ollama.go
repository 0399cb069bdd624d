// Package ollama knows the parts of Ollama's API that evalpin reads: its
// model naming rules, the modelfile and parameters that POST /api/show
// prints; and the identity evalpin derives from them, whose canonical form
// an Ollama lock hashes (Identity: its canonical document, its lock id, how
// a stored document is verified, and what differs between two in words;
// docs/protocol.md §3.1 and §7). It imports only the standard library, the
// JCS canonicalizer and evalpin's leaves (lockid, untrusted), so the sidecar
// can use it without the endpoint prober or the lock manifests.
//
// The rules follow Ollama v0.17.4 (types/model/name.go, server/routes.go,
// server/images.go).
package ollama

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/internal/untrusted"
)

// The parts Ollama fills in for a name that leaves them out.
const (
	DefaultHost      = "registry.ollama.ai"
	DefaultNamespace = "library"
	DefaultTag       = "latest"
)

// Name returns the canonical form of an Ollama model name,
// host/namespace/model:tag, in lower case, with the parts the name leaves
// out filled in as Ollama fills them: "tiny", "tiny:latest",
// "library/tiny:latest" and "registry.ollama.ai/library/tiny:latest" are one
// model. Ollama matches the parts of an installed model's name without
// regard to case. A scheme in front of the host ("https://") is dropped.
func Name(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	tag := ""
	// '/' may not appear in a tag, so a ':' after the last '/' starts it; one
	// before it belongs to the host's port.
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		s, tag = s[:i], s[i+1:]
	}
	host, namespace, model := "", "", s
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s, model = s[:i], s[i+1:]
		namespace = s
		if j := strings.LastIndex(s, "/"); j >= 0 {
			host, namespace = s[:j], s[j+1:]
			if _, h, ok := strings.Cut(host, "://"); ok {
				host = h
			}
		}
	}
	return or(host, DefaultHost) + "/" + or(namespace, DefaultNamespace) + "/" + model + ":" + or(tag, DefaultTag)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// SameModel reports whether a and b name one model by Ollama's rules (Name).
// An empty name names none.
func SameModel(a, b string) bool {
	return a != "" && b != "" && Name(a) == Name(b)
}

// A Show is the part of POST /api/show's answer evalpin reads.
type Show struct {
	Modelfile  string `json:"modelfile"`
	Parameters string `json:"parameters"`
	Template   string `json:"template"`
	System     string `json:"system"`
	Renderer   string `json:"renderer"`
	Parser     string `json:"parser"`
	Messages   []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	// ModifiedAt is the modification time of the model's manifest file,
	// as Ollama prints it. Every `ollama create` rewrites the manifest, even
	// one that re-creates identical content, so it changes then.
	ModifiedAt string `json:"modified_at"`
}

// blobDigest finds a blob's digest in a modelfile argument such as
// /root/.ollama/models/blobs/sha256-<hex> (the separator was ':' in old
// versions). Ollama names each blob by the SHA-256 of its content.
var blobDigest = regexp.MustCompile(`sha256[-:]([0-9a-f]{64})`)

// Blobs returns the digests of the blobs that the FROM and ADAPTER lines of
// a modelfile printed by /api/show name, each as "sha256:<hex>", in order:
// the weights and any projector (FROM), and the adapters (ADAPTER). Only the
// lines at the top are read (after the '#' comment header, up to the first
// other command), so a template or system prompt whose text has a line
// starting with "FROM" cannot pass for one. A FROM or ADAPTER line that names
// no blob is an error.
func Blobs(modelfile string) (models, adapters []string, err error) {
scan:
	for _, line := range strings.Split(modelfile, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		verb, arg, _ := strings.Cut(line, " ")
		var list *[]string
		switch strings.ToUpper(verb) {
		case "FROM":
			list = &models
		case "ADAPTER":
			list = &adapters
		default:
			break scan
		}
		m := blobDigest.FindStringSubmatch(arg)
		if m == nil {
			return nil, nil, fmt.Errorf("modelfile line %q names no blob digest", untrusted.Cut(line, 120))
		}
		*list = append(*list, "sha256:"+m[1])
	}
	return models, adapters, nil
}

// A Parameter is one model parameter: a name and one value. A parameter
// with several values (stop sequences) is several Parameters.
type Parameter struct {
	Name  string
	Value string
}

// String returns "name value".
func (p Parameter) String() string { return p.Name + " " + p.Value }

// ParseParameters reads the "parameters" of /api/show: one "name value"
// line per value, the name padded with blanks, the value in Go syntax (a
// string quoted, as fmt's %#v prints it). Values are returned unquoted,
// sorted by name; the values of one name keep their order. (Ollama prints
// them from a map, in random order.)
func ParseParameters(s string) []Parameter {
	var ps []Parameter
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		value = strings.TrimSpace(value)
		if u, err := strconv.Unquote(value); err == nil && strings.HasPrefix(value, `"`) {
			value = u
		}
		ps = append(ps, Parameter{Name: name, Value: value})
	}
	SortParameters(ps)
	return ps
}

// SortParameters sorts ps by name, keeping the order of the values of one
// name.
func SortParameters(ps []Parameter) {
	slices.SortStableFunc(ps, func(a, b Parameter) int { return strings.Compare(a.Name, b.Name) })
}

// Ignored reports whether Ollama ignores the parameter name in a Modelfile:
// it warns that the parameter is deprecated and leaves it out of the model
// it creates (v0.17.4, parser.deprecatedParameters).
func Ignored(name string) bool {
	switch name {
	case "penalize_newline", "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mlock",
		"mirostat", "mirostat_tau", "mirostat_eta":
		return true
	}
	return false
}

// SameValue reports whether two parameter values are one to Ollama: equal
// as text, or as numbers (Ollama keeps floating-point parameters as 32-bit
// floats and prints them shortest, so "0.70" in a Modelfile reads "0.7"), or
// as booleans ("True" and "true").
func SameValue(a, b string) bool {
	if a == b {
		return true
	}
	if x, err := strconv.ParseFloat(a, 64); err == nil {
		if y, err := strconv.ParseFloat(b, 64); err == nil {
			return float32(x) == float32(y)
		}
	}
	if x, err := strconv.ParseBool(a); err == nil {
		if y, err := strconv.ParseBool(b); err == nil {
			return x == y
		}
	}
	return false
}
