package lock

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/gowebpki/jcs"
)

// An analysis is what a file's content says beyond its hash: the parts it
// embeds (recorded as virtual entries), the hash of the rest, and the files it
// names as weights. It depends on the content only, so the stat cache keeps it.
type analysis struct {
	Parts []part   `json:"parts,omitempty"`
	Rest  string   `json:"rest,omitempty"` // hex SHA-256 of the content without the parts
	Refs  []string `json:"refs,omitempty"` // FROM and ADAPTER arguments of a Modelfile
	// V2 holds what only version 2 manifests record.
	V2 *analysisV2 `json:"v2,omitempty"`
}

// An analysisV2 is what a version 2 manifest records of a file beyond what
// version 1 does (docs/lock.md, "Version 2").
type analysisV2 struct {
	// Canon is a Modelfile's canonical form, whose size and hash its entry
	// records instead of its bytes' (comments and layout are no part of it).
	Canon *part `json:"canon,omitempty"`
	// Parts are a GGUF file's parts.
	Parts []part `json:"parts,omitempty"`
	// Rest is the hash of the content without its parts and values, for a
	// file that version 1 does not take apart (a GGUF file, config.json).
	Rest string `json:"rest,omitempty"`
	// Values are a config.json's behaviour-relevant keys.
	Values map[string]any `json:"values,omitempty"`
}

