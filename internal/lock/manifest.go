// Package lock makes a model deliverable checkable: it hashes a model directory
// (weights, tokenizer, chat template, configuration) into a lock manifest, names
// the manifest by a lock id (the SHA-256 of its canonical identity JSON), verifies
// a directory against a manifest, and says in words what differs between two
// manifests ("template changed; tokenizer same; weights same").
//
// Hashing runs files in parallel with constant memory, and a stat cache
// (HashCache) makes re-verifying an unchanged directory cost one stat per file.
// docs/lock.md specifies the manifest format and the canonical JSON.
package lock

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gowebpki/jcs"

	"github.com/evalpin/evalpin/internal/canonjson"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

// Version is the manifest format version this package writes. It reads it
// and version 1, whose ids it computes as version 1 did (docs/lock.md).
const Version = 2

// A Role classifies a file of a deliverable, so that a diff can say what kind of
// part changed.
type Role string

// The roles, in the order a diff lists them.
const (
	RoleWeights   Role = "weights"
	RoleTokenizer Role = "tokenizer"
	RoleTemplate  Role = "template"
	RoleConfig    Role = "config"
	RoleOther     Role = "other"
)

// Roles lists every role in display order.
var Roles = []Role{RoleWeights, RoleTokenizer, RoleTemplate, RoleConfig, RoleOther}

// valid reports whether r is one of Roles.
func (r Role) valid() bool { return slices.Contains(Roles, r) }

// A Source names where a deliverable came from.
type Source struct {
	Repo     string `json:"repo"`     // e.g. "org/name" on Hugging Face
	Revision string `json:"revision"` // e.g. the commit hash of a snapshot
}

// A File is one behaviour-relevant file of a deliverable, or a virtual entry for
// a part embedded in a file (its path then has a "#part" suffix, e.g.
// "tokenizer_config.json#chat_template").
type File struct {
	Path   string `json:"path"`   // slash-separated, relative to the model directory
	Size   int64  `json:"size"`   // bytes (of the part's text for a virtual entry)
	SHA256 string `json:"sha256"` // lower-case hex of the content's SHA-256
	Role   Role   `json:"role"`
	// RestSHA256 is set on a file that may embed parts (a tokenizer_config.json
	// that is a JSON object, a Modelfile), whether or not it has any: the
	// SHA-256 of its content without them (docs/lock.md says how), so a diff can
	// tell a change, addition or removal of only the embedded parts. It is
	// derived from the content; version 1 leaves it out of the identity,
	// version 2 puts it in, so that a lock file's words about what changed
	// cannot be edited without changing its id.
	RestSHA256 string `json:"rest_sha256,omitempty"`
	// Values are facts about the content that a diff names (version 2 only):
	// a config.json's torch_dtype, a GGUF's quantization. JSON values, as
	// Generation's.
	Values map[string]any `json:"values,omitempty"`
}

// Serving describes the layer that serves the model.
type Serving struct {
	Engine        string   `json:"engine" yaml:"engine"`                 // e.g. "vllm", "llama.cpp", "ollama"
	EngineVersion string   `json:"engine_version" yaml:"engine_version"` // e.g. "0.6.3"
	ImageDigest   string   `json:"image_digest" yaml:"image_digest"`     // container image, e.g. "sha256:…"
	Dtype         string   `json:"dtype" yaml:"dtype"`                   // e.g. "bfloat16"
	Quantization  string   `json:"quantization" yaml:"quantization"`     // e.g. "awq", "Q4_K_M"
	MaxContext    int      `json:"max_context" yaml:"max_context"`       // tokens; 0 = engine default
	EngineArgs    []string `json:"engine_args" yaml:"engine_args"`       // one "--name=value" each; order is not identity
}

// A Manifest describes one deliverable. Version, Source, Files, Serving and
// Generation are its identity; Lock records the id computed from them, and
// Labels, Note and Created are kept but are not identity.
type Manifest struct {
	Version int       `json:"version"`
	Lock    lockid.ID `json:"lock"`
	Source  Source    `json:"source"`
	Files   []File    `json:"files"` // sorted by Path
	Serving Serving   `json:"serving"`
	// Generation holds the deliverable's default generation parameters (for
	// example temperature or top_p) as JSON values: strings, float64 numbers,
	// booleans, nil, []any and map[string]any.
	Generation map[string]any    `json:"generation"`
	Labels     map[string]string `json:"labels,omitempty"`
	Note       string            `json:"note,omitempty"`
	Created    time.Time         `json:"created,omitzero"`
}

