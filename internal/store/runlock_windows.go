package store

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// winFile locks byte ranges with LockFileEx. The locks belong to this file
// handle: another open of the file conflicts with them, in this process or
// another, and Windows drops them when the handle is closed or the process
// ends. They are mandatory for the bytes they cover, which is why the locks
// lie past the holders' lines.
type winFile struct{ f *os.File }

func openLockFile(path string, perm fs.FileMode) (lockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	return &winFile{f}, nil
}

// at returns the overlapped structure that addresses the byte at off.
func at(off int64) *windows.Overlapped {
	return &windows.Overlapped{Offset: uint32(off), OffsetHigh: uint32(off >> 32)}
}

func (w *winFile) tryLock(off int64) (bool, error) {
	err := windows.LockFileEx(windows.Handle(w.f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, at(off))
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}

func (w *winFile) unlock(off int64) error {
	return windows.UnlockFileEx(windows.Handle(w.f.Fd()), 0, 1, 0, at(off))
}

func (w *winFile) lockGuard() error {
	return windows.LockFileEx(windows.Handle(w.f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, at(runLockBase))
}

func (w *winFile) unlockGuard() error { return w.unlock(runLockBase) }
func (w *winFile) file() *os.File     { return w.f }
func (w *winFile) close() error       { return w.f.Close() }
