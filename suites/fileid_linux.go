//go:build linux

package suites

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// fileID is fi's FileID: device, inode, size, modification and change
// times.
func fileID(fi os.FileInfo) FileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return FileID(fmt.Sprintf("%d:%d:%d:%d:%d", st.Dev, st.Ino, fi.Size(), fi.ModTime().UnixNano(), st.Ctim.Nano()))
	}
	return FileID(fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano()))
}

// offHeap returns an empty slice of capacity n in memory mapped apart from
// Go's heap, and the function that unmaps it: the index of a suite's ids,
// held for the whole run, then counts once in the resident set rather than
// again in the garbage collector's headroom, and never grows by copying.
// Pages never written take no memory. ok is false when n is 0 or the
// mapping failed; the caller then uses the heap.
func offHeap(n int) (s []uint64, unmap func(), ok bool) {
	if n <= 0 {
		return nil, nil, false
	}
	b, err := syscall.Mmap(-1, 0, n*8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil, nil, false
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), n)[:0], func() { syscall.Munmap(b) }, true
}
