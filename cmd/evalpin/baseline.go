package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
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
	r, err := exportRun(ctx, db, pos)
	if err != nil {
		return err
	}
	if r.Status != eval.RunComplete && !*allowIncomplete {
		return fault.Errorf(fault.Incomplete,
			"finish it by running the same 'evalpin run' again (it resumes), or pass --allow-incomplete to export what is stored",
			"baseline export: run %d is %s, not complete", r.ID, r.Status)
	}
	b, err := loadBaseline(ctx, db, r, stderr)
	if err != nil {
		return err
	}
	if err := writeOutput(*out, stdout, func(w io.Writer) error { return baselines.Encode(w, b) }); err != nil {
		return fmt.Errorf("baseline export: %w", err)
	}
	dest := *out
	if dest == "" {
		dest = "standard output"
	}
	fmt.Fprintf(stderr, "exported run %d (lock %s, suite %s %s, %d cases, %d results, %d failed) to %s\n",
		r.ID, untrusted.Line(string(r.Lock)), untrusted.Line(r.Suite), untrusted.Line(r.SuiteVersion), b.Header.Cases, b.Header.Results, b.Header.Errors, dest)
	return nil
}

// exportRun resolves the argument of export: a run id, or a lock id naming
// that lock's latest complete run.
func exportRun(ctx context.Context, db *store.DB, arg string) (eval.Run, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
		r, err := db.Run(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return r, fault.Errorf(fault.Input, "'evalpin runs' lists the stored runs", "baseline export: no run %d is stored", id)
		}
		return r, err
	}
	runs, err := db.Runs(ctx, store.RunFilter{Lock: arg, Status: eval.RunComplete})
	if err != nil {
		return eval.Run{}, err
	}
	for i := len(runs) - 1; i >= 0; i-- {
		if string(runs[i].Lock) == arg {
			return runs[i], nil
		}
	}
	return eval.Run{}, fault.Errorf(fault.Input,
		"pass a run id or a full lock id ('evalpin runs' lists both; 'evalpin runs --lock "+untrusted.Line(arg)+"' the runs of that lock)",
		"baseline export: no complete run of lock %s is stored", untrusted.Line(arg))
}

// loadBaseline reads run r with its lock, cases and results from db. The
// lock's identity document goes into the header only if it verifies (see
// lockdoc.go); otherwise a warning on stderr says it is left out.
func loadBaseline(ctx context.Context, db *store.DB, r eval.Run, stderr io.Writer) (*baselines.Baseline, error) {
	results, err := db.Results(ctx, r.ID)
	if err != nil {
		return nil, fmt.Errorf("read results of run %d: %w", r.ID, err)
	}
	byID, err := db.Cases(ctx, r.SuiteHash)
	if err != nil {
		return nil, err
	}
	cases := make([]eval.Case, 0, len(byID))
	for _, c := range byID {
		cases = append(cases, c)
	}
	b := baselines.New(r, cases, results)
	l, err := db.Lock(ctx, r.Lock)
	switch {
	case err == nil:
		b.Header.LockSource = l.Source
		// A document that does not verify would make the file one that
		// import refuses: it is left out, and the lock travels by id alone.
		if len(l.Manifest) > 0 {
			if err := verifyLockDocument(r.Lock, l.Manifest); err != nil {
				fmt.Fprintf(stderr, "evalpin: warning: the identity document of lock %s is left out of the baseline: %s\n",
					untrusted.Line(string(r.Lock)), untrusted.Line(err.Error()))
			} else {
				b.Header.LockManifest = l.Manifest
			}
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return b, nil
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

	if id, ok, err := findImported(ctx, db, b); err != nil {
		return err
	} else if ok {
		fmt.Fprintf(stderr, "%s is already stored as run %d\n", untrusted.Line(path), id)
		fmt.Fprintln(stdout, id)
		return nil
	}
	id, err := storeBaseline(ctx, db, b)
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
// input), including that the lock's identity document it carries (a lock
// manifest, or an Ollama identity) is the header's lock's.
func readBaseline(path string) (*baselines.Baseline, error) {
	var r io.Reader = os.Stdin
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fault.Errorf(fault.Input, "pass the path of a baseline file written by 'evalpin baseline export'", "baseline import: %w", err)
		}
		defer f.Close()
		r, name = f, path
	}
	b, err := baselines.Decode(r, name)
	var pe *baselines.ParseError
	switch {
	case errors.Is(err, baselines.ErrNotBaseline):
		return nil, fault.Errorf(fault.Input, "pass a file written by 'evalpin baseline export'", "%w", err)
	case errors.As(err, &pe):
		return nil, fault.Errorf(fault.Input, baselineFileHint, "%w", err)
	case err != nil:
		return nil, err
	}
	h := b.Header
	if len(h.LockManifest) > 0 {
		if err := verifyLockDocument(h.Lock, h.LockManifest); err != nil {
			return nil, fault.Errorf(fault.Input, baselineFileHint,
				"%s:1: the identity document of lock %s is refused: %w", name, untrusted.Line(string(h.Lock)), err)
		}
	}
	return b, nil
}

// findImported returns the id of a stored run that holds the same baseline as
// b: the same lock, suite, settings and status, and results with the same
// digest.
func findImported(ctx context.Context, db *store.DB, b *baselines.Baseline) (int64, bool, error) {
	h := b.Header
	runs, err := db.Runs(ctx, store.RunFilter{Lock: string(h.Lock), SuiteHash: h.SuiteHash, Status: h.Status})
	if err != nil {
		return 0, false, err
	}
	var want string
	for _, r := range slices.Backward(runs) {
		if r.Lock != h.Lock || r.SettingsHash != h.SettingsHash {
			continue
		}
		counts, err := db.Counts(ctx, r.ID)
		if err != nil {
			return 0, false, err
		}
		if counts.Results != h.Results || counts.Errors != h.Errors {
			continue // cheap: no need to read the outputs
		}
		if want == "" {
			if want, err = b.Digest(); err != nil {
				return 0, false, err
			}
		}
		results, err := db.Results(ctx, r.ID)
		if err != nil {
			return 0, false, fmt.Errorf("read results of run %d: %w", r.ID, err)
		}
		got, err := baselines.New(r, nil, results).Digest()
		if err != nil {
			continue // a stored run that no file could hold is not this one
		}
		if got == want {
			return r.ID, true, nil
		}
	}
	return 0, false, nil
}

// storeBaseline stores b's lock, suite and run with its results and returns
// the new run's id. The run keeps the file's start and finish times and its
// status (store.ImportRun), which it is given only once every result is
// stored, so an import that dies half-way leaves a run that no gate takes for
// complete.
func storeBaseline(ctx context.Context, db *store.DB, b *baselines.Baseline) (int64, error) {
	h := b.Header
	source := h.LockSource
	if source == "" {
		source = "baseline"
	}
	var manifest []byte
	if len(h.LockManifest) > 0 {
		manifest = bytes.Clone(h.LockManifest)
	}
	if err := db.PutLock(ctx, h.Lock, manifest, source); err != nil {
		return 0, err
	}
	if err := db.PutSuite(ctx, b.Suite()); err != nil {
		return 0, err
	}
	r := b.Run()
	if err := db.ImportRun(ctx, &r, slices.Values(b.Results)); err != nil {
		return 0, err
	}
	return r.ID, nil
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
