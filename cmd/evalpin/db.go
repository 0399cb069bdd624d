package main

import (
	"github.com/evalpin/evalpin/internal/cli"
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
// it if it does not exist (store.OpenFile; advice.go words its errors).
func openStore(path string) (*store.DB, error) { return store.OpenFile(path, false) }

// openExistingStore opens the database at path for a command that only reads
// history, which has nothing to show where no database exists yet.
func openExistingStore(path string) (*store.DB, error) { return store.OpenFile(path, true) }
