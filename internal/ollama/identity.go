package ollama

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gowebpki/jcs"

	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// scheme versions the derivation; it is part of the hashed document so that
// a future derivation can never produce an id of this one.
const scheme = "evalpin-ollama-lock/1"

// An Identity is what evalpin hashes into the lock of a model served by
// Ollama (docs/protocol.md §3.1). Everything in it comes from the engine and
// is independent of where the engine keeps its files (OLLAMA_MODELS) and of
// the host's OS and architecture, which change the digest /api/tags reports.
// The prober (internal/endpoint) derives it from POST /api/show and
// GET /api/version.
type Identity struct {
	// EngineVersion is "version" of GET /api/version.
	EngineVersion string
	// Models are the blobs of the modelfile's FROM lines (the weights, then any
	// projector), each as "sha256:<hex>", in modelfile order. Ollama names each
	// blob by the SHA-256 of its content.
	Models []string
	// Adapters are the blobs of the modelfile's ADAPTER lines, in order.
	Adapters []string
	// Template is the chat template ("template" of POST /api/show).
	Template string
	// System is the default system prompt ("system").
	System string
	// Parameters are the lines of "parameters", each as "name value" with the
	// padding collapsed, sorted by name; values of one name keep their order.
	// Ollama prints them from a map, so their order is otherwise random.
	Parameters []string
	// Messages are the modelfile's MESSAGE turns ("messages"), each as
	// "role: content", in order.
	Messages []string
	// Renderer and Parser name the built-in prompt renderer and output parser
	// some models use instead of (or beside) the template ("renderer",
	// "parser").
	Renderer string
	Parser   string
}

// identityDoc is the identity document as Canonical writes it: every key
// of the document, and no other.
type identityDoc struct {
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

// Canonical returns the document the lock hashes: a JSON object with the keys
// adapters, engine_version, messages, models, parameters, parser, renderer,
// scheme, system and template, every key present (empty strings and empty
// arrays included), in RFC 8785 (JCS) canonical form: sorted keys, no
// whitespace, only '"', '\' and control characters escaped; each run of
// invalid UTF-8 becomes one U+FFFD.
func (o Identity) Canonical() []byte {
	str := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	list := func(ss []string) []string {
		out := make([]string, len(ss)) // [] in the document, never null
		for i, s := range ss {
			out[i] = str(s)
		}
		return out
	}
	doc, err := json.Marshal(identityDoc{
		Adapters:      list(o.Adapters),
		EngineVersion: str(o.EngineVersion),
		Messages:      list(o.Messages),
		Models:        list(o.Models),
		Parameters:    list(o.Parameters),
		Parser:        str(o.Parser),
		Renderer:      str(o.Renderer),
		Scheme:        scheme,
		System:        str(o.System),
		Template:      str(o.Template),
	})
	if err == nil {
		doc, err = jcs.Transform(doc)
	}
	if err != nil {
		// Strings and lists of strings always marshal, and json.Marshal's
		// output is JSON that jcs accepts.
		panic("ollama: canonical identity: " + err.Error())
	}
	return doc
}

// Lock returns "ollama:sha256:" followed by the hex SHA-256 of Canonical.
func (o Identity) Lock() lockid.ID {
	sum := sha256.Sum256(o.Canonical())
	return lockid.ID(lockid.OllamaPrefix + hex.EncodeToString(sum[:]))
}

// ParseIdentity reads an identity document (as Canonical writes it) back
// into the identity, and verifies that it is the identity of id: the
// document is one JSON object with no keys but Canonical's, names evalpin's
// derivation scheme, and its canonical form hashes to id. Its bytes may have
// been re-encoded (`<` as `\u003c`); what it says may not have changed. A
// document that fails is refused with an error saying why; the document is
// untrusted text, and nothing of it is quoted unescaped.
func ParseIdentity(id lockid.ID, doc []byte) (Identity, error) {
	if id.Kind() != lockid.Ollama {
		return Identity{}, fmt.Errorf("%s is not an Ollama lock (%s<64 hex digits>)", untrusted.Clip(string(id), 100), lockid.OllamaPrefix)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var d identityDoc
	if err := dec.Decode(&d); err != nil {
		return Identity{}, fmt.Errorf("not an Ollama identity document: %s", untrusted.Clip(err.Error(), 200))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Identity{}, fmt.Errorf("not an Ollama identity document: data after the JSON object")
	}
	if d.Scheme != scheme {
		return Identity{}, fmt.Errorf("identity document of scheme %q, want %q", untrusted.Clip(d.Scheme, 100), scheme)
	}
	o := Identity{
		EngineVersion: d.EngineVersion, Models: d.Models, Adapters: d.Adapters,
		Template: d.Template, System: d.System, Parameters: d.Parameters, Messages: d.Messages,
		Renderer: d.Renderer, Parser: d.Parser,
	}
	if got := o.Lock(); got != id {
		return Identity{}, fmt.Errorf("the identity document is lock %s, not %s (edited, or stored under another lock)", got, id)
	}
	return o, nil
}
