package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// A pathError is an error about the database's path or file whose message
// stands alone and which matches a sentinel (ErrIsDir, ErrReadOnly,
// fs.ErrNotExist…) with errors.Is.
type pathError struct {
	msg string
	is  error
}

func (e *pathError) Error() string { return e.msg }
func (e *pathError) Unwrap() error { return e.is }

// checkPath checks, before SQLite opens it, that path can hold an evalpin
// database: SQLite's own "unable to open database file" says neither what is
// wrong nor with which file. With write, the file (if it exists) and its
// directory must be writable: SQLite keeps its -wal and -shm files beside the
// database, and would otherwise open a read-only file read-only and fail at
// the first write, in the middle of a run.
func checkPath(path string, write bool) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return &pathError{path + " is a directory, not a database file", ErrIsDir}
	case err == nil && !fi.Mode().IsRegular():
		return &pathError{path + " is not a regular file", ErrNotDatabase}
	case err == nil:
		if write {
			if err := writable(path); err != nil {
				return &pathError{fmt.Sprintf("%s is read-only (%v)", path, errText(err)), ErrReadOnly}
			}
		}
	case errors.Is(err, fs.ErrPermission):
		return err
	default:
		// Missing, or a parent is missing or is a file: say which.
		di, derr := os.Stat(dir)
		switch {
		case errors.Is(derr, fs.ErrPermission):
			return derr
		case derr != nil:
			return &pathError{"directory " + dir + " does not exist", fs.ErrNotExist}
		case !di.IsDir():
			return &pathError{dir + " is a file, not a directory", fs.ErrNotExist}
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	if write {
		if err := writable(dir); err != nil {
			return &pathError{fmt.Sprintf("directory %s is read-only (%v); SQLite creates its -wal and -shm files beside the database", dir, errText(err)), ErrReadOnly}
		}
	}
	return nil
}

// errText returns the message of an operating system error without the
// operation and path a *fs.PathError repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// sqliteURI returns the file: URI by which SQLite opens the file at path.
// mattn/go-sqlite3 opens every name as a URI (SQLITE_OPEN_URI) and reads its
// own parameters after the first '?', so a plain path with '?', '#' or '%'
// would be cut short or decoded; escaped in a URI, every path is a file name.
func sqliteURI(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive: file:///C:/data/evalpin.db
	}
	return (&url.URL{Scheme: "file", Path: p}).String(), nil
}

// A FileError is an SQLite error that says something about the database
// file itself rather than the query: that it is damaged, or cannot be
// written. It matches its sentinel (ErrCorrupt, ErrReadOnly, ErrNotDatabase)
// with errors.Is, and the driver's error too.
type FileError struct {
	Path string // the database's path
	what string // "database PATH is damaged"
	is   error
	err  error
}

func (e *FileError) Error() string   { return e.what + " (" + e.err.Error() + ")" }
func (e *FileError) Unwrap() []error { return []error{e.is, e.err} }

// classify wraps err, if its chain holds an SQLite error that is about the
// file at path rather than the query, in a *FileError; named says whether
// its message names the path (where the caller's does not). Other errors are
// returned as they are.
func classify(path string, named bool, err error) error {
	var se sqlite3.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	var fe *FileError
	if errors.As(err, &fe) {
		return err // classified already
	}
	subject := "the database"
	if named {
		subject = "database " + path
	}
	switch se.Code {
	case sqlite3.ErrNotADB:
		what := "not an evalpin database"
		if named {
			what = subject + " is " + what
		}
		return &FileError{path, what, ErrNotDatabase, err}
	case sqlite3.ErrCorrupt:
		return &FileError{path, subject + " is damaged", ErrCorrupt, err}
	case sqlite3.ErrReadonly:
		return &FileError{path, subject + " cannot be written", ErrReadOnly, err}
	}
	return err
}

// explain classifies *errp, an error of a query of db, as classify does; the
// exported methods defer it, so that a database damaged where only a query
// reaches, or made read-only under a run, says so and names its file.
func (db *DB) explain(errp *error) {
	*errp = classify(db.DSN, true, *errp)
}

// historyTables are the tables every command reads first, each bounded by
// the number of runs, locks or suites a database holds, never by results or
// cases.
var historyTables = []string{"migrations", "locks", "suites", "runs"}

// quickCheck runs SQLite's quick_check on the given tables and their indexes
// and returns an error matching ErrCorrupt listing the first problems found.
// It reads every page of them: Open checks historyTables, which costs
// microseconds; a check of the whole file (no tables) reads all of it, about
// a second per GB.
func (db *DB) quickCheck(ctx context.Context, tables ...string) error {
	pragmas := []string{`PRAGMA quick_check`}
	if len(tables) > 0 {
		pragmas = pragmas[:0]
		for _, t := range tables {
			pragmas = append(pragmas, `PRAGMA quick_check(`+t+`)`)
		}
	}
	var problems []string
	for _, p := range pragmas {
		rows, err := db.db.QueryContext(ctx, p)
		if err != nil {
			return classify(db.DSN, false, fmt.Errorf("%s: %w", p, err))
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				return classify(db.DSN, false, fmt.Errorf("%s: %w", p, err))
			}
			if line != "ok" && len(problems) < 3 {
				problems = append(problems, strings.ReplaceAll(line, "\n", "; "))
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return classify(db.DSN, false, fmt.Errorf("%s: %w", p, err))
		}
	}
	if len(problems) > 0 {
		return &FileError{db.DSN, "the database is damaged", ErrCorrupt, errors.New(strings.Join(problems, "; "))}
	}
	return nil
}
