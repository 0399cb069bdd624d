package lock

import (
	"context"
	"errors"
	"sync"
	"time"
)

// A Checker verifies a model directory against its lock again and again, as
// a sidecar does at start and at every re-check (serve.Config's Check): with
// a hash cache, an unchanged directory costs one stat per file. It is safe
// for concurrent use; checks run one at a time.
type Checker struct {
	Dir      string
	Manifest *Manifest
	// Cache supplies the hashes of unchanged files and is saved after each
	// check that matched; nil hashes every file every time.
	Cache *HashCache
	// Rehash hashes every file on the first check, ignoring the cache.
	Rehash bool
	// Logf receives a failure to save the cache, which only costs time
	// later; nil discards it.
	Logf func(format string, args ...any)

	mu   sync.Mutex
	last *Report       // the last report, for details on a refusal
	runs int           // checks that ran
	took time.Duration // how long the first check took, when it matched
}

// Check verifies the directory: nil when it matches the lock, else an error
// that names the files that differ (Report.Differences). An error reading
// the directory is Verify's.
func (c *Checker) Check(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Now()
	rep, err := Verify(ctx, c.Dir, c.Manifest, Options{Cache: c.Cache, Rehash: c.Rehash && c.runs == 0})
	c.runs++
	if err != nil {
		return err
	}
	c.last = rep
	if !rep.OK() {
		return errors.New(rep.Differences())
	}
	if c.runs == 1 {
		c.took = time.Since(start)
	}
	if c.Cache != nil {
		if err := c.Cache.Save(); err != nil && c.Logf != nil {
			c.Logf("hash cache: %v", err)
		}
	}
	return nil
}

// Last returns the report of the last check that read the directory, or nil
// before one did.
func (c *Checker) Last() *Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Took returns how long the first check took when it matched, or 0.
func (c *Checker) Took() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.took
}
