//go:build !linux

package lock

import "os"

// A dirStat stats files; where it is not Linux's, by their whole path.
type dirStat struct{}

// newDirStat returns a dirStat.
func newDirStat() *dirStat { return &dirStat{} }

// lstat returns the FileInfo of the file p, a symlink itself (os.Lstat).
func (*dirStat) lstat(p string) (os.FileInfo, error) { return os.Lstat(p) }

// close does nothing: no directory is kept open.
func (*dirStat) close() {}
