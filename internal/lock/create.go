package lock

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"go.yaml.in/yaml/v3"
)

// Options configure Create and Verify. The zero value hashes everything, with
// no cache.
type Options struct {
	// Source overrides the source inferred from a Hugging Face snapshot path
	// (…/models--ORG--NAME/snapshots/REV); empty fields keep the inferred ones.
	Source Source
	// Serving and Generation are recorded as given (engine args sorted, each
	// once).
	Serving    Serving
	Generation map[string]any
	// Labels and Note are stored but are not identity.
	Labels map[string]string
	Note   string
	// Cache supplies and keeps hashes of unchanged files; nil hashes every file.
	// The caller saves it (HashCache.Save).
	Cache *HashCache
	// Rehash hashes every file even where Cache has its hash, and refreshes the
	// cache.
	Rehash bool
	// Workers bounds the files hashed at once; 0 means GOMAXPROCS.
	Workers int
	// Now is the clock for Created; nil means time.Now.
	Now func() time.Time
	// Version is the manifest version Create writes: 0 means Version; 1
	// writes the version-1 form (docs/lock.md), for tests and comparison.
	Version int
}

// Create hashes the model directory dir into a sealed manifest. dir may be a
// Hugging Face snapshot directory (files are symlinks into ../../blobs: they
// are followed and recorded under the link's path), a GGUF + Modelfile
// directory, or any directory of model files. Errors about the directory are
// fault.Input errors that name the path and the fix.
func Create(ctx context.Context, dir string, opts Options) (*Manifest, error) {
	version := cmp.Or(opts.Version, Version)
	if version != 1 && version != Version {
		return nil, fmt.Errorf("lock: no manifest version %d", version)
	}
	files, err := scan(ctx, dir, opts, version)
	if err != nil {
		return nil, err
	}
	gen, err := normalizeGeneration(opts.Generation)
	if err != nil {
		return nil, err
	}
	src := InferSource(dir)
	if opts.Source.Repo != "" {
		src.Repo = opts.Source.Repo
	}
	if opts.Source.Revision != "" {
		src.Revision = opts.Source.Revision
	}
	serving := opts.Serving
	// Sorted, and an argument given twice (in a serving file and a flag) once.
	serving.EngineArgs = slices.Compact(slices.Sorted(slices.Values(serving.EngineArgs)))
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	m := &Manifest{
		Version:    version,
		Source:     src,
		Files:      files,
		Serving:    serving,
		Generation: gen,
		Labels:     opts.Labels,
		Note:       opts.Note,
		Created:    now().UTC().Truncate(time.Second),
	}
	if err := m.Seal(); err != nil {
		return nil, err
	}
	return m, nil
}

// scan walks, hashes and classifies the files of dir, as a manifest of the
// given version records them.
func scan(ctx context.Context, dir string, opts Options, version int) ([]File, error) {
	entries, err := walk(dir)
	if err != nil {
		return nil, err
	}
	hs, err := hashAll(ctx, entries, opts.Cache, opts.Rehash, opts.Workers, dir)
	if err != nil {
		return nil, err
	}
	return assemble(dir, hs, version)
}