// A part is one embedded piece of a file, recorded as the virtual entry
// path+Suffix.
type part struct {
	Suffix string `json:"suffix"` // e.g. "#chat_template"
	Role   Role   `json:"role"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Values are facts the part's entry records for a diff to name (a
	// GGUF's quantization); version 2 only.
	Values map[string]any `json:"values,omitempty"`
}

func newPart(suffix string, role Role, text string) part {
	sum := sha256.Sum256([]byte(text))
	return part{Suffix: suffix, Role: role, Size: int64(len(text)), SHA256: hex.EncodeToString(sum[:])}
}

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// maxAnalyzed bounds the size of a file read whole for analysis; a larger
// "tokenizer_config.json" or Modelfile is hashed but not taken apart.
const maxAnalyzed = 64 << 20

// analyzable reports whether the file at p is read whole and taken apart
// into virtual entries or values. (A GGUF file is taken apart while it is
// streamed: see readGGUF.)
func analyzable(p string) bool {
	return embedsTemplate(p) || isModelfile(p) || configValueKeys(p) != nil
}

// analyze takes apart the content of the file at p.
func analyze(p string, data []byte) (analysis, error) {
	switch {
	case embedsTemplate(p):
		return analyzeTemplateJSON(data), nil
	case isModelfile(p):
		return analyzeModelfile(data)
	case configValueKeys(p) != nil:
		return analyzeConfigJSON(data, configValueKeys(p)), nil
	}
	return analysis{}, nil
}

// The behaviour-relevant keys of a Hugging Face config.json and
// generation_config.json, whose values a version 2 entry records so that a
// diff can name them ("config: torch_dtype bfloat16 → float16").
var (
	configKeys = []string{
		"architectures", "attention_bias", "bos_token_id", "dtype", "eos_token_id",
		"head_dim", "hidden_act", "hidden_size", "intermediate_size", "max_position_embeddings",
		"max_window_layers", "model_type", "num_attention_heads", "num_hidden_layers",
		"num_key_value_heads", "pad_token_id", "quantization_config", "rms_norm_eps",
		"rope_scaling", "rope_theta", "sliding_window", "tie_word_embeddings", "torch_dtype",
		"use_sliding_window", "vocab_size",
	}
	generationConfigKeys = []string{
		"bos_token_id", "do_sample", "eos_token_id", "max_length", "max_new_tokens", "min_p",
		"pad_token_id", "repetition_penalty", "temperature", "top_k", "top_p",
	}
)

// configValueKeys returns the keys whose values the file at p records, or nil.
func configValueKeys(p string) []string {
	switch strings.ToLower(path.Base(p)) {
	case "config.json":
		return configKeys
	case "generation_config.json":
		return generationConfigKeys
	}
	return nil
}

// analyzeConfigJSON records the values of keys in a JSON object (those
// present, null included) and, as V2.Rest, the SHA-256 of the canonical JSON
// of the object without them. A file that is not a JSON object yields nothing.
func analyzeConfigJSON(data []byte, keys []string) analysis {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return analysis{}
	}
	v2 := &analysisV2{Values: map[string]any{}}
	for _, k := range keys {
		raw, ok := obj[k]
		if !ok {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) == nil {
			v2.Values[k] = v
			delete(obj, k)
		}
	}
	if len(v2.Values) == 0 {
		v2.Values = nil
	}
	rest, err := json.Marshal(obj)
	if err == nil {
		if c, err := jcs.Transform(rest); err == nil {
			rest = c
		}
	}
	v2.Rest = hexSum(rest)
	return analysis{V2: v2}
}

// analyzeTemplateJSON records the "chat_template" of a tokenizer_config.json: a
// string becomes the part "#chat_template"; a list of {"name", "template"}
// objects becomes one part "#chat_template.NAME" each; any other value becomes
// "#chat_template" holding its canonical JSON; null or no key, no part. Rest is
// the SHA-256 of the canonical JSON (RFC 8785) of the object without the key,
// set whether or not there is a template, so that adding or removing one is a
// template change alone. A file that is not a JSON object yields nothing.
func analyzeTemplateJSON(data []byte) analysis {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return analysis{}
	}
	var a analysis
	if raw, ok := obj["chat_template"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		a.Parts = templateParts(raw)
	}
	delete(obj, "chat_template")
	rest, err := json.Marshal(obj)
	if err == nil {
		if c, err := jcs.Transform(rest); err == nil {
			rest = c
		}
	}
	a.Rest = hexSum(rest)
	return a
}

// templateParts returns the parts of the JSON value of a "chat_template" key
// (see analyzeTemplateJSON).
func templateParts(raw json.RawMessage) []part {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []part{newPart("#chat_template", RoleTemplate, s)}
	}
	var named []struct {
		Name     *string `json:"name"`
		Template *string `json:"template"`
	}
	if json.Unmarshal(raw, &named) == nil && wellNamed(named) {
		parts := make([]part, len(named))
		for i, t := range named {
			parts[i] = newPart("#chat_template."+*t.Name, RoleTemplate, *t.Template)
		}
		return parts
	}
	c, err := jcs.Transform(raw)
	if err != nil {
		c = raw
	}
	return []part{newPart("#chat_template", RoleTemplate, string(c))}
}

// wellNamed reports whether every named template has a name and a template, and
// the names are distinct and usable in a path.
func wellNamed(ts []struct {
	Name     *string `json:"name"`
	Template *string `json:"template"`
}) bool {
	seen := map[string]bool{}
	for _, t := range ts {
		if t.Name == nil || t.Template == nil || *t.Name == "" || seen[*t.Name] || strings.ContainsAny(*t.Name, "#/\n") {
			return false
		}
		seen[*t.Name] = true
	}
	return len(ts) > 0
}

// An instruction is one line (or block) of an Ollama Modelfile.
type instruction struct {
	Name string // upper case, e.g. "FROM"
	Args string // unquoted
}

// parseModelfile reads the instructions of an Ollama Modelfile: a name, then
// its arguments to the end of the line, or in "…" quotes, or in """…""" quotes
// that may span lines. Blank lines and lines starting with # are skipped.
func parseModelfile(data []byte) ([]instruction, error) { return parseModelfileAs(data, false) }

// parseModelfileAs is parseModelfile; with messageRole, a MESSAGE's role is
// taken apart like a PARAMETER's name (the content alone may be quoted, and
// Args is "role content"), as Ollama reads it. Analyses keep the plain form,
// whose hashes the stat cache and existing manifests hold.
func parseModelfileAs(data []byte, messageRole bool) ([]instruction, error) {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	var out []instruction
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, args := cutSpace(line)
		in := instruction{Name: strings.ToUpper(name)}
		prefix := ""
		if in.Name == "PARAMETER" || (messageRole && in.Name == "MESSAGE") {
			// PARAMETER name value (MESSAGE role content): only the
			// value may be quoted.
			var pname string
			pname, args = cutSpace(args)
			prefix = strings.ToLower(pname) + " "
		}
		text, end, err := argument(lines, i, args)
		if err != nil {
			return nil, err
		}
		in.Args, i = prefix+text, end
		out = append(out, in)
	}
	return out, nil
}

// argument returns the text of an instruction's argument s, which starts on
// line i, and the index of the line it ends on: the inside of a """ block,
// which may span lines, or s less one pair of surrounding double quotes.
func argument(lines []string, i int, s string) (string, int, error) {
	if strings.HasPrefix(s, `"""`) {
		return tripleQuoted(lines, i, s)
	}
	return unquote(s), i, nil
}

// tripleQuoted returns the text of a """ block that starts with first on line i,
// and the index of the line it ends on.
func tripleQuoted(lines []string, i int, first string) (string, int, error) {
	rest := first[3:]
	if j := strings.Index(rest, `"""`); j >= 0 {
		return rest[:j], i, nil
	}
	var b strings.Builder
	b.WriteString(rest)
	for k := i + 1; k < len(lines); k++ {
		b.WriteString("\n")
		if j := strings.Index(lines[k], `"""`); j >= 0 {
			b.WriteString(lines[k][:j])
			return b.String(), k, nil
		}
		b.WriteString(lines[k])
	}
	return "", 0, fmt.Errorf("line %d: \"\"\" block is never closed", i+1)
}

// cutSpace splits s at its first blank into a word and the trimmed rest.
func cutSpace(s string) (string, string) {
	if j := strings.IndexAny(s, " \t"); j >= 0 {
		return s[:j], strings.TrimSpace(s[j+1:])
	}
	return s, ""
}

// unquote strips one pair of surrounding double quotes.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// analyzeModelfile records an Ollama Modelfile's TEMPLATE as the part
// "#template" (role template), its PARAMETER lines as "#parameters" and its
// SYSTEM prompt as "#system" (role config). Rest covers every other instruction
// (FROM, ADAPTER, LICENSE, MESSAGE, …); Refs are the FROM and ADAPTER arguments.
func analyzeModelfile(data []byte) (analysis, error) {
	ins, err := parseModelfile(data)
	if err != nil {
		return analysis{}, err
	}
	var a analysis
	var template, system *string
	var params, rest, canon strings.Builder
	for _, in := range ins {
		fmt.Fprintf(&canon, "%s %d %s\n", in.Name, len(in.Args), in.Args)
		switch in.Name {
		case "TEMPLATE":
			template = &in.Args
		case "SYSTEM":
			system = &in.Args
		case "PARAMETER":
			params.WriteString(in.Args + "\n")
		default:
			rest.WriteString(in.Name + " " + in.Args + "\n")
			if in.Name == "FROM" || in.Name == "ADAPTER" {
				a.Refs = append(a.Refs, in.Args)
			}
		}
	}
	if template != nil {
		a.Parts = append(a.Parts, newPart("#template", RoleTemplate, *template))
	}
	if params.Len() > 0 {
		a.Parts = append(a.Parts, newPart("#parameters", RoleConfig, params.String()))
	}
	if system != nil {
		a.Parts = append(a.Parts, newPart("#system", RoleConfig, *system))
	}
	a.Rest = hexSum([]byte(rest.String()))
	c := newPart("", RoleConfig, canon.String())
	a.V2 = &analysisV2{Canon: &c}
	return a, nil
}
