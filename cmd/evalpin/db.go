package main

import (
	"errors"
	"flag"
	"io/fs"
	"os"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/store"
)

// The database evalpin keeps its history in: the --db flag, else the
// environment variable dbEnv, else defaultDB in the current directory.
const (
	dbEnv     = "EVALPIN_DB"
	defaultDB = "evalpin.db"
)

// dbHint is the fix for a database path that cannot be used.
const dbHint = "pass --db FILE or set " + dbEnv + " to the database to use; evalpin creates it where none exists"

// addDBFlag adds the --db flag to fs and returns its value: the database's
// path, by default $EVALPIN_DB or evalpin.db.
func addDBFlag(fs *flag.FlagSet) *string {
	def := defaultDB
	if v := os.Getenv(dbEnv); v != "" {
		def = v
	}
	return fs.String("db", def, "the SQLite `file` evalpin keeps its history in (env "+dbEnv+")")
}

// openStore opens the database at path, creating it if it does not exist. A
// path evalpin cannot use is an input error that says what to do.
func openStore(path string) (*store.DB, error) {
	db, err := store.Open(path)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, store.ErrNewerSchema):
		return nil, eval.Errorf(eval.KindInput,
			"use the newer evalpin that wrote it (this one is "+Version+"), or pass --db FILE for another database",
			"%w", err)
	case errors.Is(err, store.ErrNotDatabase):
		return nil, eval.Errorf(eval.KindInput, dbHint, "%w", err)
	case errors.Is(err, fs.ErrNotExist):
		return nil, eval.Errorf(eval.KindInput, "create the directory, or "+dbHint, "%w", err)
	case errors.Is(err, fs.ErrPermission):
		return nil, eval.Errorf(eval.KindInput, dbHint, "%w", err)
	}
	return nil, err
}

// openExistingStore opens the database at path for a command that only reads
// history, which has nothing to show where no database exists yet.
func openExistingStore(path string) (*store.DB, error) {
	if path != ":memory:" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, eval.Errorf(eval.KindInput,
				"record a run with 'evalpin run' first, or pass --db FILE or set "+dbEnv+" to an existing database",
				"no database at %s", path)
		}
	}
	return openStore(path)
}
