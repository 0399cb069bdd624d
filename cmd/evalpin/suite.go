package main

import (
	"context"
	"fmt"
	"io"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/suites"
)

var suiteUsage = help("suite")

// runSuite implements "evalpin suite".
func (a *app) runSuite(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	return a.flags("suite", suiteUsage).Dispatch(args,
		cli.Sub{Name: "check", Run: func(args []string) error {
			fs := a.flags("suite check", suiteUsage)
			files, err := fs.Parse(args, a.getenv)
			if err == nil && len(files) == 0 {
				err = fs.Usagef("no suite file given; try 'evalpin suite check FILE'")
			}
			if err != nil {
				return err
			}
			return suiteCheck(files, stdout, stderr)
		}},
		cli.Sub{Name: "list", Run: func(args []string) error {
			if _, err := a.wantArgs("suite list", suiteUsage, args); err != nil {
				return err
			}
			return suites.WriteExamples(stdout)
		}},
		cli.Sub{Name: "show", Run: func(args []string) error {
			pos, err := a.wantArgs("suite show", suiteUsage, args, "NAME")
			if err != nil {
				return err
			}
			return suites.WriteExample(stdout, pos[0])
		}})
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
