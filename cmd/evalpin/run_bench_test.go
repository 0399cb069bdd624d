package main

// The speed and memory benchmark of the whole "evalpin run" command against
// the hey load generator (make bench).
//
// Unlike runner.BenchmarkVersusHey, which hands results to a sink that only
// encodes them, this one runs the evalpin binary as its own process, exactly
// as a user does: start-up, the lock probe, loading and validating a JSONL
// suite, scoring every output, the batched SQLite writer, the lock recheck
// and the final flush are all inside the measured wall time. The stub server
// (internal/stubserver/cmd/stubserver) runs as a third process, so that
// neither client shares a garbage collector or scheduler with it. hey is found
// at .testbed/bin/hey (scripts/bench-runner.sh -install puts it there) or at
// $EVALPIN_HEY; without it the benchmark is skipped.
//
// On a 2-core machine the stub, the client and the benchmark share the cores:
// the absolute numbers are the machine's, the ratios are what to look at.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/stubserver"
)

// The targets of replay performance: evalpin's requests per second as a share
// of hey's at each scenario, and its peak resident memory on a 10,000-case run.
const (
	runBenchCases    = 10_000
	runBenchRSSMiB   = 100
	runBenchTarget0  = 0.8  // at 0 ms stub latency, concurrency 64
	runBenchTarget20 = 0.95 // at 20 ms stub latency, concurrency 256
)

// runBenchLock is the lock the stub server reports in its well-known document
// and on every response.
var runBenchLock = "sha256:" + strings.Repeat("5e", 32)

// runBenchPrompt is the question of case i; hey sends that of case 0, whose
// length all the others share.
func runBenchPrompt(i int) string { return fmt.Sprintf("What is 2+2? Answer briefly. #%06d", i) }

// runBenchHeyBody is the request hey sends: byte for byte what "evalpin run"
// sends for case 0 of the suite runBenchSuite writes, whose header sets no
// defaults (so the settings are eval.DefaultSettings).
var runBenchHeyBody = `{"model":"stub","messages":[{"role":"user","content":"` + runBenchPrompt(0) +
	`"}],"temperature":0,"top_p":1,"n":1,"seed":0,"max_tokens":256,"stop":[],"presence_penalty":0,"frequency_penalty":0,"stream":false}`

