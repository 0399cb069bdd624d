package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/outfile"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/untrusted"
)

var baselineUsage = help("baseline")

// runBaseline dispatches the baseline subcommands.
func (a *app) runBaseline(ctx context.Context, args []string) error {
	return a.flags("baseline", baselineUsage).Dispatch(args,
		cli.Sub{Name: "export", Run: func(args []string) error { return a.baselineExport(ctx, args) }},
		cli.Sub{Name: "import", Run: func(args []string) error { return a.baselineImport(ctx, args) }},
		cli.Sub{Name: "accept", Run: func(args []string) error { return a.baselineAccept(ctx, args) }})
}

// baselineAccept implements "evalpin baseline accept".
func (a *app) baselineAccept(ctx context.Context, args []string) error {
	fs := a.flags("baseline accept", help("baseline-accept"))
	dbPath := addDBFlag(fs)
	file := fs.String("baseline", "", "the baseline `FILE` to replace, kept in git (default: the project's baseline)")
	suite := fs.String("suite", "", "of a lock, accept its run of the suite with this `NAME`")
	a.defaults(fs, "db", "baseline")
	pos, err := fs.ParseWant(args, a.getenv, "RUN|LOCK")
	if err != nil {
		return err
	} else if *file == "" {
		return fault.Errorf(fault.Input, "pass --baseline FILE, or set baseline: in evalpin.yaml", "baseline accept: no baseline file named")
	}
	db, err := openExistingStore(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	acc, err := runs.Accept(ctx, db, pos[0], *file, runs.ExportOptions{Suite: *suite})
	if err != nil {
		return fmt.Errorf("baseline accept: %w", err)
	}
	fmt.Fprintf(a.stderr, "%s; review 'git diff %s' and commit it\n", acc.Words(), cli.Quote(*file))
	return nil
}

var baselineExportUsage = help("baseline-export")

// baselineExport implements "evalpin baseline export".
func (a *app) baselineExport(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("baseline export", baselineExportUsage)
	dbPath := addDBFlag(fs)
	a.defaults(fs, "db")
	out := fs.String("o", "", "write the baseline to `file` instead of standard output")
	allowIncomplete := fs.Bool("allow-incomplete", false, "export a run that is not complete")
	suite := fs.String("suite", "", "of a lock, export the run of the suite with this `NAME` (default: its newest complete run of any suite)")
	pos, err := fs.ParseWant(args, a.getenv, "RUN|LOCK")
	if err != nil {
		return err
	}
	db, err := openExistingStore(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	x, err := runs.StartExport(ctx, db, pos[0], runs.ExportOptions{AllowIncomplete: *allowIncomplete, Suite: *suite})
	if err != nil {
		return fmt.Errorf("baseline export: %w", err)
	}
	for _, w := range x.Warnings {
		fmt.Fprintf(stderr, "evalpin: warning: %s\n", untrusted.Line(w.Error()))
	}
	if err := outfile.Write(*out, stdout, func(w io.Writer) error { return x.Stream(ctx, db, w) }); err != nil {
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

var baselineImportUsage = help("baseline-import")

// baselineImport implements "evalpin baseline import".
func (a *app) baselineImport(ctx context.Context, args []string) error {
	fs := a.flags("baseline import", baselineImportUsage)
	dbPath := addDBFlag(fs)
	a.defaults(fs, "db")
	pos, err := fs.Parse(args, a.getenv)
	if err == nil && len(pos) == 0 {
		err = fs.Usagef("want one or more arguments, FILE..., got 0")
	}
	if err != nil {
		return err
	}
	st, cleanup, err := runs.CheckBaselineArgs(pos)
	defer cleanup()
	if errors.Is(err, runs.ErrOpen) || errors.Is(err, runs.ErrShards) {
		return fmt.Errorf("baseline import: %w", err)
	} else if err != nil {
		return err
	}
	db, err := openStore(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	id, ok, err := runs.FindImported(ctx, db, st)
	if err == nil && !ok {
		id, err = runs.ImportStream(ctx, db, st)
	}
	h := st.Header
	switch {
	case err != nil:
		return fmt.Errorf("baseline import %s: %w", st.Name, err)
	case ok:
		fmt.Fprintf(a.stderr, "%s is already stored as run %d\n", untrusted.Line(st.Name), id)
	default:
		fmt.Fprintf(a.stderr, "imported %s as run %d (lock %s, suite %s %s, %s, %d cases, %d results, %d failed)\n",
			untrusted.Line(st.Name), id, untrusted.Line(string(h.Lock)), untrusted.Line(h.Suite), untrusted.Line(h.SuiteVersion), h.Status, h.Cases, h.Results, h.Errors)
	}
	fmt.Fprintln(a.stdout, id)
	return nil
}
