package endpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gowebpki/jcs"

	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
)

// ollamaScheme versions the derivation; it is part of the hashed document so
// that a future derivation can never produce an id of this one.
const ollamaScheme = "evalpin-ollama-lock/1"

// An OllamaIdentity is what evalpin hashes into the lock of a model served by
// Ollama. Everything in it comes from the engine and is independent of where
// the engine keeps its files (OLLAMA_MODELS) and of the host's OS and
// architecture, which change the digest /api/tags reports.
type OllamaIdentity struct {
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

// Canonical returns the document the lock hashes: a JSON object with the keys
// adapters, engine_version, messages, models, parameters, parser, renderer,
// scheme, system and template, every key present (empty strings and empty
// arrays included), in RFC 8785 (JCS) canonical form: sorted keys, no
// whitespace, only '"', '\' and control characters escaped; each run of
// invalid UTF-8 becomes one U+FFFD.
func (o OllamaIdentity) Canonical() []byte {
	str := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	list := func(ss []string) []string {
		out := make([]string, len(ss)) // [] in the document, never null
		for i, s := range ss {
			out[i] = str(s)
		}
		return out
	}
	doc, err := json.Marshal(map[string]any{
		"adapters":       list(o.Adapters),
		"engine_version": str(o.EngineVersion),
		"messages":       list(o.Messages),
		"models":         list(o.Models),
		"parameters":     list(o.Parameters),
		"parser":         str(o.Parser),
		"renderer":       str(o.Renderer),
		"scheme":         ollamaScheme,
		"system":         str(o.System),
		"template":       str(o.Template),
	})
	if err == nil {
		doc, err = jcs.Transform(doc)
	}
	if err != nil {
		// Strings and lists of strings always marshal, and json.Marshal's
		// output is JSON that jcs accepts.
		panic("endpoint: canonical Ollama identity: " + err.Error())
	}
	return doc
}

// Lock returns "ollama:sha256:" followed by the hex SHA-256 of Canonical.
func (o OllamaIdentity) Lock() lockid.ID {
	sum := sha256.Sum256(o.Canonical())
	return lockid.ID(lockid.OllamaPrefix + hex.EncodeToString(sum[:]))
}

// ollamaShow is the part of POST /api/show's answer evalpin reads: the
// identity (ollama.Show) and what is shown as evidence.
type ollamaShow struct {
	ollama.Show
	Details struct {
		Format            string `json:"format"`
		Family            string `json:"family"`
		ParameterSize     string `json:"parameter_size"`
		QuantizationLevel string `json:"quantization_level"`
	} `json:"details"`
	ModelInfo map[string]any `json:"model_info"`
}

// ollamaIdentity derives the identity from /api/show's answer and the engine
// version.
func ollamaIdentity(version string, show *ollamaShow) (OllamaIdentity, error) {
	id := OllamaIdentity{EngineVersion: version, Template: show.Template, System: show.System,
		Renderer: show.Renderer, Parser: show.Parser}
	models, adapters, err := ollama.Blobs(show.Modelfile)
	if err != nil {
		return OllamaIdentity{}, err
	}
	id.Models, id.Adapters = models, adapters
	if len(id.Models) == 0 {
		return OllamaIdentity{}, fmt.Errorf("modelfile has no FROM line with a blob digest")
	}
	id.Parameters = normalizeParameters(show.Parameters)
	for _, m := range show.Messages {
		id.Messages = append(id.Messages, m.Role+": "+m.Content)
	}
	return id, nil
}

// normalizeParameters turns Ollama's padded "name   value" lines into
// "name value" lines sorted by name, keeping the order of a name's values
// (stop sequences).
func normalizeParameters(s string) []string {
	type param struct{ name, value string }
	var ps []param
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		ps = append(ps, param{name, strings.TrimSpace(value)})
	}
	slices.SortStableFunc(ps, func(a, b param) int { return strings.Compare(a.name, b.name) })
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.name + " " + p.value
	}
	return out
}

// ollamaEvidence lists what /api/show says about a model beyond its identity.
func ollamaEvidence(show *ollamaShow) []Evidence {
	const from = "POST /api/show"
	var ev []Evidence
	add := func(name, value string) {
		if value != "" {
			ev = append(ev, Evidence{Name: name, Value: value, From: from})
		}
	}
	add("format", show.Details.Format)
	add("family", show.Details.Family)
	add("parameters", show.Details.ParameterSize)
	add("quantization", show.Details.QuantizationLevel)
	if arch, ok := show.ModelInfo["general.architecture"].(string); ok {
		if n, ok := show.ModelInfo[arch+".context_length"].(float64); ok {
			add("max context", strconv.FormatFloat(n, 'f', -1, 64))
		}
	}
	return ev
}

// ollamaName returns an Ollama model name in full (ollama.Name), for
// comparing names as Ollama does.
func ollamaName(name string) string { return ollama.Name(name) }
