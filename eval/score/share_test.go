package score

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

func TestSharedScorers_Collected(t *testing.T) {
	// A pattern no other test uses, so that only this test holds it.
	pattern := fmt.Sprintf("collected-%d", time.Now().UnixNano())
	key := sharedKey{param: pattern}
	build := func() KindScorer {
		s, ps := Lookup(ScorerRegex).Build(&Spec{Pattern: &pattern})
		if ps != nil {
			t.Fatal(ps)
		}
		return s
	}
	first := build()
	if sharedRegexes.lookup(key) == nil {
		t.Fatal("the built regex is not in the cache")
	}
	// A second build while the first is held gets the same scorer.
	if second := build(); second != first {
		t.Fatal("a second build of the same regex compiled it again")
	}
	runtime.KeepAlive(first) // and no longer
	// Once nothing holds it, the scorer is collected and its entry dropped
	// (cleanups run on their own goroutine, soon after a GC).
	for range 500 {
		runtime.GC()
		sharedRegexes.mu.Lock()
		_, ok := sharedRegexes.m[key]
		sharedRegexes.mu.Unlock()
		if !ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the cache still holds a regex nothing uses")
}
