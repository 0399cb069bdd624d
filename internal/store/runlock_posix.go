//go:build unix && !linux

package store

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// POSIX record locks belong to the process, not to an open file: a process
// never conflicts with itself, and closing any of its descriptors of a file
// drops all its locks on that file. So this process opens each lock file
// once, shares the descriptor among the DB handles that lock in it, and keeps
// a table of which handle holds which lock.

// posixFiles are the lock files this process has open, by identity.
var posixFiles = struct {
	mu sync.Mutex
	m  map[posixID]*posixShared
}{m: map[posixID]*posixShared{}}

// A posixID identifies a file.
type posixID struct{ dev, ino uint64 }

// A posixShared is one open lock file.
type posixShared struct {
	id    posixID
	f     *os.File
	refs  int                  // DB handles using it; under posixFiles.mu
	mu    sync.Mutex           // guards held
	held  map[int64]*posixFile // the locks this process holds, by offset
	guard sync.Mutex           // the in-process half of the holders' guard
}

// A posixFile is one DB handle's use of a shared lock file.
type posixFile struct{ s *posixShared }

func openLockFile(path string, perm fs.FileMode) (lockFile, error) {
	posixFiles.mu.Lock()
	defer posixFiles.mu.Unlock()
	var st unix.Stat_t
	if unix.Stat(path, &st) == nil {
		if s := posixFiles.m[posixID{uint64(st.Dev), uint64(st.Ino)}]; s != nil {
			s.refs++
			return &posixFile{s}, nil
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	s := &posixShared{id: posixID{uint64(st.Dev), uint64(st.Ino)}, f: f, refs: 1, held: map[int64]*posixFile{}}
	posixFiles.m[s.id] = s
	return &posixFile{s}, nil
}

// lk returns the one-byte range at off, of type typ.
func lk(typ int16, off int64) *unix.Flock_t {
	return &unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: off, Len: 1}
}

func (p *posixFile) tryLock(off int64) (bool, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[off] != nil {
		return false, nil // another DB handle of this process holds it
	}
	err := unix.FcntlFlock(s.f.Fd(), unix.F_SETLK, lk(unix.F_WRLCK, off))
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.held[off] = p
	return true, nil
}

func (p *posixFile) unlock(off int64) error {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[off] != p {
		return nil
	}
	delete(s.held, off)
	return unix.FcntlFlock(s.f.Fd(), unix.F_SETLK, lk(unix.F_UNLCK, off))
}

func (p *posixFile) lockGuard() error {
	p.s.guard.Lock()
	for {
		err := unix.FcntlFlock(p.s.f.Fd(), unix.F_SETLKW, lk(unix.F_WRLCK, runLockBase))
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINTR) {
			p.s.guard.Unlock()
			return err
		}
	}
}

func (p *posixFile) unlockGuard() error {
	err := unix.FcntlFlock(p.s.f.Fd(), unix.F_SETLK, lk(unix.F_UNLCK, runLockBase))
	p.s.guard.Unlock()
	return err
}

func (p *posixFile) file() *os.File { return p.s.f }

func (p *posixFile) close() error {
	s := p.s
	var errs []error
	s.mu.Lock()
	for off, h := range s.held {
		if h == p {
			delete(s.held, off)
			errs = append(errs, unix.FcntlFlock(s.f.Fd(), unix.F_SETLK, lk(unix.F_UNLCK, off)))
		}
	}
	s.mu.Unlock()
	posixFiles.mu.Lock()
	defer posixFiles.mu.Unlock()
	if s.refs--; s.refs == 0 {
		delete(posixFiles.m, s.id)
		errs = append(errs, s.f.Close())
	}
	return errors.Join(errs...)
}
