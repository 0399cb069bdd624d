package lock

import (
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// A dirStat stats files relative to their directory, kept open while the
// files it stats are in it: the kernel then resolves one name instead of the
// whole path, which makes the stat per file of a cached verify about half as
// dear. Close it when done.
type dirStat struct {
	dir string // the open directory, with its trailing separator
	fd  int    // -1 when none is open
}

// newDirStat returns a dirStat with no directory open.
func newDirStat() *dirStat { return &dirStat{fd: -1} }

// lstat returns the FileInfo of the file p, a symlink itself, as os.Lstat
// does; its Sys is a *statInfo.
func (d *dirStat) lstat(p string) (os.FileInfo, error) {
	dir, name := filepath.Split(p)
	if dir != d.dir || d.fd < 0 {
		d.close()
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return os.Lstat(p)
		}
		d.dir, d.fd = dir, fd
	}
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	for err == unix.EINTR {
		err = unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	return &statInfo{name: name, mode: st.Mode, size: st.Size, dev: st.Dev, ino: st.Ino,
		mtime: time.Unix(st.Mtim.Unix()), ctime: st.Ctim.Nano()}, nil
}

// close closes the open directory, if any.
func (d *dirStat) close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
	}
	d.dir, d.fd = "", -1
}

// A statInfo is the FileInfo of a file dirStat stat'ed: what a walk and
// the hash cache read of it (devIno), not the whole stat.
type statInfo struct {
	name     string
	mode     uint32
	size     int64
	dev, ino uint64
	mtime    time.Time
	ctime    int64 // ns
}

// Name, Size, ModTime, IsDir and Sys are those of os.FileInfo; Sys is the
// statInfo itself.
func (s *statInfo) Name() string       { return s.name }
func (s *statInfo) Size() int64        { return s.size }
func (s *statInfo) ModTime() time.Time { return s.mtime }
func (s *statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s *statInfo) Sys() any           { return s }

// Mode returns the file's permission bits and its type: a directory, a
// symlink, a regular file, or else irregular (walk keeps regular files only).
func (s *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(s.mode & 0o777)
	switch s.mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	default:
		m |= fs.ModeIrregular
	}
	return m
}
