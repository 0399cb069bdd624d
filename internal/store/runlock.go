package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Run locks
//
// LockRun keeps two evalpin processes from replaying one run at once. The
// lock is an advisory byte-range lock on one file beside the database,
// PATH-runlock, at offset runLockBase + the run's id: one file serves every
// run, so locking leaves nothing behind per run, and the operating system
// releases a process's locks when it ends, however it ends, so a crashed run
// is never locked for good.
//
//   - Linux: open file description locks (fcntl F_OFD_SETLK). They belong to
//     an open file, not to a process, so two DB handles of one process
//     conflict as two processes do.
//   - Windows: LockFileEx, whose locks belong to a handle likewise.
//   - Other Unixes: POSIX record locks (F_SETLK), which belong to the
//     process; a table in the process makes two DB handles conflict there
//     too, and one shared descriptor keeps a Close from dropping another
//     handle's locks.
//   - Elsewhere (no cgo, hence no SQLite, in practice): no lock.
//
// So that a refused LockRun can name the process that holds the run, the
// file holds one line per holder, "OFFSET PID HOST", which the holder writes
// after taking its lock and removes before releasing it; a holder that dies
// leaves its line, which the next holder of that offset replaces. The lines
// are guarded by a lock at runLockBase itself. The locks lie far past the
// lines, because Windows forbids reading bytes another handle has locked.

// runLockBase is the offset of the lines' guard; a run's lock is at
// runLockBase + its id.
const runLockBase = 1 << 40

// runLockSuffix is appended to the database's path to name its lock file.
const runLockSuffix = "-runlock"

// ErrRunLocked is matched (errors.Is) by the *RunLockedError of a run
// another process, or another DB handle, holds.
var ErrRunLocked = errors.New("run is locked by another evalpin process")

// A RunLockedError says that a run is being run elsewhere, and by whom when
// that is known.
type RunLockedError struct {
	Run  int64
	PID  int    // the holder's process id; 0 when unknown
	Host string // the holder's host name, when it is not this host
}

func (e *RunLockedError) Error() string {
	switch {
	case e.PID != 0 && e.Host != "":
		return fmt.Sprintf("run %d is being run by another evalpin process (pid %d on %s)", e.Run, e.PID, e.Host)
	case e.PID != 0:
		return fmt.Sprintf("run %d is being run by another evalpin process (pid %d)", e.Run, e.PID)
	}
	return fmt.Sprintf("run %d is being run by another evalpin process", e.Run)
}

// Is makes a *RunLockedError match ErrRunLocked.
func (e *RunLockedError) Is(target error) bool { return target == ErrRunLocked }

// LockRun takes the lock of run id for as long as this DB stays open or
// until unlock is called, whichever comes first. When another process, or
// another DB handle of this one, holds it, LockRun fails at once with a
// *RunLockedError (matching ErrRunLocked). For a ":memory:" database, which
// no other handle can see, it locks nothing. unlock may be called more than
// once.
func (db *DB) LockRun(id int64) (unlock func() error, err error) {
	if db.DSN == ":memory:" {
		return func() error { return nil }, nil
	}
	if id < 1 || id > 1<<40 {
		return nil, fmt.Errorf("lock run %d: not a run id", id)
	}
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil, fmt.Errorf("lock run %d: the database is closed", id)
	}
	l := db.runLock
	if l == nil {
		perm := fs.FileMode(0o666) // less the umask
		if fi, err := os.Stat(db.DSN); err == nil {
			perm = fi.Mode().Perm() // whoever may write the database may lock its runs
		}
		f, err := openLockFile(db.DSN+runLockSuffix, perm)
		if err != nil {
			db.mu.Unlock()
			return nil, fmt.Errorf("lock run %d: %w", id, err)
		}
		l = &runLocks{f: f, held: map[int64]bool{}}
		db.runLock = l
	}
	db.mu.Unlock()
	return l.lock(id)
}

// A lockFile is the platform's byte-range locks on the run lock file. Each
// lock covers one byte. tryLock takes an exclusive lock at off without
// waiting and reports whether it got it; lockGuard waits for the lock at
// runLockBase, which guards the holders' lines.
type lockFile interface {
	tryLock(off int64) (bool, error)
	unlock(off int64) error
	lockGuard() error
	unlockGuard() error
	file() *os.File
	close() error // releases every lock of this lockFile
}

