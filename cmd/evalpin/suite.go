package main

import (
	"context"

	"github.com/evalpin/evalpin/internal/cli"
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
			return suites.Check(stdout, stderr, files)
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
