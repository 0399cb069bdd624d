//go:build unix && !linux

package lock

import (
	"os"
	"syscall"
)

// devIno returns the device and inode numbers of the file fi describes, and 0
// for the change time, which this system's Stat_t names differently.
func devIno(fi os.FileInfo) (dev, ino uint64, ctime int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino), 0 // the field types differ across systems
	}
	return 0, 0, 0
}
