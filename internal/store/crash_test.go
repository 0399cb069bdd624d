package store_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/store"
)

// crashEnv names the database the re-executed test binary writes to until it
// is killed.
const crashEnv = "EVALPIN_STORE_CRASH_CHILD"

// crashCases is how many results the child would write if it were not killed.
const crashCases = 1_000_000

// TestMain lets the test binary act as the child of TestWriter_KillResume
// and of TestLockRun_KilledHolder.
func TestMain(m *testing.M) {
	if spec := os.Getenv(crashEnv); spec != "" {
		crashChild(spec)
		return
	}
	if spec := os.Getenv(lockChildEnv); spec != "" {
		lockChild(spec)
		return
	}
	os.Exit(m.Run())
}

// crashChild writes results to run spec="path:runID" in a loop and prints how
// many are committed, until it is killed.
func crashChild(spec string) {
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
	w := db.NewWriter(context.Background(), runID, store.WriterOptions{BatchSize: 50, FlushInterval: time.Millisecond})
	for i := range crashCases {
		if err := w.Put(result(i, 0)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if i%25 == 0 {
			// Acknowledged: committed before this line was written.
			fmt.Printf("stored %d\n", w.Stored())
		}
	}
	fmt.Fprintln(os.Stderr, "child finished without being killed")
	os.Exit(3)
}

// TestWriter_KillResume kills a process that is writing results with SIGKILL,
// then checks that the database is intact, that every acknowledged result
// survived and none is stored twice, and that resuming stores each case
// exactly once.
func TestWriter_KillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "evalpin.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	run := mustCreateRun(t, db, "sha256:aa")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", crashEnv, path, run.ID))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the child mid-run, once it has committed a good number of batches.
	const killAfter = 2000
	var acked int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "stored "), 10, 64)
		if err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		acked = n
		if acked >= killAfter {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // drain what the child wrote before it died
	}
	err = cmd.Wait()
	if acked < killAfter {
		t.Fatalf("child stopped after acknowledging %d results: %v", acked, err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", cmd.ProcessState)
	}

	// Reopen: intact, every acknowledged result is there, none twice.
	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	var rows, distinct int
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.QueryRow(`SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT run_id, case_id, sample FROM results)) FROM results`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct {
		t.Fatalf("%d rows but %d distinct (run, case, sample)", rows, distinct)
	}
	done, err := db.Done(ctx, run.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := done.Len()
	t.Logf("child acknowledged %d results; %d are stored", acked, stored)
	if int64(stored) < acked {
		t.Fatalf("%d results stored, but %d were acknowledged", stored, acked)
	}
	if stored >= crashCases {
		t.Fatalf("all %d results stored; the child was not killed mid-run", stored)
	}
	// Batches commit in Put order, so what is stored is a prefix.
	for i := range stored {
		if !done.Has(result(i, 0).CaseID, 0) {
			t.Fatalf("case %d missing, but %d results are stored", i, stored)
		}
	}

	// Resume: find the run, write what is missing (a few cases twice over,
	// as a run that lost its acknowledgement might), and check each case is
	// stored exactly once.
	resumed, err := db.FindResumable(ctx, run.Lock, run.SuiteHash, run.SettingsHash, "")
	if err != nil {
		t.Fatal(err)
	}
	if resumed.ID != run.ID {
		t.Fatalf("FindResumable=%d, want %d", resumed.ID, run.ID)
	}
	const total = killAfter * 2
	w := db.NewWriter(ctx, run.ID, store.WriterOptions{BatchSize: 100})
	for i := range total {
		if !done.Has(result(i, 0).CaseID, 0) || i >= stored-10 {
			if err := w.Put(result(i, 0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRunStatus(ctx, run.ID, eval.RunComplete); err != nil {
		t.Fatal(err)
	}
	rs, err := db.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := max(total, stored) // the child may have got further than the resume goes
	if len(rs) != want {
		t.Fatalf("%d results after resuming, want %d", len(rs), want)
	}
	for i, r := range rs {
		if got, want := r.CaseID, result(i, 0).CaseID; got != want {
			t.Fatalf("result %d is case %s, want %s", i, got, want)
		}
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}