// assemble turns hashed entries into the files of a manifest of the given
// version: each with its role, the virtual entries of its embedded parts, and
// a Modelfile's FROM and ADAPTER files as weights.
func assemble(dir string, hs []hashed, version int) ([]File, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("model directory: %w", err)
	}
	files := make([]File, 0, len(hs))
	for _, h := range hs {
		files = append(files, File{Path: h.rel, Size: h.info.Size(), SHA256: h.sum, Role: RoleOf(h.rel)})
	}
	var index map[string]int // of the entries' files, for a Modelfile's references
	for i, h := range hs {
		if h.analysis == nil {
			continue
		}
		a := h.analysis
		f := &files[i]
		f.RestSHA256 = a.Rest
		parts := a.Parts
		if version >= 2 && a.V2 != nil {
			if c := a.V2.Canon; c != nil {
				f.Size, f.SHA256 = c.Size, c.SHA256
			}
			if a.V2.Rest != "" {
				f.RestSHA256 = a.V2.Rest
			}
			f.Values = a.V2.Values
			parts = append(slices.Clip(parts), a.V2.Parts...)
		}
		for _, p := range parts {
			files = append(files, File{Path: h.rel + p.Suffix, Size: p.Size, SHA256: p.SHA256, Role: p.Role, Values: p.Values})
		}
		for _, ref := range a.Refs {
			target, rel, inside := refTarget(absDir, h.rel, ref)
			if inside {
				if index == nil {
					index = pathIndex(files[:len(hs)])
				}
				if i, ok := index[rel]; ok {
					files[i].Role = RoleWeights
					continue
				}
				if fi, err := os.Stat(target); err == nil && fi.IsDir() {
					continue // FROM a directory of safetensors in the lock
				}
			}
			if pathLike(ref) {
				shown := clean(filepath.Join(dir, filepath.FromSlash(h.rel)))
				if !inside {
					return nil, fault.Errorf(fault.Input, "copy the file into the model directory and refer to it as ./NAME, so the lock covers it",
						"%s names %s, which is outside the model directory %s", shown, clean(ref), clean(dir))
				}
				return nil, fault.Errorf(fault.Input, "fix the path in the Modelfile or add the file",
					"%s names %s, which is not in the model directory", shown, clean(ref))
			}
			// Otherwise a model name in a registry; the Modelfile's own hash covers it.
		}
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// refTarget resolves the argument ref of a FROM or ADAPTER line of the
// Modelfile at the slash path modelfile inside the directory absDir, as
// Ollama does (relative to the Modelfile, "~/" in the home directory): the
// file's path, its slash path relative to absDir, and whether it lies inside.
func refTarget(absDir, modelfile, ref string) (target, rel string, inside bool) {
	target = ref
	if strings.HasPrefix(target, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			target = filepath.Join(home, target[2:])
		}
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(absDir, filepath.FromSlash(path.Dir(modelfile)), target)
	}
	r, err := filepath.Rel(absDir, target)
	inside = err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
	return target, filepath.ToSlash(r), inside
}

// InferSource infers the repo and revision of a Hugging Face cache snapshot
// from its path, …/models--ORG--NAME/snapshots/REVISION; other paths yield an
// empty Source.
func InferSource(dir string) Source {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Source{}
	}
	rev := filepath.Base(abs)
	snaps := filepath.Dir(abs)
	repoDir := filepath.Base(filepath.Dir(snaps))
	name, ok := strings.CutPrefix(repoDir, "models--")
	if filepath.Base(snaps) != "snapshots" || !ok || name == "" {
		return Source{}
	}
	return Source{Repo: strings.Replace(name, "--", "/", 1), Revision: rev}
}

// normalizeGeneration turns generation parameters into plain JSON values, so a
// manifest read back from its file is equal to the one created. A number that
// a JSON number (an IEEE double, as RFC 8785 reads it) cannot hold exactly, such
// as a 64-bit seed, is refused rather than recorded as another value.
func normalizeGeneration(g map[string]any) (map[string]any, error) {
	out := map[string]any{}
	if len(g) == 0 {
		return out, nil
	}
	b, err := json.Marshal(g)
	if err != nil {
		return nil, fault.Errorf(fault.Input, "use strings, numbers, booleans, lists or maps", "generation parameters: %w", err)
	}
	var exact map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&exact); err != nil {
		return nil, fmt.Errorf("generation parameters: %w", err)
	}
	for k, v := range exact {
		if n, ok := inexactNumber(v); ok {
			return nil, fault.Errorf(fault.Input, fmt.Sprintf("write it as a string, %s: \"%s\"", clean(k), n),
				"generation parameter %s: %s is not exactly a JSON number (a 64-bit float)", clean(k), n)
		}
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("generation parameters: %w", err)
	}
	return out, nil
}

