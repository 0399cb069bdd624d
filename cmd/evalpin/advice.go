package main

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/credentials"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/gate"
	"github.com/evalpin/evalpin/internal/outfile"
	"github.com/evalpin/evalpin/internal/replay"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/serve"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
	reports "github.com/evalpin/evalpin/report"
)

// The advice for the errors the libraries return, in the words of the flags
// of this command line: the libraries say what is wrong, the command how to
// fix it (STYLE: libraries return facts), so renaming a flag touches this
// package only. advise applies the first rule an error matches to every
// command's error that carries no hint yet.

// keep is a rule's kind that keeps the error's own.
const keep fault.Kind = -1

// A rule is the advice for the errors match accepts: the kind to give them
// (where the error has none, fault.Internal) and the fix.
type rule struct {
	match func(error) bool
	kind  fault.Kind
	hint  func(error) string
}

// is matches the errors that are target (errors.Is).
func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// as matches the errors that are a T (errors.As), and also target when it
// is given.
func as[T error](target ...error) func(error) bool {
	return func(err error) bool {
		_, ok := errors.AsType[T](err)
		return ok && (len(target) == 0 || errors.Is(err, target[0]))
	}
}

// says is a fixed hint.
func says(hint string) func(error) string { return func(error) string { return hint } }

// runsHint is the fix for a run id that names no stored run.
const runsHint = "'evalpin runs' lists the stored runs"

// baselineFileHint is the fix for a baseline file that is refused.
const baselineFileHint = "export the baseline again with 'evalpin baseline export', or restore the file from git ('git checkout -- FILE')"

