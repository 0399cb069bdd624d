package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
)

// A side of diff and gate may be a baseline file: two files compare without
// a database, a file compares with a stored run, and the verdict is the one
// of the stored runs they were exported from.
func TestSideBaselineFile(t *testing.T) {
	runQuiet(t)
	dbPath, lockA, _ := mustBaselineDB(t)
	dir := t.TempDir()
	fileA, fileB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	for _, e := range []struct{ run, file string }{{"1", fileA}, {"2", fileB}} {
		if code, _, stderr := runCmd(t.Context(), "baseline", "export", e.run, "-o", e.file, "--db", dbPath); code != 0 {
			t.Fatalf("export run %s: exit %d\n%s", e.run, code, stderr)
		}
	}
	_, want, _ := runCmd(t.Context(), "gate", "--baseline", "1", "--candidate", "2", "--db", dbPath)
	wantLines := strings.SplitN(want, "\n", 3)

	missing := filepath.Join(dir, "no.db") // never created: two files need none
	tests := []struct {
		name      string
		base, cnd string
		db        string
		runs      string // the "runs:" line's names
	}{
		{"two files", fileA, fileB, missing, "file " + fileA + " (baseline) vs file " + fileB + " (candidate)"},
		{"file and run", fileA, "2", dbPath, "file " + fileA + " (baseline) vs 2 (candidate)"},
		{"run and file", "1", fileB, dbPath, "1 (baseline) vs file " + fileB + " (candidate)"},
		{"lock and file", lockA, fileB, dbPath, "1 (baseline) vs file " + fileB + " (candidate)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t.Context(), "gate", "--baseline", tt.base, "--candidate", tt.cnd, "--db", tt.db)
			if code != fault.ExitGateFailed {
				t.Fatalf("exit %d, want %d (the stored runs' verdict)\n%s%s", code, fault.ExitGateFailed, stdout, stderr)
			}
			lines := strings.SplitN(stdout, "\n", 3)
			if lines[0] != wantLines[0] || !strings.Contains(lines[1], tt.runs) || lines[2] != wantLines[2] {
				t.Errorf("gate printed\n%s\nwant, but for the runs line (%q),\n%s", stdout, tt.runs, want)
			}
			if _, err := os.Stat(missing); err == nil {
				t.Fatalf("%s was created", missing)
			}
		})
	}
}

// An argument that names a file and a run at once is refused, naming both.
func TestSideAmbiguous(t *testing.T) {
	runQuiet(t)
	dbPath, _, _ := mustBaselineDB(t)
	t.Chdir(t.TempDir())
	if err := os.WriteFile("2", []byte("not a baseline"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(t.Context(), "diff", "--baseline", "1", "--candidate", "2", "--db", dbPath)
	if code != fault.ExitInput || !strings.Contains(stderr, "--candidate 2 is ambiguous: it can be the baseline file 2 or run 2") || !strings.Contains(stderr, "./2") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}
