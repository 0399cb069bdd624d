package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
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

X and Y are each a run id or a lock id:
  - a run id (a number, see 'evalpin runs') names that run;
  - a lock id names that lock's latest complete run for the same suite and
    settings as the other side; when both are lock ids, the candidate's latest
    complete run sets the suite and settings.

Only cases with the same case hash are paired, and runs made at different
settings are refused (--allow-settings-mismatch compares them anyway).
A run that is not complete is refused unless --allow-incomplete.
The verdicts use the policy file (--policy) or the default policy: alpha
0.05, overall and per-scorer pass rates gated at 2 percentage points.

Examples:

  evalpin diff --baseline 12 --candidate 15
  evalpin diff --baseline sha256:3f2a… --candidate sha256:9c41… --format md -o diff.md
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

// compareFromFlags checks the flags, loads both runs and compares them.
func compareFromFlags(ctx context.Context, fs *cli.Flags, pos []string, f *diffFlags, stderr io.Writer) (*compare.Comparison, reports.Format, error) {
	name := fs.Name()
	if len(pos) > 0 {
		return nil, "", usageErrorf("%s: unexpected argument %q (name the runs with --baseline and --candidate)", name, pos[0])
	}
	if *f.baseline == "" || *f.candidate == "" {
		return nil, "", fault.Errorf(fault.Input, "pass both, e.g. evalpin "+name+" --baseline 12 --candidate 15 ('evalpin runs' lists the runs)",
			"%s: --baseline and --candidate are required", name)
	}
	format, err := reports.ParseFormat(*f.format)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	var pol *compare.Policy
	if *f.policy != "" {
		data, err := os.ReadFile(*f.policy)
		if err != nil {
			return nil, "", fault.Errorf(fault.Input, "pass --policy FILE with an existing policy file, or leave it out for the default policy", "%s: %w", name, err)
		}
		if pol, err = compare.ParsePolicy(data); err != nil {
			return nil, "", fmt.Errorf("%s: %w", *f.policy, err)
		}
	}

	db, err := openExistingStore(*f.db)
	if err != nil {
		return nil, "", err
	}
	defer db.Close()
	base, cand, err := resolveRuns(ctx, db, *f.baseline, *f.candidate)
	if err != nil {
		return nil, "", err
	}
	for _, s := range []struct {
		side string
		run  eval.Run
	}{{"baseline", base}, {"candidate", cand}} {
		if s.run.Status != eval.RunComplete && !*f.allowIncomplete {
			return nil, "", fault.Errorf(fault.Incomplete,
				"finish it by running the same 'evalpin run' again (it resumes), or pass --allow-incomplete to compare what is stored",
				"%s: the %s run %d is %s, not complete", name, s.side, s.run.ID, s.run.Status)
		}
	}
	cases, err := loadCases(ctx, db, base, cand)
	if err != nil {
		return nil, "", err
	}
	bs, err := loadSide(ctx, db, base, nil)
	if err != nil {
		return nil, "", err
	}
	cs, err := loadSide(ctx, db, cand, bs.Results)
	if err != nil {
		return nil, "", err
	}
	c, err := compare.Diff(bs, cs, compare.Options{
		Policy: pol, Cases: cases, AllowSettingsMismatch: *f.allowSettings,
		LockDiff: lockDiffWords(ctx, db, base.Lock, cand.Lock, stderr),
	})
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	return c, format, nil
}

