package gcstart

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// startPercent is the GOGC in force when the tests start, before they
// allocate much: -1 (off) while gcstart holds the collector.
var (
	startPercent int
	startLimit   int64
)

func TestMain(m *testing.M) {
	startPercent = debug.SetGCPercent(-1)
	debug.SetGCPercent(startPercent)
	startLimit = debug.SetMemoryLimit(-1)
	os.Exit(m.Run())
}

// Until the first collection the collector is off, and the memory limit is
// StartHeap.
func TestHeldAtStart(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT is set: gcstart leaves the collector alone")
	}
	if startPercent != -1 || startLimit != StartHeap {
		t.Errorf("at start: GOGC %d, memory limit %d; want -1 (off until the first collection) and %d", startPercent, startLimit, StartHeap)
	}
}

// After the first collection the collector paces as by default: GOGC 100,
// no memory limit.
func TestFirstCollectionRestoresPacing(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT is set: gcstart leaves the collector alone")
	}
	runtime.GC() // queues the finalizer, which runs on its own goroutine
	deadline := time.Now().Add(5 * time.Second)
	for {
		percent := debug.SetGCPercent(100)
		limit := debug.SetMemoryLimit(-1) // reads it
		if percent == 100 && limit == math.MaxInt64 {
			return
		}
		debug.SetGCPercent(percent)
		if time.Now().After(deadline) {
			t.Fatalf("after a collection: GOGC %d, memory limit %d; want 100 and none", percent, limit)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
