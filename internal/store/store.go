// Package store keeps evalpin's history in SQLite: the locks it has seen, the
// suites and cases it replayed, and every run with its stored results.
//
// It is the only package that knows the database driver. The schema lives in
// embedded migrations (migration/*.sql), each applied once in its own
// transaction and recorded in the migrations table. The database runs in WAL
// mode, so readers such as "evalpin runs" never block the run being written,
// with foreign keys on and a busy timeout so that two evalpin processes sharing
// one file wait for each other instead of failing.
//
// Results are written by a Writer: one goroutine that batches them into
// transactions, so the workers of a run never wait on the disk.
//
// No secret is stored: every text that came from a server (outputs, errors,
// check details, lock documents) is redacted by value through
// internal/secret, and endpoint URLs lose their userinfo.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// Errors Open and the queries return; test for them with errors.Is.
var (
	// ErrNotFound means the run, case or lock asked for is not stored.
	ErrNotFound = errors.New("not found")
	// ErrNotDatabase means the file is not an SQLite database, or is one that
	// evalpin did not create.
	ErrNotDatabase = errors.New("not an evalpin database")
	// ErrNewerSchema means the database was migrated by a newer evalpin that
	// knows migrations this one does not.
	ErrNewerSchema = errors.New("database written by a newer evalpin")
	// ErrIsDir means the database's path names a directory.
	ErrIsDir = errors.New("the database path is a directory")
	// ErrReadOnly means the database file, or the directory that holds it,
	// cannot be written.
	ErrReadOnly = errors.New("the database cannot be written")
	// ErrCorrupt means SQLite found the database file damaged: on Open, in
	// the tables every command reads (historyTables), or later, in the pages
	// a query read.
	ErrCorrupt = errors.New("the database is damaged")
)

// A DB is an open evalpin store. Its methods are safe for concurrent use.
type DB struct {
	db     *sql.DB
	ctx    context.Context // cancelled by Close; stops background work
	cancel context.CancelFunc

	// DSN is the database file's path, or ":memory:" for a private in-memory
	// database.
	DSN string

	// Now returns the current time; tests replace it with a fixed clock.
	// The default is time.Now.
	Now func() time.Time

	// AllowReadOnly lets Open succeed on a file, or in a directory, that
	// this process cannot write, for a caller that only reads: SQLite then
	// opens the file read-only (where it can: a database in WAL mode needs
	// its -shm file), and writes fail with ErrReadOnly. Without it, Open
	// refuses such a path with ErrReadOnly before anything is written.
	AllowReadOnly bool

	mu      sync.Mutex
	writers map[*Writer]struct{} // open writers, closed by Close
	runLock *runLocks            // the run lock file, once LockRun opened it
	closed  bool
}

// NewDB returns a DB for the database at dsn; call Open before using it.
func NewDB(dsn string) *DB {
	db := &DB{DSN: dsn, Now: time.Now, writers: make(map[*Writer]struct{})}
	db.ctx, db.cancel = context.WithCancel(context.Background())
	return db
}

// Open opens the database at path, creating it if it does not exist, and
// migrates it to the current schema.
func Open(path string) (*DB, error) {
	db := NewDB(path)
	if err := db.Open(); err != nil {
		return nil, err
	}
	return db, nil
}

// ReadsAtOnce reports whether the store reads on several connections at
// once: a database in a file does (in WAL mode), one in memory has a single
// connection, on which a second read waits for the first to end.
func (db *DB) ReadsAtOnce() bool { return db.db.Stats().MaxOpenConnections != 1 }

// Open opens the database, creating it if it does not exist, applies the
// migrations it lacks, and checks the tables every command reads first
// (historyTables) with SQLite's quick_check, which costs microseconds: they
// grow with the runs, not with the results. The errors say what is wrong with
// the path, and match with errors.Is:
//   - ErrIsDir: the path is a directory;
//   - fs.ErrNotExist: its directory does not exist, or is a file;
//   - ErrReadOnly: the file or its directory cannot be written (unless
//     AllowReadOnly);
//   - fs.ErrPermission: the file or its directory cannot be read;
//   - ErrNotDatabase: a file that is not an SQLite database, or is another
//     program's;
//   - ErrCorrupt: a database damaged in the tables Open checks;
//   - ErrNewerSchema: a database migrated by a newer evalpin.
//
// The path is a file name, whatever characters it holds: '?' and '#' are
// not URI syntax here.
func (db *DB) Open() (err error) {
	if db.DSN == "" {
		return errors.New("open store: no database path")
	}
	memory := db.DSN == ":memory:"
	dsn := db.DSN
	if !memory {
		if err := checkPath(db.DSN, !db.AllowReadOnly); err != nil {
			return fmt.Errorf("open store %s: %w", db.DSN, err)
		}
		if dsn, err = sqliteURI(db.DSN); err != nil {
			return fmt.Errorf("open store %s: %w", db.DSN, err)
		}
	}

	// The parameters are applied by the driver to every new connection.
	// Foreign keys are off by default in SQLite, for compatibility; evalpin's
	// schema relies on them. _txlock=immediate takes the write lock at BEGIN,
	// so two writers wait on the busy timeout rather than failing to upgrade a
	// read lock. synchronous=NORMAL is safe in WAL mode: a committed batch
	// survives a crash of the process; a power loss may lose the last batches,
	// which a resumed run requests again.
	dsn += "?_foreign_keys=on&_busy_timeout=10000&_txlock=immediate"
	if !memory {
		dsn += "&_journal_mode=WAL&_synchronous=NORMAL"
	}
	if db.db, err = sql.Open("sqlite3", dsn); err != nil {
		return fmt.Errorf("open store %s: %w", db.DSN, err)
	}
	if memory {
		// Every connection to ":memory:" is a database of its own.
		db.db.SetMaxOpenConns(1)
	}
	defer func() {
		if err != nil {
			db.db.Close()
		}
	}()
	if err := db.migrate(); err != nil {
		err = classify(db.DSN, false, err)
		if dir := filepath.Dir(db.DSN); errors.Is(err, ErrReadOnly) && !memory && writable(dir) != nil {
			// Opened to read (AllowReadOnly), in a read-only directory.
			err = &pathError{"directory " + dir + " is read-only; SQLite creates the -shm file of a WAL database beside it, even to read it", ErrReadOnly}
		}
		return fmt.Errorf("open store %s: %w", db.DSN, err)
	}
	if err := db.quickCheck(db.ctx, historyTables...); err != nil {
		return fmt.Errorf("open store %s: %w", db.DSN, err)
	}
	return nil
}

