package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/nobody"
)

func TestAddDBFlag(t *testing.T) {
	for _, tt := range []struct {
		env  string
		args []string
		want string
	}{
		{"", nil, "evalpin.db"},
		{"/data/ci.db", nil, "/data/ci.db"},
		{"/data/ci.db", []string{"--db", "mine.db"}, "mine.db"}, // the flag wins
		{"", []string{"-db=x.db"}, "x.db"},
	} {
		fs := cli.New("test", "", "", io.Discard)
		path := addDBFlag(fs)
		if _, err := fs.Parse(tt.args, func(k string) string { return map[string]string{dbEnv: tt.env}[k] }); err != nil {
			t.Fatal(err)
		}
		if *path != tt.want {
			t.Errorf("env %q args %q: db=%q, want %q", tt.env, tt.args, *path, tt.want)
		}
	}
}

func TestOpenStore_Errors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("some notes, long enough to fill an SQLite header of one hundred bytes, which this is not at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(dir, "newer.db")
	db, err := openStore(newer)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite3", newer) // the driver is registered by the store
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO migrations (name, applied) VALUES ('migration/9999_future.sql', '')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	// A database in a directory that does not exist yet is created with it.
	madeDB, err := openStore(filepath.Join(dir, "a", "b", "evalpin.db"))
	if err != nil {
		t.Fatalf("a database in new directories: %v", err)
	}
	madeDB.Close()

	for _, tt := range []struct {
		name string
		path string
	}{
		{"directory under a file", filepath.Join(text, "sub", "evalpin.db")},
		{"not a database", text},
		{"newer evalpin", newer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := openStore(tt.path)
			if err == nil {
				db.Close()
				t.Fatal("openStore succeeded")
			}
			err = advise(err) // as every command's error is
			if got := fault.KindOf(err); got != fault.Input {
				t.Errorf("kind=%v, want KindInput (%v)", got, err)
			}
			if fault.HintOf(err) == "" {
				t.Errorf("no hint: %v", err)
			}
		})
	}

	// A new path in an existing directory creates the database.
	created := filepath.Join(dir, "new.db")
	db, err = openStore(created)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := os.Stat(created); err != nil {
		t.Fatal(err)
	}
}

func TestOpenStoreGolden(t *testing.T) {
	t.Setenv(dbEnv, "")
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("some notes, long enough to fill an SQLite header of one hundred bytes, which this is not at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	replace := []string{dir, "$TMP"}
	golden(t, "db-not-a-database", replace, "runs", "--db", text)
}

// dbPageSize is the page size of evalpin's databases (SQLite's default).
const dbPageSize = 4096

// dbDamagePage overwrites the b-tree header of page (1-based) of the
// database at path with garbage, as a disk error or a stray write would.
func dbDamagePage(t *testing.T, path string, page int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 8), (page-1)*dbPageSize); err != nil {
		t.Fatal(err)
	}
}

// dbRootPage returns the root page of the table or index name.
func dbRootPage(t *testing.T, path, name string) int64 {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var page int64
	if err := raw.QueryRow(`SELECT rootpage FROM sqlite_schema WHERE name = ?`, name).Scan(&page); err != nil {
		t.Fatal(err)
	}
	return page
}

// dbTablePageHolding returns the table leaf page (b-tree page type 13) of
// the database at path that holds marker.
func dbTablePageHolding(t *testing.T, path, marker string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(marker))
		if i < 0 {
			t.Fatalf("no table page of %s holds %q", path, marker)
		}
		page := (off + i) / dbPageSize
		if data[page*dbPageSize] == 13 {
			return int64(page + 1)
		}
		off = (page + 1) * dbPageSize
	}
}

// dbFixture runs a suite of n cases into a new database at path through
// "evalpin run" against fake, and returns the arguments of that run without
// --db.
func dbFixture(t *testing.T, fake *runFake, path string, n int) []string {
	t.Helper()
	args := []string{"run", "--suite", runSuiteFile(t, t.TempDir(), n), "--endpoint", fake.start(t), "--no-progress"}
	if code, _, stderr := runCmd(context.Background(), append(args, "--db", path)...); code != fault.ExitOK {
		t.Fatalf("fixture run: exit %d\n%s", code, stderr)
	}
	return args
}

// dbCheckRefused checks that a command refused a database with exit 2, a
// message naming path and saying msg, a Try: line, and no stack trace.
func dbCheckRefused(t *testing.T, code int, stderr, path, msg string) {
	t.Helper()
	if code != fault.ExitInput {
		t.Errorf("exit %d, want %d\n%s", code, fault.ExitInput, stderr)
	}
	for _, want := range []string{path, msg, "\nTry: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
		t.Errorf("stderr has a stack trace:\n%s", stderr)
	}
}

