package progress

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// The bar waits for a total, then shows the counts; stop ends its goroutine.
func TestBar(t *testing.T) {
	var buf buffer
	var done atomic.Int64
	var total atomic.Int64
	stop := Bar(&buf, func() Counts {
		return Counts{Total: int(total.Load()), Done: int(done.Load()), Errors: 1, InFlight: 3, Limit: 8, Retries: 2}
	})
	time.Sleep(3 * Interval / 2)
	if buf.String() != "" {
		t.Fatalf("drawn before the total is known: %q", buf.String())
	}
	total.Store(20)
	done.Store(7)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "7/20") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	out := buf.String()
	for _, want := range []string{"7/20", "1 errors, 3 in flight (limit 8), 2 retries"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar lacks %q: %q", want, out)
		}
	}
}
