// Package fault classifies evalpin's errors by what a user can do about them,
// and maps each kind to the process's exit code, which is part of evalpin's
// interface. An error carries its kind and a hint (printed as a "Try: …" line)
// in an *Error anywhere in its chain; errors without one are internal.
//
// It is a leaf: it imports only the standard library, so that every package
// can classify its errors without pulling in anything else.
package fault

import (
	"context"
	"errors"
	"fmt"
)

// A Kind classifies an error for the command line's exit code.
type Kind int

// The kinds of error, each with its own exit code (Kind.Exit).
const (
	Internal     Kind = iota // a bug or an infrastructure failure
	Input                    // a usage or input error: bad flag, file, suite or lock file
	LockRefused              // the endpoint reports no lock, another lock, or changed lock
	Incomplete               // a run ended with cases missing
	GateFailed               // the gate found a regression
	Inconclusive             // the gate had too little evidence for a verdict
	Busy                     // another process holds what the command needs (a run's lock); waiting helps
)

// The exit codes, one per kind, and those of success and of an interrupt.
const (
	ExitOK           = 0
	ExitGateFailed   = 1
	ExitInput        = 2
	ExitLockRefused  = 3
	ExitIncomplete   = 4
	ExitInternal     = 5
	ExitInconclusive = 6
	ExitBusy         = 7
	ExitInterrupted  = 130
)

// ExitStatusText documents the exit codes; every help text ends with it.
const ExitStatusText = `Exit status:
  0    success
  1    the gate failed: a regression
  2    usage or input error (bad flag, file, suite or lock file)
  3    lock refused: none reported, another lock, or the lock changed mid-run
  4    run incomplete: case samples missing or failed transiently; the same command completes it
  5    internal error
  6    the gate is inconclusive: too few paired cases, or too many candidate cases lost to failed requests
  7    busy: another evalpin process is running this run; wait for it, or --fresh
  130  interrupted (Ctrl-C); a run resumes where it stopped
`

// Exit returns the exit code of the kind.
func (k Kind) Exit() int {
	switch k {
	case Input:
		return ExitInput
	case LockRefused:
		return ExitLockRefused
	case Incomplete:
		return ExitIncomplete
	case GateFailed:
		return ExitGateFailed
	case Inconclusive:
		return ExitInconclusive
	case Busy:
		return ExitBusy
	}
	return ExitInternal
}

// ExitCode returns the exit code of err: ExitOK for nil, ExitInterrupted for
// a cancelled context, else the exit code of its kind.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	}
	return KindOf(err).Exit()
}

// ErrUnauthorized is wrapped by the input error of an endpoint that refused
// the request's credentials (HTTP 401 or 403): the API key is missing, wrong,
// or not meant for that endpoint. Commands add the hint that names their flag.
var ErrUnauthorized = errors.New("the endpoint refused the credentials")

// An Error is an error a user can act on: what went wrong, and a hint on how
// to fix it, printed as a "Try: …" line.
type Error struct {
	Kind Kind
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind with the hint and the formatted message;
// %w in format wraps as in fmt.Errorf.
func Errorf(kind Kind, hint, format string, args ...any) error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...), Hint: hint}
}

// KindOf returns the Kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// HintOf returns the hint of the first *Error in err's chain that has one.
func HintOf(err error) string {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return ""
		}
		if e.Hint != "" {
			return e.Hint
		}
		err = e.Err
	}
	return ""
}

// Mark returns err, its text unchanged, such that errors.Is(…, sentinel)
// also holds: a library marks an error with what it is, and the command
// that names the flags adds the advice for it.
func Mark(err, sentinel error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, mark: sentinel}
}

type marked struct{ err, mark error }

func (m *marked) Error() string        { return m.err.Error() }
func (m *marked) Unwrap() []error      { return []error{m.err, m.mark} }
func (m *marked) Is(target error) bool { return target == m.mark }
