// Package replay plays an incident back: cases asked again of the lock that
// answered them then, refused unless the endpoint serves exactly that lock,
// and each case's output then set beside its outputs now.
//
// The cases come from the lock's stored runs (by id, from the newest
// complete run of the lock whose suite holds them all) or from an incident
// log: OpenAI Batch API input lines or bare chat-completion request bodies,
// with the Batch output file as the outputs then. Either way they become an
// ad-hoc suite, stored as any suite is, and run through the run lifecycle
// every command shares (runs.Execute), at the settings recorded with them.
package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// An Exec is the invocation of a run as a command builds it (runs.Exec).
type Exec = runs.Exec

// A Config is one playback.
type Config struct {
	// Run is the run as the run command builds it (runs.Exec); Run sets its
	// suite (Start.Load) and its expected lock (Start.Expect), and makes it
	// a new run with no selection (outputs now are asked now) unless the
	// same playback was interrupted: its Resume, the same command line,
	// resumes it.
	Run runs.Exec
	// Lock names the lock then: a lock id, or a stored lock's unique prefix.
	Lock string
	// Cases are the ids of the cases to replay from the lock's stored runs,
	// of the suite named Suite when it is not "".
	Cases []string
	Suite string
	// Requests is an incident log to replay instead, and Outputs its Batch
	// output file ("" for none).
	Requests, Outputs string
	// AgainstEndpoints, when set, are asked the same cases at the same
	// settings after OLD's, under the lock AgainstLock names (any lock when
	// ""), side by side: the model whose lock it is, or the only one
	// served. Against returns the run of those endpoints as the command
	// builds it (their own credentials, no model), and a function that
	// releases it and words its error.
	AgainstEndpoints []string
	AgainstLock      string
	Against          func(endpoints []string) (Exec, func(error) error)
	// OnNote, when set, is told the note of each run's end
	// (runs.Ending.Note), when there is one: why it stopped, how to resume.
	OnNote func(note string)
}

// An Outcome is what a playback found: the playback (nil when its run did
// not complete) and its run as runs.Execute ended it.
type Outcome struct {
	Playback *eval.Playback
	Ending   runs.Ending
}

// ErrWhat: a playback names no lock, neither cases nor requests, or both.
var ErrWhat = errors.New("replay needs a lock and either case ids or a requests file, not both")

// A GoneError says that the endpoint does not serve the lock to play back
// under: the deliverable of that lock is gone from it.
type GoneError struct {
	Lock lockid.ID
	Err  error // the probe's refusal
}

func (e *GoneError) Error() string {
	return fmt.Sprintf("replay under lock %s: %v", e.Lock, e.Err)
}

func (e *GoneError) Unwrap() error { return e.Err }

// A NoCasesError says that no complete run of a lock holds the cases asked
// for: Missing are the ids its newest complete run lacks.
type NoCasesError struct {
	Lock    lockid.ID
	Suite   string
	Missing []string
	Runs    int // complete runs of the lock looked at
}

func (e *NoCasesError) Error() string {
	of := ""
	if e.Suite != "" {
		of = " of suite " + untrusted.Line(e.Suite)
	}
	if e.Runs == 0 {
		return fmt.Sprintf("lock %s has no complete run%s", e.Lock, of)
	}
	return fmt.Sprintf("no complete run%s of lock %s holds case %s", of, e.Lock, untrusted.Line(strings.Join(e.Missing, ", ")))
}

