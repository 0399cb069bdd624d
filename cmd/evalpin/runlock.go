package main

import (
	"errors"
	"io/fs"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/store"
)

// runLockError adds the advice to an error of taking a run's lock
// (store.LockRun, through runs.Begin). A run another process holds is a busy
// error (exit 7) that names the run and, where known, the holder's pid: not
// an input error, since the same command succeeds once the holder is done.
func runLockError(err error) error {
	switch {
	case errors.Is(err, store.ErrRunLocked):
		return fault.Errorf(fault.Busy,
			"wait for it to end (then the same command resumes the run, or finds it complete), or pass --fresh to start a new run",
			"%w", err)
	case errors.Is(err, fs.ErrPermission):
		return fault.Errorf(fault.Input,
			"make the run lock file writable by you, or delete it while no evalpin runs on this database",
			"%w", err)
	}
	return err
}
