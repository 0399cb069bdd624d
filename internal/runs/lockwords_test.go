package runs_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
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

// A lock's quantization travels with its baseline file: exported into the
// header, read back as the file's side, and stored again on import.
func TestQuantizationTravels(t *testing.T) {
	h := newHistory(t)
	ctx := context.Background()
	run1, err := h.db.Run(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.db.SetLockQuantization(ctx, run1.Lock, "Q4_K_M"); err != nil {
		t.Fatal(err)
	}
	file := h.exportFile(t, "1", filepath.Join(t.TempDir(), "b.jsonl"))
	b, err := runs.ReadBaselineFile(file)
	if err != nil || b.Header.LockQuantization != "Q4_K_M" {
		t.Fatalf("header quantization %q, %v; want Q4_K_M", b.Header.LockQuantization, err)
	}
	fresh, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	st, cleanup, err := runs.CheckBaselineArgs([]string{file})
	defer cleanup()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runs.ImportStream(ctx, fresh, st); err != nil {
		t.Fatal(err)
	}
	if l, err := fresh.Lock(ctx, run1.Lock); err != nil || l.Quantization != "Q4_K_M" {
		t.Fatalf("imported lock: %+v, %v; want quantization Q4_K_M", l, err)
	}
}
