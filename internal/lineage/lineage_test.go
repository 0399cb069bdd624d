package lineage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

func lock(c string) lockid.ID { return lockid.ID("sha256:" + strings.Repeat(c, 64)) }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// A promotion is one added line; the file reads back as it was written.
func TestPromoteAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	f, err := Read(path)
	if err != nil || len(f.Promotions) != 0 {
		t.Fatalf("a missing file: %+v, %v", f, err)
	}
	for i, p := range []Promotion{
		{Track: "main", Lock: lock("a"), At: t0, By: "ana", Note: "first"},
		{Track: "main", Lock: lock("b"), At: t0.Add(time.Hour)},
		{Track: "fork", Lock: lock("c"), At: t0.Add(2 * time.Hour)},
	} {
		before, _ := os.ReadFile(path)
		if err := f.Promote(p); err != nil {
			t.Fatal(err)
		}
		after, _ := os.ReadFile(path)
		if !strings.HasPrefix(string(after), string(before)) || strings.Count(string(after), "\n") != i+1 {
			t.Fatalf("promotion %d did not add one line:\n%s", i, after)
		}
	}
	back, err := Read(path)
	if err != nil || len(back.Promotions) != 3 || back.Promotions[0].By != "ana" || !back.Promotions[1].At.Equal(t0.Add(time.Hour)) {
		t.Fatalf("read back %+v, %v", back, err)
	}
	if got := back.Tracks(); strings.Join(got, ",") != "fork,main" {
		t.Errorf("Tracks = %q", got)
	}
	err = back.Promote(Promotion{Track: "main", Lock: lock("b"), At: t0.Add(3 * time.Hour)})
	if !errors.Is(err, ErrCurrent) || fault.KindOf(err) != fault.Input {
		t.Errorf("promoting the current lock again: %v", err)
	}
}

// Previous is the lock a candidate is compared with.
func TestPrevious(t *testing.T) {
	f := &File{Promotions: []Promotion{
		{Track: "main", Lock: lock("a"), At: t0},
		{Track: "main", Lock: lock("b"), At: t0.Add(time.Hour)},
		{Track: "other", Lock: lock("d"), At: t0.Add(90 * time.Minute)},
		{Track: "main", Lock: lock("a"), At: t0.Add(2 * time.Hour)}, // a rollback
	}}
	tests := []struct {
		track string
		cand  lockid.ID
		want  lockid.ID // "" for none
	}{
		{"main", lock("c"), lock("a")}, // never promoted: the current lock
		{"main", lock("a"), lock("b")}, // current: the one it replaced
		{"main", lock("b"), lock("a")}, // promoted before: the lock before it
		{"other", lock("d"), ""},       // the first of its track
		{"none", lock("c"), ""},
	}
	for _, tt := range tests {
		p, ok := f.Previous(tt.track, tt.cand)
		if ok != (tt.want != "") || p.Lock != tt.want {
			t.Errorf("Previous(%s, %.12s) = %.12s, %v; want %.12s", tt.track, tt.cand, p.Lock, ok, tt.want)
		}
	}
	if cur, ok := f.Current("main"); !ok || cur.Lock != lock("a") {
		t.Errorf("Current(main) = %v, %v", cur, ok)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct{ text, err string }{
		{`{"track":"main","lock":"sha256:x","promoted":"2026-03-01T12:00:00Z"}`, `:1: lock "sha256:x" is not a lock id`},
		{"\n" + `{"track":"Main!","lock":"` + string(lock("a")) + `","promoted":"2026-03-01T12:00:00Z"}`, `:2: track "Main!" is not a track name`},
		{`{"track":"main","lock":"` + string(lock("a")) + `"}`, ":1: no promotion time"},
		{`{"track":"main","colour":"red"}`, `:1: json: unknown field "colour"`},
		{`not json`, ":1: invalid character"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "lineage.jsonl")
		if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Read(path)
		if err == nil || !strings.Contains(err.Error(), path+tt.err) || fault.KindOf(err) != fault.Input {
			t.Errorf("Read(%q) = %v, want an input error with %q", tt.text, err, tt.err)
		}
	}
}
