package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/nobody"
	"github.com/evalpin/evalpin/internal/store"
)

// pageSize is the page size of evalpin's databases (SQLite's default).
const pageSize = 4096

// damagePage overwrites the b-tree page header of page (1-based) of the
// database file at path with garbage, as a disk error or a stray write would.
func damagePage(tb testing.TB, path string, page int64) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 8), (page-1)*pageSize); err != nil {
		tb.Fatal(err)
	}
}

// rootPage returns the root page of the table or index name.
func rootPage(tb testing.TB, path, name string) int64 {
	tb.Helper()
	sdb, err := sql.Open("sqlite3", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer sdb.Close()
	var page int64
	if err := sdb.QueryRow(`SELECT rootpage FROM sqlite_schema WHERE name = ?`, name).Scan(&page); err != nil {
		tb.Fatal(err)
	}
	return page
}

// pageHolding returns the page of the file at path whose content holds
// marker and which is a leaf page of a table (b-tree page type 13).
func pageHolding(tb testing.TB, path, marker string) int64 {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(marker))
		if i < 0 {
			tb.Fatalf("no table page of %s holds %q", path, marker)
		}
		page := int64((off + i) / pageSize)
		if data[page*pageSize] == 13 {
			return page + 1
		}
		off = int(page+1) * pageSize
	}
}

// storedDB writes a database with one run of n results, each output holding
// a marker, and closes it; the WAL is checkpointed into the file.
func storedDB(tb testing.TB, path string, n int) {
	tb.Helper()
	db, err := store.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	run := mustCreateRun(tb, db, "sha256:aa")
	w := db.NewWriter(context.Background(), run.ID, store.WriterOptions{})
	for i := range n {
		r := result(i, 0)
		r.Output = fmt.Sprintf("MARKER-%06d %s", i, strings.Repeat("x", 200))
		if err := w.Put(r); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

// Open says what is wrong with a path it cannot use, with an error that
// matches a sentinel and names the path.
func TestOpen_PathErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(dir, "runs-damaged.db")
	storedDB(t, runs, 10)
	damagePage(t, runs, rootPage(t, runs, "runs"))
	index := filepath.Join(dir, "index-damaged.db")
	storedDB(t, index, 10)
	damagePage(t, index, rootPage(t, index, "runs_identity"))
	locks := filepath.Join(dir, "locks-damaged.db")
	storedDB(t, locks, 10)
	damagePage(t, locks, rootPage(t, locks, "locks"))

	for _, tt := range []struct {
		name string
		path string
		want error  // matched with errors.Is
		msg  string // in the message
	}{
		{"a directory", dir, store.ErrIsDir, dir + " is a directory, not a database file"},
		{"parent missing", filepath.Join(dir, "nope", "evalpin.db"), fs.ErrNotExist, "directory " + filepath.Join(dir, "nope") + " does not exist"},
		{"parent is a file", filepath.Join(file, "evalpin.db"), fs.ErrNotExist, file + " is a file, not a directory"},
		{"not a regular file", os.DevNull, store.ErrNotDatabase, "not a regular file"},
		{"runs table damaged", runs, store.ErrCorrupt, "the database is damaged"},
		{"runs index damaged", index, store.ErrCorrupt, "runs_identity"},
		{"locks table damaged", locks, store.ErrCorrupt, "the database is damaged"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(tt.path)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("Open error = %v, want %v, naming %s and saying %q", err, tt.want, tt.path, tt.msg)
			}
		})
	}
}

