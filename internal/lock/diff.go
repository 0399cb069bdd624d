package lock

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// The kinds of FileChange.
const (
	Changed = "changed" // in both, with other content
	Added   = "added"   // only in B (Verify: "extra", in the directory only)
	Removed = "removed" // only in A (Verify: "missing", in the lock only)
	Extra   = "extra"
	Missing = "missing"
)

// A FileChange is one file that differs between two manifests.
type FileChange struct {
	Path   string `json:"path"`
	Role   Role   `json:"role"`   // the role in B, or in A for a removed file
	Change string `json:"change"` // Changed, Added or Removed (Extra or Missing from Verify)
	Old    *File  `json:"old,omitempty"`
	New    *File  `json:"new,omitempty"`
	// PartsOnly is set on a file whose embedded parts (its virtual entries,
	// listed as changes of their own) changed and nothing else.
	PartsOnly bool `json:"parts_only,omitempty"`
	// Values lists the recorded values (File.Values) that differ.
	Values []FieldChange `json:"values,omitempty"`
	// Layout is set on a file whose content without its parts and values is
	// the same and whose parts and values are too: only its layout changed
	// (a config.json reformatted).
	Layout bool `json:"layout,omitempty"`
}

// A FieldChange is one serving, source or generation field that differs; the
// values are rendered for people ("" when unset).
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// A RoleStatus says whether the files of one role differ.
type RoleStatus struct {
	Role   Role   `json:"role"`
	Status string `json:"status"` // "same", "changed", "added" (only in B) or "removed" (only in A)
	Files  int    `json:"files"`  // files of the role in B (in A when removed)
	// Words, when set, says it more precisely than "ROLE STATUS":
	// "quantization F16 → Q8_0; tensors re-encoded", "tokenizer changed
	// (inside model.gguf)", "config: torch_dtype bfloat16 → float16".
	Words string `json:"words,omitempty"`
}

// A ManifestDiff says what differs between two manifests A and B; Words puts it
// in words. Labels, notes and creation times are not compared.
type ManifestDiff struct {
	A lockid.ID `json:"a"`
	B lockid.ID `json:"b"`
	// Version is set when A and B are manifests of different versions: their
	// ids differ by format, and only what both versions record is compared.
	Version    *FieldChange  `json:"version,omitempty"`
	Roles      []RoleStatus  `json:"roles"`
	Source     []FieldChange `json:"source"`
	Serving    []FieldChange `json:"serving"`
	Generation []FieldChange `json:"generation"`
	Files      []FileChange  `json:"files"`
}

// Same reports whether A and B have the same identity.
func (d ManifestDiff) Same() bool {
	return d.Version == nil && len(d.Files) == 0 && len(d.Source) == 0 && len(d.Serving) == 0 && len(d.Generation) == 0
}

// Diff compares the identity of a and b: files by path (a change of only a
// file's embedded parts is marked PartsOnly), roles, source, serving and
// generation parameters.
func Diff(a, b *Manifest) ManifestDiff {
	d := ManifestDiff{A: a.Lock, B: b.Lock, Source: []FieldChange{}, Serving: []FieldChange{}, Generation: []FieldChange{}, Files: []FileChange{}}
	af, bf := a.Files, b.Files
	if a.Version != b.Version {
		d.Version = &FieldChange{Field: "version", Old: strconv.Itoa(a.Version), New: strconv.Itoa(b.Version)}
		af, bf = comparable(af), comparable(bf)
	}
	d.Files = diffFiles(af, bf)
	d.Roles = roleStatus(af, bf, d.Files)
	d.Source = diffFields(
		[]string{"repo", "revision"},
		[]string{a.Source.Repo, a.Source.Revision},
		[]string{b.Source.Repo, b.Source.Revision})
	d.Serving = diffFields(
		[]string{"engine", "engine_version", "image_digest", "dtype", "quantization", "max_context", "engine_args"},
		servingValues(a.Serving), servingValues(b.Serving))
	keys := map[string]bool{}
	for k := range a.Generation {
		keys[k] = true
	}
	for k := range b.Generation {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if o, n := jsonValue(a.Generation, k), jsonValue(b.Generation, k); o != n {
			d.Generation = append(d.Generation, FieldChange{Field: k, Old: o, New: n})
		}
	}
	return d
}

