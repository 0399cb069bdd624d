package main

// The comparison of "evalpin run" with promptfoo's "promptfoo eval" (make
// bench): the same generated suite, the same stub server, each tool as its own
// process. scripts/bench-promptfoo.sh installs promptfoo at a pinned version
// into .testbed/promptfoo and scripts/bench-results.sh passes its executable
// in $EVALPIN_PROMPTFOO; without it, or without node, the benchmark is
// skipped with a message.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/stubserver"
)

// promptfooEnv names the promptfoo executable BenchmarkRunVersusPromptfoo
// runs; scripts/bench-results.sh sets it.
const promptfooEnv = "EVALPIN_PROMPTFOO"

// promptfooBenchCases is the size of the suite both tools replay, and
// promptfooBenchC their number of requests in flight.
const (
	promptfooBenchCases = 2_000
	promptfooBenchC     = 64
)

// procResult is what one measured process used: its wall time, its CPU
// time (user+sys, from its own rusage) and its peak resident set (VmHWM, read
// from /proc while it ran: rusage would report the benchmark's own, which a
// child inherits at exec on Linux).
type procResult struct {
	wall, cpu time.Duration
	peakKiB   int64
	stdout    []byte
}

// peakMB returns the peak resident set in MiB.
func (r procResult) peakMB() float64 { return float64(r.peakKiB) / 1024 }

