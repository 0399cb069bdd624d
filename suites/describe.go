package suites

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// Describe writes what a user checks a suite for: the file, its identity
// (name, version, hashes) and how its cases are grouped by kind, tag,
// cluster and scorer.
func Describe(w io.Writer, file string, s *eval.Suite) {
	d := newDescription()
	for i := range s.Cases {
		d.add(&s.Cases[i])
	}
	d.write(w, file, s)
}

// A description counts a suite's cases by kind, tag, cluster and scorer, a
// case at a time; of the clusters it keeps only a hash each, to count them.
type description struct {
	chat, raw, untagged, n int
	tags, scorers          map[string]int
	clusters               map[uint64]struct{}
	seed                   maphash.Seed
}

func newDescription() *description {
	return &description{tags: map[string]int{}, scorers: map[string]int{}, clusters: map[uint64]struct{}{}, seed: maphash.MakeSeed()}
}

// add counts c.
func (d *description) add(c *eval.Case) {
	d.n++
	if c.Messages != nil {
		d.chat++
	} else {
		d.raw++
	}
	if len(c.Tags) == 0 {
		d.untagged++
	}
	for _, t := range c.Tags {
		d.tags[t]++
	}
	if c.Cluster != "" {
		d.clusters[maphash.String(d.seed, c.Cluster)] = struct{}{}
	}
	for _, sc := range c.Scorers {
		d.scorers[sc.Name()]++
	}
}

// write writes the description of s, whose cases d counted.
func (d *description) write(w io.Writer, file string, s *eval.Suite) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file:\t%s\n", untrusted.Line(file))
	fmt.Fprintf(tw, "suite:\t%s\n", untrusted.Line(s.Name))
	if s.Version != "" {
		fmt.Fprintf(tw, "version:\t%s\n", untrusted.Line(s.Version))
	}
	fmt.Fprintf(tw, "hash:\t%s\n", s.Hash)
	fmt.Fprintf(tw, "settings hash:\t%s\n", s.Settings.Hash())
	fmt.Fprintf(tw, "samples:\t%d\n", s.Settings.Samples)
	fmt.Fprintf(tw, "cases:\t%d (%d chat, %d raw prompt)\n", d.n, d.chat, d.raw)
	fmt.Fprintf(tw, "clusters:\t%d\n", len(d.clusters))
	tw.Flush()
	fmt.Fprintln(w, "\ncases by tag:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range sortedKeys(d.tags) {
		fmt.Fprintf(tw, "  %s\t%d\n", untrusted.Line(t), d.tags[t])
	}
	if d.untagged > 0 {
		fmt.Fprintf(tw, "  (untagged)\t%d\n", d.untagged)
	}
	tw.Flush()
	fmt.Fprintln(w, "\ncases by scorer:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, n := range sortedKeys(d.scorers) {
		fmt.Fprintf(tw, "  %s\t%d\n", untrusted.Line(n), d.scorers[n])
	}
	tw.Flush()
}

// check checks the suite file and describes it on w: a JSON lines file a
// case at a time (Scan), holding none of its cases.
func check(w io.Writer, file string) error {
	if !isJSONL(file) {
		s, err := Load(file)
		if err != nil {
			return err
		}
		Describe(w, file, s)
		return nil
	}
	d := newDescription()
	st, err := scanFile(file, d.add, false)
	if err != nil {
		return err
	}
	d.write(w, file, st.Suite())
	return nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// WriteExamples writes the list of bundled suites: name, version, cases
// and description.
func WriteExamples(stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tCASES\tDESCRIPTION")
	for _, n := range ExampleNames() {
		s, err := LoadExample(n)
		if err != nil {
			return fmt.Errorf("bundled suite %s: %w", n, err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", n, s.Version, len(s.Cases), exampleDescription(n))
	}
	return tw.Flush()
}

// exampleDescription returns the description line of a bundled suite.
func exampleDescription(name string) string {
	file, err := ExampleFile(name)
	if err != nil {
		return ""
	}
	data, err := fs.ReadFile(Examples, file)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if d, ok := strings.CutPrefix(line, "description: "); ok {
			return d
		}
	}
	return ""
}

// WriteExample writes the file of the bundled suite name.
func WriteExample(stdout io.Writer, name string) error {
	file, err := ExampleFile(name)
	if err != nil {
		return err
	}
	data, err := fs.ReadFile(Examples, file)
	if err != nil {
		return fmt.Errorf("read bundled suite: %w", err)
	}
	_, err = stdout.Write(data)
	return err
}

// Check loads each of files and describes it on w. One file's error is
// returned as it is; with several, each invalid file's error is written to
// errw as it comes, and the error returned counts them.
func Check(w, errw io.Writer, files []string) error {
	if len(files) == 1 {
		return check(w, files[0])
	}
	invalid, described := 0, 0
	for _, f := range files {
		var out bytes.Buffer
		if err := check(&out, f); err != nil {
			invalid++
			fmt.Fprintf(errw, "evalpin: %v\n", err)
			continue
		}
		if described > 0 {
			fmt.Fprintln(w)
		}
		described++
		w.Write(out.Bytes())
	}
	if invalid > 0 {
		return fault.Errorf(fault.Input, "fix the problems listed; docs/suites.md describes the suite format",
			"suite check: %d of %d suite files are invalid", invalid, len(files))
	}
	return nil
}
