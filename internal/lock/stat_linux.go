package lock

import (
	"os"
	"syscall"
)

// devIno returns the device and inode numbers and the status change time (ns)
// of the file fi describes.
func devIno(fi os.FileInfo) (dev, ino uint64, ctime int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Dev, st.Ino, st.Ctim.Nano()
	}
	return 0, 0, 0
}
