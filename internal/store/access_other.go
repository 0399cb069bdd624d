//go:build !unix

package store

import (
	"errors"
	"os"
)

// writable reports, as an error, whether the file at path is marked
// read-only. (On Windows a directory's read-only attribute does not stop
// files from being created in it.)
func writable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() && fi.Mode().Perm()&0o200 == 0 {
		return errors.New("the file is marked read-only")
	}
	return nil
}
