// Package gate is the CI gate in one command: it picks the baseline (a
// baseline file kept in git, a stored run, a lock's newest complete run, or
// the lock before the candidate's on its track), runs the suite against the
// endpoint under test at the baseline's exact settings, and compares the two
// runs under the policy. The command writes the reports and turns the
// verdict into an exit code.
//
// The baseline is picked once the endpoint has been probed and before
// anything is requested: "previous" needs the candidate's lock, and a
// baseline that cannot be found, or whose settings the command line
// contradicts, must cost no run.
package gate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/lineage"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// Previous is the baseline that is the lock before the candidate's on its
// track (lineage.File.Previous): its newest complete run of the suite.
const Previous = "previous"

// A Config is one gate.
type Config struct {
	// Run is the candidate's run as the run command builds it; Run sets its
	// Before hook.
	Run runs.Exec
	// Baseline names the baseline: Previous (or ""), a baseline file, a run
	// id or a lock id, with or without its kind (runs.ParseRef).
	Baseline string
	// Track and Lineage are where Previous looks.
	Track   string
	Lineage *lineage.File
	// Override returns settings with the command line's setting overrides
	// applied (nil: none): the gate runs at the baseline's settings, and
	// refuses an override that changes them.
	Override func(eval.Settings) eval.Settings
	// Policy is the gate's policy; nil is the default one.
	Policy *compare.Policy
	// OnBaseline is told, before the run begins, which baseline was picked,
	// in words; Warn what does not stop the gate (Options.Warn).
	OnBaseline func(words string)
	Warn       func(error)
}

// An Outcome is what a gate found: the comparison (nil when the candidate's
// run did not complete), the candidate's run as runs.Execute ended it, and
// the baseline picked, in words.
type Outcome struct {
	Comparison *compare.Comparison
	Ending     runs.Ending
	Baseline   string
}

// Run runs the gate cfg describes. Its errors: the baseline's (a file that
// does not verify, a run or lock not stored, a *NoPreviousError, a
// *runs.NoCompleteRunError), a *SettingsError, the candidate run's
// (runs.Execute: a refusal, an incomplete run), and the comparison's.
func Run(ctx context.Context, cfg Config) (Outcome, error) {
	var out Outcome
	arg := cmp.Or(cfg.Baseline, Previous)
	var ref runs.Ref
	if arg != Previous {
		var err error
		if ref, err = runs.ParseRef(arg); err != nil {
			return out, err
		}
	}
	x := cfg.Run
	x.Before = func(ctx context.Context, db *store.DB, target *endpoint.Target, suite *eval.Suite, _ eval.Settings) (eval.Settings, error) {
		base, words, err := pick(ctx, db, cfg, ref, target, suite)
		if err != nil {
			return eval.Settings{}, err
		}
		ref, out.Baseline = base.ref, words
		want := base.run.Settings
		if cfg.Override != nil {
			if got := cfg.Override(want); got.Hash() != want.Hash() {
				return want, &SettingsError{Baseline: words, Changes: want.Changes(got)}
			}
		}
		if cfg.OnBaseline != nil {
			cfg.OnBaseline(words)
		}
		return want, nil
	}
	end, err := runs.Execute(ctx, x)
	out.Ending = end
	if err != nil {
		return out, err
	}
	db, err := x.OpenStore()
	if err != nil {
		return out, err
	}
	defer db.Close()
	cand := runs.Ref{Arg: strconv.FormatInt(end.Run.ID, 10), Run: end.Run.ID}
	out.Comparison, err = Compare(ctx, db, ref, cand, Options{Policy: cfg.Policy, Warn: cfg.Warn})
	return out, err
}

// side is the comparison's side of a loaded side.
func side(s runs.Side) compare.Side {
	return compare.Side{Run: s.Run, Rows: s.Results, File: s.File}
}

// A picked baseline: the ref LoadPair reads it by, and its run.
type picked struct {
	ref runs.Ref
	run eval.Run
}

