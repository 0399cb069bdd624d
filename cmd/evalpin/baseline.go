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

const baselineUsage = `Usage: evalpin baseline <export|import> [arguments]

A baseline file holds one run — its lock id and its identity document, the
suite's cases, the settings and every stored result — as JSON lines in a
stable order, with a SHA-256 on its last line. Keep it in git next to the
suite: a CI job that starts with an empty database imports it and gates the
candidate against it. docs/baselines.md describes the format and the workflow.

  evalpin baseline export RUN|LOCK [-o FILE]   write a run's baseline file
  evalpin baseline import FILE                 store a baseline file as a run; prints its id

Accepting a new baseline is an explicit step, like accepting a golden file:
export the candidate's run over the old file and commit it; the file's diff
in the pull request shows every output that changed.

Run 'evalpin baseline <subcommand> -h' for the flags of one.

Examples:

  evalpin baseline export 15 -o baselines/smoke.jsonl
  evalpin baseline export sha256:3f2a… -o baselines/smoke.jsonl
  base=$(evalpin baseline import baselines/smoke.jsonl)
  evalpin gate --baseline "$base" --candidate 16

`

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

const baselineExportUsage = `
Usage: evalpin baseline export RUN|LOCK [-o FILE] [--allow-incomplete] [--db FILE]

Export writes the run's baseline file to FILE (or standard output): the header
(lock id and identity document, suite, settings, evalpin version, start and
finish times, counts), each case of the suite followed by the run's results
for it, and a SHA-256 of all of it. Exporting the same run again gives a
byte-identical file, so a new baseline diffs line by line against the old.

RUN is a run id ('evalpin runs'); a lock id names that lock's latest complete
run. Only complete runs are exported, unless --allow-incomplete (the file
then says the run is not complete, and a gate against it refuses it unless
told otherwise).

The file is written to a temporary file next to FILE and renamed over it, so
an interrupted export never leaves half a baseline behind.

Examples:

  evalpin baseline export 15 -o baselines/smoke.jsonl
  evalpin baseline export sha256:3f2a… -o baselines/smoke.jsonl
  evalpin baseline export 15 | head -1     # the header
`

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

const baselineImportUsage = `
Usage: evalpin baseline import FILE [--db FILE]

Import checks a baseline file — its checksum, every line, and that the lock's
identity document it carries, if any (a lock manifest, or the identity of an
Ollama lock), is valid and has the header's lock id — then stores its lock,
its suite and cases, and its run with every result, and prints the run's id on
standard output. The run keeps its lock, suite and settings hashes and its
start and finish times, so 'evalpin gate' pairs and resolves it as it would
the original run; a lock id given to gate finds it.

Importing a file whose run is already stored (same lock, suite, settings and
results) stores nothing and prints the stored run's id, so a CI job can
import its baselines on every build. FILE - reads standard input.

Examples:

  evalpin baseline import baselines/smoke.jsonl
  base=$(evalpin baseline import baselines/smoke.jsonl --db ci.db)
  evalpin gate --baseline "$base" --candidate 16 --db ci.db
`

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
