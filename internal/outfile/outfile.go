// Package outfile writes a command's output file whole or not at all: a
// temporary file in the same directory, synced and renamed over the path
// (renameio), so an interrupted or failed write never leaves half a file or
// destroys the previous one. What is written is redacted of the process's
// secrets (internal/secret), as standard output is: a report quotes outputs
// and errors, a lock document what a server published.
package outfile

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

// ErrDir marks the error of a file whose directory is missing or not
// writable: an input error.
var ErrDir = errors.New("the output file's directory is missing or not writable")

// WriteMakingDir is Write, making path's directory first where it is
// missing: for a file a project names (its baselines/, its reports/),
// where a missing directory is not a mistyped path. Where the directory
// cannot be made, Write says why.
func WriteMakingDir(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path != "" {
		os.MkdirAll(filepath.Dir(path), 0o755)
	}
	return Write(path, stdout, write)
}

// Write hands write stdout when path is "", and otherwise a file that
// replaces path atomically once write returns nil.
func Write(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); err != nil {
		return fault.Mark(fault.Errorf(fault.Input, "", "write %s: %w", path, err), ErrDir)
	}
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithPermissions(0o644))
	if err != nil {
		return fault.Mark(fault.Errorf(fault.Input, "", "write %s: directory %s is not writable: %w", path, dir, errors.Unwrap(err)), ErrDir)
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
