package score

import (
	"runtime"
	"sync"
	"weak"
)

// Compiled scorers are shared: a generated suite often gives thousands of
// cases the same regex or JSON schema, and each compiled copy costs kilobytes
// (a 10,000-case suite held 33 MB of identical regexes). A scorer is
// immutable once built and safe for concurrent use, so the scorers Kind.Build
// makes, for one suite's cases and for suites loaded while another still holds
// them, are one copy per kind and parameters. The caches hold their scorers
// weakly: a scorer nothing uses any more is collected, and its entry removed.
// NewRegex and NewJSONSchema compile a new copy each time.
var (
	sharedRegexes weakCache[Regex]
	sharedSchemas weakCache[JSONSchema]
)

// A sharedKey is a compiled scorer's parameters: its label, its pattern or
// schema text, and its one flag (ignore_case or strip_fence).
type sharedKey struct {
	label, param string
	flag         bool
}

// A weakCache maps scorer parameters to the scorer built from them, for as
// long as something else holds the scorer. It is safe for concurrent use.
type weakCache[T any] struct {
	mu sync.Mutex
	m  map[sharedKey]weak.Pointer[T]
}

// get returns the live scorer stored under k, or builds one with build and
// stores it. A failed build is not stored: its error is returned.
func (c *weakCache[T]) get(k sharedKey, build func() (*T, error)) (*T, error) {
	if v := c.lookup(k); v != nil {
		return v, nil
	}
	// Built outside the lock: compiling takes long, and two loaders that
	// race to build the same scorer both end up with the first one stored.
	v, err := build()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[k].Value(); old != nil {
		return old, nil
	}
	if c.m == nil {
		c.m = make(map[sharedKey]weak.Pointer[T])
	}
	c.m[k] = weak.Make(v)
	runtime.AddCleanup(v, c.drop, k)
	return v, nil
}

// lookup returns the live scorer stored under k, or nil.
func (c *weakCache[T]) lookup(k sharedKey) *T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k].Value()
}

// drop removes k's entry once its scorer has been collected (and not
// replaced by a new one since).
func (c *weakCache[T]) drop(k sharedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.m[k]; ok && p.Value() == nil {
		delete(c.m, k)
	}
}
