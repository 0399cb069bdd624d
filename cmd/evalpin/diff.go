package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	reports "github.com/evalpin/evalpin/report"
)

const diffUsage = `
Usage: evalpin diff --baseline X --candidate Y [--format table|md|json|junit|html] [-o FILE] [--policy FILE] [--db FILE]

Diff compares the candidate's outputs with the baseline's, case by case: pass
rates overall, per scorer and per tag (paired difference with a 95% interval,
McNemar's exact test, the flipped cases), output length, latency and
similarity to the baseline output (Wilcoxon signed-rank, Hodges–Lehmann
shift with its signed-rank interval), and output drift against the noise floor of
repeated samples. Each metric gets a verdict: regressed, improved, or ~ with
the smallest change the suite could have detected. The report starts with
what changed in the lock manifest. docs/diff.md explains how to read it.

X and Y are each, in this order:
  - an existing file: a baseline file ('evalpin baseline export'), read and
    verified as it is; with two files no database is needed;
  - a number: a run id (see 'evalpin runs');
  - else a lock id: that lock's latest complete run for the same suite and
    settings as the other side; when both are lock ids, the candidate's latest
    complete run sets the suite and settings.
An argument that reads two ways (a file named 12 beside run 12) is refused,
naming both; write the file as ./12.

Only cases with the same case hash are paired, and runs made at different
settings are refused (--allow-settings-mismatch compares them anyway).
A run that is not complete is refused unless --allow-incomplete.
The verdicts use the policy file (--policy) or the default policy: alpha
0.05, overall and per-scorer pass rates gated at 2 percentage points.

Examples:

  evalpin diff --baseline 12 --candidate 15
  evalpin diff --baseline sha256:3f2a… --candidate sha256:9c41… --format md -o diff.md
  evalpin diff --baseline baselines/smoke.jsonl --candidate 15
  evalpin diff --baseline 12 --candidate 15 --format html -o diff.html
  evalpin diff --baseline 12 --candidate 15 --format json --policy ci/gate.yaml
`

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
	if err := writeOutput(out, stdout, func(w io.Writer) error { return reports.Write(w, format, c) }); err != nil {
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
