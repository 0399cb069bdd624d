package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/evalpin/evalpin/eval"
)

// storedRows returns every column but id and run_id of run's result rows, in
// the order they were inserted (by id).
func storedRows(t *testing.T, db *DB, run int64) [][]any {
	t.Helper()
	rows, err := db.db.Query(`SELECT case_id, sample, case_hash, output, finish_reason, prompt_tokens,
		completion_tokens, latency_ns, lock_seen, endpoint, error_kind, error, checks,
		typeof(output), typeof(checks) FROM results WHERE run_id = ? ORDER BY id`, run)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		row := make([]any, 15)
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzPutResults holds putResults's statements of many rows equal to the
// plain path, one statement a row: the same batches, with repeated case
// samples, retryable and permanent failures and checks, stored by both into
// runs of their own, leave the same rows in the same order.
func FuzzPutResults(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 0, 1, 0, 1, 2, 0, 1, 2, 1, 3, 0, 0, 2}, uint8(3), uint8(5), true)
	f.Add([]byte{7, 2, 3, 7, 2, 1, 7, 2, 0, 7, 2, 3}, uint8(2), uint8(1), false)
	f.Add(make([]byte, 3*70), uint8(32), uint8(64), true)
	ctx := context.Background()
	db := NewDB(":memory:")
	if err := db.Open(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	newRun := func(t *testing.T) int64 {
		run := eval.Run{Lock: "sha256:aa", Suite: "s", SuiteVersion: "1", SuiteHash: fmt.Sprint("h-", t.Name()),
			Settings: eval.DefaultSettings(), Endpoints: []string{"http://127.0.0.1:8000/v1"}, Version: "test"}
		if err := db.CreateRun(ctx, &run); err != nil {
			t.Fatal(err)
		}
		return run.ID
	}
	f.Fuzz(func(t *testing.T, ops []byte, rows, batch uint8, replace bool) {
		var results []eval.Result
		for i := 0; i+2 < len(ops); i += 3 {
			r := eval.Result{CaseID: fmt.Sprint("case-", ops[i]%8), Sample: int(ops[i+1] % 3), CaseHash: "h",
				Output: fmt.Sprint("out ", ops[i+2]), FinishReason: "stop", Lock: "sha256:aa", Endpoint: "http://x/v1",
				PromptTokens: int(ops[i]), Latency: 1}
			switch ops[i+2] % 4 {
			case 1:
				r.Output, r.ErrorKind, r.Error = "", "server", fmt.Sprint("HTTP 503 #", i)
			case 2:
				r.Output, r.ErrorKind, r.Error = "", "bad_request", "HTTP 400"
			case 3:
				r.Checks = []eval.Check{{Scorer: "contains", Pass: true}, {Scorer: "regex", Detail: fmt.Sprint(i)}}
			}
			results = append(results, r)
		}
		var kinds []string
		if replace {
			kinds = []string{"server", "timeout"}
		}
		size := max(int(batch), 1)
		store := func(rows int) [][]any {
			run := newRun(t)
			for rs := results; len(rs) > 0; {
				n := min(size, len(rs))
				if err := db.putResultsBy(ctx, run, rs[:n], kinds, rows); err != nil {
					t.Fatal(err)
				}
				rs = rs[n:]
			}
			got := storedRows(t, db, run)
			if _, err := db.db.Exec(`DELETE FROM runs WHERE id = ?`, run); err != nil {
				t.Fatal(err)
			}
			return got
		}
		plain, fast := store(1), store(max(int(rows), 2))
		if !reflect.DeepEqual(fast, plain) {
			t.Fatalf("%d rows a statement stored\n%v\none a statement\n%v", rows, fast, plain)
		}
	})
}
