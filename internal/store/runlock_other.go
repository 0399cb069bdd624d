//go:build !unix && !windows

package store

import (
	"io/fs"
	"os"
)

// noLockFile locks nothing: this system has no byte-range locks evalpin
// uses (and, without cgo, no SQLite either). Only a second LockRun of one run
// on one DB handle is refused.
type noLockFile struct{ f *os.File }

func openLockFile(path string, perm fs.FileMode) (lockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	return &noLockFile{f}, nil
}

func (n *noLockFile) tryLock(int64) (bool, error) { return true, nil }
func (n *noLockFile) unlock(int64) error          { return nil }
func (n *noLockFile) lockGuard() error            { return nil }
func (n *noLockFile) unlockGuard() error          { return nil }
func (n *noLockFile) file() *os.File              { return n.f }
func (n *noLockFile) close() error                { return n.f.Close() }
