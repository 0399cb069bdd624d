package main

import (
	"errors"
	"io/fs"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/store"
)

// runLockRun takes the lock of run id for this process until the returned
// function is called or the database closed, so that two evalpin processes
// never both request its case samples. A run another process holds is a busy
// error (exit 7) that names the run and, where known, the holder's pid: not
// an input error, since the same command succeeds once the holder is done.
func runLockRun(db *store.DB, id int64) (unlock func() error, err error) {
	unlock, err = db.LockRun(id)
	switch {
	case errors.Is(err, store.ErrRunLocked):
		return nil, fault.Errorf(fault.Busy,
			"wait for it to end (then the same command resumes the run, or finds it complete), or pass --fresh to start a new run",
			"%w", err)
	case errors.Is(err, fs.ErrPermission):
		return nil, fault.Errorf(fault.Input,
			"make the run lock file writable by you, or delete it while no evalpin runs on this database",
			"%w", err)
	case err != nil:
		return nil, err
	}
	return unlock, nil
}
