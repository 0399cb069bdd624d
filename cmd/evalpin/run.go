package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/credentials"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/interrupt"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/progress"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
	reports "github.com/evalpin/evalpin/report"
	"github.com/evalpin/evalpin/runner"
	"github.com/evalpin/evalpin/suites"
)

var runUsage = help("run")

// runDefaultRetries is --retries' default: runner.Config's default attempts.
const runDefaultRetries = runner.DefaultMaxAttempts - 1

// runOptions are the flags of "evalpin run".
type runOptions struct {
	suite       string
	endpoints   cli.Strings
	model       string
	expect      *string
	db          *string
	concurrency int
	timeout     time.Duration
	retries     int
	batch       int
	samples     int
	maxTokens   int
	seed        int64
	temperature float64
	fresh       bool
	selection   eval.Selection
	labels      cli.Strings // key=value
	labelMap    map[string]string
	apiKeyEnv   string
	format      *string
	noProgress  bool
	fs          *cli.Flags // which flags the command line set
}

// runRun implements "evalpin run": the flags, the credentials, and the
// run's invocation (runs.Execute) put into words.
func (a *app) runRun(ctx context.Context, args []string) (err error) {
	stderr := &interrupt.SyncWriter{W: a.stderr} // the progress and signal goroutines write too
	o, err := a.parseRunFlags(args, stderr)
	if err != nil {
		return err
	}
	x, done := a.runExec("run", o, stderr)
	defer func() { err = done(err) }()
	x.Resume = runCommandLine("run", args)
	defer a.watchInterrupts(&x, stderr)()
	end, err := runs.Execute(ctx, x)
	if end.Summary != nil {
		if werr := a.writeRunSummary(*o.format, *end.Summary); werr != nil {
			return werr
		}
	}
	if end.Note != "" {
		fmt.Fprintln(stderr, end.Note)
	}
	return err
}

// watchInterrupts watches the signals for x's run until the returned
// function is called: the first Ctrl-C drains the run, the second stops it
// (x.Runner.HardStop).
func (a *app) watchInterrupts(x *runs.Exec, stderr io.Writer) (stop func()) {
	sigs, unwatch := a.signals()
	var stopWatch func()
	x.Runner.HardStop, stopWatch = interrupt.Watch(interrupt.Config{Signals: sigs, Out: stderr, Grace: a.hardStopGrace, Exit: a.hardExit})
	return func() { stopWatch(); unwatch() }
}

// runExec returns the invocation of a run that o describes, for the command
// name: its credentials resolved (a refusal is returned, after the suite is
// checked, by the invocation's probe), and its steps put into words on
// stderr. done, called with the command's error, closes the client's idle
// connections and returns the error with the advice about the credentials.
func (a *app) runExec(name string, o *runOptions, stderr io.Writer) (x runs.Exec, done func(error) error) {
	creds, keyErr := resolveCredentials(name, o.apiKeyEnv, o.endpoints, a.getenv, stderr)
	closeClient := func() {}
	prober := &endpoint.Prober{}
	if keyErr == nil {
		o.endpoints = creds.Endpoints // without userinfo, which the client sends
		client := creds.Client(runner.NewTransport(o.concurrency, len(o.endpoints)))
		closeClient = client.CloseIdleConnections
		prober.Client, prober.APIKey = client, creds.Key
		x.Runner = runner.Config{APIKey: creds.Key, Client: client}
	}
	x.Start = runs.Start{
		Load:   func() (*eval.Suite, error) { return suites.OpenStream(o.suite, runs.SuiteCache(*o.db)) },
		Prober: prober, KeyErr: keyErr,
		Endpoints: o.endpoints, Model: o.model, Expect: lockid.ID(*o.expect), Timeout: o.timeout,
	}
	x.Settings = o.settings
	x.OpenStore = func() (*store.DB, error) { return openStore(*o.db) }
	x.Spec = runs.Spec{Endpoints: o.endpoints, Version: Version, Fresh: o.fresh, Selection: o.selection, Labels: o.labelMap,
		PutSuite: a.putSuite, CommitInterval: a.commitInterval, CommitBatch: a.commitBatch,
		FinishTimeout: min(o.timeout, runs.DefaultFinishTimeout)}
	x.Runner.Endpoints, x.Runner.Concurrency, x.Runner.Timeout = o.endpoints, o.concurrency, o.timeout
	x.Runner.MaxAttempts, x.Runner.Batch, x.Runner.Now = o.retries+1, o.batch, a.runClock
	x.OnProbe = func(t *endpoint.Target) {
		fmt.Fprintf(stderr, "lock %s (%s, %s) on %d endpoint(s), model %s\n",
			t.Lock, t.Claim.Source, t.Claim.Strength, len(o.endpoints), untrusted.Line(t.Model))
	}
	x.OnBegin = func(rn *runs.Run, suite *eval.Suite, _ eval.Settings) {
		fmt.Fprintln(stderr, rn.Begun(suite.Len()))
	}
	if !o.noProgress {
		x.OnRunner = func(r *runner.Runner) func() { return a.showProgress(r, stderr) }
	}
	return x, func(err error) error { closeClient(); return creds.Refused(err) }
}

