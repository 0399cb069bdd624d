package main

// The time of the whole "evalpin lock verify" command on an unchanged
// directory (make bench): internal/lock's BenchmarkVerifyCached measures the
// verify itself; this adds the process's start-up.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lockVerifyBudget is the budget of "evalpin lock verify" on an unchanged
// directory of lockVerifyFiles files with a warm hash cache.
const (
	lockVerifyBudget = 25 * time.Millisecond
	lockVerifyFiles  = 1_000
)

// BenchmarkLockVerifyCommand runs "evalpin lock verify DIR LOCK" as its own
// process on an unchanged directory of 1,000 files of 1 KiB whose hashes
// the cache holds, and "evalpin version" beside it, ten times each an
// iteration (ns/op covers both), and reports the mean CPU time
// (user+sys, from the process's rusage; a loaded machine inflates it less
// than wall time) of each per run: verify-cpu-ms and startup-cpu-ms (what
// any command costs before it starts its work), and the verify's against the
// 25 ms budget (cmd-cpu/budget; a line "over the budget" when missed, which
// does not fail the benchmark).
func BenchmarkLockVerifyCommand(b *testing.B) {
	dir := b.TempDir()
	bin := runBenchBuild(b, dir, "cmd/evalpin")
	model := filepath.Join(dir, "model")
	old := time.Now().Add(-time.Hour) // older than the cache's racy window
	for i := range lockVerifyFiles {
		p := filepath.Join(model, fmt.Sprintf("shard-%02d", i%10), fmt.Sprintf("file-%05d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprint(i), 1024)[:1024]), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			b.Fatal(err)
		}
	}
	lockFile := filepath.Join(dir, "evalpin.lock")
	env := append(os.Environ(), "EVALPIN_CACHE_DIR="+filepath.Join(dir, "cache"))
	cmd := func(args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env = env
		return c
	}
	measureProc(b, cmd("lock", "create", model, "-o", lockFile))
	measureProc(b, cmd("lock", "verify", model, lockFile)) // the cache is warm
	// Ten runs of each an iteration, in turn, so that one iteration (make
	// bench) averages over some of the machine's noise.
	const runs = 10
	var verify, startup time.Duration
	for b.Loop() {
		for range runs {
			verify += measureProc(b, cmd("lock", "verify", model, lockFile)).cpu
			startup += measureProc(b, cmd("version")).cpu
		}
	}
	verify /= time.Duration(runs * b.N)
	startup /= time.Duration(runs * b.N)
	b.ReportMetric(float64(verify)/1e6, "verify-cpu-ms")
	b.ReportMetric(float64(startup)/1e6, "startup-cpu-ms")
	b.ReportMetric(float64(verify)/float64(lockVerifyBudget), "cmd-cpu/budget")
	if verify > lockVerifyBudget {
		b.Logf("evalpin lock verify of %d unchanged files: %.1f ms CPU a run, over the budget of %v (%.1f ms of it is start-up, as 'evalpin version' takes)",
			lockVerifyFiles, float64(verify)/1e6, lockVerifyBudget, float64(startup)/1e6)
	}
}
