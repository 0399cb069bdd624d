package lock

import (
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
}

// A ManifestDiff says what differs between two manifests A and B; Words puts it
// in words. Labels, notes and creation times are not compared.
type ManifestDiff struct {
	A          lockid.ID     `json:"a"`
	B          lockid.ID     `json:"b"`
	Roles      []RoleStatus  `json:"roles"`
	Source     []FieldChange `json:"source"`
	Serving    []FieldChange `json:"serving"`
	Generation []FieldChange `json:"generation"`
	Files      []FileChange  `json:"files"`
}

// Same reports whether A and B have the same identity.
func (d ManifestDiff) Same() bool {
	return len(d.Files) == 0 && len(d.Source) == 0 && len(d.Serving) == 0 && len(d.Generation) == 0
}

// Diff compares the identity of a and b: files by path (a change of only a
// file's embedded parts is marked PartsOnly), roles, source, serving and
// generation parameters.
func Diff(a, b *Manifest) ManifestDiff {
	d := ManifestDiff{A: a.Lock, B: b.Lock, Source: []FieldChange{}, Serving: []FieldChange{}, Generation: []FieldChange{}, Files: []FileChange{}}
	d.Files = diffFiles(a.Files, b.Files)
	d.Roles = roleStatus(a.Files, b.Files, d.Files)
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

func diffFiles(a, b []File) []FileChange {
	am := make(map[string]File, len(a))
	for _, f := range a {
		am[f.Path] = f
	}
	bm := make(map[string]File, len(b))
	for _, f := range b {
		bm[f.Path] = f
	}
	out := []FileChange{}
	for _, f := range a {
		g, ok := bm[f.Path]
		switch {
		case !ok:
			out = append(out, FileChange{Path: f.Path, Role: f.Role, Change: Removed, Old: &f})
		case f.SHA256 != g.SHA256 || f.Size != g.Size || f.Role != g.Role:
			c := FileChange{Path: f.Path, Role: g.Role, Change: Changed, Old: &f, New: &g}
			c.PartsOnly = f.Role == g.Role && f.RestSHA256 != "" && f.RestSHA256 == g.RestSHA256
			out = append(out, c)
		}
	}
	for _, g := range b {
		if _, ok := am[g.Path]; !ok {
			out = append(out, FileChange{Path: g.Path, Role: g.Role, Change: Added, New: &g})
		}
	}
	slices.SortFunc(out, func(x, y FileChange) int { return strings.Compare(x.Path, y.Path) })
	return out
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
	changed := map[Role]bool{}
	for _, c := range changes {
		if c.PartsOnly {
			continue
		}
		changed[c.Role] = true
		if c.Old != nil {
			changed[c.Old.Role] = true
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
		case changed[r]:
			s.Status = "changed"
		}
		out = append(out, s)
	}
	return out
}

// roleWords puts role statuses in words, differing roles first:
// "template changed; tokenizer same; weights same".
func roleWords(rs []RoleStatus) []string {
	var diff, same []string
	for _, r := range rs {
		if r.Status == "same" {
			same = append(same, string(r.Role)+" same")
		} else {
			diff = append(diff, string(r.Role)+" "+r.Status)
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
