package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
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
func addDBFlag(fs *cli.Flags) *string {
	db := fs.String("db", defaultDB, "the SQLite `file` evalpin keeps its history in")
	fs.Env("db", dbEnv)
	return db
}

// openStore opens the database at path for a command that writes, creating
// it if it does not exist. A path evalpin cannot use, a file it cannot write,
// and a damaged database are input errors that say what to do, before
// anything is written.
func openStore(path string) (*store.DB, error) {
	return openDB(path, false)
}

// openExistingStore opens the database at path for a command that only reads
// history, which has nothing to show where no database exists yet. A
// read-only database can be read.
func openExistingStore(path string) (*store.DB, error) {
	if path != ":memory:" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fault.Errorf(fault.Input,
				"record a run with 'evalpin run' first, or pass --db FILE or set "+dbEnv+" to an existing database",
				"no database at %s", path)
		}
	}
	return openDB(path, true)
}

// openDB opens the database at path; readOnly allows a file or directory
// this process cannot write.
func openDB(path string, readOnly bool) (*store.DB, error) {
	db := store.NewDB(path)
	db.AllowReadOnly = readOnly
	if err := db.Open(); err != nil {
		return nil, advise(openError(path, err))
	}
	return db, nil
}

// openError adds the fix to an error of opening the database at path that
// only opening has (advice.go words the others, whichever query finds them).
func openError(path string, err error) error {
	var hint string
	switch {
	case fault.KindOf(err) != fault.Internal || fault.HintOf(err) != "":
		return err
	case errors.Is(err, store.ErrIsDir):
		hint = "name the database file, e.g. --db " + cli.Quote(filepath.Join(path, defaultDB))
	case errors.Is(err, fs.ErrNotExist):
		hint = "create the directory, or " + dbHint
	case errors.Is(err, fs.ErrPermission):
		hint = "make the file and its directory readable by you, or " + dbHint
	default:
		return err
	}
	return fault.Errorf(fault.Input, hint, "%w", err)
}
