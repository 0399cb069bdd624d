package endpoint

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/internal/ollama"
)

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
// version (docs/protocol.md §3.1).
func ollamaIdentity(version string, show *ollamaShow) (ollama.Identity, error) {
	id := ollama.Identity{EngineVersion: version, Template: show.Template, System: show.System,
		Renderer: show.Renderer, Parser: show.Parser}
	models, adapters, err := ollama.Blobs(show.Modelfile)
	if err != nil {
		return ollama.Identity{}, err
	}
	id.Models, id.Adapters = models, adapters
	if len(id.Models) == 0 {
		return ollama.Identity{}, fmt.Errorf("modelfile has no FROM line with a blob digest")
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
