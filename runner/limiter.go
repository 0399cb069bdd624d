package runner

import (
	"container/list"
	"context"
	"sync"
)

// A limiter bounds the requests in flight with an AIMD limit: it halves the
// limit when the server says it is overloaded (429, 503) and adds one for each
// success while the limit is in use, as Netflix's concurrency-limits AIMDLimit
// does. Waiters are served first come, first served, like
// golang.org/x/sync/semaphore.Weighted, whose limit cannot change.
type limiter struct {
	mu       sync.Mutex
	limit    float64 // current limit; int(limit) slots may be in flight
	min, max float64
	inflight int
	peak     int // highest inflight seen
	low      int // lowest limit reached
	epoch    uint64
	waiters  list.List // of chan struct{}, closed when a slot is handed over
}

func newLimiter(max, min int) *limiter {
	if min < 1 {
		min = 1
	}
	if min > max {
		min = max
	}
	return &limiter{limit: float64(max), min: float64(min), max: float64(max), low: max}
}

// acquire waits for a slot and returns the epoch it was granted in; overload
// reports from requests sent before the last decrease are ignored, so a burst
// of 429s to one window halves the limit once, not once per request.
func (l *limiter) acquire(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	if l.inflight < int(l.limit) && l.waiters.Len() == 0 {
		l.take()
		e := l.epoch
		l.mu.Unlock()
		return e, nil
	}
	ready := make(chan struct{})
	elem := l.waiters.PushBack(ready)
	l.mu.Unlock()

	select {
	case <-ready:
		l.mu.Lock()
		e := l.epoch
		l.mu.Unlock()
		return e, nil
	case <-ctx.Done():
		l.mu.Lock()
		select {
		case <-ready:
			// The slot was handed over as ctx ended: give it back.
			l.inflight--
			l.notify()
		default:
			l.waiters.Remove(elem)
		}
		l.mu.Unlock()
		return 0, ctx.Err()
	}
}

// take counts one more request in flight; l.mu is held.
func (l *limiter) take() {
	l.inflight++
	if l.inflight > l.peak {
		l.peak = l.inflight
	}
}

// release returns a slot.
func (l *limiter) release() {
	l.mu.Lock()
	l.inflight--
	l.notify()
	l.mu.Unlock()
}

// notify hands free slots to waiters in order; l.mu is held.
func (l *limiter) notify() {
	for l.inflight < int(l.limit) {
		front := l.waiters.Front()
		if front == nil {
			return
		}
		l.waiters.Remove(front)
		l.take()
		close(front.Value.(chan struct{}))
	}
}

// success grows the limit by one, but only while at least half of it is in
// use: an idle pool says nothing about what the server can take. The caller
// still holds its slot.
func (l *limiter) success() {
	l.mu.Lock()
	if l.limit < l.max && float64(l.inflight)*2 >= l.limit {
		l.limit++
		if l.limit > l.max {
			l.limit = l.max
		}
		l.notify()
	}
	l.mu.Unlock()
}

// overload halves the limit, once per epoch.
func (l *limiter) overload(epoch uint64) {
	l.mu.Lock()
	if epoch == l.epoch {
		l.epoch++
		l.limit /= 2
		if l.limit < l.min {
			l.limit = l.min
		}
		if int(l.limit) < l.low {
			l.low = int(l.limit)
		}
	}
	l.mu.Unlock()
}

// state returns the current limit, the requests in flight, the peak in flight
// and the lowest limit reached.
func (l *limiter) state() (limit, inflight, peak, low int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit), l.inflight, l.peak, l.low
}
