package lock

import (
	"os"
	"syscall"
)

// devIno returns the device and inode numbers and the status change time (ns)
// of the file fi describes (by os.Stat or by dirStat).
func devIno(fi os.FileInfo) (dev, ino uint64, ctime int64) {
	switch st := fi.Sys().(type) {
	case *syscall.Stat_t:
		return st.Dev, st.Ino, st.Ctim.Nano()
	case *statInfo:
		return st.dev, st.ino, st.ctime
	}
	return 0, 0, 0
}