// identity is the part of a Manifest the lock id covers, in its canonical shape:
// every key present, files sorted by path, engine args sorted.
type identity struct {
	Version    int            `json:"version"`
	Source     Source         `json:"source"`
	Files      any            `json:"files"` // []identityFile, or []identityFileV2
	Serving    Serving        `json:"serving"`
	Generation map[string]any `json:"generation"`
}

type identityFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Role   Role   `json:"role"`
}

// identityFileV2 is a file's identity in version 2: its rest hash and values
// too, each when it has one.
type identityFileV2 struct {
	Path       string         `json:"path"`
	Size       int64          `json:"size"`
	SHA256     string         `json:"sha256"`
	Role       Role           `json:"role"`
	RestSHA256 string         `json:"rest_sha256,omitempty"`
	Values     map[string]any `json:"values,omitempty"`
}

// Canonical returns the canonical JSON of m's identity fields (RFC 8785: sorted
// keys, no insignificant whitespace, ECMAScript number formatting), with files
// sorted by path and engine args sorted. It fails on a manifest that is not
// well formed (duplicate or unclean paths, bad hashes, unknown roles).
//
// The files, most of the bytes, are written directly (appendFiles); the rest
// (source, serving, generation parameters of any JSON shape) goes through
// encoding/json and jcs.Transform, as every file did before: a lock verify
// parses a lock file and recomputes its id, and canonicalizing 1,000 files
// through jcs took longer than stat-ing them. canonicalSlow is the reference
// the tests compare both with.
func (m *Manifest) Canonical() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	files := sortedByPath(m.Files)
	if !directFiles(files) {
		return m.canonicalSlow(files)
	}
	id := m.identity([]struct{}{})
	rest, err := canonicalJSON(id)
	if err != nil {
		return nil, err
	}
	// "files" sorts first of the identity's keys: rest is {"files":[],...}.
	const head = `{"files":[`
	if !bytes.HasPrefix(rest, []byte(head+"]")) {
		return nil, fmt.Errorf("canonicalize identity: unexpected %.20q", rest)
	}
	out := make([]byte, 0, len(rest)+len(files)*160)
	out = append(out, head...)
	out, err = appendFiles(out, files, m.Version)
	if err != nil {
		return nil, err
	}
	return append(out, rest[len(head):]...), nil
}

// sortedByPath returns files sorted by path: files itself when it is (a
// sealed manifest's are), or else a sorted copy.
func sortedByPath(files []File) []File {
	byPath := func(a, b File) int { return strings.Compare(a.Path, b.Path) }
	if slices.IsSortedFunc(files, byPath) {
		return files
	}
	return slices.SortedFunc(slices.Values(files), byPath)
}

// canonicalSlow returns Canonical's result by encoding the whole identity,
// files sorted, with encoding/json and canonicalizing it with jcs.Transform.
func (m *Manifest) canonicalSlow(files []File) ([]byte, error) {
	var fs any
	if m.Version == 1 {
		v1 := make([]identityFile, len(files))
		for i, f := range files {
			v1[i] = identityFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256, Role: f.Role}
		}
		fs = v1
	} else {
		v2 := make([]identityFileV2, len(files))
		for i, f := range files {
			v2[i] = identityFileV2{Path: f.Path, Size: f.Size, SHA256: f.SHA256, Role: f.Role, RestSHA256: f.RestSHA256, Values: f.Values}
		}
		fs = v2
	}
	return canonicalJSON(m.identity(fs))
}

// identity returns m's identity with files as its files.
func (m *Manifest) identity(files any) identity {
	id := identity{
		Version:    m.Version,
		Source:     m.Source,
		Files:      files,
		Serving:    m.Serving,
		Generation: m.Generation,
	}
	id.Serving.EngineArgs = slices.Sorted(slices.Values(m.Serving.EngineArgs))
	if id.Serving.EngineArgs == nil {
		id.Serving.EngineArgs = []string{}
	}
	if id.Generation == nil {
		id.Generation = map[string]any{}
	}
	return id
}

// canonicalJSON encodes v with encoding/json (no HTML escaping) and
// canonicalizes the result (RFC 8785).
func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode identity: %w", err)
	}
	out, err := jcs.Transform(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("canonicalize identity: %w", err)
	}
	return out, nil
}

