package suites

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/score"
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

// A hasher computes the hashes of one suite's cases under its defaults. It
// writes the canonical JSON of the hash document directly, field by field in
// sorted key order, and keeps what many cases repeat: the settings of a case
// without overrides, and the encoding of each compiled scorer (build shares
// one scorer among the cases with the same regex or schema). A hasher is for
// one goroutine.
type hasher struct {
	defaults eval.Settings
	// withSystem and withoutSystem are the canonical settings of a case
	// without overrides, keeping the system prompt and leaving it out.
	withSystem, withoutSystem []byte
	shared                    map[eval.Scorer][]byte // canonical JSON of compiled scorers
	buf                       []byte
}

// newHasher returns a hasher for cases under defaults.
func newHasher(defaults eval.Settings) *hasher {
	set := caseSettings(defaults)
	h := &hasher{defaults: defaults, withSystem: appendSettings(nil, set)}
	set.System = ""
	h.withoutSystem = appendSettings(nil, set)
	return h
}

// caseSettings returns what of set goes into a case's hash: all but samples
// and logprobs.
func caseSettings(set eval.Settings) eval.Settings {
	set.Samples, set.Logprobs = 0, false
	return set
}

// caseHash returns c's hash.
func (h *hasher) caseHash(c *eval.Case) string {
	b := append(h.buf[:0], `{"id":`...)
	b = appendString(b, c.ID)
	// The system prompt counts only where it is sent.
	keepSystem := false
	if len(c.Messages) > 0 {
		b = append(b, `,"messages":[`...)
		keepSystem = true
		for i, m := range c.Messages {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"content":`...)
			b = appendString(b, m.Content)
			b = append(b, `,"role":`...)
			b = appendString(b, m.Role)
			b = append(b, '}')
			if m.Role == "system" {
				keepSystem = false
			}
		}
		b = append(b, ']')
	} else if c.Messages != nil {
		keepSystem = true // an empty list is left out, as omitempty does
	}
	if c.Messages == nil {
		b = append(b, `,"prompt":`...)
		b = appendString(b, c.Prompt)
	}
	b = append(b, `,"scorers":[`...)
	for i, s := range c.Scorers {
		if i > 0 {
			b = append(b, ',')
		}
		b = h.appendScorer(b, s)
	}
	b = append(b, `],"settings":`...)
	switch o := c.Overrides; {
	case o.MaxTokens != nil || o.Stop != nil || o.Temperature != nil || o.Seed != nil:
		set := caseSettings(h.defaults.With(o))
		if !keepSystem {
			set.System = ""
		}
		b = appendSettings(b, set)
	case keepSystem:
		b = append(b, h.withSystem...)
	default:
		b = append(b, h.withoutSystem...)
	}
	b = append(b, '}')
	h.buf = b
	return sum(b)
}

// appendScorer appends the canonical JSON of a scorer: its parameters as it
// encodes them (by their json tags, honouring omitempty), flat beside its
// kind and its name (given or defaulted, so "name: contains" changes
// nothing). A compiled scorer's encoding is kept for the cases that share it.
func (h *hasher) appendScorer(b []byte, s eval.Scorer) []byte {
	switch s.(type) {
	case *score.Regex, *score.JSONSchema:
		enc, ok := h.shared[s]
		if !ok {
			enc = appendScorer(nil, s)
			if h.shared == nil {
				h.shared = make(map[eval.Scorer][]byte)
			}
			h.shared[s] = enc
		}
		return append(b, enc...)
	}
	return appendScorer(b, s)
}

// appendScorer appends the canonical JSON of s; see hasher.appendScorer. The
// keys of each kind are written in sorted order. An omitempty float is left
// out where it is 0 or -0, as reflect.Value.IsZero decides.
func appendScorer(b []byte, s eval.Scorer) []byte {
	name := s.Name()
	switch s := s.(type) {
	case *score.Equals:
		b = append(b, '{')
		if s.IgnoreCase {
			b = append(b, `"ignore_case":true,`...)
		}
		b = appendKindName(b, s.Kind(), name)
		b = append(b, `,"trim":`...)
		b = strconv.AppendBool(b, s.Trim)
		b = append(b, `,"value":`...)
		b = appendString(b, s.Value)
	case *score.Contains:
		b = append(b, '{')
		if s.Any {
			b = append(b, `"any":true,`...)
		}
		if s.IgnoreCase {
			b = append(b, `"ignore_case":true,`...)
		}
		b = appendKindName(b, s.Kind(), name)
		b = append(b, `,"values":`...)
		b = appendStrings(b, s.Values)
	case *score.NotContains:
		b = append(b, '{')
		if s.IgnoreCase {
			b = append(b, `"ignore_case":true,`...)
		}
		b = appendKindName(b, s.Kind(), name)
		b = append(b, `,"values":`...)
		b = appendStrings(b, s.Values)
	case *score.Regex:
		b = append(b, '{')
		if s.IgnoreCase {
			b = append(b, `"ignore_case":true,`...)
		}
		b = appendKindName(b, s.Kind(), name)
		b = append(b, `,"pattern":`...)
		b = appendString(b, s.Pattern)
	case *score.JSONValid:
		b = append(b, '{')
		b = appendKindName(b, s.Kind(), name)
		if s.StripFence {
			b = append(b, `,"strip_fence":true`...)
		}
	case *score.JSONSchema:
		b = append(b, '{')
		b = appendKindName(b, s.Kind(), name)
		b = append(b, `,"schema":`...)
		b = appendCanonical(b, s.Schema)
		if s.StripFence {
			b = append(b, `,"strip_fence":true`...)
		}
	case *score.Number:
		b = append(b, '{')
		if s.Abs != 0 {
			b = append(b, `"abs":`...)
			b = appendFloat(b, s.Abs)
			b = append(b, ',')
		}
		b = appendKindName(b, s.Kind(), name)
		b = append(b, `,"pick":`...)
		b = appendString(b, s.Pick)
		if s.Rel != 0 {
			b = append(b, `,"rel":`...)
			b = appendFloat(b, s.Rel)
		}
		b = append(b, `,"value":`...)
		b = appendFloat(b, s.Value)
	case *score.Choice:
		b = append(b, `{"choices":`...)
		b = appendString(b, s.Choices)
		b = append(b, ',')
		b = appendKindName(b, s.Kind(), name)
		b = append(b, `,"value":`...)
		b = appendString(b, s.Answer)
	case *score.Length:
		b = append(b, `{"kind":`...)
		b = appendString(b, s.Kind())
		for _, f := range [...]struct {
			key string
			v   int
		}{{`,"max_chars":`, s.MaxChars}, {`,"max_words":`, s.MaxWords}, {`,"min_chars":`, s.MinChars}, {`,"min_words":`, s.MinWords}} {
			if f.v != 0 {
				b = append(b, f.key...)
				b = strconv.AppendInt(b, int64(f.v), 10)
			}
		}
		b = append(b, `,"name":`...)
		b = appendString(b, name)
		b = append(b, `,"trim":`...)
		b = strconv.AppendBool(b, s.Trim)
	default:
		panic(fmt.Sprintf("suites: no canonical JSON for scorer %T", s)) // build makes only the kinds above
	}
	return append(b, '}')
}

// appendKindName appends the "kind" and "name" members of a scorer.
func appendKindName(b []byte, kind, name string) []byte {
	b = append(b, `"kind":`...)
	b = appendString(b, kind)
	b = append(b, `,"name":`...)
	return appendString(b, name)
}

// appendStrings appends a list of strings; nil is null.
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendSettings appends the canonical JSON of s as eval.Settings encodes
// it: its keys sorted, the omitempty ones left out where empty.
func appendSettings(b []byte, s eval.Settings) []byte {
	b = append(b, `{"frequency_penalty":`...)
	b = appendFloat(b, s.FrequencyPenalty)
	if s.Logprobs {
		b = append(b, `,"logprobs":true`...)
	}
	b = append(b, `,"max_tokens":`...)
	b = strconv.AppendInt(b, int64(s.MaxTokens), 10)
	if s.MinP != nil {
		b = append(b, `,"min_p":`...)
		b = appendFloat(b, *s.MinP)
	}
	b = append(b, `,"presence_penalty":`...)
	b = appendFloat(b, s.PresencePenalty)
	if s.RepetitionPenalty != nil {
		b = append(b, `,"repetition_penalty":`...)
		b = appendFloat(b, *s.RepetitionPenalty)
	}
	b = append(b, `,"samples":`...)
	b = strconv.AppendInt(b, int64(s.Samples), 10)
	b = append(b, `,"seed":`...)
	b = strconv.AppendInt(b, s.Seed, 10)
	if len(s.Stop) > 0 {
		b = append(b, `,"stop":`...)
		b = appendStrings(b, s.Stop)
	}
	if s.System != "" {
		b = append(b, `,"system":`...)
		b = appendString(b, s.System)
	}
	b = append(b, `,"temperature":`...)
	b = appendFloat(b, s.Temperature)
	if s.TopK != nil {
		b = append(b, `,"top_k":`...)
		b = strconv.AppendInt(b, int64(*s.TopK), 10)
	}
	b = append(b, `,"top_p":`...)
	b = appendFloat(b, s.TopP)
	return append(b, '}')
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
	b := make([]byte, 0, len(`{"cases":[],"defaults":}`)+len(hashes)*(2*sha256.Size+3)+256)
	b = append(b, `{"cases":`...)
	b = appendStrings(b, hashes)
	b = append(b, `,"defaults":`...)
	b = appendSettings(b, defaults)
	return sum(append(b, '}'))
}

// sum returns the hex SHA-256 of b.
func sum(b []byte) string {
	s := sha256.Sum256(b)
	var x [2 * sha256.Size]byte
	hex.Encode(x[:], s[:])
	return string(x[:])
}
