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
// command, store reads and report included.
const (
	benchDiffCases  = 100_000
	benchDiffTime   = 2 * time.Second
	benchDiffRSSMiB = 300
)

// BenchmarkDiffCommand100k runs "evalpin diff --format json" as its own
// process on a store holding two runs of 100,000 cases (two scorers, three
// tags, clusters of ten, outputs of about 200 bytes, a tenth of them changed)
// and reports its wall time and peak resident memory against the budget.
func BenchmarkDiffCommand100k(b *testing.B) {
	path := benchDiffDB(b)
	args, err := json.Marshal([]string{"diff", "--db", path, "--baseline", "1", "--candidate", "2", "--format", "json"})
	if err != nil {
		b.Fatal(err)
	}
	var worstRSS int64
	var worst time.Duration
	for b.Loop() {
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
		err := cmd.Wait()
		close(done)
		worstRSS = max(worstRSS, <-peak)
		if err != nil {
			b.Fatalf("evalpin diff: %v\n%s", err, stderr.String())
		}
		worst = max(worst, time.Since(start))
	}
	rss := float64(worstRSS) / 1024
	b.ReportMetric(rss, "MiB-peak-rss")
	b.ReportMetric(worst.Seconds()/benchDiffTime.Seconds(), "time/budget")
	b.ReportMetric(rss/benchDiffRSSMiB, "rss/budget")
	if worst > benchDiffTime || rss > benchDiffRSSMiB {
		b.Errorf("evalpin diff of two %d-case runs: %v and %.0f MiB peak RSS, over the budget of %v and %d MiB",
			benchDiffCases, worst.Round(time.Millisecond), rss, benchDiffTime, benchDiffRSSMiB)
	}
}

// BenchmarkDiffInProcess100k runs the same diff as BenchmarkDiffCommand100k
// inside the benchmark's process, so that -benchmem counts what the command
// allocates and -memprofile shows where.
func BenchmarkDiffInProcess100k(b *testing.B) {
	path := benchDiffDB(b)
	args := []string{"diff", "--db", path, "--baseline", "1", "--candidate", "2", "--format", "json"}
	b.ReportAllocs()
	for b.Loop() {
		if err := run(context.Background(), args, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDiffDBEnv names a file for benchDiffDB to keep its store in and
// reuse, so that repeated measurements (or the evalpin binary run on it by
// hand) skip writing 200,000 results.
const benchDiffDBEnv = "EVALPIN_BENCH_DIFF_DB"

// benchDiffDB writes the store of BenchmarkDiffCommand100k: run 1 (the
// baseline) and run 2 (the candidate) of one suite at one setting.
func benchDiffDB(b *testing.B) string {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "evalpin.db")
	if kept := os.Getenv(benchDiffDBEnv); kept != "" {
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
	for i := range benchDiffCases {
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
	outputs := make([]string, benchDiffCases)
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
