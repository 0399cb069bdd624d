//go:build !linux

package suites

import (
	"fmt"
	"os"
)

// fileID is fi's FileID: its size and modification time, where no inode
// and change time are read (Linux reads them).
func fileID(fi os.FileInfo) FileID {
	return FileID(fmt.Sprintf("%s:%d:%d", fi.Name(), fi.Size(), fi.ModTime().UnixNano()))
}
