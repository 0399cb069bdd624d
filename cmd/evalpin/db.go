package main

import (
	"errors"
	"fmt"
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
		return nil, dbError(path, err)
	}
	return db, nil
}

// dbError turns an error that is about the database file, from opening it
// or from any query, into an input error (exit 2) with the fix; path is the
// database's, or "" where it is not known. Other errors are returned as they
// are. It is applied to every command's error (see run), since a database
// damaged where only a query reaches is found by that query.
func dbError(path string, err error) error {
	if err == nil || fault.KindOf(err) != fault.Internal {
		return err
	}
	file := path
	if fe := (*store.FileError)(nil); errors.As(err, &fe) {
		file = fe.Path
	}
	var hint string
	switch {
	case errors.Is(err, store.ErrNewerSchema):
		hint = "use the newer evalpin that wrote it (this one is " + Version + "), or pass --db FILE for another database"
	case errors.Is(err, store.ErrCorrupt):
		hint = fmt.Sprintf("restore the database from a backup, or recover what SQLite can still read: sqlite3 %s .recover | sqlite3 recovered.db, then pass --db recovered.db", cli.Quote(file))
	case errors.Is(err, store.ErrReadOnly):
		hint = "make the file and its directory writable by you (chmod u+w), or pass --db FILE or set " + dbEnv + " to a database in a writable directory"
	case errors.Is(err, store.ErrNotDatabase):
		hint = dbHint
	case path == "":
		return err // the rest are errors of opening only
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
