package main

import (
	"context"
	"fmt"
	"io"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/suites"
)

var suiteUsage = help("suite")

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
		return suites.WriteExamples(stdout)
	case "show":
		if len(rest) != 1 {
			return usageErrorf("suite show: name one bundled suite, e.g. 'evalpin suite show testbed' (see 'evalpin suite list')")
		}
		return suites.WriteExample(stdout, rest[0])
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
		suites.Describe(stdout, files[0], s)
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
		suites.Describe(stdout, f, s)
	}
	if invalid > 0 {
		return fault.Errorf(fault.Input, "fix the problems listed; docs/suites.md describes the suite format",
			"suite check: %d of %d suite files are invalid", invalid, len(files))
	}
	return nil
}