// Run plays back what cfg names. Its errors: the cases' or the requests'
// (a *NoCasesError, a *LineError, a *SettingsError), a *GoneError when the
// endpoint serves another lock (before any request), and the run's.
func Run(ctx context.Context, cfg Config) (Outcome, error) {
	var out Outcome
	switch {
	case cfg.Lock == "":
		return out, fault.Errorf(fault.Input, "", "no lock to replay under: %w", ErrWhat)
	case (len(cfg.Cases) == 0) == (cfg.Requests == ""):
		return out, fault.Errorf(fault.Input, "", "%w", ErrWhat)
	}
	if cfg.Outputs != "" && cfg.Requests == "" {
		return out, fault.Errorf(fault.Input, "", "an outputs file needs its requests file: %w", ErrWhat)
	}
	x := cfg.Run
	lock, err := runs.LockOfArg(ctx, x.OpenStore, cfg.Lock)
	if err != nil {
		return out, err
	}
	p := &player{cfg: cfg, lock: lock, open: x.OpenStore, then: map[string]eval.PlaybackCase{}}
	if _, err := p.load(ctx); err != nil {
		return out, err
	}
	x.Start.Load = func() (*eval.Suite, error) { return p.suite, nil }
	x.Start.Expect, x.Spec.Selection = lock, eval.Selection{}
	if x.Start.Model, err = pickModel(ctx, x.Start); err != nil {
		return out, &GoneError{Lock: lock, Err: err}
	}
	// Outputs now are asked now: a new run, unless the same playback was
	// interrupted, which the same command resumes.
	if !x.Spec.Fresh {
		if x.Spec.Fresh, err = p.fresh(ctx, x.Settings); err != nil {
			return out, err
		}
	}
	out.Ending, err = runs.Execute(ctx, x)
	p.note(out.Ending.Note)
	if errors.Is(err, endpoint.ErrWrongLock) {
		return out, &GoneError{Lock: lock, Err: err}
	}
	if err != nil {
		return out, err
	}
	if out.Playback, err = p.playback(ctx, out.Ending); err != nil || len(cfg.AgainstEndpoints) == 0 {
		return out, err
	}
	return out, p.against(ctx, out.Playback)
}

// against asks the current lock's endpoints the same cases at the same
// settings, and sets each case's outputs beside the outputs then.
func (p *player) against(ctx context.Context, pb *eval.Playback) (err error) {
	lock := lockid.ID("")
	if p.cfg.AgainstLock != "" {
		if lock, err = runs.LockOfArg(ctx, p.open, p.cfg.AgainstLock); err != nil {
			return err
		}
	}
	x, done := p.cfg.Against(p.cfg.AgainstEndpoints)
	defer func() { err = done(err) }()
	x.Start.Load = func() (*eval.Suite, error) { return p.suite, nil }
	x.Start.Expect, x.Spec.Fresh, x.Spec.Selection = lock, true, eval.Selection{}
	x.Settings, x.Resume = func(eval.Settings) eval.Settings { return pb.Settings }, ""
	if x.Start.Model, err = pickModel(ctx, x.Start); err != nil {
		return fmt.Errorf("against: %w", err)
	}
	end, err := runs.Execute(ctx, x)
	p.note(end.Note)
	if err != nil {
		return fmt.Errorf("against: %w", err)
	}
	results, err := p.results(ctx, end.Run.ID)
	if err != nil {
		return err
	}
	pb.Against = &eval.PlaybackSide{Lock: end.Run.Lock, Model: end.Run.Model, Run: end.Run.ID}
	for i, c := range pb.Cases {
		a := Compare(c.ID, p.then[c.ID], results[c.ID])
		pb.Cases[i].Against, pb.Cases[i].AgainstIdentical, pb.Cases[i].AgainstSamples = a.Now, a.Identical, a.Samples
	}
	return nil
}

// results returns the results of run id by case.
func (p *player) results(ctx context.Context, id int64) (map[string][]eval.Result, error) {
	db, err := p.open()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	results, err := db.Results(ctx, id)
	byCase := map[string][]eval.Result{}
	for _, r := range results {
		byCase[r.CaseID] = append(byCase[r.CaseID], r)
	}
	return byCase, err
}

// note tells cfg.OnNote a run's note.
func (p *player) note(note string) {
	if note != "" && p.cfg.OnNote != nil {
		p.cfg.OnNote(note)
	}
}