// A database path evalpin cannot use is an input error (exit 2) naming the
// path, the reason and the fix, for commands that write (run) and that read
// (runs), never an internal error; "run" sends no completion request.
func TestDBPathErrors(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	fake := newRunFake(runLockA)
	sound := filepath.Join(dir, "sound.db")
	runArgs := dbFixture(t, fake, sound, 30)
	sent := fake.cases.Load()
	copyDB := func(name string) string {
		data, err := os.ReadFile(sound)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	file := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(file, []byte("some notes, long enough to fill an SQLite header of one hundred bytes, which this is not at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	index := copyDB("index-damaged.db")
	dbDamagePage(t, index, dbRootPage(t, index, "runs_identity"))
	runsTable := copyDB("runs-damaged.db")
	dbDamagePage(t, runsTable, dbRootPage(t, runsTable, "runs"))
	newer := copyDB("newer.db")
	if raw, err := sql.Open("sqlite3", newer); err != nil {
		t.Fatal(err)
	} else if _, err := raw.Exec(`INSERT INTO migrations (name, applied) VALUES ('migration/9999_future.sql', '')`); err != nil {
		t.Fatal(err)
	} else {
		raw.Close()
	}

	tests := []struct {
		name string
		path string
		msg  string // the reason, in stderr
		read bool   // "evalpin runs" refuses it too (it reports a missing file as such)
	}{
		{"a directory", dir, "is a directory, not a database file", true},
		{"parent is a file", filepath.Join(file, "e.db"), file + " is a file, not a directory", false},
		{"not SQLite", file, "not an evalpin database", true},
		{"runs index damaged", index, "the database is damaged", true},
		{"runs table damaged", runsTable, "the database is damaged", true},
		{"newer evalpin", newer, "database written by a newer evalpin", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCmd(context.Background(), append(slices.Clone(runArgs), "--db", tt.path)...)
			dbCheckRefused(t, code, stderr, tt.path, tt.msg)
			if tt.read {
				code, _, stderr := runCmd(context.Background(), "runs", "--db", tt.path)
				dbCheckRefused(t, code, stderr, tt.path, tt.msg)
			}
		})
	}
	if n := fake.cases.Load() - sent; n != 0 {
		t.Errorf("the refused runs sent %d completion requests, want none", n)
	}
}

// Damage where opening does not look, among the results, is reported by the
// command that reads it, and by "runs --check", as an input error naming the
// file; "runs" alone lists what it can read.
func TestDBDamagedResults(t *testing.T) {
	runQuiet(t)
	path := filepath.Join(t.TempDir(), "e.db")
	dbFixture(t, newRunFake(runLockA), path, 60)
	dbDamagePage(t, path, dbTablePageHolding(t, path, "echo: prompt case-030"))

	code, _, stderr := runCmd(context.Background(), "show", "--db", path, "1")
	dbCheckRefused(t, code, stderr, path, "database "+path+" is damaged")
	code, _, stderr = runCmd(context.Background(), "runs", "--check", "--db", path)
	dbCheckRefused(t, code, stderr, path, "the database is damaged")
	if !strings.Contains(stderr, ".recover") {
		t.Errorf("the fix does not say how to recover:\n%s", stderr)
	}
}

// A read-only database, or one in a read-only directory, is refused by "run"
// before it writes anything; "runs" reads a read-only file.
func TestDBReadOnly(t *testing.T) {
	if !nobody.Rerun(t) {
		return
	}
	runQuiet(t)
	dir := t.TempDir()
	fake := newRunFake(runLockA)
	roFile := filepath.Join(dir, "ro.db")
	runArgs := dbFixture(t, fake, roFile, 5)
	if err := os.Chmod(roFile, 0o444); err != nil {
		t.Fatal(err)
	}
	roDir := filepath.Join(dir, "ro")
	if err := os.Mkdir(roDir, 0o755); err != nil {
		t.Fatal(err)
	}
	inRODir := filepath.Join(roDir, "e.db")
	dbFixture(t, fake, inRODir, 5)
	if err := os.Chmod(roDir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(roDir, 0o755) })
	sent := fake.cases.Load()

	code, _, stderr := runCmd(context.Background(), append(slices.Clone(runArgs), "--db", roFile, "--fresh")...)
	dbCheckRefused(t, code, stderr, roFile, roFile+" is read-only")
	code, _, stderr = runCmd(context.Background(), append(slices.Clone(runArgs), "--db", inRODir, "--fresh")...)
	dbCheckRefused(t, code, stderr, inRODir, "directory "+roDir+" is read-only")
	code, _, stderr = runCmd(context.Background(), "runs", "--db", inRODir)
	dbCheckRefused(t, code, stderr, inRODir, "directory "+roDir+" is read-only; SQLite creates the -shm file")
	if n := fake.cases.Load() - sent; n != 0 {
		t.Errorf("the refused runs sent %d completion requests, want none", n)
	}
	if code, stdout, stderr := runCmd(context.Background(), "runs", "--db", roFile); code != fault.ExitOK || !strings.Contains(stdout, "complete") {
		t.Errorf("runs on a read-only file: exit %d\n%s%s", code, stdout, stderr)
	}
}

// A database path is a file name, whatever it holds: '?' and '#' are not
// URI syntax.
func TestDBPathIsAFileName(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "ci?mode=memory#1.db")
	dbFixture(t, newRunFake(runLockA), path, 3)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{filepath.Base(path), filepath.Base(path) + "-runlock"}; !slices.Equal(names, want) {
		t.Fatalf("files %q, want %q: the database and its run lock file", names, want)
	}
	code, stdout, stderr := runCmd(context.Background(), "runs", "--db", path)
	if code != fault.ExitOK || !strings.Contains(stdout, "complete") {
		t.Errorf("runs: exit %d\n%s%s", code, stdout, stderr)
	}
}