func servingValues(s Serving) []string {
	mc := ""
	if s.MaxContext != 0 {
		mc = strconv.Itoa(s.MaxContext)
	}
	return []string{s.Engine, s.EngineVersion, s.ImageDigest, s.Dtype, s.Quantization, mc,
		strings.Join(slices.Sorted(slices.Values(s.EngineArgs)), " ")}
}

func diffFields(names, a, b []string) []FieldChange {
	out := []FieldChange{}
	for i, n := range names {
		if a[i] != b[i] {
			out = append(out, FieldChange{Field: n, Old: a[i], New: b[i]})
		}
	}
	return out
}

// jsonValue renders m[k] as compact JSON, or "" when absent.
func jsonValue(m map[string]any, k string) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// comparable returns what both manifest versions record of files: without
// the parts and values only version 2 records (a GGUF file's virtual entries),
// and with a Modelfile named by the hash of its instructions other than its
// parts (the rest hash, the same in both versions) instead of its bytes (in
// version 1) or its canonical form (in version 2).
func comparable(files []File) []File {
	gguf := map[string]bool{}
	for _, f := range files {
		if c, ok := strings.CutSuffix(f.Path, ggufTensorsPart); ok {
			gguf[c] = true
		}
	}
	out := make([]File, 0, len(files))
	for _, f := range files {
		container, _, virtual := strings.Cut(f.Path, "#")
		if virtual && gguf[container] {
			continue
		}
		f.Values = nil
		if gguf[f.Path] {
			f.RestSHA256 = ""
		}
		if !virtual && isModelfile(f.Path) && f.RestSHA256 != "" {
			f.Size, f.SHA256 = 0, f.RestSHA256
		}
		out = append(out, f)
	}
	return out
}

func diffFiles(a, b []File) []FileChange {
	out := []FileChange{}
	if samePaths(a, b) { // a directory verified against its lock, as a rule
		for i := range a {
			out = appendChanged(out, a[i], b[i])
		}
	} else {
		bi := pathIndex(b)
		for _, f := range a {
			if i, ok := bi[f.Path]; ok {
				out = appendChanged(out, f, b[i])
			} else {
				old := f
				out = append(out, FileChange{Path: f.Path, Role: f.Role, Change: Removed, Old: &old})
			}
		}
		ai := pathIndex(a)
		for _, g := range b {
			if _, ok := ai[g.Path]; !ok {
				now := g
				out = append(out, FileChange{Path: g.Path, Role: g.Role, Change: Added, New: &now})
			}
		}
	}
	slices.SortFunc(out, func(x, y FileChange) int { return strings.Compare(x.Path, y.Path) })
	// A container whose rest is the same changed in its parts, in its
	// values, or else only in its layout.
	for i := range out {
		c := &out[i]
		if c.Change != Changed || strings.Contains(c.Path, "#") || c.Old.Role != c.New.Role ||
			c.Old.RestSHA256 == "" || c.Old.RestSHA256 != c.New.RestSHA256 {
			continue
		}
		parts := false
		for _, o := range out {
			parts = parts || strings.HasPrefix(o.Path, c.Path+"#")
		}
		switch {
		case len(c.Values) > 0:
		case parts:
			c.PartsOnly = true
		default:
			c.Layout = true
		}
	}
	return out
}

// samePaths reports whether a and b list the same paths in the same order.
func samePaths(a, b []File) bool {
	return slices.EqualFunc(a, b, func(f, g File) bool { return f.Path == g.Path })
}

// pathIndex maps each file's path to its index in files.
func pathIndex(files []File) map[string]int {
	m := make(map[string]int, len(files))
	for i, f := range files {
		m[f.Path] = i
	}
	return m
}

