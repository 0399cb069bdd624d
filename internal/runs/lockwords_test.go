package runs_test

import (
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
)

// The quantization the engine reported leads the lock words where the two
// locks' differ, and says nothing where either is unknown or they agree.
func TestLockWordsQuantization(t *testing.T) {
	side := func(lock, q string) runs.Side {
		return runs.Side{Run: eval.Run{Lock: lockid.ID("sha256:" + lock)}, Quantization: q}
	}
	for _, tt := range []struct{ a, b, want string }{
		{"F16", "Q4_K_M", "quantization F16 → Q4_K_M"},
		{"F16", "F16", ""},
		{"", "Q8_0", ""},
		{"F16", "Q8_0\x1b[2J", `quantization F16 → Q8_0\x1b[2J`},
	} {
		p := &runs.Pair{Base: side("aa", tt.a), Cand: side("bb", tt.b)}
		if got, err := p.LockWords(); err != nil || got != tt.want {
			t.Errorf("%q → %q: %q, %v; want %q", tt.a, tt.b, got, err, tt.want)
		}
	}
}