// pick returns the baseline cfg names for a candidate of target's lock that
// runs suite, and says in words which it is.
func pick(ctx context.Context, db *store.DB, cfg Config, ref runs.Ref, target *endpoint.Target, suite *eval.Suite) (picked, string, error) {
	switch {
	case ref.File != nil:
		r := ref.File.Run()
		track := cmp.Or(cfg.Track, lineage.DefaultTrack)
		if p, ok := cfg.Lineage.Previous(track, target.Lock); ok && p.Lock != r.Lock && cfg.Warn != nil {
			cfg.Warn(fmt.Errorf("the baseline file is of lock %s, but the lineage's lock before %s on track %s is %s: accept a baseline of that lock, or promote the file's", r.Lock, target.Lock, untrusted.Line(track), p.Lock))
		}
		return picked{ref, r}, fmt.Sprintf("baseline file %s (lock %s, suite %s)", untrusted.Line(ref.Arg), r.Lock, untrusted.Line(r.Suite)), nil
	case ref.Run > 0:
		r, err := runs.Resolve(ctx, db, ref.Arg, "")
		if err != nil {
			return picked{}, "", err
		}
		return picked{ref, r}, fmt.Sprintf("run %d (lock %s, suite %s)", r.ID, r.Lock, untrusted.Line(r.Suite)), nil
	}
	lock, why := lockid.ID(""), ""
	if ref.Arg != "" {
		l, err := runs.ResolveLock(ctx, db, ref.Arg)
		if err != nil {
			return picked{}, "", err
		}
		lock = l
	} else {
		track := cmp.Or(cfg.Track, lineage.DefaultTrack)
		p, ok := cfg.Lineage.Previous(track, target.Lock)
		if !ok {
			return picked{}, "", &NoPreviousError{Track: track, Candidate: target.Lock, Current: cfg.Lineage.Track(track)}
		}
		lock, why = p.Lock, fmt.Sprintf(", the lock before %s on track %s", target.Lock, untrusted.Line(track))
	}
	r, err := newestOfSuite(ctx, db, lock, suite)
	if err != nil {
		return picked{}, "", err
	}
	id := strconv.FormatInt(r.ID, 10)
	return picked{runs.Ref{Arg: id, Run: r.ID}, r}, fmt.Sprintf("run %d of lock %s%s", r.ID, lock, why), nil
}

// newestOfSuite returns lock's newest complete run of the whole suite named
// as suite is: of this very suite if there is one, else of its newest
// version (a suite grown by a case pairs on the cases both hold).
func newestOfSuite(ctx context.Context, db *store.DB, lock lockid.ID, suite *eval.Suite) (eval.Run, error) {
	all, err := db.Runs(ctx, store.RunFilter{Lock: string(lock), Suite: suite.Name, Status: eval.RunComplete})
	if err != nil {
		return eval.Run{}, err
	}
	all = slices.DeleteFunc(all, func(r eval.Run) bool { return r.Lock != lock || r.Selection != "" })
	if len(all) == 0 {
		return eval.Run{}, &runs.NoCompleteRunError{Lock: lock, Suite: suite.Name}
	}
	for _, r := range slices.Backward(all) {
		if r.SuiteHash == suite.Hash {
			return r, nil
		}
	}
	return all[len(all)-1], nil
}

// A NoPreviousError says that a track has no lock before the candidate's:
// the lineage file holds no promotion on it, or only the candidate's.
type NoPreviousError struct {
	Track     string
	Candidate lockid.ID
	Current   []lineage.Promotion // the track's promotions
}

func (e *NoPreviousError) Error() string {
	if len(e.Current) == 0 {
		return fmt.Sprintf("no baseline: track %s has no promotion in the lineage file, so no lock comes before %s", untrusted.Line(e.Track), e.Candidate)
	}
	return fmt.Sprintf("no baseline: on track %s, no lock was promoted before %s", untrusted.Line(e.Track), e.Candidate)
}

// A SettingsError says that the command line asks for other settings than
// the baseline was run at: the gate compares like with like.
type SettingsError struct {
	Baseline string   // the baseline, in words
	Changes  []string // "samples 1 → 3", from the baseline's to the asked
}

func (e *SettingsError) Error() string {
	return fmt.Sprintf("the gate runs at the settings of its baseline, %s, and the command line changes them: %s",
		e.Baseline, strings.Join(e.Changes, ", "))
}
