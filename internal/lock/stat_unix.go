//go:build unix

package lock

import (
	"os"
	"syscall"
)

// devIno returns the device and inode numbers of the file fi describes.
func devIno(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) // the field types differ across systems
	}
	return 0, 0
}
