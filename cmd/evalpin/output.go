package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/secret"
	"github.com/google/renameio/v2"
)

// writeOutput hands write standard output when path is "" (the -o flag not
// given), and otherwise a file that replaces path atomically (renameio: a
// temporary file in the same directory, synced and renamed over path), so an
// interrupted or failed write never leaves half a file or destroys the
// previous one. A directory that is missing or not writable is an input
// error. The file is redacted of the process's secrets, as standard output
// is: a report quotes outputs and errors, a lock document what a server
// published.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	const hint = "pass -o a path in an existing, writable directory"
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); err != nil {
		return fault.Errorf(fault.Input, hint, "write %s: %w", path, err)
	}
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithPermissions(0o644))
	if err != nil {
		return fault.Errorf(fault.Input, hint, "write %s: directory %s is not writable: %w", path, dir, errors.Unwrap(err))
	}
	defer f.Cleanup() // a no-op once replaced
	bw := bufio.NewWriterSize(f, 1<<16)
	sw := secret.NewWriter(bw)
	err = write(sw)
	for _, flush := range []func() error{sw.Flush, bw.Flush, f.CloseAtomicallyReplace} {
		if err == nil {
			err = flush()
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// unwrapWriter returns the writer under the redacting writers (and any other
// writer with an Unwrap method) around w: the process's stdout or stderr,
// to tell whether it is a terminal.
func unwrapWriter(w io.Writer) io.Writer {
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}
