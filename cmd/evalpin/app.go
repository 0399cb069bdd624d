package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/secret"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A command is one evalpin subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands maps each subcommand's name to its implementation; each lives in a
// file of its own.
var commands = map[string]command{}

// run parses the subcommand from args and runs it.
//
// Everything a command prints goes through writers that redact the
// process's secrets (internal/secret): every renderer, progress line, warning
// and error message, whichever command or library wrote it. The secrets of
// the environment and of the arguments are registered first.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	registerEnvSecrets(args, os.Getenv)
	rout, rerr := secret.NewWriter(stdout), secret.NewWriter(stderr)
	defer func() {
		for _, w := range []*secret.Writer{rout, rerr} {
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
		}
	}()
	stdout, stderr = rout, rerr
	if len(args) == 0 {
		usage(stderr)
		return usageErrorf("no command given")
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return nil
	case "help":
		if len(rest) == 0 {
			usage(stdout)
			return nil
		}
		name, rest = rest[0], []string{"-h"}
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := commands[name]
	if !ok {
		return usageErrorf("unknown command %q (run 'evalpin help' for the list)", name)
	}
	err = cmd.run(ctx, rest, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return dbError("", err)
}

// usage prints the list of commands.
func usage(w io.Writer) {
	fmt.Fprint(w, "evalpin makes LLM model versions checkable and their regressions measurable.\n\nUsage:\n\n  evalpin <command> [arguments]\n\nCommands:\n\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, "\nRun 'evalpin help <command>' for a command's flags and examples.\n\n"+fault.ExitStatusText)
}

// usageErrorf returns an input error for a bad command line.
func usageErrorf(format string, args ...any) error {
	return fault.Errorf(fault.Input, "", format, args...)
}

// newFlagSet returns a flag set that reports errors instead of exiting and whose
// usage text is text followed by the flags and the exit codes.
func newFlagSet(name, text string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), strings.TrimLeft(text, "\n"))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
		fmt.Fprint(fs.Output(), "\n"+fault.ExitStatusText)
	}
	return fs
}

// parseFlags parses args into fs and turns a flag error into an input error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fault.Errorf(fault.Input, fmt.Sprintf("run 'evalpin help %s'", fs.Name()), "%s: %w", fs.Name(), err)
	}
	return nil
}

// report prints err, if any, with its hint, and returns the exit code for it.
// What it prints is redacted as run's output is: a server may have echoed a
// secret into an error.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return fault.ExitOK
	}
	w := secret.NewWriter(stderr)
	defer w.Flush()
	stderr = w
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "evalpin: interrupted")
		return fault.ExitInterrupted
	}
	// Messages quote files, endpoints and model outputs: untrusted text.
	fmt.Fprintf(stderr, "evalpin: %s\n", untrusted.Block(err.Error()))
	if hint := fault.HintOf(err); hint != "" {
		fmt.Fprintf(stderr, "Try: %s\n", untrusted.Block(hint))
	}
	return fault.ExitCode(err)
}
