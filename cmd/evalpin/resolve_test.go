package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/store"
)

// A run id names a stored run, written 12 or #12; one that is no run id or
// names none is an input error pointing at the listing.
func TestResolveRun(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := eval.Run{Lock: "sha256:aa", Suite: "s", SuiteHash: "h", Settings: eval.DefaultSettings()}
	if err := db.CreateRun(ctx, &run); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref  string
		want string // the error, or "" for run 1
		hint string
	}{
		{ref: "1"},
		{ref: "#1"},
		{ref: "7", want: "show: no run 7 is stored", hint: "'evalpin runs' lists the stored runs"},
		{ref: "x", want: `show: run id "x" is not a positive number`, hint: "'evalpin runs' lists the stored runs"},
	}
	for _, tt := range tests {
		got, err := db.ResolveRun(ctx, tt.ref)
		if tt.want == "" {
			if err != nil || got.ID != run.ID {
				t.Errorf("ResolveRun(%q) = run %d, %v; want run %d", tt.ref, got.ID, err, run.ID)
			}
			continue
		}
		err = advise(fmt.Errorf("show: %w", err)) // as show words it
		if err == nil || err.Error() != tt.want || fault.HintOf(err) != tt.hint || fault.KindOf(err) != fault.Input {
			t.Errorf("show %q: error = %v (hint %q, kind %v), want %q (hint %q, an input error)", tt.ref, err, fault.HintOf(err), fault.KindOf(err), tt.want, tt.hint)
		}
	}
}