// appendChanged appends to out the change from f to g, the same path, if
// their content or role differs.
func appendChanged(out []FileChange, f, g File) []FileChange {
	if f.SHA256 == g.SHA256 && f.Size == g.Size && f.Role == g.Role {
		return out
	}
	old, now := f, g // copied here: an unchanged file costs no allocation
	return append(out, FileChange{Path: f.Path, Role: g.Role, Change: Changed, Old: &old, New: &now,
		Values: diffValues(f.Values, g.Values)})
}

// diffValues lists the values that differ, by name.
func diffValues(a, b map[string]any) []FieldChange {
	var out []FieldChange
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if o, n := valueText(a, k), valueText(b, k); o != n {
			out = append(out, FieldChange{Field: k, Old: o, New: n})
		}
	}
	return out
}

// valueText renders m[k] for people: a string as itself, anything else as
// compact JSON, "" when absent.
func valueText(m map[string]any, k string) string {
	if s, ok := m[k].(string); ok {
		return s
	}
	return jsonValue(m, k)
}

// roleStatus says, per role present in a or b, whether its files differ. A file
// whose embedded parts alone changed does not change its own role: the parts'
// virtual entries carry the change.
func roleStatus(a, b []File, changes []FileChange) []RoleStatus {
	count := func(fs []File) map[Role]int {
		m := map[Role]int{}
		for _, f := range fs {
			m[f.Role]++
		}
		return m
	}
	ac, bc := count(a), count(b)
	changed := map[Role][]FileChange{}
	for _, c := range changes {
		if c.PartsOnly {
			continue
		}
		changed[c.Role] = append(changed[c.Role], c)
		if c.Old != nil && c.Old.Role != c.Role {
			changed[c.Old.Role] = append(changed[c.Old.Role], c)
		}
	}
	var roleIn map[string]Role // read only to say how files changed
	if len(changes) > 0 {
		roleIn = map[string]Role{}
		for _, fs := range [][]File{a, b} {
			for _, f := range fs {
				roleIn[f.Path] = f.Role
			}
		}
	}
	out := []RoleStatus{}
	for _, r := range Roles {
		s := RoleStatus{Role: r, Files: bc[r], Status: "same"}
		switch {
		case ac[r] == 0 && bc[r] == 0:
			continue
		case ac[r] == 0:
			s.Status = "added"
		case bc[r] == 0:
			s.Status, s.Files = "removed", ac[r]
		case len(changed[r]) > 0:
			s.Status = "changed"
			s.Words = changedWords(r, changed[r], roleIn)
		case r == RoleWeights && repackaged(changes, roleIn):
			s.Words = "tensors same"
		}
		out = append(out, s)
	}
	return out
}

// repackaged reports whether a GGUF file changed while its tensors did not.
func repackaged(changes []FileChange, roleIn map[string]Role) bool {
	for _, c := range changes {
		if c.Change == Changed && !strings.Contains(c.Path, "#") {
			if _, ok := roleIn[c.Path+ggufTensorsPart]; ok {
				return true
			}
		}
	}
	return false
}