// writeRunSummary writes a run's summary to stdout in format.
func (a *app) writeRunSummary(format string, s eval.RunSummary) error {
	if format == "json" {
		return reports.WriteRunJSON(a.stdout, s)
	}
	return reports.WriteRunTable(a.stdout, s)
}

// parseRunFlags parses and checks the command line of "evalpin run".
func (a *app) parseRunFlags(args []string, stderr io.Writer) (*runOptions, error) {
	fs := cli.New("run", runUsage, fault.ExitStatusText, stderr)
	o := a.addRunFlags(fs)
	o.db = addDBFlag(fs)
	fs.Var(&o.selection.Shard, "shard", "replay only shard `I/N` of the cases (by their ids' hash), one of N machines' parts of one run")
	o.format = fs.Choice("format", "table", "summary `format`: table or json", "table", "json")
	a.defaults(fs, "endpoint", "model", "suite", "samples", "db", "api-key-env")
	if _, err := fs.ParseWant(args, a.getenv); err != nil {
		return nil, err
	}
	return o, a.checkRunOptions(o)
}

// addRunFlags adds to fs the flags of a run that run and gate share.
func (a *app) addRunFlags(fs *cli.Flags) *runOptions {
	o := &runOptions{fs: fs}
	fs.StringVar(&o.suite, "suite", "", "the suite: a `FILE` (.yaml, .yml, .jsonl) or the name of a bundled suite")
	fs.Var(&o.endpoints, "endpoint", "an endpoint's OpenAI base `URL`, e.g. http://host:8000/v1 (repeatable: replicas of one lock)")
	fs.StringVar(&o.model, "model", "", "the `NAME` of the model to request (default: the only one the endpoint serves)")
	o.expect = addExpectLockFlag(fs)
	fs.IntVar(&o.concurrency, "concurrency", runner.DefaultConcurrency, fmt.Sprintf("the most requests in flight at once over all endpoints, 1 to %d", runner.MaxConcurrency))
	fs.DurationVar(&o.timeout, "timeout", runner.DefaultTimeout, "give up on one attempt of a request (and on the lock probe) after this long, "+cli.ShowDuration(runner.MinTimeout)+" to "+cli.ShowDuration(runner.MaxTimeout))
	fs.IntVar(&o.retries, "retries", runDefaultRetries, fmt.Sprintf("retries of a request after 429, 5xx, timeouts and connection errors, 0 to %d", runner.MaxAttempts-1))
	fs.IntVar(&o.batch, "batch", 1, fmt.Sprintf("pack up to `N` raw-prompt cases into one /completions request (vLLM, SGLang), 1 to %d", runner.MaxBatch))
	fs.IntVar(&o.samples, "samples", 0, fmt.Sprintf("request each case `K` times, 1 to %d (default: the suite's samples)", eval.SamplesLimit))
	fs.IntVar(&o.maxTokens, "max-tokens", 0, fmt.Sprintf("the most tokens per output, 1 to %d (default: the suite's max_tokens)", eval.MaxTokensLimit))
	fs.Int64Var(&o.seed, "seed", 0, "the sampling seed (default: the suite's seed)")
	fs.Float64Var(&o.temperature, "temperature", 0, "the sampling temperature (default: the suite's temperature)")
	fs.BoolVar(&o.fresh, "fresh", false, "start a new run even if an unfinished or complete one exists")
	fs.Var((*cli.Strings)(&o.selection.Cases), "cases", "replay only the cases of these `IDS` (comma-separated, repeatable)")
	fs.Var((*cli.Strings)(&o.selection.Tags), "tags", "replay only the cases carrying one of these `TAGS` (comma-separated, repeatable)")
	fs.IntVar(&o.selection.Limit, "limit", 0, "replay at most the first `N` cases selected")
	fs.Var(&o.labels, "label", "record a label `key=value` with the run, e.g. fork=nous (repeatable; not part of its identity)")
	fs.StringVar(&o.apiKeyEnv, "api-key-env", "", "send the API key in environment variable `VAR` to every endpoint (default: $OPENAI_API_KEY, to endpoints of $OPENAI_BASE_URL's origin only)")
	fs.BoolVar(&o.noProgress, "no-progress", false, "show no progress bar, even on a terminal")
	cli.AtLeast(fs, "limit", 1)
	cli.Range(fs, "concurrency", 1, runner.MaxConcurrency)
	cli.Range(fs, "timeout", runner.MinTimeout, runner.MaxTimeout)
	cli.Range(fs, "retries", 0, runner.MaxAttempts-1)
	cli.Range(fs, "batch", 1, runner.MaxBatch)
	cli.Range(fs, "samples", 1, eval.SamplesLimit)
	cli.Range(fs, "max-tokens", 1, eval.MaxTokensLimit)
	cli.Range(fs, "temperature", 0.0, 2.0)
	return o
}