// inexactNumber returns the first number in v, a JSON value decoded with
// UseNumber, that a float64 does not hold exactly.
func inexactNumber(v any) (string, bool) {
	switch v := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(v.String(), 64)
		if err != nil {
			return v.String(), true // out of range
		}
		if strings.ContainsAny(v.String(), ".eE") {
			return "", false // a fraction is rounded as the writer expects
		}
		if z, ok := new(big.Int).SetString(v.String(), 10); ok {
			if exact, _ := new(big.Float).SetFloat64(f).Int(nil); exact.Cmp(z) != 0 {
				return v.String(), true
			}
		}
	case []any:
		for _, x := range v {
			if n, ok := inexactNumber(x); ok {
				return n, true
			}
		}
	case map[string]any:
		for _, x := range v {
			if n, ok := inexactNumber(x); ok {
				return n, true
			}
		}
	}
	return "", false
}

// GenerationValue reads a generation parameter's value given as text (evalpin
// lock create's -param): as JSON where the whole text is one value, keeping a
// number's digits so that Create refuses one a float64 would round, or else
// as the text itself ("fast", "1 2").
func GenerationValue(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return s
	}
	if _, err := dec.Token(); err != io.EOF {
		return s // more after the value: text such as "1 2"
	}
	return v
}

// A ServingFile is the YAML file --serving reads: the serving layer's fields
// (see Serving) and a "generation" map of default generation parameters.
type ServingFile struct {
	Serving    `yaml:",inline"`
	Generation map[string]any `yaml:"generation"`
}

// ReadServing reads a serving YAML file. Unknown keys are refused, so a typo
// cannot silently leave a field out of the identity.
func ReadServing(path string) (*ServingFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Errorf(fault.Input, "check the path of the serving file", "read serving file: %w", err)
	}
	var sf ServingFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&sf); err != nil && !errors.Is(err, io.EOF) { // an empty file sets nothing
		return nil, fault.Errorf(fault.Input,
			"keys are engine, engine_version, image_digest, dtype, quantization, max_context, engine_args and generation",
			"serving file %s: %w", path, err)
	}
	if sf.MaxContext < 0 {
		return nil, fault.Errorf(fault.Input, "give a positive token count, or 0 for the engine default",
			"serving file %s: max_context must not be negative", path)
	}
	if _, err := normalizeGeneration(sf.Generation); err != nil {
		return nil, fmt.Errorf("serving file %s: %w", path, err)
	}
	return &sf, nil
}

// A ServingRequest is what a command says of the serving layer and the
// generation parameters: a serving file (optional), then the fields named
// in Set, which win over the file's, the engine arguments added to the
// file's, and parameters as text (each value read by GenerationValue).
type ServingRequest struct {
	File       string
	Serving    Serving
	Set        []string // of "engine", "engine-version", "image-digest", "dtype", "quantization", "max-context"
	EngineArgs []string
	Params     map[string]string
}

// Apply sets opts' Serving and Generation from r.
func (r ServingRequest) Apply(opts *Options) error {
	opts.Generation = map[string]any{}
	if r.File != "" {
		sf, err := ReadServing(r.File)
		if err != nil {
			return err
		}
		opts.Serving = sf.Serving
		maps.Copy(opts.Generation, sf.Generation)
	}
	s, from := &opts.Serving, r.Serving
	for _, name := range r.Set {
		switch name {
		case "engine":
			s.Engine = from.Engine
		case "engine-version":
			s.EngineVersion = from.EngineVersion
		case "image-digest":
			s.ImageDigest = from.ImageDigest
		case "dtype":
			s.Dtype = from.Dtype
		case "quantization":
			s.Quantization = from.Quantization
		case "max-context":
			s.MaxContext = from.MaxContext
		default:
			return fmt.Errorf("lock: no serving field %q", name)
		}
	}
	s.EngineArgs = append(s.EngineArgs, r.EngineArgs...)
	for k, v := range r.Params {
		opts.Generation[k] = GenerationValue(v)
	}
	return nil
}
