package main

// How evalpin's time and memory grow with the size of a suite, from 1,000 to
// 1,000,000 cases (make bench).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/stubserver"
)

// The scaling benchmark's sizes, its concurrency, and the budget of the peak
// RSS of "evalpin run" on the largest suite: a run should stream its suite,
// not hold it.
const (
	scaleRSSBudgetMiB = 100
	scaleC            = 256
	// scaleMaxEnv caps the sizes (make bench: all of them; -short: 10,000).
	scaleMaxEnv = "EVALPIN_BENCH_SCALE_MAX"
	// scaleTimeLimit is the longest a size's commands may be expected to
	// take (from the size before) for the benchmark to run them unasked.
	scaleTimeLimit = 6 * time.Minute
	// scaleRerunBudget is the budget of "evalpin run" of a complete run of
	// scaleRerunCases cases run again with the same command: it answers from
	// the store, the suite's hash cached against the file's identity.
	scaleRerunBudget = 100 * time.Millisecond
	scaleRerunCases  = 100_000
)

var scaleSizes = []int{1_000, 10_000, 100_000, 1_000_000}

// scaleLabel names a size: 1k, 10k, 100k, 1M.
func scaleLabel(n int) string {
	if n >= 1_000_000 {
		return strconv.Itoa(n/1_000_000) + "M"
	}
	return strconv.Itoa(n/1_000) + "k"
}

