package runner

import (
	"time"

	"github.com/evalpin/evalpin/internal/fault"
)

// The defaults of Config's fields.
const (
	DefaultConcurrency = 128
	DefaultTimeout     = 10 * time.Minute
	DefaultMaxAttempts = 6
)

// The bounds of Config's fields, which New enforces. Each lies far beyond any
// real use; values past it exhaust memory or overflow what engines accept.
const (
	// MaxConcurrency bounds Concurrency. Beyond thousands of requests in
	// flight a run is limited by the servers and by the ephemeral ports
	// (about 28,000 connections to one host), not by the runner, which
	// allocates little per unit of the limit up front (a 24-byte slot of its
	// result channel); workers, connections and buffers grow with the
	// requests actually in flight.
	MaxConcurrency = 1 << 16
	// MaxAttempts bounds MaxAttempts: with back-off capped at 30 s, 100
	// retries already wait most of an hour for one request.
	MaxAttempts = 101
	// MaxBatch bounds Batch, the prompts packed into one /completions
	// request; the runner reserves room for this many per packed request.
	MaxBatch = 1024
	// MinTimeout and MaxTimeout bound Timeout, which bounds one attempt:
	// below a millisecond is a unit typo, above a day a hung server.
	MinTimeout = time.Millisecond
	MaxTimeout = 24 * time.Hour
)

// checkLimits returns an input error for a field of cfg outside its bounds;
// zero values, which select the defaults, pass.
func checkLimits(cfg *Config) error {
	for _, b := range []struct {
		name   string
		v, max int
	}{
		{"Concurrency", cfg.Concurrency, MaxConcurrency},
		{"MaxAttempts", cfg.MaxAttempts, MaxAttempts},
		{"Batch", cfg.Batch, MaxBatch},
	} {
		if b.v < 0 || b.v > b.max {
			return fault.Errorf(fault.Input, "", "runner: %s %d is outside [1, %d]", b.name, b.v, b.max)
		}
	}
	if cfg.Timeout != 0 && (cfg.Timeout < MinTimeout || cfg.Timeout > MaxTimeout) {
		return fault.Errorf(fault.Input, "", "runner: Timeout %v is outside [%v, %v]", cfg.Timeout, MinTimeout, MaxTimeout)
	}
	return nil
}
