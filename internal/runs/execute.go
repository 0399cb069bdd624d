package runs

import (
	"context"
	"fmt"
	"os"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/runner"
)

// An Exec is one invocation of a run from the probe to its end, for every
// command that runs a suite: Execute's steps are Prepare, Begin, the
// runner's replay of Plan, Finish, Summary and Outcome.Explain.
type Exec struct {
	// Start is what Prepare loads and probes.
	Start Start
	// Settings returns the run's settings from the suite's: the suite's with
	// the command's overrides. nil keeps the suite's.
	Settings func(eval.Settings) eval.Settings
	// Spec is Begin's, without Target, Suite and Settings, which Execute
	// fills in.
	Spec Spec
	// Runner configures the runner; Execute sets its Model, checks and Sink.
	Runner runner.Config
	// OpenStore opens the database once the probe has passed: a refusal
	// touches none.
	OpenStore func() (*store.DB, error)
	// Resume is the command line that resumes the run (End.Resume).
	Resume string
	// Before, when set, runs once the probe has passed and the store is
	// open, before the run begins: it may refuse (its error is Execute's)
	// or return other settings to run at (the gate runs at its baseline's).
	Before func(ctx context.Context, db *store.DB, target *endpoint.Target, suite *eval.Suite, settings eval.Settings) (eval.Settings, error)

	// The steps Execute reports as they pass, each optional: the lock the
	// endpoints serve, the run found or created, and the runner while it
	// replays (for a progress bar; the returned function stops it).
	OnProbe  func(*endpoint.Target)
	OnBegin  func(*Run, *eval.Suite, eval.Settings)
	OnRunner func(*runner.Runner) (stop func())
}

// SuiteCache returns the hashes of suite files remembered in the database
// at path (store.SuiteFile), for suites.OpenStream: a file checked before
// is not read again to find its run. It opens the database only to read,
// and only when it exists; any error is a suite not remembered.
func SuiteCache(path string) func(file string) (hash string, cases int, ok bool) {
	return func(file string) (string, int, bool) {
		if _, err := os.Stat(path); err != nil {
			return "", 0, false
		}
		db, err := store.OpenFile(path, true)
		if err != nil {
			return "", 0, false
		}
		defer db.Close()
		hash, n, ok, err := db.SuiteFile(context.Background(), file)
		return hash, n, ok && err == nil
	}
}

// An Ending is how Execute ended: the run as it was begun (its ID is 0
// before), its summary (nil before), and the note of Outcome.Explain.
type Ending struct {
	Run     eval.Run
	Summary *eval.RunSummary
	Note    string
}

// Execute runs x: it probes the endpoints while the suite loads, begins
// (finds, resumes or creates) the run, replays what it misses, finishes it
// and says how it ended. The error is the command's (Outcome.Explain): nil
// when the run is complete.
func Execute(ctx context.Context, x Exec) (Ending, error) {
	suite, target, err := Prepare(ctx, x.Start)
	if err != nil {
		return Ending{}, err
	}
	settings := suite.Settings
	if x.Settings != nil {
		settings = x.Settings(settings)
	}
	if x.OnProbe != nil {
		x.OnProbe(target)
	}
	db, err := x.OpenStore()
	if err != nil {
		return Ending{}, err
	}
	defer db.Close()
	if x.Before != nil {
		if settings, err = x.Before(ctx, db, target, suite, settings); err != nil {
			return Ending{}, err
		}
	}
	if f, ok := suite.Source.(interface{ CacheKey() string }); ok && f.CacheKey() != "" {
		// A suite file checked: its hash is remembered against its
		// identity, so that the next run of the file reads its header only.
		if err := db.PutSuiteFile(ctx, f.CacheKey(), suite.Hash, suite.Len()); err != nil {
			return Ending{}, err
		}
	}
	spec := x.Spec
	spec.Target, spec.Suite, spec.Settings = target, suite, settings
	rn, err := Begin(ctx, db, spec)
	if err != nil {
		return Ending{}, err
	}
	defer rn.Close() // after Finish, or on an early return
	if x.OnBegin != nil {
		x.OnBegin(rn, suite, rn.suite.Settings)
	}
	cfg := x.Runner
	cfg.Model, cfg.CheckResponse, cfg.CheckErrorResponse, cfg.Sink = target.Model, target.CheckResponse, target.CheckErrorResponse, rn.Sink()
	r, err := runner.New(cfg)
	if err != nil {
		return Ending{Run: rn.Run}, fmt.Errorf("run: %w", err)
	}
	stop := func() {}
	if x.OnRunner != nil {
		stop = x.OnRunner(r)
	}
	sum, runErr := r.Run(ctx, rn.Plan())
	stop()
	// The last check of the lock, the count of what is stored and the
	// status; it runs after Ctrl-C too, so that what was answered is kept.
	end, err := rn.Finish(ctx, runErr)
	if err != nil {
		return Ending{}, err
	}
	summary := rn.Summary(end, sum)
	note, err := end.Explain(ctx, End{
		ID: rn.ID, RunErr: runErr, Sum: sum, Lock: target.Lock, Reprobed: target.Reprobed(),
		Endpoints: cfg.Endpoints, Resume: x.Resume,
	})
	return Ending{Run: rn.Run, Summary: &summary, Note: note}, err
}