var advice = []rule{
	{is(outfile.ErrDir), keep, says("pass -o a path in an existing, writable directory")},
	{is(runs.ErrProbeTimeout), keep, says("check that the endpoint is up, or raise --timeout")},
	{is(endpoint.ErrNoEndpoint), keep, says("name an endpoint with --endpoint URL")},
	{is(endpoint.ErrWhichModel), keep, says("name the model to evaluate with --model")},
	{is(endpoint.ErrModelNotServed), keep, says("name a model the endpoint serves with --model")},
	{is(endpoint.ErrModelsDiffer), keep, says("name the model with --model so that every endpoint serves it")},
	{as[*replay.GoneError](), keep, says("serve the lock's deliverable again: check its model directory with 'evalpin lock verify DIR LOCKFILE', serve it with 'evalpin serve --lock LOCKFILE --model-dir DIR --upstream URL', and pass that endpoint with --endpoint")},
	{is(replay.ErrWhat), fault.Input, says("pass --lock OLD and either --cases ID,... (cases of the lock's stored runs) or --requests FILE (an incident log), with --outputs FILE only beside --requests")},
	{is(endpoint.ErrWrongLock), keep, says("point the endpoint at a server of the expected lock, or pass the --expect-lock you mean ('evalpin probe URL' shows what it serves)")},
	{is(compare.ErrSettingsDiffer), keep, says("compare runs made at the same settings, or pass --allow-settings-mismatch to compare them anyway")},
	{is(reports.ErrUnknownFormat), keep, says("pass --format table, md, json, junit or html")},
	{is(reports.ErrUnknownExtension), keep, says("name the report file with one of these extensions, or pass --format")},
	{is(compare.ErrPolicyFile), keep, says("pass --policy FILE with an existing policy file, or leave it out for the default policy")},

	// A run another process holds is busy (exit 7), not an input error:
	// the same command succeeds once the holder is done.
	{as[*runs.LockError](store.ErrRunLocked), fault.Busy, says("wait for it to end (then the same command resumes the run, or finds it complete), or pass --fresh to start a new run")},
	{as[*runs.LockError](fs.ErrPermission), fault.Input, says("make the run lock file writable by you, or delete it while no evalpin runs on this database")},

	{as[*runs.NoDocumentError](), fault.Input, says("pass the lock file instead, or compare the runs of the two locks with 'evalpin diff'")},

	// What the endpoints made of the credentials sent.
	{as[*credentials.RefusedError](fault.ErrUnauthorized), fault.Input, func(err error) string {
		e, _ := errors.AsType[*credentials.RefusedError](err)
		return unauthorizedHint(e.Sent)
	}},
	{as[*credentials.RefusedError](credentials.ErrRedirect), keep, says("give the address the endpoint redirects to as the endpoint, if it is one you trust with the credentials")},

	// The gate's verdict, and its baseline.
	{as[*compare.FailedError](), fault.GateFailed, says("")},
	{as[*compare.InconclusiveError](), fault.Inconclusive, func(err error) string {
		e, _ := errors.AsType[*compare.InconclusiveError](err)
		if e.FirstLost == "" {
			return "compare runs of the same suite that share enough cases, or lower the policy's min_paired (docs/diff.md)"
		}
		return fmt.Sprintf("'%s %d %s' shows a failed request; fix the candidate's endpoint (the OpenAI base URL, ending in /v1), model or API key and run it again with --fresh, or set the policy's min_paired and max_lost (docs/diff.md)", cmp.Or(e.Show, "evalpin show"), e.Candidate, e.FirstLost)
	}},
	{as[*gate.SettingsError](), fault.Input, says("leave out the setting flags (and the project's samples): the gate runs at its baseline's settings; to gate at others, make a baseline at them")},
	{as[*gate.NoPreviousError](), fault.Input, says("record the track's current lock with 'evalpin promote LOCK' and commit the lineage file, or name the baseline with --baseline FILE, RUN or LOCK")},

	// The runs a command compares or exports.
	{as[*runs.IncompleteError](), fault.Incomplete, says("finish it by running the same 'evalpin run' again (it resumes), or pass --allow-incomplete to use what is stored")},
	{as[*runs.NoCompleteRunError](), fault.Input, func(err error) string {
		e, _ := errors.AsType[*runs.NoCompleteRunError](err)
		lock := untrusted.Line(string(e.Lock))
		if e.Like != nil {
			return "run the suite against that lock with 'evalpin run', or name a run id ('evalpin runs --lock " + lock + "')"
		}
		return "pass a run id or a full lock id ('evalpin runs' lists both; 'evalpin runs --lock " + lock + "' the runs of that lock)"
	}},
	{as[*runs.NoResultError](), fault.Input, func(err error) string {
		e, _ := errors.AsType[*runs.NoResultError](err)
		return "run 'evalpin show " + strconv.FormatInt(e.Run, 10) + "' for the cases it stored"
	}},
	{is(store.ErrNotFound), fault.Input, says(runsHint)},
	{is(store.ErrNotRunID), fault.Input, says(runsHint)},
	{as[*runs.AmbiguousError](), fault.Input, func(err error) string {
		e, _ := errors.AsType[*runs.AmbiguousError](err)
		if e.File {
			return "name the file by a path with a directory, e.g. ./" + untrusted.Line(e.Arg) + ", or rename it"
		}
		return "write #N for run N, or more digits of the lock ('evalpin runs' prints each lock's shortest unique prefix)"
	}},
	{is(runs.ErrShards), fault.Input, says("import the files of all the shards i/n of one run, each exported with 'evalpin baseline export' once its 'evalpin run --shard i/n' is complete")},
	{is(runs.ErrOpen), fault.Input, says("pass the path of a baseline file written by 'evalpin baseline export'")},
	{is(baselines.ErrNotBaseline), fault.Input, says("pass a file written by 'evalpin baseline export'")},
	{as[*baselines.ParseError](), fault.Input, says(baselineFileHint)},

	// The credentials a command would send.
	{as[*credentials.PairingError](), fault.Input, func(err error) string {
		e, _ := errors.AsType[*credentials.PairingError](err)
		return "pass --api-key-env " + credentials.EnvAPIKey + " to send the key to every endpoint, or name only endpoints of " + e.Origin
	}},
	{is(credentials.ErrUserinfoConflict), fault.Input, says("give the user and password once, in the URL of one endpoint of that origin")},

	// The database: what only opening finds, then what any query may.
	{as[*store.OpenError](store.ErrNoDatabase), fault.Input, says("record a run with 'evalpin run' first, or pass --db FILE or set " + dbEnv + " to an existing database")},
	{as[*store.OpenError](store.ErrIsDir), fault.Input, func(err error) string {
		e, _ := errors.AsType[*store.OpenError](err)
		return "name the database file, e.g. --db " + cli.Quote(filepath.Join(e.Path, defaultDB))
	}},
	{as[*store.OpenError](fs.ErrNotExist), fault.Input, says("create the directory, or " + dbHint)},
	{as[*store.OpenError](fs.ErrPermission), fault.Input, says("make the file and its directory readable by you, or " + dbHint)},
	{is(store.ErrNewerSchema), fault.Input, says("use the newer evalpin that wrote it (this one is " + Version + "), or pass --db FILE for another database")},
	{is(store.ErrCorrupt), fault.Input, func(err error) string {
		file := defaultDB
		if fe, ok := errors.AsType[*store.FileError](err); ok {
			file = cli.Quote(fe.Path)
		}
		return "restore the database from a backup, or recover what SQLite can still read: sqlite3 " + file + " .recover | sqlite3 recovered.db, then pass --db recovered.db"
	}},
	{is(store.ErrReadOnly), fault.Input, says("make the file and its directory writable by you (chmod u+w), or pass --db FILE or set " + dbEnv + " to a database in a writable directory")},
	{is(store.ErrNotDatabase), fault.Input, says(dbHint)},

	// The sidecar's first check.
	{as[*serve.ModelError](), fault.Input, func(err error) string {
		if e, _ := errors.AsType[*serve.ModelError](err); len(e.Served) > 0 {
			return "pass --model NAME with one of the models the engine serves, e.g. --model " + untrusted.Line(e.Served[0])
		}
		return "create or load the model in the engine first, then start evalpin serve"
	}},
	{is(serve.ErrUpstreamDown), fault.Input, says("start the engine first, check --upstream, or wait longer with --upstream-wait")},
}

// forced is the advice that replaces a hint the error has. A baseline
// file's identity document that is refused carries the lock's hint, about
// lock files; the file to fix is the baseline.
var forced = []rule{
	{as[*runs.DocumentError](), fault.Input, says(baselineFileHint)},
}

// advise adds to err the kind and the fix of the first rule it matches,
// where it has no hint yet (or the rule is forced); a kind the error has
// (not fault.Internal) is kept.
func advise(err error) error {
	if err == nil {
		return err
	}
	rules := forced
	if fault.HintOf(err) == "" {
		rules = append(forced[:len(forced):len(forced)], advice...)
	}
	for _, r := range rules {
		if !r.match(err) {
			continue
		}
		kind := fault.KindOf(err)
		if kind == fault.Internal && r.kind != keep {
			kind = r.kind
		}
		return &fault.Error{Kind: kind, Err: err, Hint: r.hint(err)}
	}
	return err
}
