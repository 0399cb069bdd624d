package eval

import (
	"errors"
	"fmt"
)

// A Kind classifies an error for the command line's exit code.
type Kind int

// The kinds of error, each with its own exit code (see cmd/evalpin).
const (
	KindInternal     Kind = iota // a bug or an infrastructure failure
	KindInput                    // a usage or input error: bad flag, file, suite or lock file
	KindLockRefused              // the endpoint reports no lock, another lock, or changed lock
	KindIncomplete               // a run ended with cases missing
	KindGateFailed               // the gate found a regression
	KindInconclusive             // the gate had too little evidence for a verdict (GateInconclusive)
	KindBusy                     // another process holds what the command needs (a run's lock); waiting helps
)

// ErrUnauthorized is wrapped by the input error of an endpoint that refused
// the request's credentials (HTTP 401 or 403): the API key is missing, wrong,
// or not meant for that endpoint. Commands add the hint that names their flag.
var ErrUnauthorized = errors.New("the endpoint refused the credentials")

// An Error is an error a user can act on: what went wrong, and a hint on how to
// fix it, printed as a "Try: …" line.
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

// KindOf returns the Kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
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