// scaleSuite streams a JSONL suite of n cases of BenchmarkRunVersusHey's
// shape (runBenchSuite's, which builds it in memory) to dir/suite.jsonl.
func scaleSuite(b *testing.B, dir string, n int) string {
	b.Helper()
	path := filepath.Join(dir, "suite.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, `{"suite": {"name": "bench-scale-%d", "version": "1"}}`+"\n", n)
	for i := range n {
		fmt.Fprintf(w, `{"id": "case-%07d", "messages": [{"role": "user", "content": %q}], "tags": ["t%d"], "scorers": [{"kind": "contains", "value": "2+2"}, {"kind": "regex", "pattern": "^echo: What is \\d\\+\\d\\?"}]}`+"\n",
			i, runBenchPrompt(i), i%3)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// scaleStep is one command measured at one size.
type scaleStep struct {
	name string
	r    procResult
}

// scaleRun measures, on a suite of n cases written under dir: "evalpin run"
// (against url at concurrency scaleC, into a fresh database), the same
// command again without --fresh (rerun: the run is complete, so it requests
// nothing), "evalpin suite check", "evalpin baseline export" of the run and
// "evalpin baseline import" of that file into another fresh database. It
// returns the steps and the bytes it wrote.
func scaleRun(b *testing.B, bin, url, dir string, n int) ([]scaleStep, int64) {
	b.Helper()
	suite := scaleSuite(b, dir, n)
	db, file, db2 := filepath.Join(dir, "run.db"), filepath.Join(dir, "baseline.jsonl"), filepath.Join(dir, "import.db")
	cmd := func(args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env = append(os.Environ(), dbEnv+"=")
		return c
	}
	run := runEvalpinN(b, bin, suite, url, db, n, scaleC)
	var sum eval.RunSummary
	if err := json.Unmarshal(run.stdout, &sum); err != nil {
		b.Fatal(err)
	}
	rerun := measureProc(b, cmd("run", "--suite", suite, "--endpoint", url, "--db", db,
		"--concurrency", strconv.Itoa(scaleC), "--no-progress", "--format", "json"))
	var again eval.RunSummary
	if err := json.Unmarshal(rerun.stdout, &again); err != nil || again.Run != sum.Run || again.Status != eval.RunComplete {
		b.Fatalf("evalpin run again: %v: run %d %s, want run %d complete\n%s", err, again.Run, again.Status, sum.Run, rerun.stdout)
	}
	steps := []scaleStep{
		{"run", run},
		{"rerun", rerun},
		{"check", measureProc(b, cmd("suite", "check", suite))},
		{"export", measureProc(b, cmd("baseline", "export", strconv.FormatInt(sum.Run, 10), "-o", file, "--db", db))},
		{"import", measureProc(b, cmd("baseline", "import", file, "--db", db2))},
	}
	return steps, dirBytes(dir)
}

// dirBytes returns the size of the files under dir.
func dirBytes(dir string) int64 {
	var total int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	return total
}

// freeBytes returns the bytes free to an unprivileged user on dir's file
// system, or -1 when unknown.
func freeBytes(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// BenchmarkScale runs the commands of scaleRun on JSONL suites of 1k, 10k,
// 100k and 1M cases (two scorers a case) against the stub server at 0 ms,
// each as its own process, and reports each one's wall time and peak RSS at
// each size (run-s-1k, run-MB-1k, …), the growth of peak RSS from 10k to the
// largest size as a ratio per command (run-rss-1M/10k-ratio, …: about 1
// when a command streams), and the peak RSS of "evalpin run" on the largest
// suite against the budget of 100 MB (run-rss-1M/budget; a line "over the
// budget" when missed, which does not fail the benchmark). Before a size it
// checks that the disk has room for ten times what the size before it wrote
// plus 1 GiB, and that its commands, estimated from the size before's at
// ten times their time, take at most 6 minutes; it skips that size and those
// above with a message when not. Each size's files are removed once
// measured. EVALPIN_BENCH_SCALE_MAX caps the sizes (-short: 10,000); set, it
// also runs them whatever their expected time.
func BenchmarkScale(b *testing.B) {
	maxN, forced, why := scaleSizes[len(scaleSizes)-1], false, ""
	if testing.Short() {
		maxN, why = 10_000, "-short"
	}
	if s := os.Getenv(scaleMaxEnv); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < scaleSizes[0] {
			b.Fatalf("%s=%q: want a number of cases ≥ %d", scaleMaxEnv, s, scaleSizes[0])
		}
		maxN, forced, why = v, true, scaleMaxEnv+"="+s
	}
	dir := b.TempDir()
	bin := runBenchBuild(b, dir, "cmd/evalpin")
	url := stubserver.Start(b, stubserver.Build(b, dir), 0, runBenchLock)
	for b.Loop() {
		rss := map[string]map[int]float64{}
		rerunWall := map[int]time.Duration{}
		var largest int
		var wrote int64
		var took time.Duration // by the size before
		for _, n := range scaleSizes {
			if n > maxN {
				b.Logf("skipped: the %s-case runs (%s)", scaleLabel(n), why)
				break
			}
			// The commands' times grow about linearly with the suite; on a
			// loaded machine ten times the 100k runs can be far longer than
			// make bench should take.
			if est := took * time.Duration(n/max(largest, 1)); !forced && est > scaleTimeLimit {
				b.Logf("skipped: the %s-case runs would take about %v (the %s ones took %v); %s=%d runs them",
					scaleLabel(n), est.Round(time.Second), scaleLabel(largest), took.Round(time.Second), scaleMaxEnv, n)
				break
			}
			sizeDir := filepath.Join(dir, scaleLabel(n))
			if err := os.Mkdir(sizeDir, 0o755); err != nil {
				b.Fatal(err)
			}
			need := wrote*10 + 1<<30
			if free := freeBytes(sizeDir); free >= 0 && free < need {
				b.Logf("skipped: the %s-case runs need about %d MiB of disk, %d MiB are free",
					scaleLabel(n), need>>20, free>>20)
				break
			}
			steps, w := scaleRun(b, bin, url, sizeDir, n)
			wrote, took = w, 0
			for _, s := range steps {
				took += s.r.wall
			}
			if err := os.RemoveAll(sizeDir); err != nil {
				b.Fatal(err)
			}
			for _, s := range steps {
				if s.name == "rerun" {
					rerunWall[n] = s.r.wall
				}
				b.ReportMetric(s.r.wall.Seconds(), s.name+"-s-"+scaleLabel(n))
				b.ReportMetric(s.r.peakMB(), s.name+"-MB-"+scaleLabel(n))
				if rss[s.name] == nil {
					rss[s.name] = map[int]float64{}
				}
				rss[s.name][n] = s.r.peakMB()
			}
			largest = n
		}
		if largest > 10_000 {
			for name, byN := range rss {
				b.ReportMetric(byN[largest]/byN[10_000], fmt.Sprintf("%s-rss-%s/10k-ratio", name, scaleLabel(largest)))
			}
		}
		if wall := rerunWall[scaleRerunCases]; wall > 0 {
			b.ReportMetric(wall.Seconds()/scaleRerunBudget.Seconds(), "rerun-"+scaleLabel(scaleRerunCases)+"/budget")
			if wall > scaleRerunBudget {
				b.Logf("evalpin run of a complete %s-case run, again: %v, over the budget of %v",
					scaleLabel(scaleRerunCases), wall.Round(time.Millisecond), scaleRerunBudget)
			}
		}
		if peak := rss["run"][largest]; largest > 0 {
			b.ReportMetric(peak/scaleRSSBudgetMiB, "run-rss-"+scaleLabel(largest)+"/budget")
			if peak > scaleRSSBudgetMiB {
				b.Logf("evalpin run of %s cases: %.0f MB peak RSS, over the budget of %d MB (%s-case run: %.0f MB)",
					scaleLabel(largest), peak, scaleRSSBudgetMiB, scaleLabel(scaleSizes[1]), rss["run"][scaleSizes[1]])
			}
		}
	}
}