// runBenchSuite writes a JSONL suite of n chat cases into dir, each with a
// contains and a regex scorer that the stub's echo passes, and returns its path.
func runBenchSuite(b *testing.B, dir string, n int) string {
	b.Helper()
	var buf bytes.Buffer
	buf.WriteString(`{"suite": {"name": "bench-run", "version": "1"}}` + "\n")
	for i := range n {
		fmt.Fprintf(&buf, `{"id": "case-%06d", "messages": [{"role": "user", "content": %q}], "tags": ["t%d"], "scorers": [{"kind": "contains", "value": "2+2"}, {"kind": "regex", "pattern": "^echo: What is \\d\\+\\d\\?"}]}`+"\n",
			i, runBenchPrompt(i), i%3)
	}
	path := filepath.Join(dir, "bench-run.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// runBenchBuild builds the command of package pkg (within the module) into
// dir and returns its path.
func runBenchBuild(b *testing.B, dir, pkg string) string {
	b.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/evalpin/evalpin/"+pkg).CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// runBenchResult is one "evalpin run" process: its wall time, the CPU time
// (user+sys) it used, its peak resident set and its own JSON summary.
type runBenchResult struct {
	wall, cpu time.Duration
	peakKiB   int64
	sum       eval.RunSummary
}

// processCPU is the user and system CPU time of an exited child process, from
// its rusage (which, unlike its maxrss, is the child's own).
func processCPU(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

// runBenchEvalpin runs "evalpin run" as its own process against url at
// concurrency c into a new database at db, and checks that it stored every
// case without error.
func runBenchEvalpin(b *testing.B, bin, suite, url, db string, c int) runBenchResult {
	b.Helper()
	cmd := exec.Command(bin, "run", "--suite", suite, "--endpoint", url, "--db", db,
		"--concurrency", strconv.Itoa(c), "--no-progress", "--fresh", "--format", "json")
	cmd.Env = append(os.Environ(), dbEnv+"=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// The peak RSS is read from /proc while the process runs: its rusage
	// would report the benchmark process's own, which a child started by
	// vfork inherits at exec on Linux (the old mm's high-water mark).
	peak := make(chan int64)
	done := make(chan struct{})
	go func() { peak <- pollPeakKiB(cmd.Process.Pid, done) }()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	r := runBenchResult{wall: wall, cpu: processCPU(cmd.ProcessState), peakKiB: <-peak}
	if err != nil {
		b.Fatalf("evalpin run: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &r.sum); err != nil {
		b.Fatalf("evalpin run: summary: %v\n%s", err, stdout.String())
	}
	if r.sum.Status != eval.RunComplete || r.sum.Stored != runBenchCases || r.sum.StoredErrors != 0 || r.sum.Requested != runBenchCases {
		b.Fatalf("evalpin run: status %s, %d stored (%d errors), %d requested; want complete, %d, none, %d\n%s",
			r.sum.Status, r.sum.Stored, r.sum.StoredErrors, r.sum.Requested, runBenchCases, runBenchCases, stderr.String())
	}
	return r
}

// runBenchCheckStored checks that the run in db stored a scored, passing
// result for every case: the scorers did run.
func runBenchCheckStored(b *testing.B, db string, run int64) {
	b.Helper()
	s, err := store.Open(db)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	results, err := s.Results(context.Background(), run)
	if err != nil {
		b.Fatal(err)
	}
	if len(results) != runBenchCases {
		b.Fatalf("%d results stored, want %d", len(results), runBenchCases)
	}
	for _, r := range results {
		if len(r.Checks) != 2 || !r.Passed() || string(r.Lock) != runBenchLock {
			b.Fatalf("case %s: checks %+v, lock %s; want two passing checks under %s", r.CaseID, r.Checks, r.Lock, runBenchLock)
		}
	}
}

// runBenchMedian returns the median of xs.
func runBenchMedian(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// runBenchRounds is how many runs of each side one iteration of
// BenchmarkRunVersusHey makes, alternating: evalpin, hey, evalpin, hey, ….
const runBenchRounds = 5

// BenchmarkRunVersusHey runs "evalpin run" on a 10,000-case JSONL suite with
// two scorers a case, as its own process storing into a fresh SQLite database,
// and hey with the same number of equivalent requests, against the stub
// server at 0 ms (concurrency 64) and 20 ms (concurrency 256). Each iteration
// makes runBenchRounds runs of each, alternating (evalpin, hey, evalpin, …),
// so that both see the same load on a shared machine, and each figure is a
// median over every run (or pair of runs) of every iteration. Both rates come
// from wall time: evalpin's includes start-up, the lock probes, loading the
// suite and the final flush, which is what a user waits for; ns/op is the
// median wall time of one evalpin run.
//
// It reports the median of the pairs' ratios of requests per second
// ("ratio"), the median rates, the run summary's own requests/s ("run-req/s",
// the replay alone) as a ratio to hey's own ("run-ratio"), the CPU time
// (user+sys, from each process's rusage) per request of each side in µs and
// the median of the pairs' ratios evalpin ÷ hey ("cpu-ratio"): on a 2-core
// machine the stub and the client share the CPU, so the rate ratio is made of
// the CPU per request. And evalpin's peak RSS ("peak-MB"). Targets: ratio ≥
// 0.8 at 0 ms, ≥ 0.95 at 20 ms, peak RSS < 100 MB.
func BenchmarkRunVersusHey(b *testing.B) {
	heyBin := stubserver.HeyPath(b, "../..")
	dir := b.TempDir()
	evalpinBin := runBenchBuild(b, dir, "cmd/evalpin")
	stubBin := stubserver.Build(b, dir)
	suite := runBenchSuite(b, dir, runBenchCases)
	for _, bc := range []struct {
		latency time.Duration
		c       int
		target  float64
	}{
		{0, 64, runBenchTarget0},
		{20 * time.Millisecond, 256, runBenchTarget20},
	} {
		b.Run(fmt.Sprintf("latency=%v/c=%d", bc.latency, bc.c), func(b *testing.B) {
			url := stubserver.Start(b, stubBin, bc.latency, runBenchLock)
			var m runBenchMedians
			var peakKiB int64
			for i := 0; b.Loop(); i++ {
				b.StopTimer() // ns/op is reported from the runs' own wall times
				for range runBenchRounds {
					db := filepath.Join(b.TempDir(), "evalpin.db")
					r := runBenchEvalpin(b, evalpinBin, suite, url, db, bc.c)
					h := stubserver.Hey(b, heyBin, url, runBenchHeyBody, runBenchCases, bc.c)
					if i == 0 && len(m.ratio) == 0 {
						runBenchCheckStored(b, db, r.sum.Run)
					}
					os.Remove(db) // and its WAL files go with b's temporary directory
					m.add(r, h)
					peakKiB = max(peakKiB, r.peakKiB)
				}
				b.StartTimer()
			}
			ratio, peak := runBenchMedian(m.ratio), float64(peakKiB)/1024
			b.ReportMetric(runBenchMedian(m.wallNs), "ns/op")
			b.ReportMetric(ratio, "ratio")
			b.ReportMetric(runBenchMedian(m.rate), "evalpin-req/s")
			b.ReportMetric(runBenchMedian(m.heyRate), "hey-req/s")
			b.ReportMetric(runBenchMedian(m.runRate), "run-req/s")
			b.ReportMetric(runBenchMedian(m.runRatio), "run-ratio")
			cpu, heyCPU := runBenchMedian(m.cpu), runBenchMedian(m.heyCPU)
			b.ReportMetric(cpu, "evalpin-cpu-µs/req")
			b.ReportMetric(heyCPU, "hey-cpu-µs/req")
			b.ReportMetric(runBenchMedian(m.cpuRatio), "cpu-ratio")
			b.ReportMetric(peak, "peak-MB")
			b.Logf("CPU per request: evalpin %.1f µs, hey %.1f µs (%.2f× hey's); ratios %.2f",
				cpu, heyCPU, runBenchMedian(m.cpuRatio), m.ratio)
			if ratio < bc.target || peak >= runBenchRSSMiB {
				b.Logf("below target: ratio %.2f (target ≥ %.2f), peak RSS %.0f MB (target < %d MB); ratios %.2f",
					ratio, bc.target, peak, runBenchRSSMiB, m.ratio)
			}
		})
	}
}

// runBenchMedians collects the figures of BenchmarkRunVersusHey's runs, one
// entry a pair of an evalpin and a hey run.
type runBenchMedians struct {
	wallNs, rate, heyRate, runRate, cpu, heyCPU []float64
	ratio, runRatio, cpuRatio                   []float64
}

// add records the pair of evalpin run r and hey run h.
func (m *runBenchMedians) add(r runBenchResult, h stubserver.HeyRun) {
	rps, heyRPS := float64(runBenchCases)/r.wall.Seconds(), h.Rate()
	cpu := float64(r.cpu.Microseconds()) / float64(runBenchCases)
	heyCPU := float64(h.CPU.Microseconds()) / float64(h.N)
	m.wallNs = append(m.wallNs, float64(r.wall.Nanoseconds()))
	m.rate, m.heyRate, m.runRate = append(m.rate, rps), append(m.heyRate, heyRPS), append(m.runRate, r.sum.RequestsPerSec)
	m.cpu, m.heyCPU = append(m.cpu, cpu), append(m.heyCPU, heyCPU)
	m.ratio = append(m.ratio, rps/heyRPS)
	m.runRatio = append(m.runRatio, r.sum.RequestsPerSec/h.Own)
	m.cpuRatio = append(m.cpuRatio, cpu/heyCPU)
}

// BenchmarkRunCommandInProcess runs the "evalpin run" of BenchmarkRunVersusHey
// (10,000 cases, concurrency 64, stub server at 0 ms in its own process)
// inside the benchmark's process, so that -cpuprofile and -memprofile show
// where the command spends its time: suite loading, requests, scoring or the
// SQLite writer. It needs no hey.
func BenchmarkRunCommandInProcess(b *testing.B) {
	dir := b.TempDir()
	stubBin := stubserver.Build(b, dir)
	suite := runBenchSuite(b, dir, runBenchCases)
	url := stubserver.Start(b, stubBin, 0, runBenchLock)
	b.Setenv(dbEnv, "")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		db := filepath.Join(dir, fmt.Sprintf("evalpin-%d.db", i))
		args := []string{"run", "--suite", suite, "--endpoint", url, "--db", db, "--concurrency", "64", "--no-progress", "--fresh"}
		if err := run(context.Background(), args, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(runBenchCases*b.N)/b.Elapsed().Seconds(), "req/s")
}

// pollPeakKiB returns the highest VmHWM (peak resident set, KiB) that
// /proc/pid/status showed until done is closed, read every 5 ms; 0 where
// /proc is not there.
func pollPeakKiB(pid int, done <-chan struct{}) int64 {
	var peak int64
	path := fmt.Sprintf("/proc/%d/status", pid)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := os.ReadFile(path); err == nil {
			for line := range strings.Lines(string(data)) {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					if kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
						peak = max(peak, kib)
					}
				}
			}
		}
		select {
		case <-done:
			return peak
		case <-tick.C:
		}
	}
}
