package main

import (
	"context"
	"fmt"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	reports "github.com/evalpin/evalpin/report"
)

var diffUsage = help("diff")

// diffFlags are the flags diff and gate share.
type diffFlags struct {
	db, baseline, candidate, format, policy *string
	out                                     cli.Strings
	allowIncomplete, allowSettings, all     *bool
}

func addDiffFlags(fs *cli.Flags, defaultFormat string) *diffFlags {
	f := &diffFlags{
		db:              addDBFlag(fs),
		baseline:        fs.String("baseline", "", "the baseline `REF`: a baseline file, a run id or a lock id; for gate, also previous"),
		candidate:       fs.String("candidate", "", "the candidate `REF`: a baseline file, a run id or a lock id (gate without it runs the suite)"),
		format:          fs.String("format", defaultFormat, "report `format`: table, md, json, junit or html (without it, each -o file's extension picks)"),
		policy:          fs.String("policy", "", "the gate policy YAML `file` (default: the built-in policy, see docs/diff.md)"),
		allowIncomplete: fs.Bool("allow-incomplete", false, "compare runs that are not complete (their missing cases are left out)"),
		allowSettings:   fs.Bool("allow-settings-mismatch", false, "compare runs made at different settings"),
		all:             fs.Bool("all", false, "in a table, show every row (without it, rows too small to test are one line)"),
	}
	fs.Var(&f.out, "o", "write the report to `FILE` instead of standard output (repeatable: .txt, .md, .json, .xml JUnit, .html)")
	return f
}

// runDiff implements "evalpin diff".
func (a *app) runDiff(ctx context.Context, args []string) error {
	fs := a.flags("diff", diffUsage)
	f := addDiffFlags(fs, string(reports.Table))
	a.defaults(fs, "db", "baseline", "policy")
	if _, err := fs.ParseWant(args, a.getenv); err != nil {
		return err
	}
	outs, err := reportOuts(fs, f)
	if err != nil {
		return err
	}
	c, err := a.compareSides(ctx, "diff", f)
	if err != nil {
		return err
	}
	return reports.WriteAll(c, outs, a.stdout)
}

// reportOuts returns the reports f asks for (report.Outputs).
func reportOuts(fs *cli.Flags, f *diffFlags) ([]reports.Output, error) {
	outs, err := reports.Outputs(*f.format, fs.Given("format"), f.out)
	for i := range outs {
		outs[i].Table.All = *f.all
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fs.Name(), err)
	}
	return outs, nil
}

// readPolicy reads the policy file path; "" is the default policy (nil).
func readPolicy(path string) (*compare.Policy, error) {
	if path == "" {
		return nil, nil
	}
	return compare.ReadPolicy(path)
}

// needBoth refuses a diff or gate of stored runs that lacks a side.
func needBoth(name string, f *diffFlags) error {
	if *f.baseline == "" || *f.candidate == "" {
		return fault.Errorf(fault.Input, "pass both, e.g. evalpin "+name+" --baseline 12 --candidate 15 ('evalpin runs' lists the runs)",
			"%s: --baseline and --candidate are required", name)
	}
	return nil
}
