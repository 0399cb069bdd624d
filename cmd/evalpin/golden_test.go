package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/store"
)

// update makes golden tests rewrite their files: go test ./cmd/evalpin -update.
var update = flag.Bool("update", false, "rewrite golden files")

// golden runs evalpin with args and compares what it prints with
// testdata/NAME.stdout and testdata/NAME.stderr; stderr ends with the exit
// code. replace maps text that varies between runs (temporary paths) to
// stable placeholders, old, new, old, new... When the output differs, the
// test writes it to testdata/NAME.got-stdout and .got-stderr for a diff.
func golden(t *testing.T, name string, replace []string, args ...string) {
	t.Helper()
	a, _ := testApp()
	goldenApp(t, a, name, replace, args...)
}

// goldenApp is golden with the app a.
func goldenApp(t *testing.T, a *app, name string, replace []string, args ...string) {
	t.Helper()
	code, out, errOut := a.cmd(context.Background(), args...)
	stdout, stderr := bytes.NewBufferString(out), bytes.NewBufferString(errOut)
	fmt.Fprintf(stderr, "exit %d\n", code)

	r := strings.NewReplacer(replace...)
	for _, f := range []struct {
		ext string
		got string
	}{
		{"stdout", r.Replace(stdout.String())},
		{"stderr", r.Replace(stderr.String())},
	} {
		path := filepath.Join("testdata", name+"."+f.ext)
		gotPath := filepath.Join("testdata", name+".got-"+f.ext)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(f.got), 0o644); err != nil {
				t.Fatal(err)
			}
			os.Remove(gotPath)
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if f.got != string(want) {
			if err := os.WriteFile(gotPath, []byte(f.got), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Errorf("evalpin %s: %s differs from %s; see %s", strings.Join(args, " "), f.ext, path, gotPath)
		} else {
			os.Remove(gotPath)
		}
	}
}

// openClockedDB opens a new store in a temporary directory whose clock reads
// *now, starting at start, so that a fixture can move time along. The caller
// closes it.
func openClockedDB(t *testing.T, start time.Time) (db *store.DB, path string, now *time.Time) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "evalpin.db")
	db = store.NewDB(path)
	now = &start
	db.Now = func() time.Time { return *now }
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	return db, path, now
}