// A read-only file or directory fails Open at once, before anything is
// written, unless the caller only reads; then a read-only file can be read.
func TestOpen_ReadOnly(t *testing.T) {
	if !nobody.Rerun(t) {
		return
	}
	dir := t.TempDir()
	roFile := filepath.Join(dir, "ro-file.db")
	storedDB(t, roFile, 3)
	if err := os.Chmod(roFile, 0o444); err != nil {
		t.Fatal(err)
	}
	roDir := filepath.Join(dir, "ro-dir")
	if err := os.Mkdir(roDir, 0o755); err != nil {
		t.Fatal(err)
	}
	inRODir := filepath.Join(roDir, "evalpin.db")
	storedDB(t, inRODir, 3)
	if err := os.Chmod(roDir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(roDir, 0o755) })

	for _, tt := range []struct {
		name string
		path string
		msg  string
	}{
		{"read-only file", roFile, roFile + " is read-only"},
		{"read-only directory", inRODir, "directory " + roDir + " is read-only"},
		{"new file in a read-only directory", filepath.Join(roDir, "new.db"), "directory " + roDir + " is read-only"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(tt.path)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, store.ErrReadOnly) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Open error = %v, want ErrReadOnly saying %q", err, tt.msg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(roDir, "new.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a database was created in the read-only directory (%v)", err)
	}

	// A reader cannot read a WAL database in a read-only directory, which
	// has no -shm file: it is told why.
	reader := store.NewDB(inRODir)
	reader.AllowReadOnly = true
	if err := reader.Open(); !errors.Is(err, store.ErrReadOnly) || !strings.Contains(err.Error(), "directory "+roDir+" is read-only; SQLite creates the -shm file") {
		reader.Close()
		t.Errorf("reading in a read-only directory: %v, want ErrReadOnly naming the directory and the -shm file", err)
	}

	// A reader may read the read-only file; a write fails with ErrReadOnly.
	db := store.NewDB(roFile)
	db.AllowReadOnly = true
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if runs, err := db.Runs(context.Background(), store.RunFilter{}); err != nil || len(runs) != 1 {
		t.Fatalf("Runs = %d runs, %v; want the one run", len(runs), err)
	}
	err := db.SetRunStatus(context.Background(), 1, eval.RunInterrupted)
	if !errors.Is(err, store.ErrReadOnly) || !strings.Contains(err.Error(), "database "+roFile+" cannot be written") {
		t.Errorf("SetRunStatus on a read-only file: %v, want ErrReadOnly naming the file", err)
	}
}

// A path is a file name, whatever it holds: '?' and '#' are not URI syntax,
// '%' is not an escape.
func TestOpen_PathIsAFileName(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a?b.db", "a#b.db", "run?mode=memory.db", "50%25 off.db", "köln ? # %.db"} {
		path := filepath.Join(dir, name)
		db, err := store.Open(path)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		mustCreateRun(t, db, "sha256:aa")
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%q: the database is not at its path: %v", name, err)
		}
		db, err = store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if runs, err := db.Runs(context.Background(), store.RunFilter{}); err != nil || len(runs) != 1 {
			t.Errorf("%q reopened: %d runs, %v; want 1", name, len(runs), err)
		}
		db.Close()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 5 {
		t.Errorf("files %q, want the 5 databases and nothing else", names)
	}
}

// Damage where Open does not look (the results) is found by the query that
// reads it, and by QuickCheck; its error names the file.
func TestQuery_Damaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evalpin.db")
	storedDB(t, path, 2000)
	damagePage(t, path, pageHolding(t, path, "MARKER-001000"))
	db, err := store.Open(path)
	if err != nil {
		t.Fatalf("Open checks only the small tables, yet: %v", err)
	}
	defer db.Close()
	if _, err := db.Runs(context.Background(), store.RunFilter{}); err != nil {
		t.Fatalf("Runs: %v", err)
	}
	_, err = db.Results(context.Background(), 1)
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "database "+path+" is damaged") {
		t.Errorf("Results error = %v, want ErrCorrupt naming the file", err)
	}
	var fe *store.FileError
	if !errors.As(err, &fe) || fe.Path != path {
		t.Errorf("Results error %v: want a *FileError of %s", err, path)
	}
	if err := db.QuickCheck(context.Background()); !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("QuickCheck = %v, want ErrCorrupt naming the file", err)
	}
}

// QuickCheck finds nothing wrong in a sound database.
func TestQuickCheck_Sound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evalpin.db")
	storedDB(t, path, 100)
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QuickCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
}
