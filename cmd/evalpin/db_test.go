package main

import (
	"database/sql"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/evalpin/evalpin/eval"
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
		t.Setenv(dbEnv, tt.env)
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		path := addDBFlag(fs)
		if err := fs.Parse(tt.args); err != nil {
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

	for _, tt := range []struct {
		name string
		path string
	}{
		{"missing directory", filepath.Join(dir, "missing", "evalpin.db")},
		{"not a database", text},
		{"newer evalpin", newer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := openStore(tt.path)
			if err == nil {
				db.Close()
				t.Fatal("openStore succeeded")
			}
			if got := eval.KindOf(err); got != eval.KindInput {
				t.Errorf("kind=%v, want KindInput (%v)", got, err)
			}
			if eval.HintOf(err) == "" {
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