// maxExactSize is the largest size RFC 8785 writes as the integer itself: it
// formats numbers as IEEE doubles, exact up to 2^53.
const maxExactSize = 1 << 53

// directFiles reports whether appendFiles writes files exactly as
// canonicalSlow would: every path valid UTF-8 (encoding/json would replace
// invalid bytes) and every size exact as a double.
func directFiles(files []File) bool {
	for _, f := range files {
		if f.Size > maxExactSize || !utf8.ValidString(f.Path) {
			return false
		}
	}
	return true
}

// appendFiles appends the canonical JSON of files (sorted, well formed, and
// directFiles) to out, without the enclosing brackets: each an object with its
// keys in RFC 8785 order (path, rest_sha256, role, sha256, size, values),
// version 1 without rest_sha256 and values, version 2 without either when
// empty. The values, of any JSON shape, go through canonicalJSON.
func appendFiles(out []byte, files []File, version int) ([]byte, error) {
	for i, f := range files {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"path":`...)
		out = canonjson.AppendString(out, f.Path)
		if version >= 2 && f.RestSHA256 != "" {
			out = append(out, `,"rest_sha256":"`...)
			out = append(out, f.RestSHA256...) // lower-case hex (check)
			out = append(out, '"')
		}
		out = append(out, `,"role":`...)
		out = canonjson.AppendString(out, string(f.Role))
		out = append(out, `,"sha256":"`...)
		out = append(out, f.SHA256...) // lower-case hex (check)
		out = append(out, `","size":`...)
		out = strconv.AppendInt(out, f.Size, 10)
		if version >= 2 && len(f.Values) > 0 {
			v, err := canonicalJSON(f.Values)
			if err != nil {
				return nil, err
			}
			out = append(out, `,"values":`...)
			out = append(out, v...)
		}
		out = append(out, '}')
	}
	return out, nil
}

// ID computes m's lock id from its identity fields: "sha256:" and the hex
// SHA-256 of Canonical.
func (m *Manifest) ID() (lockid.ID, error) {
	c, err := m.Canonical()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return lockid.ID(lockid.ManifestPrefix + hex.EncodeToString(sum[:])), nil
}

// Seal sets m.Lock to m.ID() and sorts m.Files by path.
func (m *Manifest) Seal() error {
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	id, err := m.ID()
	if err != nil {
		return err
	}
	m.Lock = id
	return nil
}

// Marshal returns the lock file form of m: indented JSON with a final newline.
func (m *Manifest) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// check reports the first way m is not well formed.
func (m *Manifest) check() error {
	if m.Version != 1 && m.Version != Version {
		return fmt.Errorf("unknown manifest version %d (this evalpin reads versions 1 and %d)", m.Version, Version)
	}
	seen := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if !validPath(f.Path) {
			return fmt.Errorf("file path %q is not a clean relative slash-separated path", f.Path)
		}
		if seen[f.Path] {
			return fmt.Errorf("file %q is listed twice", f.Path)
		}
		seen[f.Path] = true
		if !validSHA256(f.SHA256) {
			return fmt.Errorf("file %q: sha256 %q is not 64 lower-case hex digits", f.Path, f.SHA256)
		}
		if f.Size < 0 {
			return fmt.Errorf("file %q: negative size %d", f.Path, f.Size)
		}
		if !f.Role.valid() {
			return fmt.Errorf("file %q: unknown role %q (want one of weights, tokenizer, template, config, other)", f.Path, f.Role)
		}
		if m.Version >= 2 && f.RestSHA256 != "" && !validSHA256(f.RestSHA256) {
			return fmt.Errorf("file %q: rest_sha256 %q is not 64 lower-case hex digits", f.Path, f.RestSHA256)
		}
		if len(f.Values) > 0 && m.Version == 1 {
			return fmt.Errorf("file %q: values are recorded by version 2 manifests only", f.Path)
		}
		if _, ok := f.Values[""]; ok {
			return fmt.Errorf("file %q: a value with an empty name", f.Path)
		}
	}
	return nil
}

