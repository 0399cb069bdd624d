package store

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
)

// The benchmarks in this file hold each fast path of the store against its
// plain version in one run, as docs/architecture.md ("Fast paths") records:
//
//	go test -run='^$' -bench='Fast' -count=6 ./internal/store | benchstat -col /impl -

// fastBenchN is the size of a large run or suite.
const fastBenchN = 100_000

// storeFastRun stores a run of fastBenchN results, samples to a case, with
// outputs of about 200 bytes and two checks each; with details, every failing
// check carries a detail of its own, as a fact or length scorer's does.
func storeFastRun(b *testing.B, db *DB, samples int, details bool) eval.Run {
	b.Helper()
	ctx := context.Background()
	run := eval.Run{Lock: lockid.ID("sha256:" + strings.Repeat("a", 64)), Suite: "s", SuiteVersion: "1",
		SuiteHash: "fast", Settings: eval.DefaultSettings(), Version: "test"}
	if err := db.CreateRun(ctx, &run); err != nil {
		b.Fatal(err)
	}
	w := db.NewWriter(ctx, run.ID, WriterOptions{})
	out := strings.Repeat("the quick brown fox jumps ", 8)
	for i := range fastBenchN {
		r := eval.Result{CaseID: fmt.Sprintf("case-%06d", i/samples), CaseHash: fmt.Sprintf("%064x", i/samples),
			Sample: i % samples, Output: out, FinishReason: "stop", PromptTokens: 10, CompletionTokens: 3,
			Latency: time.Duration(i+1) * time.Millisecond, Lock: run.Lock, Endpoint: "http://127.0.0.1:8000/v1",
			Checks: []eval.Check{{Scorer: "format", Pass: i%10 != 0}, {Scorer: "fact", Pass: i%5 != 0, Detail: "no match"}}}
		if details && !r.Checks[1].Pass {
			r.Checks[1].Detail = fmt.Sprintf("want 43, got %d", i)
		}
		if err := w.Put(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return run
}

// keptMiB returns the heap, in MiB, that what read returns keeps.
func keptMiB(read func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := read()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
}

// BenchmarkFastResults reads a 100,000-result run (Results): impl=fast is
// the store's reader, impl=plain is plainResults. (The audit of 2026-12-06
// also measured the reader with each trick turned off: docs/architecture.md.)
func BenchmarkFastResults(b *testing.B) {
	ctx := context.Background()
	for _, data := range []struct {
		name    string
		samples int
		details bool
	}{{"run", 1, false}, {"details", 1, true}, {"samples", 5, false}} {
		db := openSuiteTestDB(b, "")
		cand := storeFastRun(b, db, data.samples, data.details)
		for _, impl := range []string{"fast", "plain"} {
			read := func() (any, int, error) {
				rs, err := db.Results(ctx, cand.ID)
				return rs, len(rs), err
			}
			if impl == "plain" {
				read = func() (any, int, error) {
					rs, err := plainResults(ctx, db, cand.ID)
					return rs, len(rs), err
				}
			}
			b.Run(fmt.Sprintf("data=%s/impl=%s", data.name, impl), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, n, err := read(); err != nil || n != fastBenchN {
						b.Fatalf("%d results, %v", n, err)
					}
				}
				b.ReportMetric(keptMiB(func() any { v, _, _ := read(); return v }), "MiB-kept")
			})
		}
	}
}

// plainDone reads the stored (case id, sample) pairs of a run into a map of
// pairs: Done's plain version.
func plainDone(ctx context.Context, db *DB, runID int64) (map[doneKey]struct{}, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT case_id, sample FROM results WHERE run_id = ? ORDER BY case_id, sample`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	d := make(map[doneKey]struct{})
	for rows.Next() {
		var k doneKey
		if err := rows.Scan(&k.caseID, &k.sample); err != nil {
			return nil, err
		}
		d[k] = struct{}{}
	}
	return d, rows.Err()
}

// BenchmarkFastDone reads the stored set of a 100,000-result run, as a
// resumed run does first: impl=fast is Done (samples 0–63 as bits of one
// entry a case), impl=plain a map of pairs.
func BenchmarkFastDone(b *testing.B) {
	ctx := context.Background()
	for _, samples := range []int{1, 5} {
		db := openSuiteTestDB(b, "")
		run := storeFastRun(b, db, samples, false)
		for _, impl := range []struct {
			name string
			read func() (any, int, error)
		}{
			{"fast", func() (any, int, error) { d, err := db.Done(ctx, run.ID, nil); return d, d.Len(), err }},
			{"plain", func() (any, int, error) { d, err := plainDone(ctx, db, run.ID); return d, len(d), err }},
		} {
			b.Run(fmt.Sprintf("samples=%d/impl=%s", samples, impl.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, n, err := impl.read(); err != nil || n != fastBenchN {
						b.Fatalf("%d pairs, %v", n, err)
					}
				}
				b.ReportMetric(keptMiB(func() any { v, _, _ := impl.read(); return v }), "MiB-kept")
			})
		}
	}
}

// plainLabels returns the labels of a suite's cases as Cases decodes them:
// CaseLabels' plain version.
func plainLabels(ctx context.Context, db *DB, suiteHash string) (map[string]eval.Case, error) {
	cases, err := db.Cases(ctx, suiteHash)
	if err != nil {
		return nil, err
	}
	for id, c := range cases {
		cases[id] = eval.Case{ID: c.ID, Tags: c.Tags, Cluster: c.Cluster}
	}
	return cases, nil
}

// BenchmarkFastCaseLabels reads the tags and clusters of a 100,000-case
// suite, as a diff does: impl=fast is SuiteLabels (SQLite extracts the two
// fields), impl=plain decodes the cases (Cases).
func BenchmarkFastCaseLabels(b *testing.B) {
	ctx := context.Background()
	db := openSuiteTestDB(b, "")
	suite := eval.Suite{Name: "large", Version: "1", Hash: "largesuite", Settings: eval.DefaultSettings()}
	prompt := strings.Repeat("Read the passage and answer the question. ", 7)
	suite.Cases = make([]eval.Case, fastBenchN)
	for i := range suite.Cases {
		suite.Cases[i] = eval.Case{ID: fmt.Sprintf("case-%06d", i), Prompt: prompt + fmt.Sprint(i),
			Tags: []string{"reading", fmt.Sprint("t", i%3)}, Cluster: fmt.Sprint("passage-", i/10),
			Hash: fmt.Sprintf("%064x", i)}
	}
	if err := db.PutSuite(ctx, suite); err != nil {
		b.Fatal(err)
	}
	// Each reads the labels and returns them with how many cases they cover.
	for _, impl := range []struct {
		name string
		read func(context.Context, *DB, string) (any, int, error)
	}{
		{"fast", func(ctx context.Context, db *DB, h string) (any, int, error) {
			ls, err := db.SuiteLabels(ctx, h)
			return ls, ls.Len(), err
		}},
		{"plain", func(ctx context.Context, db *DB, h string) (any, int, error) {
			cs, err := plainLabels(ctx, db, h)
			return cs, len(cs), err
		}},
	} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, n, err := impl.read(ctx, db, suite.Hash); err != nil || n != fastBenchN {
					b.Fatalf("%d cases, %v", n, err)
				}
			}
			b.ReportMetric(keptMiB(func() any { v, _, _ := impl.read(ctx, db, suite.Hash); return v }), "MiB-kept")
		})
	}
}
