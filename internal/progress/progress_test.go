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

func TestLine(t *testing.T) {
	tests := []struct {
		c       Counts
		elapsed time.Duration
		want    string
	}{
		{Counts{Total: 5000, Done: 1200, Errors: 3, Retries: 2, InFlight: 64}, 4 * time.Second,
			"progress: 1200 of 5000 case samples (24%), 300.0/s, about 13s left; 3 errors, 2 retries, 64 in flight"},
		{Counts{Total: 10}, time.Second, "progress: 0 of 10 case samples (0%), 0.0/s, time left unknown; 0 errors, 0 retries, 0 in flight"},
		{Counts{}, 0, "progress: 0 of 0 case samples (0%), 0.0/s, time left unknown; 0 errors, 0 retries, 0 in flight"},
	}
	for _, tt := range tests {
		if got := Line(tt.c, tt.elapsed); got != tt.want {
			t.Errorf("Line(%+v, %v) =\n%s\nwant\n%s", tt.c, tt.elapsed, got, tt.want)
		}
	}
}

// Lines writes a line every interval until stopped, and none after.
func TestLines(t *testing.T) {
	var buf buffer
	stop := Lines(&buf, 20*time.Millisecond, func() Counts { return Counts{Total: 4, Done: 2} })
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(buf.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	n := strings.Count(buf.String(), "\n")
	time.Sleep(60 * time.Millisecond)
	if n < 2 || strings.Count(buf.String(), "\n") != n || !strings.Contains(buf.String(), "progress: 2 of 4 case samples (50%)") {
		t.Fatalf("lines: %q", buf.String())
	}
}
