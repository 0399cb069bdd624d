package runs_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/secret"
	"github.com/evalpin/evalpin/internal/store"
)

// richBaseline returns a baseline of n cases of three samples each, with
// failed requests, outputs that are not UTF-8, a secret to redact, and
// results of another lock.
func richBaseline(t *testing.T, status eval.RunStatus, n int) *baselines.Baseline {
	t.Helper()
	const key = "sk-export-stream-3f91c2"
	secret.Register(key)
	lock := manifestLock(t)
	run := eval.Run{Lock: lock.id, Suite: "rich", SuiteVersion: "3", SuiteHash: "richsuite", Settings: eval.DefaultSettings(),
		Version: "v0.2.0", Status: status, Started: time.Unix(1700000000, 0), Finished: time.Unix(1700000090, 0)}
	var cases []eval.Case
	var results []eval.Result
	for i := range n {
		c := eval.Case{ID: fmt.Sprintf("case-%03d", n-i), Prompt: fmt.Sprintf("prompt %d", i), Tags: []string{"t"}, Hash: fmt.Sprintf("h%d", i)}
		cases = append(cases, c)
		for s := range 3 {
			r := eval.Result{CaseID: c.ID, CaseHash: c.Hash, Sample: s, Output: fmt.Sprintf("out %d/%d <&>", i, s), FinishReason: "stop",
				PromptTokens: i, CompletionTokens: s, Latency: time.Duration(i*10+s) * time.Millisecond, Lock: lock.id,
				Checks: []eval.Check{{Scorer: "equals", Pass: s != 1}}}
			switch (i + s) % 5 {
			case 1:
				r.Output, r.Error, r.ErrorKind = "", "HTTP 500: "+key, "http"
			case 2:
				r.Output = "not UTF-8 \xff\xfe " + key
			case 3:
				r.Output = "the key " + key + "\nline two"
			case 4:
				r.Lock = lockid.ID(fmt.Sprintf("sha256:%064d", 7))
			}
			results = append(results, r)
		}
	}
	b := baselines.New(run, cases, results)
	b.Header.LockSource, b.Header.LockManifest = "manifest", lock.doc
	return b
}

// Stream writes byte for byte what baselines.Encode writes of Export's
// baseline, with the same counts; and a stored run that no file can hold
// fails with Encode's error.
func TestExportStream(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	wrongHash := richBaseline(t, eval.RunComplete, 3)
	wrongHash.Results[4].CaseHash = "other"
	for _, tt := range []struct{ ref string }{{"1"}, {"2"}, {"3"}, {"4"}} { // 3 is interrupted, 4 of another suite
		t.Run("history run "+tt.ref, func(t *testing.T) { checkStream(t, ctx, h.db, tt.ref, "") })
	}
	for _, tt := range []struct {
		name string
		b    *baselines.Baseline
		path string // of the store; "" is a file in a temporary directory
		err  string
	}{
		{name: "rich, complete", b: richBaseline(t, eval.RunComplete, 40)},
		{name: "rich, interrupted", b: richBaseline(t, eval.RunInterrupted, 7)},
		{name: "one case", b: richBaseline(t, eval.RunComplete, 1)},
		// An in-memory store has one connection: both streams read on it.
		{name: "in memory", b: richBaseline(t, eval.RunComplete, 5), path: ":memory:"},
		{name: "a result's case hash is not its case's", b: wrongHash,
			err: `encode baseline: result "case-002" sample 1 has case hash "other", its case "h1"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t, tt.path)
			storeBaseline(t, db, tt.b)
			checkStream(t, ctx, db, "1", tt.err)
		})
	}
}

// checkStream checks that run ref of db streams to what Encode writes of its
// Export, or that both fail with wantErr.
func checkStream(t *testing.T, ctx context.Context, db *store.DB, ref string, wantErr string) {
	t.Helper()
	opts := runs.ExportOptions{AllowIncomplete: true}
	x, err := runs.Export(ctx, db, ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	err = baselines.Encode(&want, x.Baseline)
	if got := errString(err); got != wantErr {
		t.Fatalf("Encode: error %q, want %q", got, wantErr)
	}
	s, err := runs.StartExport(ctx, db, ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	err = s.Stream(ctx, db, &got)
	if e := errString(err); e != wantErr {
		t.Fatalf("Stream: error %q, want %q", e, wantErr)
	}
	if wantErr != "" {
		return
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("Stream wrote\n%s\nEncode of Export wrote\n%s", got.Bytes(), want.Bytes())
	}
	if g, w := s.Baseline.Header, x.Baseline.Header; g.Cases != w.Cases || g.Results != w.Results || g.Errors != w.Errors || w.Results == 0 {
		t.Errorf("Stream counted %d cases, %d results, %d errors; Export %d, %d, %d", g.Cases, g.Results, g.Errors, w.Cases, w.Results, w.Errors)
	}
	if s.Run.ID != x.Run.ID || len(s.Warnings) != len(x.Warnings) {
		t.Errorf("StartExport: run %d, warnings %v; Export: run %d, warnings %v", s.Run.ID, s.Warnings, x.Run.ID, x.Warnings)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
