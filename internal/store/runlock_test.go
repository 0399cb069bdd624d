package store_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/store"
)

// lockChildEnv names the database and run ("PATH|RUN") whose lock the
// re-executed test binary takes and holds until it is killed.
const lockChildEnv = "EVALPIN_STORE_LOCK_CHILD"

// lockChild takes the lock of a run, says so, and waits to be killed.
func lockChild(spec string) {
	path, id, _ := strings.Cut(spec, "|")
	runID, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	db, err := store.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := db.LockRun(runID); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("locked")
	time.Sleep(time.Hour)
	os.Exit(3)
}

// wantLocked checks that err is the refusal of run id held by pid.
func wantLocked(t *testing.T, err error, id int64, pid int) {
	t.Helper()
	var le *store.RunLockedError
	if !errors.Is(err, store.ErrRunLocked) || !errors.As(err, &le) {
		t.Fatalf("LockRun error = %v, want a *RunLockedError", err)
	}
	if le.Run != id || le.PID != pid || le.Host != "" {
		t.Errorf("RunLockedError %+v, want run %d held by pid %d on this host", le, id, pid)
	}
	if want := fmt.Sprintf("run %d is being run by another evalpin process (pid %d)", id, pid); err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// Two handles of one database in one process conflict as two processes do;
// locks of different runs do not; unlock and Close release.
func TestLockRun_Handles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evalpin.db")
	a, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	unlockA1, err := a.LockRun(1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.LockRun(1)
	wantLocked(t, err, 1, os.Getpid())
	_, err = a.LockRun(1) // the holder itself: once is enough
	wantLocked(t, err, 1, os.Getpid())
	if _, err := b.LockRun(2); err != nil {
		t.Fatalf("another run: %v", err)
	}
	if err := unlockA1(); err != nil {
		t.Fatal(err)
	}
	if err := unlockA1(); err != nil {
		t.Fatalf("a second unlock: %v", err)
	}
	if _, err := b.LockRun(1); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	_, err = a.LockRun(2)
	wantLocked(t, err, 2, os.Getpid())
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1, 2} {
		if _, err := a.LockRun(id); err != nil {
			t.Fatalf("run %d after the holder closed: %v", id, err)
		}
	}

	// One lock file for every run, and its lines gone with their locks.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "evalpin.db evalpin.db-runlock" {
		t.Errorf("files %q, want the database and one lock file", names)
	}
	if data, err := os.ReadFile(path + "-runlock"); err != nil || len(data) != 0 {
		t.Errorf("lock file holds %q (%v), want nothing once every lock is released", data, err)
	}
}

// A ":memory:" database is private to its handle: nothing to lock.
func TestLockRun_Memory(t *testing.T) {
	db, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 2 {
		unlock, err := db.LockRun(1)
		if err != nil {
			t.Fatal(err)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
	}
}

// A run another process holds is refused, naming that process; once the
// holder is killed (SIGKILL: no chance to clean up), its lock is gone.
func TestLockRun_KilledHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "evalpin.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := mustCreateRun(t, db, "sha256:aa")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", lockChildEnv, path, run.ID))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v; want locked", line, err)
	}

	_, err = db.LockRun(run.ID)
	wantLocked(t, err, run.ID, cmd.Process.Pid)

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	unlock, err := db.LockRun(run.ID)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}
