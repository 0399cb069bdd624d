package eval

import (
	"encoding/json"
	"fmt"
)

// Changes says which settings differ from s to t, one "name old → new" each
// in the order of the struct's fields, with the names and values of their
// JSON encoding ("samples 1 → 3", "max_tokens 256 → 64"); nil when the two
// hash the same.
func (s Settings) Changes(t Settings) []string {
	if s.Hash() == t.Hash() {
		return nil
	}
	a, b := settingsFields(s), settingsFields(t)
	var out []string
	for _, name := range settingsOrder {
		if a[name] != b[name] {
			out = append(out, fmt.Sprintf("%s %s → %s", name, a[name], b[name]))
		}
	}
	return out
}

// settingsOrder is the order of Settings' JSON fields (a test holds it
// complete).
var settingsOrder = []string{"temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty",
	"frequency_penalty", "seed", "max_tokens", "stop", "system", "logprobs", "samples"}

// settingsFields returns each JSON field of s as its encoded value, "unset"
// for one left out.
func settingsFields(s Settings) map[string]string {
	data, err := json.Marshal(s)
	if err != nil {
		panic("eval: settings cannot be encoded: " + err.Error()) // plain fields only
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		panic("eval: settings cannot be decoded: " + err.Error())
	}
	out := make(map[string]string, len(settingsOrder))
	for _, name := range settingsOrder {
		out[name] = "unset"
		if v, ok := raw[name]; ok {
			out[name] = string(v)
		}
	}
	return out
}
