package suites

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"

	"github.com/evalpin/evalpin/eval"
)

// A case's hash is the hex SHA-256 of the canonical JSON of what decides its
// output and its checks:
//
//	{"id": …, "messages": […] or "prompt": …, "scorers": [{"kind": …, "name": …, "param": …, …}],
//	 "settings": the suite's defaults with the case's overrides applied}
//
// where "settings" leaves out samples and logprobs (they change how often a case
// is asked and what else is returned, not the output) and keeps the system
// prompt only where it is sent: for a chat case without a system message of its
// own. Tags and cluster are left out: they group cases for statistics, so
// retagging a suite keeps its cases paired with their baselines. Canonical JSON
// has sorted keys, no insignificant white space, no HTML escaping, and numbers
// as encoding/json writes a float64, so YAML and JSON lines, formatting,
// comments and key order do not change a hash.

// hashCase is the content of a case's hash.
type hashCase struct {
	ID       string         `json:"id"`
	Messages []eval.Message `json:"messages,omitempty"`
	Prompt   *string        `json:"prompt,omitempty"`
	Scorers  []any          `json:"scorers"`
	Settings eval.Settings  `json:"settings"`
}

// caseHash returns c's hash under the suite's defaults.
func caseHash(c *eval.Case, defaults eval.Settings) string {
	h := hashCase{ID: c.ID, Messages: c.Messages, Scorers: make([]any, len(c.Scorers))}
	set := defaults.With(c.Overrides)
	set.Samples, set.Logprobs = 0, false
	if c.Messages == nil {
		h.Prompt = &c.Prompt
		set.System = ""
	} else if slices.ContainsFunc(c.Messages, func(m eval.Message) bool { return m.Role == "system" }) {
		set.System = ""
	}
	h.Settings = set
	for i, s := range c.Scorers {
		// The scorer's parameters as it encodes them, flat beside its kind
		// and its name (given or defaulted, so "name: contains" changes nothing).
		m := structMap(reflect.ValueOf(s).Elem())
		m["name"] = s.Name()
		if ks, ok := s.(eval.KindScorer); ok {
			m["kind"] = ks.Kind()
		}
		h.Scorers[i] = m
	}
	return sum(canonicalJSON(h))
}

// suiteHash returns the hash of a suite: the canonical JSON of its defaults
// (all of them) and its case hashes in sorted order, so that reordering the
// cases, renaming or re-versioning the suite, retagging and reformatting keep
// it, and any change to what is asked or checked changes it.
func suiteHash(defaults eval.Settings, cases []eval.Case) string {
	hashes := make([]string, len(cases))
	for i := range cases {
		hashes[i] = cases[i].Hash
	}
	slices.Sort(hashes)
	return sum(canonicalJSON(struct {
		Defaults eval.Settings `json:"defaults"`
		Cases    []string      `json:"cases"`
	}{defaults, hashes}))
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// canonicalJSON returns the canonical JSON of v (see appendCanonical).
func canonicalJSON(v any) []byte {
	return appendCanonical(make([]byte, 0, 512), v)
}

// normalizeNumbers replaces each json.Number in v by the float64 it denotes,
// so that 1.50, 1.5 and 15e-1 encode alike. Integers beyond 2^53 are rounded,
// as JavaScript would.
func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return v
		}
		return f
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalizeNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalizeNumbers(e)
		}
		return out
	}
	return v
}
