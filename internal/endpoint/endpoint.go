// Package endpoint implements evalpin's endpoint lock protocol: it asks an
// OpenAI-compatible endpoint which lock it serves, says how that answer was
// obtained and how much it is worth, applies the refusal rules shared by every
// command that talks to an endpoint, and checks each response of a run against
// the lock it resolved.
//
// An endpoint can report its lock in these ways, tried in this order of
// precedence (docs/protocol.md specifies each):
//
//   - the well-known document GET <origin>/.well-known/evalpin-lock, optionally
//     with the lock manifest, whose id evalpin recomputes;
//   - the Evalpin-Lock header on a completion;
//   - a lock id in the system_fingerprint of a completion (vLLM's
//     --fingerprint-mode custom --fingerprint-value <id>);
//   - a served model name of the form name@sha256:<hex> in /v1/models;
//   - Ollama's own content hashes, from which evalpin derives a lock with the
//     prefix "ollama:sha256:".
//
// Revision strings from TGI (/info), llama.cpp (/props), SGLang (/model_info
// or /get_model_info) and vLLM (/version) are kept as evidence only: they are
// never a lock by themselves.
package endpoint

import (
	"errors"
	"net/url"
	"strings"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

// The refusals. Every one is returned wrapped in an *fault.Error of kind
// fault.LockRefused whose hint says how to fix it; test for them with
// errors.Is.
var (
	// ErrNoLock: the endpoint reports no lock at all.
	ErrNoLock = errors.New("no lock reported")
	// ErrWrongLock: the endpoint reports another lock than the expected one.
	ErrWrongLock = errors.New("another lock than expected")
	// ErrManifestMismatch: a published manifest does not hash to the
	// published id, or the lock protocol is spoken wrongly (a lock that is
	// no lock id, a well-known document that is not JSON).
	ErrManifestMismatch = errors.New("lock does not match its manifest")
	// ErrInconsistent: one endpoint reports two different locks.
	ErrInconsistent = errors.New("endpoint reports two locks")
	// ErrDisagree: the endpoints of one run serve different locks.
	ErrDisagree = errors.New("endpoints disagree")
	// ErrLockChanged: a response carries another lock than the run's.
	ErrLockChanged = errors.New("lock changed mid-run")
	// ErrLockMissing: a response carries no lock where the run's lock must be.
	ErrLockMissing = errors.New("response carries no lock")
)

// The input errors of Resolve that the command turns into advice (naming its
// own flags); each is wrapped in an *fault.Error of kind fault.Input.
var (
	// ErrNoEndpoint: no endpoint was given.
	ErrNoEndpoint = errors.New("no endpoint given")
	// ErrWhichModel: the endpoint serves several models and none was named.
	ErrWhichModel = errors.New("which model?")
	// ErrModelNotServed: the model named is not among those the endpoint
	// lists.
	ErrModelNotServed = errors.New("model not served")
	// ErrModelsDiffer wraps the ErrDisagree of replicas that serve models of
	// different names.
	ErrModelsDiffer = errors.New("replicas serve different models")
)

// A Strength says how much a reported lock is worth.
type Strength string

// The strengths, strongest first.
const (
	// StrengthStrong: content hashes the engine itself computed over what it
	// serves (Ollama's blob digests).
	StrengthStrong Strength = "strong"
	// StrengthManifest: the server publishes a lock manifest and evalpin
	// recomputed its id; the server vouches that it serves those files (evalpin
	// serve re-verifies them on disk).
	StrengthManifest Strength = "manifest"
	// StrengthDeclared: an id the operator configured; nothing evalpin can check
	// beyond its consistency on every response.
	StrengthDeclared Strength = "declared"
	// StrengthEvidence: a revision string; never a lock by itself.
	StrengthEvidence Strength = "evidence"
)

// A Source names how a lock was obtained.
type Source string

// The sources, in their order of precedence.
const (
	SourceWellKnown   Source = "well-known"         // GET <origin>/.well-known/evalpin-lock
	SourceHeader      Source = "header"             // Evalpin-Lock on a probe completion
	SourceFingerprint Source = "system_fingerprint" // a lock id in a completion's system_fingerprint
	SourceModelName   Source = "model-name"         // name@sha256:<hex> among /v1/models
	SourceOllama      Source = "ollama"             // derived from Ollama's /api/show and /api/version
)

// precedence orders the sources: a lower value wins when an endpoint reports
// several locks and no lock is expected.
var precedence = map[Source]int{
	SourceWellKnown:   0,
	SourceHeader:      1,
	SourceFingerprint: 2,
	SourceModelName:   3,
	SourceOllama:      4,
}

// A Claim is one lock an endpoint reports, with how it was obtained.
type Claim struct {
	Lock     lockid.ID `json:"lock"`
	Source   Source    `json:"source"`
	Strength Strength  `json:"strength"`
	How      string    `json:"how"` // how it was obtained, in words
}

// An Evidence is a fact about an endpoint that is not a lock: the engine and
// its version, the served model names, the context length, a model revision.
type Evidence struct {
	Name  string `json:"name"`  // what it is, e.g. "engine version"
	Value string `json:"value"` // as the endpoint reported it (untrusted text)
	From  string `json:"from"`  // where it came from, e.g. "GET /api/version"
}

// Origin returns the scheme and host of an OpenAI base URL: the origin of
// http://host:8000/v1 is http://host:8000.
func Origin(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fault.Errorf(fault.Input, "give the endpoint's OpenAI base URL, e.g. http://127.0.0.1:8000/v1", "endpoint %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fault.Errorf(fault.Input, "give the endpoint's OpenAI base URL, e.g. http://127.0.0.1:8000/v1", "endpoint %q: want an http or https URL with a host", baseURL)
	}
	return u.Scheme + "://" + u.Host, nil
}

// apiURL joins the base URL and an OpenAI path such as "/models".
func apiURL(baseURL, path string) string {
	return strings.TrimRight(baseURL, "/") + path
}

// refusef returns a lock refusal wrapping sentinel, with a hint.
func refusef(sentinel error, hint, format string, args ...any) error {
	return fault.Errorf(fault.LockRefused, hint, format+": %w", append(args, sentinel)...)
}
