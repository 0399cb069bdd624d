// Package gcstart lets a short command end without a garbage collection.
// Go starts collecting at a 4 MB heap, which the libraries' own start-up
// (JSON schema meta-schemas, tables of character widths) nearly fills, so
// that a command of a few milliseconds (evalpin version, lock verify of an
// unchanged directory, a complete run run again) spent a good part of its
// CPU marking. Imported for its effect by package main, gcstart's init runs
// before those libraries' (packages are initialised in import path order)
// and holds the collector off until the process's memory first reaches
// StartHeap; from that first collection on, the collector paces as it does
// by default (GOGC=100, no memory limit), so a long command's memory is what
// it was. GOGC or GOMEMLIMIT set in the environment is left to rule.
//
// The technique is the Go compiler's own (cmd/compile's
// base.AdjustStartingHeap), in its simplest form.
package gcstart

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
)

// StartHeap is the memory at which the first collection runs.
const StartHeap = 32 << 20

func init() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(StartHeap)
	// The finalizer of an object nothing holds runs after the first
	// collection: it restores the default pacing.
	runtime.SetFinalizer(new([16]byte), func(*[16]byte) {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	})
}
