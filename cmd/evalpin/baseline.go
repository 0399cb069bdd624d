package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

var baselineUsage = help("baseline")

// runBaseline dispatches the baseline subcommands.
func (a *app) runBaseline(ctx context.Context, args []string) error {
	stderr := a.stderr
	if len(args) == 0 {
		fmt.Fprint(stderr, baselineUsage+fault.ExitStatusText)
		return usageErrorf("baseline: no subcommand given (export or import)")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "export":
		return a.baselineExport(ctx, rest)
	case "import":
		return a.baselineImport(ctx, rest)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, baselineUsage+fault.ExitStatusText)
		return flag.ErrHelp
	}
	return fault.Errorf(fault.Input, "run 'evalpin help baseline'", "baseline: unknown subcommand %q (want export or import)", sub)
}

var baselineExportUsage = help("baseline-export")

// baselineExport implements "evalpin baseline export".
func (a *app) baselineExport(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("baseline export", baselineExportUsage)
	dbPath := addDBFlag(fs)
	out := fs.String("o", "", "write the baseline to `file` instead of standard output")
	allowIncomplete := fs.Bool("allow-incomplete", false, "export a run that is not complete")
	pos, err := a.baselineArgs(fs, args, "RUN|LOCK")
	if err != nil {
		return err
	}
	db, err := openExistingStore(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	x, err := runs.Export(ctx, db, pos, runs.ExportOptions{AllowIncomplete: *allowIncomplete})
	if err != nil {
		return exportAdvice(err)
	}
	for _, w := range x.Warnings {
		fmt.Fprintf(stderr, "evalpin: warning: %s\n", untrusted.Line(w.Error()))
	}
	if err := writeOutput(*out, stdout, func(w io.Writer) error { return baselines.Encode(w, x.Baseline) }); err != nil {
		return fmt.Errorf("baseline export: %w", err)
	}
	dest := *out
	if dest == "" {
		dest = "standard output"
	}
	r, h := x.Run, x.Baseline.Header
	fmt.Fprintf(stderr, "exported run %d (lock %s, suite %s %s, %d cases, %d results, %d failed) to %s\n",
		r.ID, untrusted.Line(string(r.Lock)), untrusted.Line(r.Suite), untrusted.Line(r.SuiteVersion), h.Cases, h.Results, h.Errors, dest)
	return nil
}

// exportAdvice adds to an error of runs.Export its kind and the fix.
func exportAdvice(err error) error {
	var none *runs.NoCompleteRunError
	var inc *runs.IncompleteError
	switch {
	case errors.As(err, &inc):
		return fault.Errorf(fault.Incomplete,
			"finish it by running the same 'evalpin run' again (it resumes), or pass --allow-incomplete to export what is stored",
			"baseline export: %w", err)
	case errors.As(err, &none):
		return fault.Errorf(fault.Input,
			"pass a run id or a full lock id ('evalpin runs' lists both; 'evalpin runs --lock "+untrusted.Line(string(none.Lock))+"' the runs of that lock)",
			"baseline export: %w", err)
	case errors.Is(err, store.ErrNotFound):
		return fault.Errorf(fault.Input, runsHint, "baseline export: %w", err)
	}
	return err
}

var baselineImportUsage = help("baseline-import")

// baselineImport implements "evalpin baseline import".
func (a *app) baselineImport(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("baseline import", baselineImportUsage)
	dbPath := addDBFlag(fs)
	path, err := a.baselineArgs(fs, args, "FILE")
	if err != nil {
		return err
	}
	b, err := readBaseline(path)
	if err != nil {
		return err
	}
	if path == "-" {
		path = "standard input"
	}
	db, err := openStore(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	h := b.Header

	if id, ok, err := runs.FindImported(ctx, db, b); err != nil {
		return err
	} else if ok {
		fmt.Fprintf(stderr, "%s is already stored as run %d\n", untrusted.Line(path), id)
		fmt.Fprintln(stdout, id)
		return nil
	}
	id, err := runs.Import(ctx, db, b)
	if err != nil {
		return fmt.Errorf("baseline import %s: %w", path, err)
	}
	fmt.Fprintf(stderr, "imported %s as run %d (lock %s, suite %s %s, %s, %d cases, %d results, %d failed)\n",
		untrusted.Line(path), id, untrusted.Line(string(h.Lock)), untrusted.Line(h.Suite), untrusted.Line(h.SuiteVersion), h.Status, h.Cases, h.Results, h.Errors)
	fmt.Fprintln(stdout, id)
	return nil
}

// baselineFileHint is the fix for a baseline file that is refused.
const baselineFileHint = "export the baseline again with 'evalpin baseline export', or restore the file from git ('git checkout -- FILE')"

// readBaseline reads and checks the baseline file at path ("-" is standard
// input) with runs.ReadBaseline, and adds the fix to its errors.
func readBaseline(path string) (*baselines.Baseline, error) {
	var b *baselines.Baseline
	var err error
	if path == "-" {
		b, err = runs.ReadBaseline(os.Stdin, "standard input")
	} else {
		b, err = runs.ReadBaselineFile(path)
	}
	var pe *baselines.ParseError
	var de *runs.DocumentError
	switch {
	case errors.Is(err, runs.ErrOpen):
		return nil, fault.Errorf(fault.Input, "pass the path of a baseline file written by 'evalpin baseline export'", "baseline import: %w", err)
	case errors.Is(err, baselines.ErrNotBaseline):
		return nil, fault.Errorf(fault.Input, "pass a file written by 'evalpin baseline export'", "%w", err)
	case errors.As(err, &pe), errors.As(err, &de):
		return nil, fault.Errorf(fault.Input, baselineFileHint, "%w", err)
	}
	return b, err
}

// baselineArgs parses the flags of a baseline subcommand, before or after its
// one positional argument, and returns that argument.
func (a *app) baselineArgs(fs *cli.Flags, args []string, what string) (string, error) {
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return "", err
	}
	hint := "run 'evalpin " + fs.Name() + " -h'"
	switch len(pos) {
	case 0:
		return "", fault.Errorf(fault.Input, hint, "%s: want one argument, %s", fs.Name(), what)
	case 1:
		return pos[0], nil
	}
	return "", fault.Errorf(fault.Input, hint, "%s: want one argument, %s; got %d: %s",
		fs.Name(), what, len(pos), untrusted.Line(strings.Join(pos, " ")))
}
