package runs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

// A Start is what a run starts from, before anything is stored: the suite and
// the lock the endpoints serve.
type Start struct {
	// Load loads the suite.
	Load func() (*eval.Suite, error)
	// Prober probes the endpoints; KeyErr, when set, is why there is none
	// (the credentials were refused), and no endpoint is asked.
	Prober *endpoint.Prober
	KeyErr error
	// Endpoints, Model and Expect are endpoint.Prober.Resolve's.
	Endpoints []string
	Model     string
	Expect    lockid.ID
	// Timeout bounds the probe.
	Timeout time.Duration
}

// ErrProbeTimeout marks a probe whose endpoints did not answer within
// Start.Timeout.
var ErrProbeTimeout = errors.New("probe timed out")

// Prepare loads the suite while it asks the endpoints which lock they serve,
// and returns both. A refusal creates no run and touches no database. A bad
// suite is reported before any answer of the endpoints' (and stops the
// probe), then KeyErr, then the probe's refusal.
func Prepare(ctx context.Context, s Start) (*eval.Suite, *endpoint.Target, error) {
	var (
		suite              *eval.Suite
		target             *endpoint.Target
		suiteErr, probeErr error
		loading            sync.WaitGroup
		pctx, cancelProbe  = context.WithTimeout(ctx, s.Timeout)
	)
	defer cancelProbe()
	loading.Go(func() {
		if suite, suiteErr = s.Load(); suiteErr != nil {
			cancelProbe()
		}
	})
	if s.KeyErr == nil {
		target, probeErr = s.Prober.Resolve(pctx, s.Endpoints, s.Model, s.Expect)
	}
	loading.Wait()
	switch {
	case suiteErr != nil:
		return nil, nil, suiteErr
	case s.KeyErr != nil:
		return nil, nil, s.KeyErr
	case probeErr != nil && ctx.Err() == nil && errors.Is(probeErr, context.DeadlineExceeded):
		return nil, nil, fault.Mark(fault.Errorf(fault.Input, "", "probing the endpoints: no answer within %v", s.Timeout), ErrProbeTimeout)
	case probeErr != nil:
		return nil, nil, probeErr
	}
	return suite, target, nil
}