// changedWords says how the files of role r changed, when it can say more
// than "r changed": a GGUF's quantization, the values of a config.json, or
// that the changes are all inside weights files (a GGUF's tokenizer).
func changedWords(r Role, cs []FileChange, roleIn map[string]Role) string {
	var said []string
	var rest []FileChange
	changed := map[string]bool{}
	for _, c := range cs {
		changed[c.Path] = true
	}
	for _, c := range cs {
		_, gguf := roleIn[c.Path+ggufTensorsPart]
		switch {
		case gguf && c.Change == Changed:
			// Outside its parts: the descriptive general.* metadata.
			w := fmt.Sprintf("descriptive metadata changed (inside %s)", clean(c.Path))
			if !changed[c.Path+ggufTensorsPart] {
				w += "; tensors same"
			}
			said = append(said, w)
		case c.Change == Changed && strings.HasSuffix(c.Path, ggufTensorsPart) && len(c.Values) > 0:
			var quant *FieldChange
			shapes := true
			for _, v := range c.Values {
				switch v.Field {
				case "quantization":
					quant = &v
				case "shapes":
					shapes = false
				}
			}
			if quant == nil {
				rest = append(rest, c)
				continue
			}
			w := fmt.Sprintf("quantization %s → %s; tensors re-encoded", shownValue(quant.Old), shownValue(quant.New))
			if !shapes {
				w = fmt.Sprintf("quantization %s → %s; tensors changed", shownValue(quant.Old), shownValue(quant.New))
			}
			said = append(said, w)
		case c.Change == Changed && len(c.Values) > 0 && c.Old.RestSHA256 != "" && c.Old.RestSHA256 == c.New.RestSHA256:
			said = append(said, string(r)+": "+fieldWords(c.Values))
		default:
			rest = append(rest, c)
		}
	}
	if len(rest) > 0 {
		w := string(r) + " changed"
		var values []FieldChange
		for _, c := range rest {
			if !strings.HasSuffix(c.Path, ggufTensorsPart) { // hashes and counts, not words
				values = append(values, c.Values...)
			}
		}
		if len(values) > 0 {
			w += ": " + fieldWords(values) + " and more"
		} else if in := containers(rest, roleIn); in != "" && r != RoleWeights {
			w += " (inside " + in + ")"
		} else if layoutOnly(rest) {
			w += " (layout only)"
		}
		said = append([]string{w}, said...)
	}
	if len(said) == 1 && said[0] == string(r)+" changed" {
		return ""
	}
	return strings.Join(said, "; ")
}

// containers names the weights files that hold every change of cs as a part,
// or "" when some change is not such a part.
func containers(cs []FileChange, roleIn map[string]Role) string {
	var names []string
	for _, c := range cs {
		container, _, virtual := strings.Cut(c.Path, "#")
		if !virtual || roleIn[container] != RoleWeights {
			return ""
		}
		if !slices.Contains(names, clean(container)) {
			names = append(names, clean(container))
		}
	}
	return strings.Join(names, ", ")
}

func layoutOnly(cs []FileChange) bool {
	for _, c := range cs {
		if !c.Layout {
			return false
		}
	}
	return true
}

// roleWords puts role statuses in words, differing roles first:
// "template changed; tokenizer same; weights same".
func roleWords(rs []RoleStatus) []string {
	var diff, same []string
	for _, r := range rs {
		w := cmp.Or(r.Words, string(r.Role)+" "+r.Status)
		if r.Status == "same" {
			same = append(same, w)
		} else {
			diff = append(diff, w)
		}
	}
	return append(diff, same...)
}

// Words says what differs in one line, roles first, differing ones first:
// "template changed; tokenizer same; weights same; config same; serving: dtype
// bfloat16 → float16". Source and generation parameters are named only when
// they differ. Values are quoted if they hold anything but printable text.
func (d ManifestDiff) Words() string {
	words := roleWords(d.Roles)
	if v := d.Version; v != nil {
		words = append([]string{fmt.Sprintf("manifest version %s → %s (ids differ by format; compared as both record files)", v.Old, v.New)}, words...)
	}
	if len(d.Source) > 0 {
		words = append(words, "source: "+fieldWords(d.Source))
	}
	if len(d.Serving) > 0 {
		words = append(words, "serving: "+fieldWords(d.Serving))
	} else {
		words = append(words, "serving same")
	}
	if len(d.Generation) > 0 {
		words = append(words, "generation: "+fieldWords(d.Generation))
	}
	return strings.Join(words, "; ")
}

func fieldWords(cs []FieldChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s %s → %s", c.Field, shownValue(c.Old), shownValue(c.New))
	}
	return strings.Join(parts, ", ")
}

// shownValue renders a field value for a terminal: "(none)" when empty, quoted
// when it holds control or non-printable characters.
func shownValue(s string) string {
	if s == "" {
		return "(none)"
	}
	return clean(s)
}

// clean returns s, or s quoted when it holds anything untrusted.Line would
// escape: a terminal could take it as a command or hide it. Manifests are
// untrusted input: a file name can hold an escape sequence.
func clean(s string) string {
	if untrusted.Line(s) == s {
		return s
	}
	return strconv.Quote(s)
}
