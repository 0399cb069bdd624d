package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

const runsUsage = `
Usage: evalpin runs [--lock ID] [--suite NAME] [--status STATUS] [--format table|json] [--check] [--db FILE]

Runs lists the stored runs, oldest first: id, lock, suite, status, how many
results are stored and how many of those are failed requests, when the run
started (UTC) and how long it took. A run that is still running, or crashed
while it was, shows no duration; the same 'evalpin run' command resumes it.

Every command checks the tables that list runs, locks and suites when it
opens the database, and reports a damaged database (exit 2). Damage among
the stored results or cases is found by the command that reads them;
--check looks for it everywhere first: it reads the whole file (SQLite's
quick_check, about a second per GB).

Examples:

  evalpin runs
  evalpin runs --lock sha256:3f2a9c          # a prefix of the lock id is enough
  evalpin runs --suite smoke --status complete
  evalpin runs --format json --db ci/evalpin.db
  evalpin runs --check --db ci/evalpin.db    # after a crash or a disk error
`

// runRuns implements "evalpin runs".
func (a *app) runRuns(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("runs", runsUsage)
	dbPath := addDBFlag(fs)
	lock := fs.String("lock", "", "only runs of this lock `ID` (or a prefix of it)")
	suite := fs.String("suite", "", "only runs of the suite with this `NAME`")
	status := fs.String("status", "", "only runs in this `STATUS`: running, interrupted or complete")
	format := fs.String("format", "table", "output `format`: table or json")
	check := fs.Bool("check", false, "check the whole database file for damage first (reads all of it)")
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("runs: unexpected argument %q (filter with --lock and --suite)", pos[0])
	}
	if *format != "table" && *format != "json" {
		return usageErrorf("runs: --format must be table or json, not %q", *format)
	}
	switch eval.RunStatus(*status) {
	case "", eval.RunRunning, eval.RunInterrupted, eval.RunComplete:
	default:
		return usageErrorf("runs: --status must be running, interrupted or complete, not %q", *status)
	}

	db, err := openExistingStore(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if *check {
		if err := db.QuickCheck(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "database %s: no damage found\n", *dbPath)
	}
	runs, err := db.Runs(ctx, store.RunFilter{Lock: *lock, Suite: *suite, Status: eval.RunStatus(*status)})
	if err != nil {
		return err
	}
	counts := make([]store.Counts, len(runs))
	for i, r := range runs {
		if counts[i], err = db.Counts(ctx, r.ID); err != nil {
			return err
		}
	}

	if *format == "json" {
		out := make([]histRunJSON, len(runs))
		for i, r := range runs {
			out[i] = newHistRunJSON(r, counts[i])
		}
		return histWriteJSON(stdout, out)
	}
	if len(runs) == 0 {
		fmt.Fprintln(stderr, "no runs stored match")
		return nil
	}
	table := histTable(stdout)
	table.Header("RUN", "LOCK", "SUITE", "STATUS", "STORED", "ERRORS", "STARTED (UTC)", "DURATION")
	for i, r := range runs {
		if err := table.Append(
			strconv.FormatInt(r.ID, 10),
			untrusted.Line(r.Lock.Short()),
			untrusted.Line(histSuite(r)),
			histStatus(r),
			strconv.Itoa(counts[i].Results),
			strconv.Itoa(counts[i].Errors),
			histTime(r.Started),
			histDuration(r),
		); err != nil {
			return err
		}
	}
	return table.Render()
}

// histRunJSON is the stable JSON form of a run in "evalpin runs" and "evalpin show".
type histRunJSON struct {
	ID           int64         `json:"id"`
	Lock         lockid.ID     `json:"lock"`
	Suite        string        `json:"suite"`
	SuiteVersion string        `json:"suite_version"`
	SuiteHash    string        `json:"suite_hash"`
	Settings     eval.Settings `json:"settings"`
	SettingsHash string        `json:"settings_hash"`
	Endpoints    []string      `json:"endpoints"`
	Version      string        `json:"evalpin_version"`
	Status       string        `json:"status"`
	Started      time.Time     `json:"started"`
	Finished     *time.Time    `json:"finished,omitempty"`
	Results      int           `json:"results"` // results stored
	Errors       int           `json:"errors"`  // stored results whose request failed
	// LockRefusal says why a lock check stopped the run mid-way, if one did.
	LockRefusal string `json:"lock_refusal,omitempty"`
}

// histStatus returns a run's status, marked when a lock check stopped it.
func histStatus(r eval.Run) string {
	if r.LockRefusal != "" {
		return string(r.Status) + " (lock changed)"
	}
	return string(r.Status)
}

func newHistRunJSON(r eval.Run, c store.Counts) histRunJSON {
	j := histRunJSON{
		ID: r.ID, Lock: r.Lock, Suite: r.Suite, SuiteVersion: r.SuiteVersion, SuiteHash: r.SuiteHash,
		Settings: r.Settings, SettingsHash: r.SettingsHash, Endpoints: r.Endpoints, Version: r.Version,
		Status: string(r.Status), Started: r.Started.UTC(), Results: c.Results, Errors: c.Errors,
		LockRefusal: r.LockRefusal,
	}
	if j.Endpoints == nil {
		j.Endpoints = []string{}
	}
	if !r.Finished.IsZero() {
		f := r.Finished.UTC()
		j.Finished = &f
	}
	return j
}
