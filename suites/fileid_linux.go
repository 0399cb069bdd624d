//go:build linux

package suites

import (
	"fmt"
	"os"
	"syscall"
)

// fileID is fi's FileID: device, inode, size, modification and change
// times.
func fileID(fi os.FileInfo) FileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return FileID(fmt.Sprintf("%d:%d:%d:%d:%d", st.Dev, st.Ino, fi.Size(), fi.ModTime().UnixNano(), st.Ctim.Nano()))
	}
	return FileID(fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano()))
}
