package runs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
	"github.com/evalpin/evalpin/runner"
)

// An End is how an invocation of a run ended, beyond its Outcome: what
// Explain needs to say why it stopped and how to go on.
type End struct {
	ID     int64
	RunErr error          // the runner's
	Sum    runner.Summary // the runner's summary of this invocation
	Lock   lockid.ID
	// Reprobed says the lock is confirmed by re-probes, not by each
	// response (endpoint.Target.Reprobed).
	Reprobed  bool
	Endpoints []string
	// Resume is the command line that resumes the run, as the user types
	// it.
	Resume string
}

// Explain puts the end of a run into words, the same for every command that
// runs a suite: a note for the user (why a run that did not complete stopped,
// how many case samples are stored, how to go on; "" when there is nothing to
// say) and the command's error, whose kind is its exit code: nil when the run
// is complete. ctx is the command's: its cancellation is an interruption.
func (o Outcome) Explain(ctx context.Context, e End) (note string, err error) {
	id, expected := e.ID, o.Expected
	resume := "resume it with the same command: " + e.Resume
	discarded := ""
	if o.Discarded > 0 {
		discarded = fmt.Sprintf("; %s received after the last confirmed check of the lock %s discarded, never stored",
			plural(o.Discarded, "result"), wasWere(o.Discarded))
	}
	runErr := e.RunErr
	switch {
	case o.WriteErr != nil:
		return "", fmt.Errorf("store results of run %d: %w", id, o.WriteErr)
	case o.SuiteErr != nil:
		return fmt.Sprintf("run %d stopped: the suite's cases could not be stored; %d of %d case samples stored; %s", id, o.Stored, expected, resume),
			fmt.Errorf("run %d: %w", id, o.SuiteErr)
	case o.SourceErr != nil:
		return fmt.Sprintf("run %d stopped: %d of %d case samples stored", id, o.Stored, expected), fmt.Errorf("run %d: %w", id, o.SourceErr)
	case o.Refusal != nil:
		vouched := ", each vouched for by its own response; none from the refused one"
		switch {
		case o.Stored == 0:
			vouched = ""
		case e.Reprobed:
			vouched = ", each confirmed by a check of the lock that started after it arrived"
		}
		return fmt.Sprintf("run %d stopped and marked interrupted: %d of %d case samples stored%s%s. Against a server of lock %s, the same command requests the rest: %s",
			id, o.Stored, expected, vouched, discarded, e.Lock, e.Resume), o.Refusal
	case runErr != nil && errors.Is(runErr, context.Canceled):
		return fmt.Sprintf("run %d interrupted: %d of %d case samples stored%s; %s", id, o.Stored, expected, discarded, resume), runErr
	case runErr != nil && fault.KindOf(runErr) == fault.Input:
		return fmt.Sprintf("run %d stopped: %d of %d case samples stored%s", id, o.Stored, expected, discarded), runErr
	case runErr != nil:
		return fmt.Sprintf("run %d stopped: %d of %d case samples stored; %s", id, o.Stored, expected, resume), fmt.Errorf("run %d: %w", id, runErr)
	case o.CheckErr != nil:
		// The last check could not run to the end (Ctrl-C, a timeout): what
		// it held was not confirmed.
		return fmt.Sprintf("run %d marked interrupted: the last check of the lock did not finish (%v); %d of %d case samples stored%s; %s", id, o.CheckErr, o.Stored, expected, discarded, resume),
			fault.Errorf(fault.Incomplete, resume, "run %d: last check of the lock: %w", id, o.CheckErr)
	case ctx.Err() != nil:
		return fmt.Sprintf("run %d interrupted after its last request: %d of %d case samples stored; %s", id, o.Stored, expected, resume),
			fmt.Errorf("run %d: %w", id, context.Cause(ctx))
	case o.NoneSucceeded:
		return "", o.noneSucceeded(e, resume)
	case o.Missing > 0 && o.Transient > 0:
		return "", fault.Errorf(fault.Incomplete, resume, "run %d incomplete: %d of %d case samples have no result (%d failed every attempt with a timeout, server error or rate limit, and are requested again)", id, o.Missing, expected, o.Transient)
	case o.Missing > 0:
		return "", fault.Errorf(fault.Incomplete, resume, "run %d incomplete: %d of %d case samples are not stored", id, o.Missing, expected)
	}
	return "", nil
}

// noneSucceeded is the error of a run none of whose stored results
// succeeded: an input error (exit 2) when every failure says the URL or the
// model is wrong (404), else an incomplete run (exit 4). The run stays
// resumable, and resumed it requests every case again.
func (o Outcome) noneSucceeded(e End, resume string) error {
	kinds := make([]string, 0, len(e.Sum.Errors))
	for k, n := range e.Sum.Errors {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	what := strings.Join(kinds, ", ")
	if what == "" {
		what = fmt.Sprintf("%d stored failures", o.StoredErrors)
	}
	if len(e.Sum.Errors) == 1 && e.Sum.Errors[runner.ErrNotFound] > 0 {
		base := "http://host:8000/v1"
		if len(e.Endpoints) > 0 {
			base = e.Endpoints[0]
		}
		return fault.Errorf(fault.Input,
			fmt.Sprintf("check the endpoint's URL (its OpenAI base URL, e.g. %s) and the model name ('evalpin probe URL' lists the served models), then %s", base, resume),
			"run %d: no request succeeded: every one was answered 404 Not Found (%s)", e.ID, what)
	}
	return fault.Errorf(fault.Incomplete,
		"'evalpin show "+strconv.FormatInt(e.ID, 10)+"' shows the failures; fix the server or the suite's settings, then "+resume,
		"run %d: no request succeeded (%s): nothing of the model was measured, so the run is not complete", e.ID, what)
}

// plural returns "1 case" or "n cases".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// wasWere returns "was" or "were" for n things.
func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// Begun says in one line what r begins with, for a suite of whole cases:
// complete with nothing to request, resumed with what is stored, or new
// with its cases, samples and settings.
func (r *Run) Begun(whole int) string {
	settings := r.suite.Settings
	switch {
	case r.Complete():
		return fmt.Sprintf("run %d is complete: every case sample is stored for this lock, suite and settings; nothing to request (--fresh runs the suite again)", r.ID)
	case r.Resumed():
		return fmt.Sprintf("resuming run %d (%s): %d of %d case samples stored; requesting the missing ones and those that failed transiently", r.ID, r.Prior, r.Stored, r.Expected)
	}
	cases := plural(whole, "case")
	if sel := r.spec.Selection.String(); sel != "" {
		cases = fmt.Sprintf("%d of %s (%s)", r.Expected/max(settings.Samples, 1), cases, untrusted.Line(sel))
	}
	reused := ""
	if r.Reused > 0 {
		reused = fmt.Sprintf("; %s of unchanged cases reused from run %d", plural(int(r.Reused), "result"), r.ReusedFrom)
	}
	return fmt.Sprintf("run %d: %s × %s, settings %s%s", r.ID, cases, plural(settings.Samples, "sample"), r.SettingsHash[:min(12, len(r.SettingsHash))], reused)
}