// validPath reports whether p (before any "#part") is a clean, relative,
// slash-separated path inside the directory.
func validPath(p string) bool {
	base, _, _ := strings.Cut(p, "#")
	return base != "" && !strings.HasPrefix(base, "/") && path.Clean(base) == base &&
		base != "." && base != ".." && !strings.HasPrefix(base, "../") && !strings.Contains(base, "\\")
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// hintRecreate is the fix for a lock file that cannot be trusted.
const hintRecreate = "recreate it from the model directory with 'evalpin lock create DIR -o FILE'"

// Parse decodes a lock file. It refuses input that is not a JSON manifest, has
// an unknown version or unknown fields, or whose recorded lock does not match
// its content (a hand edit); each refusal is an fault.Input error. Its keys
// are matched as encoding/json matches them, "version" too.
func Parse(data []byte) (*Manifest, error) {
	m, err := decodeManifest(data)
	if err != nil {
		return nil, err
	}
	if m.Lock == "" {
		return nil, fault.Errorf(fault.Input, hintRecreate, "lock manifest has no \"lock\" field")
	}
	got, err := m.ID()
	if err != nil {
		return nil, fault.Errorf(fault.Input, hintRecreate, "malformed lock manifest: %w", err)
	}
	if got != m.Lock {
		return nil, fault.Errorf(fault.Input, hintRecreate,
			"lock manifest was edited by hand: it records lock %s but its content hashes to %s", m.Lock, got)
	}
	return m, nil
}

// decodeManifest decodes data, one JSON object and nothing after it but
// white space, into a manifest of a version this evalpin reads, reading the
// JSON once; what it refuses, notManifest explains.
func decodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&m)
	if err == nil && (m.Version == 1 || m.Version == Version) && jsonSpace(data[dec.InputOffset():]) {
		return &m, nil
	}
	return nil, notManifest(data, &m, err)
}

// jsonSpace reports whether b is only JSON white space.
func jsonSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// notManifest returns why data is not a lock manifest that decodeManifest
// accepts: m and decodeErr are what decoding it gave.
func notManifest(data []byte, m *Manifest, decodeErr error) error {
	const hintLockFile = "pass a lock file written by 'evalpin lock create'"
	if len(bytes.TrimSpace(data)) == 0 {
		return fault.Errorf(fault.Input, hintLockFile, "not a lock manifest: the file is empty")
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fault.Errorf(fault.Input, hintLockFile, "not a lock manifest: a JSON %s, not an object", te.Value)
		}
		return fault.Errorf(fault.Input, hintLockFile, "not a lock manifest: %w", jsonError(data, err))
	}
	raw, ok := probe["version"]
	if !ok && m.Version == 0 {
		return fault.Errorf(fault.Input, hintLockFile, "not a lock manifest: no \"version\" field")
	}
	if ok {
		var version int
		if err := json.Unmarshal(raw, &version); err != nil {
			return fault.Errorf(fault.Input, hintRecreate, "malformed lock manifest: \"version\" is %s, not an integer", raw)
		}
		if version != 1 && version != Version {
			return unknownVersion(version)
		}
	}
	if decodeErr != nil {
		return fault.Errorf(fault.Input, hintRecreate, "malformed lock manifest: %w", jsonError(data, decodeErr))
	}
	return unknownVersion(m.Version) // a key "Version" decoded over "version"
}

// unknownVersion refuses a manifest of a version this evalpin does not read.
func unknownVersion(v int) error {
	return fault.Errorf(fault.Input, "upgrade evalpin, or "+hintRecreate,
		"unknown lock manifest version %d (this evalpin reads versions 1 and %d)", v, Version)
}

// jsonError adds the line number to a JSON syntax or type error.
func jsonError(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	return fmt.Errorf("line %d: %w", line, err)
}

// ReadFile reads and parses the lock file at path (see Parse).
func ReadFile(path string) (*Manifest, error) {
	return readFile(path)
}

// ReadFileID reads the lock file at path as ReadFile does, and also returns
// its lock id and its canonical bytes (Marshal): what a sidecar publishes.
func ReadFileID(path string) (*Manifest, lockid.ID, []byte, error) {
	m, err := readFile(path)
	if err != nil {
		return nil, "", nil, err
	}
	// Parse recomputed the id and refused a lock file whose recorded one
	// differs: m.Lock is its id.
	data, err := m.Marshal()
	if err != nil {
		return nil, "", nil, err
	}
	return m, m.Lock, data, nil
}

// readFile reads and parses the lock file at path.
func readFile(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Errorf(fault.Input, "check the lock file's path", "read lock file: %w", err)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	return m, nil
}
