//go:build unix

package store

import "golang.org/x/sys/unix"

// writable reports, as an error, whether this process may write the file or
// directory at path: access(2) asks the kernel, which knows about read-only
// mounts, ACLs and root as well as the mode bits.
func writable(path string) error {
	return unix.Access(path, unix.W_OK)
}