// checkRunOptions completes and checks o once its command line is parsed:
// the default endpoints, the lists split, the labels, a suite and an
// endpoint named.
func (a *app) checkRunOptions(o *runOptions) (err error) {
	name := o.fs.Name()
	if len(o.endpoints) == 0 {
		o.endpoints = credentials.DefaultEndpoints(a.getenv)
	}
	o.selection.Cases, o.selection.Tags = cli.SplitCommas(o.selection.Cases), cli.SplitCommas(o.selection.Tags)
	if o.labelMap, err = o.fs.KeyValues("label", o.labels); err != nil {
		return err
	}
	switch {
	case o.suite == "":
		return fault.Errorf(fault.Input, "evalpin "+name+" --suite FILE --endpoint URL; 'evalpin suite list' shows the bundled suites", "%s: no suite given", name)
	case len(o.endpoints) == 0:
		return fault.Errorf(fault.Input, "evalpin "+name+" --suite FILE --endpoint http://host:8000/v1 (or export OPENAI_BASE_URL)", "%s: no endpoint given", name)
	}
	for _, u := range o.endpoints {
		if _, err := endpoint.Origin(u); err != nil {
			return fault.Errorf(fault.Input, "an endpoint is an OpenAI base URL such as http://127.0.0.1:8000/v1", "%s: --endpoint %q: %w", name, u, err)
		}
	}
	return nil
}

// settings returns the suite's settings with the flags given applied: the
// run's effective settings, whose hash identifies it.
func (o *runOptions) settings(s eval.Settings) eval.Settings {
	if o.fs.Given("samples") {
		s.Samples = o.samples
	}
	if o.fs.Given("max-tokens") {
		s.MaxTokens = o.maxTokens
	}
	if o.fs.Given("seed") {
		s.Seed = o.seed
	}
	if o.fs.Given("temperature") {
		s.Temperature = o.temperature
	}
	if s.Samples < 1 {
		s.Samples = 1
	}
	return s
}

// showProgress shows r's progress on stderr until the returned function is
// called: a bar on a terminal, else a line every progressEvery.
func (a *app) showProgress(r *runner.Runner, stderr io.Writer) (stop func()) {
	counts := func() progress.Counts {
		p := r.Progress()
		return progress.Counts{Total: p.Total, Done: p.Done, Errors: p.Errors, Retries: p.Retries, InFlight: p.InFlight, Limit: p.Limit}
	}
	switch {
	case a.isTerminal(a.stderr):
		return progress.Bar(stderr, counts)
	case a.progressEvery > 0: // a CI log: a line now and then shows the run is alive
		return progress.Lines(stderr, a.progressEvery, counts)
	}
	return func() {}
}

// runCommandLine returns the command name that resumes a run: args without
// --fresh, which would start yet another run, quoted for a POSIX shell.
func runCommandLine(name string, args []string) string {
	return cli.CommandLine(append([]string{"evalpin", name}, cli.WithoutBool(args, "fresh")...)...)
}
