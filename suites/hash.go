package suites

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"

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

// hashCase is what a case's hash covers.
type hashCase struct {
	ID       string         `json:"id"`
	Messages []eval.Message `json:"messages,omitempty"`
	Prompt   *string        `json:"prompt,omitempty"`
	Scorers  []eval.Scorer  `json:"scorers"` // each its kind, its name and its JSON encoding
	Settings eval.Settings  `json:"settings"`
}

// A hasher computes the hashes of one suite's cases under its defaults,
// reusing its buffers. A hasher is for one goroutine.
type hasher struct {
	defaults eval.Settings
	doc      hashCase
	prompt   string // doc.Prompt points here, not into a case, which would move every case to the heap
	buf      []byte
}

// newHasher returns a hasher for cases under defaults.
func newHasher(defaults eval.Settings) *hasher {
	return &hasher{defaults: defaults}
}

// caseHash returns c's hash.
func (h *hasher) caseHash(c *eval.Case) string {
	h.doc = hashCase{ID: c.ID, Messages: c.Messages, Scorers: c.Scorers, Settings: h.defaults.With(c.Overrides)}
	h.doc.Settings.Samples, h.doc.Settings.Logprobs = 0, false
	if h.doc.Scorers == nil {
		h.doc.Scorers = []eval.Scorer{}
	}
	// The system prompt counts only where it is sent.
	if c.Messages == nil {
		h.prompt = c.Prompt
		h.doc.Prompt = &h.prompt
		h.doc.Settings.System = ""
	} else if slices.ContainsFunc(c.Messages, func(m eval.Message) bool { return m.Role == "system" }) {
		h.doc.Settings.System = ""
	}
	h.buf = appendCanonical(h.buf[:0], &h.doc)
	h.doc, h.prompt = hashCase{}, "" // holds no case
	return sum(h.buf)
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
	return sum(appendCanonical(b, &struct {
		Cases    []string      `json:"cases"`
		Defaults eval.Settings `json:"defaults"`
	}{hashes, defaults}))
}

// sum returns the hex SHA-256 of b.
func sum(b []byte) string {
	s := sha256.Sum256(b)
	var x [2 * sha256.Size]byte
	hex.Encode(x[:], s[:])
	return string(x[:])
}
