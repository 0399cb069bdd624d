package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
)

// The budget of a diff of two 100,000-case runs (docs/diff.md): the whole
// command, store reads and report included. Its memory is also held to a
// slope: the peak RSS it adds per paired case beyond a fixed base, measured
// as the difference of the peaks at benchDiffCases and benchDiffSlopeCases.
const (
	benchDiffCases      = 100_000
	benchDiffTime       = 1 * time.Second // the targets: 1 s, 200 MiB
	benchDiffRSSMiB     = 200
	benchDiffSlopeCases = 50_000
	benchDiffSlopeBytes = 64
)

// BenchmarkDiffCommand100k runs "evalpin diff --format json" as its own
// process on a store holding two runs of 100,000 cases (two scorers, three
// tags, clusters of ten, outputs of about 200 bytes, a tenth of them changed)
// and reports its wall time and peak resident memory against the budget; it
// runs the same diff of two 50,000-case runs too, and reports the slope of
// the peak RSS per paired case between the two sizes against its budget. A
// missed budget is logged ("over the budget", which make bench lists), not
// failed, so that the figures stay in bench/RESULTS.md.
func BenchmarkDiffCommand100k(b *testing.B) {
	path, small := benchDiffDB(b, benchDiffCases), benchDiffDB(b, benchDiffSlopeCases)
	var worstRSS, smallRSS int64
	var worst time.Duration
	for b.Loop() {
		rss, took := benchDiffRun(b, path)
		worstRSS, worst = max(worstRSS, rss), max(worst, took)
		rss, _ = benchDiffRun(b, small)
		smallRSS = max(smallRSS, rss)
	}
	rss := float64(worstRSS) / 1024
	slope := float64(worstRSS-smallRSS) * 1024 / (benchDiffCases - benchDiffSlopeCases)
	b.ReportMetric(rss, "MiB-peak-rss")
	b.ReportMetric(slope, "B-rss/case")
	b.ReportMetric(worst.Seconds()/benchDiffTime.Seconds(), "time/budget")
	b.ReportMetric(rss/benchDiffRSSMiB, "rss/budget")
	b.ReportMetric(slope/benchDiffSlopeBytes, "rss-slope/budget")
	if worst > benchDiffTime || rss > benchDiffRSSMiB {
		b.Logf("evalpin diff of two %d-case runs: %v and %.0f MiB peak RSS, over the budget of %v and %d MiB",
			benchDiffCases, worst.Round(time.Millisecond), rss, benchDiffTime, benchDiffRSSMiB)
	}
	if slope > benchDiffSlopeBytes {
		b.Logf("evalpin diff: %.0f bytes of peak RSS per paired case (%d-case runs %.0f MiB, %d-case runs %.0f MiB), over the budget of %d",
			slope, benchDiffCases, rss, benchDiffSlopeCases, float64(smallRSS)/1024, benchDiffSlopeBytes)
	}
}

// benchDiffRun runs "evalpin diff --format json" of runs 1 and 2 of the
// store at path as its own process and returns its peak RSS in KiB and its
// wall time.
func benchDiffRun(b *testing.B, path string) (int64, time.Duration) {
	b.Helper()
	args, err := json.Marshal([]string{"diff", "--db", path, "--baseline", "1", "--candidate", "2", "--format", "json"})
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), runChildEnv+"="+string(args), dbEnv+"=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// The peak RSS is read from /proc while the process runs (as
	// runBenchEvalpin does): its rusage would report this process's.
	peak, done := make(chan int64), make(chan struct{})
	go func() { peak <- pollPeakKiB(cmd.Process.Pid, done) }()
	err = cmd.Wait()
	took := time.Since(start)
	close(done)
	rss := <-peak
	if err != nil {
		b.Fatalf("evalpin diff: %v\n%s", err, stderr.String())
	}
	return rss, took
}

// BenchmarkDiffInProcess100k runs the same diff as BenchmarkDiffCommand100k
// inside the benchmark's process, so that -benchmem counts what the command
// allocates and -memprofile shows where.
func BenchmarkDiffInProcess100k(b *testing.B) {
	path := benchDiffDB(b, benchDiffCases)
	args := []string{"diff", "--db", path, "--baseline", "1", "--candidate", "2", "--format", "json"}
	b.ReportAllocs()
	for b.Loop() {
		if err := run(context.Background(), args, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDiffDBEnv names a file for benchDiffDB to keep its store of
// 100,000-case runs in and reuse (the store of smaller runs goes beside it,
// its size appended to the name), so that repeated measurements (or the
// evalpin binary run on it by hand) skip writing 200,000 results.
const benchDiffDBEnv = "EVALPIN_BENCH_DIFF_DB"

// benchDiffDB writes the store of BenchmarkDiffCommand100k, with runs of n
// cases: run 1 (the baseline) and run 2 (the candidate) of one suite at one
// setting.
func benchDiffDB(b *testing.B, n int) string {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "evalpin.db")
	if kept := os.Getenv(benchDiffDBEnv); kept != "" {
		if n != benchDiffCases {
			kept += fmt.Sprint(".", n)
		}
		if _, err := os.Stat(kept); err == nil {
			return kept
		}
		path = kept
	}
	db := store.NewDB(path)
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	suite := eval.Suite{Name: "large", Version: "1", Hash: strings.Repeat("1a", 32), Settings: eval.DefaultSettings()}
	scorers := []eval.Scorer{diffScorer("format"), diffScorer("fact")}
	for i := range n {
		suite.Cases = append(suite.Cases, eval.Case{ID: fmt.Sprintf("case-%06d", i), Prompt: fmt.Sprintf("Question %d?", i),
			Tags: []string{fmt.Sprint("t", i%3)}, Cluster: fmt.Sprint(i / 10), Hash: fmt.Sprintf("h%06d", i), Scorers: scorers})
	}
	if err := db.PutSuite(ctx, suite); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while seven wizards quietly hex a jovial ox")
	sentence := func() string {
		var sb strings.Builder
		for i := range 30 + rng.IntN(20) {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[rng.IntN(len(words))])
		}
		return sb.String()
	}
	outputs := make([]string, n)
	for i := range outputs {
		outputs[i] = sentence()
	}
	for _, l := range []string{"sha256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("b", 64)} {
		r := eval.Run{Lock: lockid.ID(l), Suite: suite.Name, SuiteVersion: suite.Version, SuiteHash: suite.Hash, Settings: suite.Settings}
		if err := db.CreateRun(ctx, &r); err != nil {
			b.Fatal(err)
		}
		w := db.NewWriter(ctx, r.ID, store.WriterOptions{})
		for i, c := range suite.Cases {
			out := outputs[i]
			if r.ID == 2 && rng.Float64() < 0.1 {
				out = sentence()
			}
			res := eval.Result{CaseID: c.ID, CaseHash: c.Hash, Output: out, FinishReason: "stop", Lock: lockid.ID(l),
				Latency: time.Duration(100+rng.IntN(900)) * time.Millisecond,
				Checks:  []eval.Check{{Scorer: "format", Pass: rng.Float64() < 0.9}, {Scorer: "fact", Pass: rng.Float64() < 0.8}}}
			if err := w.Put(res); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		if err := db.SetRunStatus(ctx, r.ID, eval.RunComplete); err != nil {
			b.Fatal(err)
		}
	}
	return path
}
