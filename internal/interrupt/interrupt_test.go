package interrupt

import (
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// lockedBuilder is a strings.Builder safe for the watch's goroutine.
type lockedBuilder struct {
	SyncWriter
	b strings.Builder
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The second interrupt closes the hard stop at once, and the process exits
// if the run has not stopped within the grace period; a run that stops in
// time ends the watch without exiting.
func TestWatch(t *testing.T) {
	const grace = 20 * time.Millisecond
	tests := []struct {
		name     string
		signals  int
		wait     time.Duration // before the run stops
		hard     bool
		exited   bool
		stderrIn string
	}{
		{"none", 0, 50 * time.Millisecond, false, false, ""},
		{"one", 1, 50 * time.Millisecond, false, false, "waiting for the requests in flight"},
		{"two, stops in time", 2, 0, true, false, "abandoning the requests in flight"},
		{"two, hangs", 2, 500 * time.Millisecond, true, true, "exiting (stored results are kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigs := make(chan os.Signal, 2)
			var exited atomic.Bool
			out := &lockedBuilder{}
			out.W = &out.b
			hard, stop := Watch(Config{Signals: sigs, Out: out, Grace: grace, Exit: func() { exited.Store(true) }})
			for range tt.signals {
				sigs <- os.Interrupt
			}
			if tt.hard {
				select {
				case <-hard:
				case <-time.After(5 * time.Second):
					t.Fatal("the hard stop was not closed after two interrupts")
				}
			}
			time.Sleep(tt.wait)
			stop()
			time.Sleep(2 * grace) // a timer left running would fire now
			select {
			case <-hard:
				if !tt.hard {
					t.Error("hard stop closed")
				}
			default:
				if tt.hard {
					t.Error("hard stop not closed")
				}
			}
			if exited.Load() != tt.exited {
				t.Errorf("exited %v, want %v", exited.Load(), tt.exited)
			}
			if s := out.String(); !strings.Contains(s, tt.stderrIn) {
				t.Errorf("output %q lacks %q", s, tt.stderrIn)
			}
		})
	}
}