// measureProc runs cmd to its end and measures it; a failure is fatal, with
// its standard error.
func measureProc(b *testing.B, cmd *exec.Cmd) procResult {
	b.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	peak, done := make(chan int64), make(chan struct{})
	go func() { peak <- pollPeakKiB(cmd.Process.Pid, done) }()
	err := cmd.Wait()
	r := procResult{wall: time.Since(start), stdout: stdout.Bytes()}
	close(done)
	r.peakKiB = <-peak
	if err != nil {
		b.Fatalf("%s: %v\n%s", filepath.Base(cmd.Path), err, stderr.String())
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r
}

// promptfooBenchConfig writes promptfoo's configuration and tests for the
// suite runBenchSuite writes with n cases: the same prompts, as one variable
// of a "{{question}}" prompt, the same two checks (contains "2+2", the same
// regex), and the settings evalpin sends (temperature 0, 256 tokens at
// most), against the stub at url. It returns the configuration's path.
func promptfooBenchConfig(b *testing.B, dir, url string, n int) string {
	b.Helper()
	type assertion struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	type test struct {
		Vars   map[string]string `json:"vars"`
		Assert []assertion       `json:"assert"`
	}
	tests := make([]test, n)
	for i := range tests {
		tests[i] = test{Vars: map[string]string{"question": runBenchPrompt(i)},
			Assert: []assertion{{"contains", "2+2"}, {"regex", `^echo: What is \d\+\d\?`}}}
	}
	config := map[string]any{
		"description": "evalpin bench",
		"prompts":     []string{"{{question}}"},
		"providers": []any{map[string]any{"id": "openai:chat:stub", "config": map[string]any{
			"apiBaseUrl": url, "apiKey": "none", "temperature": 0, "max_tokens": 256}}},
		"tests": "file://tests.json",
	}
	for name, v := range map[string]any{"tests.json": tests, "promptfooconfig.json": config} {
		data, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return filepath.Join(dir, "promptfooconfig.json")
}

// runPromptfoo runs "promptfoo eval" on config with a fresh store (its
// configuration directory, which holds its database), no cache, telemetry
// and update checks off, and checks that every test passed.
func runPromptfoo(b *testing.B, bin, config string, n, c int) procResult {
	b.Helper()
	home, out := b.TempDir(), filepath.Join(b.TempDir(), "results.json")
	cmd := exec.Command(bin, "eval", "-c", config, "-j", strconv.Itoa(c), "--no-cache",
		"--no-table", "--no-progress-bar", "-o", out)
	cmd.Dir = filepath.Dir(config)
	cmd.Env = append(os.Environ(), "PROMPTFOO_CONFIG_DIR="+home,
		"PROMPTFOO_DISABLE_TELEMETRY=1", "PROMPTFOO_DISABLE_UPDATE=1",
		// Its file logs fail with "write after end" at exit on 0.121.
		"PROMPTFOO_DISABLE_DEBUG_LOG=1", "PROMPTFOO_DISABLE_ERROR_LOG=1")
	r := measureProc(b, cmd)
	var res struct {
		Results struct {
			Stats struct{ Successes, Failures, Errors int }
		}
	}
	data, err := os.ReadFile(out)
	if err == nil {
		err = json.Unmarshal(data, &res)
	}
	if s := res.Results.Stats; err != nil || s.Successes != n || s.Failures+s.Errors != 0 {
		b.Fatalf("promptfoo eval: %v; stats %+v, want %d passed\n%s", err, s, n, r.stdout)
	}
	return r
}

// runEvalpinN runs "evalpin run" as its own process on suite (n cases)
// against url at concurrency c into a fresh database at db, and checks that
// it stored every case without error.
func runEvalpinN(b *testing.B, bin, suite, url, db string, n, c int) procResult {
	b.Helper()
	cmd := exec.Command(bin, "run", "--suite", suite, "--endpoint", url, "--db", db,
		"--concurrency", strconv.Itoa(c), "--no-progress", "--fresh", "--format", "json")
	cmd.Env = append(os.Environ(), dbEnv+"=")
	r := measureProc(b, cmd)
	var sum eval.RunSummary
	if err := json.Unmarshal(r.stdout, &sum); err != nil {
		b.Fatalf("evalpin run: summary: %v\n%s", err, r.stdout)
	}
	if sum.Status != eval.RunComplete || sum.Stored != n || sum.StoredErrors != 0 {
		b.Fatalf("evalpin run: status %s, %d stored (%d errors); want complete, %d, none", sum.Status, sum.Stored, sum.StoredErrors, n)
	}
	return r
}

// BenchmarkRunVersusPromptfoo runs "evalpin run --concurrency 64" and
// "promptfoo eval -j 64 --no-cache" (the npm package, at the version
// scripts/bench-promptfoo.sh pins) on the same generated 2,000-case suite —
// the prompts and checks of BenchmarkRunVersusHey's, temperature 0 — against
// the same stub server at 0 and 20 ms, each as its own process with a fresh
// store, in turn (promptfoo first on even iterations). Both wall times
// include start-up, which is what a user waits for. It reports, from the
// totals over the iterations: x-promptfoo, evalpin's throughput over
// promptfoo's (promptfoo's wall time over evalpin's); x-promptfoo-cpu, its
// CPU time (user+sys) over evalpin's; x-promptfoo-rss, its peak RSS over
// evalpin's; and at 20 ms each one's wall time over the Little's-law floor
// (cases × latency ÷ requests in flight: 0.625 s), evalpin-floor-ratio and
// promptfoo-floor-ratio. The absolute figures are reported beside them.
func BenchmarkRunVersusPromptfoo(b *testing.B) {
	pf := os.Getenv(promptfooEnv)
	if pf == "" {
		b.Skipf("%s is not set: scripts/bench-promptfoo.sh installs promptfoo (make bench does)", promptfooEnv)
	}
	if _, err := exec.LookPath("node"); err != nil {
		b.Skip("node is not installed: promptfoo needs it")
	}
	dir := b.TempDir()
	evalpinBin := runBenchBuild(b, dir, "cmd/evalpin")
	stubBin := stubserver.Build(b, dir)
	suite := runBenchSuite(b, dir, promptfooBenchCases)
	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v/c=%d", latency, promptfooBenchC), func(b *testing.B) {
			url := stubserver.Start(b, stubBin, latency, runBenchLock)
			config := promptfooBenchConfig(b, b.TempDir(), url, promptfooBenchCases)
			var ours, theirs procResult
			add := func(sum *procResult, r procResult) {
				sum.wall += r.wall
				sum.cpu += r.cpu
				sum.peakKiB = max(sum.peakKiB, r.peakKiB)
			}
			for i := 0; b.Loop(); i++ {
				// promptfoo runs untimed, so that ns/op is evalpin's wall time.
				if i%2 == 0 {
					b.StopTimer()
					add(&theirs, runPromptfoo(b, pf, config, promptfooBenchCases, promptfooBenchC))
					b.StartTimer()
				}
				add(&ours, runEvalpinN(b, evalpinBin, suite, url, filepath.Join(b.TempDir(), "evalpin.db"), promptfooBenchCases, promptfooBenchC))
				if i%2 == 1 {
					b.StopTimer()
					add(&theirs, runPromptfoo(b, pf, config, promptfooBenchCases, promptfooBenchC))
					b.StartTimer()
				}
			}
			runs := float64(b.N)
			b.ReportMetric(theirs.wall.Seconds()/ours.wall.Seconds(), "x-promptfoo")
			b.ReportMetric(theirs.cpu.Seconds()/ours.cpu.Seconds(), "x-promptfoo-cpu")
			b.ReportMetric(theirs.peakMB()/ours.peakMB(), "x-promptfoo-rss")
			b.ReportMetric(ours.wall.Seconds()/runs, "evalpin-s")
			b.ReportMetric(theirs.wall.Seconds()/runs, "promptfoo-s")
			b.ReportMetric(ours.cpu.Seconds()/runs, "evalpin-cpu-s")
			b.ReportMetric(theirs.cpu.Seconds()/runs, "promptfoo-cpu-s")
			b.ReportMetric(ours.peakMB(), "evalpin-peak-MB")
			b.ReportMetric(theirs.peakMB(), "promptfoo-peak-MB")
			if latency > 0 {
				floor := float64(promptfooBenchCases) * latency.Seconds() / promptfooBenchC
				b.ReportMetric(floor, "floor-s")
				b.ReportMetric(ours.wall.Seconds()/runs/floor, "evalpin-floor-ratio")
				b.ReportMetric(theirs.wall.Seconds()/runs/floor, "promptfoo-floor-ratio")
			}
		})
	}
}
