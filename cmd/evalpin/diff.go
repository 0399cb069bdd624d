package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/outfile"
	reports "github.com/evalpin/evalpin/report"
)

var diffUsage = help("diff")

// diffFlags are the flags diff and gate share.
type diffFlags struct {
	db, baseline, candidate, format, out, policy *string
	allowIncomplete, allowSettings               *bool
}

func addDiffFlags(fs *cli.Flags, defaultFormat string) *diffFlags {
	return &diffFlags{
		db:              addDBFlag(fs),
		baseline:        fs.String("baseline", "", "the baseline: a run `id` or a lock id"),
		candidate:       fs.String("candidate", "", "the candidate: a run `id` or a lock id"),
		format:          fs.String("format", defaultFormat, "report `format`: table, md, json, junit or html"),
		out:             fs.String("o", "", "write the report to `file` instead of standard output"),
		policy:          fs.String("policy", "", "the gate policy YAML `file` (default: the built-in policy, see docs/diff.md)"),
		allowIncomplete: fs.Bool("allow-incomplete", false, "compare runs that are not complete (their missing cases are left out)"),
		allowSettings:   fs.Bool("allow-settings-mismatch", false, "compare runs made at different settings"),
	}
}

// runDiff implements "evalpin diff".
func (a *app) runDiff(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("diff", diffUsage)
	f := addDiffFlags(fs, string(reports.Table))
	a.defaults(fs, "db", "baseline", "policy")
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	c, format, err := compareFromFlags(ctx, fs, pos, f, stderr)
	if err != nil {
		return err
	}
	return writeReport(c, format, *f.out, stdout)
}

// compareFromFlags checks the flags, loads both sides and compares them.
func compareFromFlags(ctx context.Context, fs *cli.Flags, pos []string, f *diffFlags, stderr io.Writer) (*compare.Comparison, reports.Format, error) {
	name := fs.Name()
	format, pol, err := checkDiffFlags(name, pos, f)
	if err != nil {
		return nil, "", err
	}
	p, err := loadPair(ctx, name, f)
	if err != nil {
		return nil, "", err
	}
	c, err := compare.Diff(compareSide(p.Base), compareSide(p.Cand), compare.Options{
		Policy: pol, Cases: p.Cases, AllowSettingsMismatch: *f.allowSettings, LockDiff: lockWords(p, stderr),
	})
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	return c, format, nil
}

// checkDiffFlags checks the flags of diff or gate (name) that need no run,
// and returns the report format and the policy (nil: the default one).
func checkDiffFlags(name string, pos []string, f *diffFlags) (reports.Format, *compare.Policy, error) {
	if len(pos) > 0 {
		return "", nil, usageErrorf("%s: unexpected argument %q (name the runs with --baseline and --candidate)", name, pos[0])
	}
	if *f.baseline == "" || *f.candidate == "" {
		return "", nil, fault.Errorf(fault.Input, "pass both, e.g. evalpin "+name+" --baseline 12 --candidate 15 ('evalpin runs' lists the runs)",
			"%s: --baseline and --candidate are required", name)
	}
	format, err := reports.ParseFormat(*f.format)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", name, err)
	}
	if *f.policy == "" {
		return format, nil, nil
	}
	data, err := os.ReadFile(*f.policy)
	if err != nil {
		return "", nil, fault.Errorf(fault.Input, "pass --policy FILE with an existing policy file, or leave it out for the default policy", "%s: %w", name, err)
	}
	pol, err := compare.ParsePolicy(data)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", *f.policy, err)
	}
	return format, pol, nil
}

// writeReport renders c to the file out, or to stdout when out is "".
func writeReport(c *compare.Comparison, format reports.Format, out string, stdout io.Writer) error {
	if err := outfile.Write(out, stdout, func(w io.Writer) error { return reports.Write(w, format, c) }); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// pluralS returns "s" unless n is 1.
func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
