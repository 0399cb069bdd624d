package lock

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Every text rendering quotes untrusted strings (paths, labels, notes, serving
// values) with clean, so a manifest cannot write terminal escapes.

// WriteText writes m for people: id, source, serving, generation parameters,
// labels, then the files grouped by role.
func (m *Manifest) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "lock\t%s\n", m.Lock)
	src := "(none)"
	if m.Source.Repo != "" || m.Source.Revision != "" {
		src = clean(m.Source.Repo)
		if m.Source.Revision != "" {
			src += " @ " + clean(m.Source.Revision)
		}
	}
	fmt.Fprintf(tw, "source\t%s\n", src)
	if !m.Created.IsZero() {
		fmt.Fprintf(tw, "created\t%s\n", m.Created.UTC().Format(time.RFC3339))
	}
	s := m.Serving
	var sv []string
	if s.Engine != "" || s.EngineVersion != "" {
		sv = append(sv, strings.TrimSpace(clean(s.Engine)+" "+clean(s.EngineVersion)))
	}
	for _, f := range []struct{ name, v string }{{"image", s.ImageDigest}, {"dtype", s.Dtype}, {"quantization", s.Quantization}} {
		if f.v != "" {
			sv = append(sv, f.name+" "+clean(f.v))
		}
	}
	if s.MaxContext != 0 {
		sv = append(sv, fmt.Sprintf("max context %d", s.MaxContext))
	}
	if len(sv) == 0 {
		sv = []string{"(none)"}
	}
	fmt.Fprintf(tw, "serving\t%s\n", strings.Join(sv, ", "))
	if len(s.EngineArgs) > 0 {
		args := make([]string, len(s.EngineArgs))
		for i, a := range slices.Sorted(slices.Values(s.EngineArgs)) {
			args[i] = clean(a)
		}
		fmt.Fprintf(tw, "engine args\t%s\n", strings.Join(args, " "))
	}
	if len(m.Generation) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(m.Generation)) {
			kv = append(kv, clean(k)+"="+clean(jsonValue(m.Generation, k)))
		}
		fmt.Fprintf(tw, "generation\t%s\n", strings.Join(kv, ", "))
	}
	if len(m.Labels) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
			kv = append(kv, clean(k)+"="+clean(m.Labels[k]))
		}
		fmt.Fprintf(tw, "labels\t%s\n", strings.Join(kv, ", "))
	}
	if m.Note != "" {
		fmt.Fprintf(tw, "note\t%s\n", clean(m.Note))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range Roles {
		var fs []File
		var total int64
		for _, f := range m.Files {
			if f.Role == r {
				fs = append(fs, f)
				total += f.Size
			}
		}
		if len(fs) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %s, %s\n", r, plural(len(fs), "file"), humanSize(total))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range fs {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", clean(f.Path), humanSize(f.Size), shortHash(f.SHA256))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// WriteText writes d for people: the two locks, the differences in words,
// then one line per differing file.
func (d ManifestDiff) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "A  %s\nB  %s\n\n", d.A, d.B)
	if d.Same() {
		_, err := fmt.Fprintf(w, "same lock: %s\n", d.Words())
		return err
	}
	fmt.Fprintln(w, d.Words())
	return writeChanges(w, d.Files)
}

// WriteText writes r for people: whether the directory matches, the roles in
// words, then one line per differing file.
func (r *Report) WriteText(w io.Writer) error {
	if r.OK() {
		_, err := fmt.Fprintf(w, "%s matches lock %s\n", clean(r.Dir), r.Lock)
		return err
	}
	fmt.Fprintf(w, "%s does not match lock %s\n%s\n", clean(r.Dir), r.Lock, r.Words())
	return writeChanges(w, r.Changes)
}

func writeChanges(w io.Writer, cs []FileChange) error {
	if len(cs) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Change, c.Role, clean(c.Path), changeDetail(c))
	}
	return tw.Flush()
}

// changeDetail says how one file differs.
func changeDetail(c FileChange) string {
	switch {
	case c.PartsOnly:
		return "only its embedded parts changed (listed with #)"
	case c.Layout:
		return "only its layout changed: the same content, parts and values"
	case c.Old != nil && c.New != nil:
		var parts []string
		for _, v := range c.Values {
			if v.Field == "shapes" { // a hash: say what it means
				parts = append(parts, "tensor names or dimensions changed")
			} else {
				parts = append(parts, fieldWords([]FieldChange{v}))
			}
		}
		if c.Old.Role != c.New.Role {
			parts = append(parts, fmt.Sprintf("role %s → %s", c.Old.Role, c.New.Role))
		}
		if c.Old.Size != c.New.Size {
			parts = append(parts, fmt.Sprintf("size %s → %s", humanSize(c.Old.Size), humanSize(c.New.Size)))
		}
		if c.Old.SHA256 != c.New.SHA256 {
			parts = append(parts, fmt.Sprintf("sha256 %s → %s", shortHash(c.Old.SHA256), shortHash(c.New.SHA256)))
		}
		return strings.Join(parts, ", ")
	case c.Old != nil:
		return fmt.Sprintf("%s, sha256 %s", humanSize(c.Old.Size), shortHash(c.Old.SHA256))
	case c.New != nil:
		return fmt.Sprintf("%s, sha256 %s", humanSize(c.New.Size), shortHash(c.New.SHA256))
	}
	return ""
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// humanSize renders a byte count in binary units: "812 B", "4.0 GiB".
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
