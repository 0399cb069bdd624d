package runs

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/runner"
)

// Each way a run ends has its note, its exit kind and the way on.
func TestExplain(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	refusal := fault.Errorf(fault.LockRefused, "", "lock changed")
	notFound := runner.Summary{Errors: map[string]int{runner.ErrNotFound: 4}}
	tests := []struct {
		name   string
		ctx    context.Context
		o      Outcome
		e      End
		note   string // in the note; "" for none
		err    string // in the error; "" for none
		kind   fault.Kind
		inHint string
	}{
		{"complete", nil, Outcome{Expected: 4, Stored: 4}, End{}, "", "", fault.Internal, ""},
		{"store failed", nil, Outcome{WriteErr: errors.New("disk full")}, End{}, "", "store results of run 7: disk full", fault.Internal, ""},
		{"suite not stored", nil, Outcome{Expected: 4, Stored: 1, SuiteErr: errors.New("locked")}, End{}, "the suite's cases could not be stored; 1 of 4", "run 7: locked", fault.Internal, ""},
		{"refused", nil, Outcome{Expected: 4, Stored: 2, Discarded: 1, Refusal: refusal}, End{Lock: "sha256:ab"},
			"2 of 4 case samples stored, each vouched for by its own response; none from the refused one; 1 result received after the last confirmed check of the lock was discarded", "lock changed", fault.LockRefused, ""},
		{"refused, re-probed", nil, Outcome{Expected: 4, Stored: 2, Refusal: refusal}, End{Reprobed: true}, "each confirmed by a check of the lock that started after it arrived", "lock changed", fault.LockRefused, ""},
		{"interrupted", nil, Outcome{Expected: 4, Stored: 3}, End{RunErr: context.Canceled}, "run 7 interrupted: 3 of 4 case samples stored; resume it with the same command: evalpin run x", "context canceled", fault.Internal, ""},
		{"runner input error", nil, Outcome{Expected: 4}, End{RunErr: fault.Errorf(fault.Input, "", "bad request")}, "run 7 stopped: 0 of 4", "bad request", fault.Input, ""},
		{"runner failed", nil, Outcome{Expected: 4}, End{RunErr: errors.New("boom")}, "run 7 stopped: 0 of 4 case samples stored; resume it", "run 7: boom", fault.Internal, ""},
		{"last check unfinished", nil, Outcome{Expected: 4, Stored: 4, CheckErr: context.DeadlineExceeded}, End{}, "the last check of the lock did not finish", "last check of the lock", fault.Incomplete, "evalpin run x"},
		{"interrupted after the last request", cancelled, Outcome{Expected: 4, Stored: 4}, End{}, "interrupted after its last request", "context canceled", fault.Internal, ""},
		{"none succeeded, 404", nil, Outcome{Expected: 4, Stored: 4, StoredErrors: 4, NoneSucceeded: true}, End{Sum: notFound, Endpoints: []string{"http://h/v1"}}, "", "every one was answered 404 Not Found (not_found 4)", fault.Input, "e.g. http://h/v1"},
		{"none succeeded", nil, Outcome{Expected: 4, Stored: 4, StoredErrors: 4, NoneSucceeded: true}, End{}, "", "no request succeeded (4 stored failures)", fault.Incomplete, "'evalpin show 7' shows the failures"},
		{"transient failures", nil, Outcome{Expected: 4, Stored: 2, Missing: 2, Transient: 2}, End{}, "", "2 of 4 case samples have no result (2 failed every attempt", fault.Incomplete, "resume it"},
		{"missing", nil, Outcome{Expected: 4, Stored: 3, Missing: 1}, End{}, "", "run 7 incomplete: 1 of 4 case samples are not stored", fault.Incomplete, "resume it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			tt.e.ID, tt.e.Resume = 7, "evalpin run x"
			note, err := tt.o.Explain(ctx, tt.e)
			if (note == "") != (tt.note == "") || !strings.Contains(note, tt.note) {
				t.Errorf("note = %q, want %q", note, tt.note)
			}
			if tt.err == "" {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || fault.KindOf(err) != tt.kind || !strings.Contains(fault.HintOf(err), tt.inHint) {
				t.Fatalf("err = %v (kind %v, hint %q), want %q of kind %v with %q in the hint", err, fault.KindOf(err), fault.HintOf(err), tt.err, tt.kind, tt.inHint)
			}
		})
	}
}