// pickModel returns the model to ask: the one s names, else, where the
// endpoints serve several, the one whose lock is s.Expect (an endpoint that
// names a lock per model: Ollama, or model names ending in @sha256:…). It
// returns "" to leave the choice, and what is wrong, to the run's probe; a
// refusal (endpoint.ErrWrongLock) when no model served is the lock.
func pickModel(ctx context.Context, s runs.Start) (string, error) {
	if s.Model != "" || s.KeyErr != nil || s.Prober == nil || s.Timeout <= 0 {
		return s.Model, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	lister := *s.Prober
	lister.SkipCompletion = true // the models served are all it reads
	reports, err := lister.ProbeAll(ctx, s.Endpoints, "")
	if err != nil || len(reports[0].Served()) < 2 {
		return "", nil
	}
	served := reports[0].Served()
	for _, m := range served {
		if reports, err := s.Prober.ProbeAll(ctx, s.Endpoints, m); err == nil {
			if _, err := s.Prober.Decide(reports, s.Expect); err == nil {
				return m, nil
			}
		}
	}
	if ctx.Err() != nil {
		return "", nil
	}
	return "", fault.Errorf(fault.LockRefused, "", "endpoint %s serves %d models (%s), none of them lock %s: %w",
		reports[0].Endpoint, len(served), untrusted.Clip(strings.Join(served, ", "), 200), s.Expect, endpoint.ErrWrongLock)
}

// fresh reports whether the playback is a new run: whether the lock has no
// unfinished run of the ad-hoc suite at the settings override makes of its
// own.
func (p *player) fresh(ctx context.Context, override func(eval.Settings) eval.Settings) (bool, error) {
	settings := p.suite.Settings
	if override != nil {
		settings = override(settings)
	}
	settings.Samples = max(settings.Samples, 1)
	db, err := p.open()
	if err != nil {
		return false, err
	}
	defer db.Close()
	_, err = db.FindResumable(ctx, p.lock, p.suite.Hash, settings.Hash(), "")
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	return false, err
}

// A player is one playback while it runs: its suite, and each case's output
// then (PlaybackCase's Then fields) by case id.
type player struct {
	cfg    Config
	lock   lockid.ID
	open   func() (*store.DB, error)
	suite  *eval.Suite
	then   map[string]eval.PlaybackCase
	source string
	notes  []string
}

// load builds the ad-hoc suite and the outputs then.
func (p *player) load(ctx context.Context) (*eval.Suite, error) {
	var err error
	if p.cfg.Requests != "" {
		p.suite, err = p.loadRequests()
	} else {
		p.suite, err = p.loadStored(ctx)
	}
	return p.suite, err
}

// loadRequests reads the incident log and its outputs.
func (p *player) loadRequests() (*eval.Suite, error) {
	reqs, err := parseFile(p.cfg.Requests, ParseRequests)
	if err != nil {
		return nil, err
	}
	s, notes, err := RequestSuite(suiteName(filepath.Base(p.cfg.Requests)), reqs)
	if err != nil {
		return nil, err
	}
	p.notes, p.source = notes, "requests "+p.cfg.Requests
	if p.cfg.Outputs == "" {
		return s, nil
	}
	recs, err := parseFile(p.cfg.Outputs, ParseOutputs)
	if err != nil {
		return nil, err
	}
	p.source += ", outputs then " + p.cfg.Outputs
	for id, r := range recs {
		p.then[id] = eval.PlaybackCase{Then: r.Output, ThenError: r.Error, ThenFrom: "recorded"}
	}
	return s, nil
}

// parseFile opens file and parses it with parse.
func parseFile[T any](file string, parse func(string, io.Reader) (T, error)) (T, error) {
	f, err := os.Open(file)
	if err != nil {
		var zero T
		return zero, fault.Errorf(fault.Input, "", "%w", err)
	}
	defer f.Close()
	return parse(file, f)
}

// loadStored finds the newest complete run of the lock whose suite holds
// every case asked for, and takes its cases and their first outputs.
func (p *player) loadStored(ctx context.Context) (*eval.Suite, error) {
	db, err := p.open()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	all, err := db.Runs(ctx, store.RunFilter{Lock: string(p.lock), Suite: p.cfg.Suite, Status: eval.RunComplete})
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(r eval.Run) bool { return r.Lock != p.lock || strings.HasPrefix(r.Suite, suiteName("")) })
	noCases := &NoCasesError{Lock: p.lock, Suite: p.cfg.Suite, Runs: len(all)}
	for i, r := range slices.Backward(all) {
		cases, err := db.Cases(ctx, r.SuiteHash)
		if err != nil {
			return nil, err
		}
		missing := slices.DeleteFunc(slices.Clone(p.cfg.Cases), func(id string) bool { _, ok := cases[id]; return ok })
		if i == len(all)-1 {
			noCases.Missing = missing
		}
		if len(missing) > 0 {
			continue
		}
		// A run of a part of the suite holds the cases but not their
		// outputs: it is passed over for an older one that answered them.
		then := map[string]eval.PlaybackCase{}
		for _, id := range p.cfg.Cases {
			res, err := db.Result(ctx, r.ID, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			if len(res) > 0 {
				then[id] = eval.PlaybackCase{Then: res[0].Output, ThenError: res[0].Error, ThenFrom: fmt.Sprintf("run %d", r.ID)}
			}
		}
		if len(then) < len(p.cfg.Cases) && r.Selection != "" {
			continue
		}
		maps.Copy(p.then, then)
		p.source = fmt.Sprintf("cases of run %d (suite %s)", r.ID, r.Suite)
		return StoredSuite(suiteName(r.Suite), r.Settings, cases, p.cfg.Cases)
	}
	return nil, fault.Errorf(fault.Input, "'evalpin runs --lock "+string(p.lock)+"' lists the lock's runs, 'evalpin show RUN' the cases of one", "%w", noCases)
}

// playback puts the run's outputs beside the outputs then.
func (p *player) playback(ctx context.Context, end runs.Ending) (*eval.Playback, error) {
	byCase, err := p.results(ctx, end.Run.ID)
	if err != nil {
		return nil, err
	}
	db, err := p.open()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := p.stored(ctx, db, end.Run.ID); err != nil {
		return nil, err
	}
	pb := &eval.Playback{Lock: p.lock, Run: end.Run.ID, Suite: p.suite.Name, Source: p.source, Settings: end.Run.Settings,
		Model: end.Run.Model, Notes: p.notes}
	if end.Summary != nil {
		pb.Model = cmp.Or(pb.Model, end.Summary.Model)
	}
	hot := 0
	for _, c := range p.suite.Cases {
		pb.Cases = append(pb.Cases, Compare(c.ID, p.then[c.ID], byCase[c.ID]))
		if end.Run.Settings.With(c.Overrides).Temperature > 0 {
			hot++
		}
	}
	if hot > 0 && end.Run.Settings.Samples < 2 {
		pb.Notes = append(pb.Notes, fmt.Sprintf("%d case%s replayed at a temperature above 0 with one sample: its output is one draw; --samples N measures the reproduction rate", hot, plural(hot)))
	}
	return pb, nil
}

// stored sets the outputs then, where none is recorded, to the lock's
// stored outputs of the same cases: its newest other complete run of the
// same ad-hoc suite.
func (p *player) stored(ctx context.Context, db *store.DB, self int64) error {
	if p.cfg.Requests == "" {
		return nil
	}
	all, err := db.Runs(ctx, store.RunFilter{Lock: string(p.lock), SuiteHash: p.suite.Hash, Status: eval.RunComplete})
	if err != nil {
		return err
	}
	for _, r := range slices.Backward(all) {
		if r.ID == self || r.Lock != p.lock {
			continue
		}
		for _, c := range p.suite.Cases {
			if _, ok := p.then[c.ID]; ok {
				continue
			}
			res, err := db.Result(ctx, r.ID, c.ID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if len(res) > 0 {
				p.then[c.ID] = eval.PlaybackCase{Then: res[0].Output, ThenError: res[0].Error, ThenFrom: fmt.Sprintf("run %d", r.ID)}
			}
		}
		return nil
	}
	return nil
}

// Compare returns case id played back: then's output beside results, the
// outputs now (one per sample), grouped and counted.
func Compare(id string, then eval.PlaybackCase, results []eval.Result) eval.PlaybackCase {
	c := then
	c.ID = id
	comparable := c.ThenFrom != "" && c.ThenError == ""
	idx := map[[2]string]int{}
	for _, r := range results {
		key := [2]string{r.Output, r.Error}
		if r.Error != "" {
			key[0] = ""
		}
		same := comparable && r.Error == "" && r.Output == c.Then
		if comparable {
			c.Samples++
			if same {
				c.Identical++
			}
		}
		i, ok := idx[key]
		if !ok {
			i = len(c.Now)
			idx[key] = i
			c.Now = append(c.Now, eval.PlaybackOutput{Output: key[0], Error: key[1], Same: same})
		}
		c.Now[i].Count++
	}
	slices.SortStableFunc(c.Now, func(a, b eval.PlaybackOutput) int { return cmp.Compare(b.Count, a.Count) })
	return c
}
