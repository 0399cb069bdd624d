package suites

import (
	"fmt"
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
	var chat, raw int
	tags := map[string]int{}
	clusters := map[string]int{}
	scorers := map[string]int{}
	untagged := 0
	for _, c := range s.Cases {
		if c.Messages != nil {
			chat++
		} else {
			raw++
		}
		if len(c.Tags) == 0 {
			untagged++
		}
		for _, t := range c.Tags {
			tags[t]++
		}
		if c.Cluster != "" {
			clusters[c.Cluster]++
		}
		for _, sc := range c.Scorers {
			scorers[sc.Name()]++
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file:\t%s\n", untrusted.Line(file))
	fmt.Fprintf(tw, "suite:\t%s\n", untrusted.Line(s.Name))
	if s.Version != "" {
		fmt.Fprintf(tw, "version:\t%s\n", untrusted.Line(s.Version))
	}
	fmt.Fprintf(tw, "hash:\t%s\n", s.Hash)
	fmt.Fprintf(tw, "settings hash:\t%s\n", s.Settings.Hash())
	fmt.Fprintf(tw, "samples:\t%d\n", s.Settings.Samples)
	fmt.Fprintf(tw, "cases:\t%d (%d chat, %d raw prompt)\n", len(s.Cases), chat, raw)
	fmt.Fprintf(tw, "clusters:\t%d\n", len(clusters))
	tw.Flush()
	fmt.Fprintln(w, "\ncases by tag:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range sortedKeys(tags) {
		fmt.Fprintf(tw, "  %s\t%d\n", untrusted.Line(t), tags[t])
	}
	if untagged > 0 {
		fmt.Fprintf(tw, "  (untagged)\t%d\n", untagged)
	}
	tw.Flush()
	fmt.Fprintln(w, "\ncases by scorer:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, n := range sortedKeys(scorers) {
		fmt.Fprintf(tw, "  %s\t%d\n", untrusted.Line(n), scorers[n])
	}
	tw.Flush()
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
		s, err := Load(files[0])
		if err != nil {
			return err
		}
		Describe(w, files[0], s)
		return nil
	}
	invalid, described := 0, 0
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			invalid++
			fmt.Fprintf(errw, "evalpin: %v\n", err)
			continue
		}
		if described > 0 {
			fmt.Fprintln(w)
		}
		described++
		Describe(w, f, s)
	}
	if invalid > 0 {
		return fault.Errorf(fault.Input, "fix the problems listed; docs/suites.md describes the suite format",
			"suite check: %d of %d suite files are invalid", invalid, len(files))
	}
	return nil
}