// migrate applies the embedded migrations the database has not recorded, each
// in its own transaction, in the order of their file names.
func (db *DB) migrate() error {
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)

	tx, err := db.db.BeginTx(db.ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var tables, hasMigrations int
	if err := tx.QueryRow(`SELECT count(*), coalesce(sum(name = 'migrations'), 0) FROM sqlite_schema WHERE type = 'table'`).Scan(&tables, &hasMigrations); err != nil {
		return err
	}
	if tables > 0 && hasMigrations == 0 {
		return fmt.Errorf("%w: it has tables but no migrations table", ErrNotDatabase)
	}
	if _, err := tx.Exec(`CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	rows, err := tx.Query(`SELECT name FROM migrations ORDER BY name`)
	if err != nil {
		return err
	}
	applied := make(map[string]bool)
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		applied[name] = true
	}
	if err := rows.Close(); err != nil {
		return err
	}
	known := make(map[string]bool, len(names))
	for _, name := range names {
		known[name] = true
	}
	for name := range applied {
		if !known[name] {
			return fmt.Errorf("%w: it has migration %s, which this evalpin does not know", ErrNewerSchema, name)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}

	for _, name := range names {
		if applied[name] {
			continue
		}
		if err := db.migrateFile(name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// migrateFile applies one migration unless another process applied it first.
func (db *DB) migrateFile(name string) error {
	body, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	tx, err := db.db.BeginTx(db.ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.Exec(string(body)); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO migrations (name, applied) VALUES (?, ?)`, name, formatTime(db.now())); err != nil {
		return err
	}
	return tx.Commit()
}

// Close flushes and stops the writers still open, then closes the database.
// It returns the first error of either.
func (db *DB) Close() error {
	db.mu.Lock()
	db.closed = true
	writers := make([]*Writer, 0, len(db.writers))
	for w := range db.writers {
		writers = append(writers, w)
	}
	db.mu.Unlock()

	var errs []error
	for _, w := range writers {
		errs = append(errs, w.Close())
	}
	db.cancel()
	if db.db != nil {
		errs = append(errs, db.db.Close())
	}
	db.mu.Lock()
	locks := db.runLock
	db.mu.Unlock()
	if locks != nil {
		errs = append(errs, locks.close())
	}
	return errors.Join(errs...)
}

// QuickCheck runs SQLite's quick_check over the whole database and returns an
// error matching ErrCorrupt that lists the first problems it found, if any.
// It reads every page, about a second per GB, so no command runs it unasked
// ("evalpin runs --check" does); Open checks only the small tables every
// command reads.
func (db *DB) QuickCheck(ctx context.Context) error {
	if err := db.quickCheck(ctx); err != nil {
		return fmt.Errorf("check %s: %w", db.DSN, err)
	}
	return nil
}

// IntegrityCheck runs SQLite's integrity check, which also checks that every
// index matches its table (slower than QuickCheck, about twice as long), and
// returns an error listing the problems it found, if any. Tests use it.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	rows, err := db.db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check: %s", strings.Join(problems, "; "))
	}
	return nil
}

// now returns the current time from the injected clock, in UTC.
func (db *DB) now() time.Time {
	if db.Now == nil {
		return time.Now().UTC()
	}
	return db.Now().UTC()
}

// timeFormat is how times are stored: RFC 3339 with nanoseconds, in UTC, so
// that text order is time order.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// parseTime parses a stored time; NULL is the zero time.
func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s.String, err)
	}
	return t.UTC(), nil
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(t), Valid: true}
}

// ErrNoDatabase means that no database exists at the path a command that
// only reads history was given.
var ErrNoDatabase = errors.New("no database")

// An OpenError is an error of opening the database at Path: Open's, or
// ErrNoDatabase. It says which path; the error it wraps says what is wrong.
type OpenError struct {
	Path string
	Err  error
}

func (e *OpenError) Error() string { return e.Err.Error() }
func (e *OpenError) Unwrap() error { return e.Err }

// OpenFile opens the database at path (DB.Open) for a command that writes,
// creating it, and the directories above it, where none exists (a project's
// .evalpin/history.db); or, with history, for a command that only reads it:
// that one needs a database to exist (ErrNoDatabase), and can read a file it
// cannot write. Every error is an *OpenError.
func OpenFile(path string, history bool) (*DB, error) {
	switch {
	case path == ":memory:":
	case history:
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, &OpenError{path, fmt.Errorf("%w at %s", ErrNoDatabase, path)}
		}
	default:
		os.MkdirAll(filepath.Dir(path), 0o755) // where it cannot, Open says why
	}
	db := NewDB(path)
	db.AllowReadOnly = history
	if err := db.Open(); err != nil {
		return nil, &OpenError{path, err}
	}
	return db, nil
}
