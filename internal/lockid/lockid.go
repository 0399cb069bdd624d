// Package lockid names deliverables: a lock id, its kind and its short form,
// and the constants of the endpoint lock protocol (docs/protocol.md) that
// servers and clients share. It is a leaf: it imports only the standard
// library, so that the sidecar, the prober, the runner and the store name a
// lock the same way without importing each other.
package lockid

import (
	"regexp"
	"strings"
	"sync"
)

// An ID names a deliverable by its content: "sha256:" followed by 64
// lower-case hex digits for evalpin's own locks (the hash of a lock manifest,
// docs/lock.md), or another prefix for an identity an engine reports natively,
// such as "ollama:sha256:…". It is a plain string in JSON, baseline files and
// the database.
type ID string

// A Kind says what an ID is the hash of, and so which identity document
// describes it.
type Kind string

// The kinds of lock id.
const (
	// Manifest: "sha256:<hex>", the hash of an evalpin lock manifest.
	Manifest Kind = "manifest"
	// Ollama: "ollama:sha256:<hex>", derived by evalpin from Ollama's own
	// content hashes (docs/protocol.md §3.1).
	Ollama Kind = "ollama"
	// Native: another engine's identity with its own prefix; no identity
	// document of evalpin's describes it.
	Native Kind = "native"
	// Invalid: not a lock id.
	Invalid Kind = ""
)

// The prefixes of the kinds evalpin knows.
const (
	ManifestPrefix = "sha256:"
	OllamaPrefix   = "ollama:sha256:"
)

// The endpoint lock protocol's names (docs/protocol.md §1, §2, §6).
const (
	// WellKnownPath is where a server publishes the lock it serves,
	// relative to the origin of its OpenAI base URL.
	WellKnownPath = "/.well-known/evalpin-lock"
	// Header is the response header that carries the lock id on every
	// response of a server that speaks the protocol.
	Header = "Evalpin-Lock"
	// LockMismatchCode is the OpenAI error code of the 503 with which a
	// server that speaks the protocol (evalpin serve) says it no longer
	// claims its lock. It is not transient: it lasts until the server is
	// restarted, so a client stops at once rather than retry.
	LockMismatchCode = "evalpin_lock_mismatch"
)

// pattern matches a lock id: evalpin's own "sha256:<hex>" or a native
// identity with its own prefix, such as "ollama:sha256:<hex>".
var pattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:[a-z0-9][a-z0-9-]*:)*sha256:[0-9a-f]{64}$`) })

// Valid reports whether s has the shape of a lock id.
func Valid(s string) bool { return pattern().MatchString(s) }

// Valid reports whether id has the shape of a lock id.
func (id ID) Valid() bool { return Valid(string(id)) }

// Kind returns what id is the hash of.
func (id ID) Kind() Kind {
	switch {
	case !id.Valid():
		return Invalid
	case strings.HasPrefix(string(id), OllamaPrefix):
		return Ollama
	case strings.HasPrefix(string(id), ManifestPrefix):
		return Manifest
	}
	return Native
}

// ShortLen is how many hex digits the short form of an id keeps.
const ShortLen = 12

// Short returns the id's prefix and the first ShortLen hex digits of its
// hash, "ollama:sha256:e80e61fbbee7", for tables and messages; a string that
// is no lock id is returned as it is.
func (id ID) Short() string {
	s := string(id)
	i := strings.LastIndexByte(s, ':')
	if i < 0 || len(s)-(i+1) <= ShortLen {
		return s
	}
	return s[:i+1+ShortLen]
}

// Hex returns the hex digits of the id's hash: everything after its last
// ':'.
func (id ID) Hex() string {
	s := string(id)
	return s[strings.LastIndexByte(s, ':')+1:]
}

// String returns the id.
func (id ID) String() string { return string(id) }