// resolveRuns turns the --baseline and --candidate arguments into runs: a
// number is a run id; a lock id is that lock's latest complete run with the
// other side's suite and settings (with two lock ids, the candidate lock's
// newest complete run sets them).
func resolveRuns(ctx context.Context, db *store.DB, baseArg, candArg string) (eval.Run, eval.Run, error) {
	runOf := func(arg string) (eval.Run, bool, error) {
		id, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return eval.Run{}, false, nil
		}
		r, err := db.Run(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return r, true, fault.Errorf(fault.Input, "'evalpin runs' lists the stored runs", "no run %d is stored", id)
		}
		return r, true, err
	}
	base, baseIsRun, err := runOf(baseArg)
	if err != nil {
		return base, base, err
	}
	cand, candIsRun, err := runOf(candArg)
	if err != nil {
		return base, cand, err
	}
	latest := func(lockID string, like eval.Run) (eval.Run, error) {
		r, err := db.LatestCompleteRun(ctx, lockid.ID(lockID), like.SuiteHash, like.SettingsHash)
		if errors.Is(err, store.ErrNotFound) {
			return r, fault.Errorf(fault.Input, "run the suite against that lock with 'evalpin run', or name a run id ('evalpin runs --lock "+lockID+"')",
				"lock %s has no complete run of suite %s at the settings of run %d", lockID, like.Suite, like.ID)
		}
		return r, err
	}
	switch {
	case baseIsRun && candIsRun:
	case baseIsRun:
		cand, err = latest(candArg, base)
	case candIsRun:
		base, err = latest(baseArg, cand)
	default:
		runs, rerr := db.Runs(ctx, store.RunFilter{Lock: candArg, Status: eval.RunComplete})
		if rerr != nil {
			return base, cand, rerr
		}
		var matched []eval.Run
		for _, r := range runs {
			if string(r.Lock) == candArg {
				matched = append(matched, r)
			}
		}
		if len(matched) == 0 {
			return base, cand, fault.Errorf(fault.Input, "pass a run id or a full lock id ('evalpin runs' lists both)",
				"no complete run of lock %s is stored", candArg)
		}
		cand = matched[len(matched)-1]
		base, err = latest(baseArg, cand)
	}
	return base, cand, err
}

// loadSide reads a run's results. Where like (the other side's results, or
// nil) holds an equal case id, case hash or output for the same case sample,
// the result shares its memory: two runs of one suite mostly agree, and the
// second side then costs little more than what changed.
func loadSide(ctx context.Context, db *store.DB, r eval.Run, like []eval.Result) (compare.Side, error) {
	rs, err := db.ResultsSharing(ctx, r.ID, like)
	if err != nil {
		return compare.Side{}, fmt.Errorf("read results of run %d: %w", r.ID, err)
	}
	return compare.Side{Run: r, Results: rs}, nil
}

// loadCases reads the tags and cluster of every case of the two runs' suites;
// the candidate's suite wins where both know a case. It reads nothing else of
// a case (prompts and scorers are most of a large suite, and the results are
// read after it), and Compare gives a case it does not know no tags.
func loadCases(ctx context.Context, db *store.DB, base, cand eval.Run) (map[string]eval.Case, error) {
	cases, err := db.CaseLabels(ctx, cand.SuiteHash)
	if err != nil {
		return nil, err
	}
	if base.SuiteHash != cand.SuiteHash {
		other, err := db.CaseLabels(ctx, base.SuiteHash)
		if err != nil {
			return nil, err
		}
		for id, c := range other {
			if _, ok := cases[id]; !ok {
				cases[id] = c
			}
		}
	}
	return cases, nil
}

// lockDiffWords says in words what differs between the two locks' stored
// identity documents (lock manifests, or Ollama identities; see lockdoc.go),
// or "" when a document is not stored or the locks are of different kinds
// (the report then names the two ids).
func lockDiffWords(ctx context.Context, db *store.DB, a, b lockid.ID, stderr io.Writer) string {
	doc := func(id lockid.ID) lockDoc {
		l, err := db.Lock(ctx, id)
		if err != nil {
			return lockDoc{id: id}
		}
		return lockDoc{id: id, doc: l.Manifest}
	}
	words, err := lockDocWords(doc(a), doc(b))
	if err != nil {
		fmt.Fprintf(stderr, "evalpin: warning: %s; the report names the two lock ids\n", untrusted.Line(err.Error()))
		return ""
	}
	return words
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
