package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/credentials"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/progress"
	"github.com/evalpin/evalpin/internal/project"
	"github.com/evalpin/evalpin/internal/secret"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// An app is the evalpin process as its commands see it: where they write,
// the environment they read, the clock, the signals and the few knobs a test
// turns. main runs the real one (newApp); tests make their own, so that
// command tests can run in parallel without package globals.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string

	// signals returns the channel a run watches for a second Ctrl-C, and a
	// function that stops the watch.
	signals func() (<-chan os.Signal, func())
	// hardExit ends the process when a run has not stopped hardStopGrace
	// after the second Ctrl-C.
	hardExit      func()
	hardStopGrace time.Duration
	// isTerminal reports whether a writer is a terminal that can show
	// progress.
	isTerminal func(io.Writer) bool
	// progressEvery is how often a run writes a progress line to a stderr
	// that is not a terminal; 0 writes none.
	progressEvery time.Duration
	// runClock, when set, is the runner's clock (golden tests freeze it);
	// lockClock stamps lock manifests and promotions.
	runClock  func() time.Time
	lockClock func() time.Time
	// commitInterval and commitBatch bound how long a result waits for the
	// check of a lock that responses do not carry (endpoint.Committer).
	commitInterval time.Duration
	commitBatch    int
	// putSuite stores a suite's cases while a run replays it.
	putSuite func(ctx context.Context, db *store.DB, suite eval.Suite) error
	// findProject finds the project file (run reads it once per process).
	findProject func(getenv func(string) string) (*project.File, error)
	project     *project.File
	projectErr  error
}

// newApp returns the app of the process: stdout, stderr, the process's
// environment and signals.
func newApp(stdout, stderr io.Writer) *app {
	return &app{
		stdout: stdout, stderr: stderr, getenv: os.Getenv,
		signals: func() (<-chan os.Signal, func()) {
			c := make(chan os.Signal, 2)
			signal.Notify(c, os.Interrupt, syscall.SIGTERM)
			return c, func() { signal.Stop(c) }
		},
		hardExit:       func() { os.Exit(fault.ExitInterrupted) },
		hardStopGrace:  5 * time.Second,
		isTerminal:     func(w io.Writer) bool { return progress.IsTerminal(secret.Underlying(w)) },
		lockClock:      time.Now,
		progressEvery:  10 * time.Second,
		commitInterval: 500 * time.Millisecond,
		putSuite:       func(ctx context.Context, db *store.DB, suite eval.Suite) error { return db.PutSuite(ctx, suite) },
		findProject:    project.Open,
	}
}

// defaults makes the flags names of fs default to the project's settings:
// $EVALPIN_<SETTING>, then evalpin.yaml (internal/project).
func (a *app) defaults(fs *cli.Flags, names ...string) {
	fs.Sources(project.Sources(a.project, a.projectErr, a.getenv, names...)...)
}

// A command is one evalpin subcommand.
type command struct {
	name, summary string
	run           func(a *app, ctx context.Context, args []string) error
}

// commands lists evalpin's subcommands in the order help shows them; each is
// implemented in a file of its own.
var commands = []command{
	{"init", "write evalpin.yaml, this project's defaults for every command", (*app).runInit},
	{"lock", "create, verify, diff or show the lock manifest of a model directory", (*app).runLock},
	{"serve", "serve the lock protocol for one model in front of an engine (sidecar proxy)", (*app).runServe},
	{"probe", "show which lock an endpoint serves, and how evalpin knows", (*app).runProbe},
	{"suite", "check a suite file; list and show the bundled suites", (*app).runSuite},
	{"run", "replay a suite against a locked endpoint and store every output", (*app).runRun},
	{"runs", "list the stored runs", (*app).runRuns},
	{"show", "show a stored run, or one case of it", (*app).runShow},
	{"replay", "replay an incident's cases under the lock that answered them: outputs then and now", (*app).runReplay},
	{"diff", "compare a candidate run with a baseline run, with statistics", (*app).runDiff},
	{"compare", "set forks side by side: runs of one suite by lock, run, label or model, each against the first", (*app).runCompare},
	{"gate", "diff two runs under a policy; exit 1 on a regression, 6 when inconclusive (for CI)", (*app).runGate},
	{"promote", "record a lock as a track's current one, in the lineage file kept in git", (*app).runPromote},
	{"locks", "list the locks, their runs, models, labels and promotions", (*app).runLocks},
	{"baseline", "export a run to a portable baseline file, or import one", (*app).runBaseline},
	{"version", "print evalpin's version", (*app).runVersion},
}

// lookup returns the command called name.
func lookup(name string) (command, bool) {
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == name })
	if i < 0 {
		return command{}, false
	}
	return commands[i], true
}

// run runs evalpin with args in the process's app writing to stdout and
// stderr (see app.run).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return newApp(stdout, stderr).run(ctx, args)
}

// run parses the subcommand from args and runs it.
//
// Everything a command prints goes through writers that redact the
// process's secrets (internal/secret): every renderer, progress line, warning
// and error message, whichever command or library wrote it. The secrets of
// the environment and of the arguments are registered first.
func (a *app) run(ctx context.Context, args []string) (err error) {
	credentials.RegisterEnv(args, a.getenv)
	rout, rerr := secret.NewWriter(a.stdout), secret.NewWriter(a.stderr)
	defer func() {
		for _, w := range []*secret.Writer{rout, rerr} {
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
		}
	}()
	b := *a
	b.stdout, b.stderr = rout, rerr
	b.project, b.projectErr = b.findProject(b.getenv)
	if len(args) == 0 {
		usage(b.stderr)
		return usageErrorf("no command given")
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		usage(b.stdout)
		return nil
	case "help":
		if len(rest) == 0 {
			usage(b.stdout)
			return nil
		}
		name, rest = rest[0], []string{"-h"}
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := lookup(name)
	if !ok {
		return usageErrorf("unknown command %q", name)
	}
	err = cmd.run(&b, ctx, rest)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return advise(err)
}

// usage prints the list of commands.
func usage(w io.Writer) {
	fmt.Fprint(w, "evalpin makes LLM model versions checkable and their regressions measurable.\n\nUsage:\n\n  evalpin <command> [arguments]\n\nCommands:\n\n")
	for _, c := range slices.SortedFunc(slices.Values(commands), func(a, b command) int { return strings.Compare(a.name, b.name) }) {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'evalpin help <command>' for a command's flags and examples.\n\n"+fault.ExitStatusText)
}

// flags returns the flag set of the command name, whose help is usage
// followed by the flags and the exit codes.
func (a *app) flags(name, usage string) *cli.Flags {
	return cli.New(name, usage, fault.ExitStatusText, a.stderr)
}

// wantArgs parses the command line args of the command name, which takes no
// flags and the positional arguments names (cli.Flags.Want).
func (a *app) wantArgs(name, usage string, args []string, names ...string) ([]string, error) {
	return a.flags(name, usage).ParseWant(args, a.getenv, names...)
}

// usageErrorf returns an input error for a bad command line.
func usageErrorf(format string, args ...any) error {
	return fault.Errorf(fault.Input, "run 'evalpin help' for the list of commands, 'evalpin help COMMAND' for a command's flags", format, args...)
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