// runLocks are the run locks a DB holds.
type runLocks struct {
	mu   sync.Mutex
	f    lockFile
	held map[int64]bool // run ids
	gone bool           // closed
}

// lock takes the lock of run id.
func (l *runLocks) lock(id int64) (func() error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return nil, fmt.Errorf("lock run %d: the database is closed", id)
	}
	off := runLockBase + id
	if l.held[id] {
		// This very handle runs it; a lock on the same open file would
		// not conflict with itself.
		return nil, &RunLockedError{Run: id, PID: os.Getpid()}
	}
	ok, err := l.f.tryLock(off)
	if err != nil {
		return nil, fmt.Errorf("lock run %d: %w", id, err)
	}
	if !ok {
		e := &RunLockedError{Run: id}
		if h, ok := l.holder(off); ok {
			e.PID = h.pid
			if h.host != hostname() {
				e.Host = h.host
			}
		}
		return nil, e
	}
	l.held[id] = true
	// The holder's line is a courtesy to whoever is refused: failing to
	// write it does not fail the lock.
	_ = l.edit(func(hs []holder) []holder {
		return append(dropHolder(hs, off), holder{off, os.Getpid(), hostname()})
	})
	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			uerr = l.release(id)
		})
		return uerr
	}, nil
}

// release gives up the lock of run id, if this handle holds it; l.mu is held.
func (l *runLocks) release(id int64) error {
	if !l.held[id] || l.gone {
		return nil
	}
	off := runLockBase + id
	_ = l.edit(func(hs []holder) []holder { return dropHolder(hs, off) })
	delete(l.held, id)
	if err := l.f.unlock(off); err != nil {
		return fmt.Errorf("unlock run %d: %w", id, err)
	}
	return nil
}

// close releases every lock and closes the file.
func (l *runLocks) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return nil
	}
	var errs []error
	for id := range l.held {
		errs = append(errs, l.release(id))
	}
	l.gone = true
	errs = append(errs, l.f.close())
	return errors.Join(errs...)
}

// A holder is one line of the lock file.
type holder struct {
	off  int64
	pid  int
	host string
}

// holder returns the line of the holder of the lock at off, if there is one.
func (l *runLocks) holder(off int64) (holder, bool) {
	var found holder
	ok := false
	_ = l.edit(func(hs []holder) []holder {
		for _, h := range hs {
			if h.off == off {
				found, ok = h, true
			}
		}
		return nil // unchanged
	})
	return found, ok
}

// edit reads the holders' lines under their guard and, when change returns
// a non-nil list, writes that list in their place.
func (l *runLocks) edit(change func([]holder) []holder) error {
	if err := l.f.lockGuard(); err != nil {
		return err
	}
	defer l.f.unlockGuard()
	f := l.f.file()
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err != nil {
		return err
	}
	hs := parseHolders(data)
	next := change(hs)
	if next == nil {
		return nil
	}
	var b bytes.Buffer
	for _, h := range next {
		fmt.Fprintf(&b, "%d %d %s\n", h.off, h.pid, h.host)
	}
	if _, err := f.WriteAt(b.Bytes(), 0); err != nil {
		return err
	}
	return f.Truncate(int64(b.Len()))
}

// hostname returns this host's name as the lock file records it: one word,
// "-" when unknown.
func hostname() string {
	h, _ := os.Hostname()
	if h = strings.Join(strings.Fields(h), "_"); h == "" {
		return "-"
	}
	return h
}

// parseHolders parses the lock file's lines, skipping any it cannot read (a
// holder that died while writing them).
func parseHolders(data []byte) []holder {
	var hs []holder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) != 3 {
			continue
		}
		off, err1 := strconv.ParseInt(string(f[0]), 10, 64)
		pid, err2 := strconv.Atoi(string(f[1]))
		if err1 != nil || err2 != nil || off <= runLockBase || pid <= 0 {
			continue
		}
		hs = append(hs, holder{off, pid, string(f[2])})
	}
	return hs
}

// dropHolder returns hs without the line of the lock at off, never nil.
func dropHolder(hs []holder, off int64) []holder {
	out := make([]holder, 0, len(hs)+1)
	for _, h := range hs {
		if h.off != off {
			out = append(out, h)
		}
	}
	return out
}
