package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestMark(t *testing.T) {
	sentinel := errors.New("which one?")
	inner := errors.New("disk full")
	err := Mark(Errorf(Input, "", "endpoint x serves 2 models: %w", inner), sentinel)
	if err.Error() != "endpoint x serves 2 models: disk full" {
		t.Errorf("text %q changed", err)
	}
	if !errors.Is(err, sentinel) || !errors.Is(err, inner) || KindOf(err) != Input {
		t.Errorf("Is(sentinel) %v, Is(inner) %v, kind %v", errors.Is(err, sentinel), errors.Is(err, inner), KindOf(err))
	}
	if wrapped := fmt.Errorf("run: %w", err); !errors.Is(wrapped, sentinel) {
		t.Error("the mark is lost when wrapped")
	}
	if Mark(nil, sentinel) != nil {
		t.Error("Mark(nil) != nil")
	}
}

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK}, {errors.New("x"), ExitInternal}, {Errorf(Input, "", "x"), ExitInput},
		{Errorf(LockRefused, "", "x"), ExitLockRefused}, {Errorf(Inconclusive, "", "x"), ExitInconclusive},
		{Errorf(Busy, "", "x"), ExitBusy}, {fmt.Errorf("x: %w", Errorf(GateFailed, "", "y")), ExitGateFailed},
	} {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
