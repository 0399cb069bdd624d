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

// offHeap reports that no memory apart from Go's heap is used here.
func offHeap(int) ([]uint64, func(), bool) { return nil, nil, false }
