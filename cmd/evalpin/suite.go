package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/untrusted"
	"github.com/evalpin/evalpin/suites"
)

const suiteUsage = `
Usage:

  evalpin suite check FILE...    validate suite files; print name, version, hashes, cases by tag
  evalpin suite list             list the bundled example suites
  evalpin suite show NAME        print a bundled suite, to copy and adapt

A suite is YAML (*.yaml, *.yml) or JSON lines (*.jsonl); docs/suites.md
describes the format. 'check' reports every problem of a file at once, each
with file:line:col and what to fix, and exits 2 if any file is invalid.

Examples:

  evalpin suite check suites/smoke.yaml
  evalpin suite check generated.jsonl
  evalpin suite list
  evalpin suite show json-format > my-suite.yaml
`

// runSuite implements "evalpin suite".
func (a *app) runSuite(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("suite", suiteUsage)
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return usageErrorf("suite: no subcommand given (check, list or show)")
	}
	sub, rest := pos[0], pos[1:]
	switch sub {
	case "check":
		if len(rest) == 0 {
			return usageErrorf("suite check: no suite file given; try 'evalpin suite check FILE'")
		}
		return suiteCheck(rest, stdout, stderr)
	case "list":
		if len(rest) > 0 {
			return usageErrorf("suite list: unexpected argument %q", rest[0])
		}
		return suiteList(stdout)
	case "show":
		if len(rest) != 1 {
			return usageErrorf("suite show: name one bundled suite, e.g. 'evalpin suite show testbed' (see 'evalpin suite list')")
		}
		return suiteShow(rest[0], stdout)
	}
	return usageErrorf("suite: unknown subcommand %q (check, list or show)", sub)
}

// suiteCheck loads each file and describes it. With several files, each
// invalid one's problems are printed as it comes, and the error counts them.
func suiteCheck(files []string, stdout, stderr io.Writer) error {
	if len(files) == 1 {
		s, err := suites.Load(files[0])
		if err != nil {
			return err
		}
		describeSuite(stdout, files[0], s)
		return nil
	}
	invalid, described := 0, 0
	for _, f := range files {
		s, err := suites.Load(f)
		if err != nil {
			invalid++
			fmt.Fprintf(stderr, "evalpin: %v\n", err)
			continue
		}
		if described > 0 {
			fmt.Fprintln(stdout)
		}
		described++
		describeSuite(stdout, f, s)
	}
	if invalid > 0 {
		return fault.Errorf(fault.Input, "fix the problems listed; docs/suites.md describes the suite format",
			"suite check: %d of %d suite files are invalid", invalid, len(files))
	}
	return nil
}

// describeSuite prints what a user checks a suite for: its identity and how
// its cases are grouped.
func describeSuite(w io.Writer, file string, s *eval.Suite) {
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

// suiteList prints the bundled suites.
func suiteList(stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tCASES\tDESCRIPTION")
	for _, n := range suites.ExampleNames() {
		s, err := suites.LoadExample(n)
		if err != nil {
			return fmt.Errorf("bundled suite %s: %w", n, err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", n, s.Version, len(s.Cases), exampleDescription(n))
	}
	return tw.Flush()
}

// exampleDescription returns the description line of a bundled suite.
func exampleDescription(name string) string {
	file, err := suites.ExampleFile(name)
	if err != nil {
		return ""
	}
	data, err := fs.ReadFile(suites.Examples, file)
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

// suiteShow prints a bundled suite's file.
func suiteShow(name string, stdout io.Writer) error {
	file, err := suites.ExampleFile(name)
	if err != nil {
		return err
	}
	data, err := fs.ReadFile(suites.Examples, file)
	if err != nil {
		return fmt.Errorf("read bundled suite: %w", err)
	}
	_, err = stdout.Write(data)
	return err
}
