package store

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ofdFile locks byte ranges with open file description locks, which belong
// to this open file: another DB handle's open of the same file conflicts
// with them, in this process or another, and the kernel drops them when the
// file is closed or the process dies.
type ofdFile struct{ f *os.File }

func openLockFile(path string, perm fs.FileMode) (lockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	return &ofdFile{f}, nil
}

// lk returns the one-byte range at off, of type typ.
func lk(typ int16, off int64) *unix.Flock_t {
	return &unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: off, Len: 1}
}

func (o *ofdFile) tryLock(off int64) (bool, error) {
	err := unix.FcntlFlock(o.f.Fd(), unix.F_OFD_SETLK, lk(unix.F_WRLCK, off))
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	return err == nil, err
}

func (o *ofdFile) unlock(off int64) error {
	return unix.FcntlFlock(o.f.Fd(), unix.F_OFD_SETLK, lk(unix.F_UNLCK, off))
}

func (o *ofdFile) lockGuard() error {
	for {
		err := unix.FcntlFlock(o.f.Fd(), unix.F_OFD_SETLKW, lk(unix.F_WRLCK, runLockBase))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func (o *ofdFile) unlockGuard() error { return o.unlock(runLockBase) }

func (o *ofdFile) file() *os.File { return o.f }
func (o *ofdFile) close() error   { return o.f.Close() }
