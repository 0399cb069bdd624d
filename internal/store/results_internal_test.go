package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
)

// plainChecks decodes a stored checks text as the plain implementation does:
// encoding/json, no checks for an empty text or array.
func plainChecks(s string) ([]eval.Check, error) {
	if s == "" {
		return nil, nil
	}
	var cs []eval.Check
	if err := json.Unmarshal([]byte(s), &cs); err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, nil
	}
	return cs, nil
}

// plainResults reads the results of a run as the plain implementation does:
// typed Scan, the lock as stored, checks by encoding/json, and nothing kept
// once or shared. FuzzResults holds the store's reader equal to it.
func plainResults(ctx context.Context, db *DB, runID int64) ([]eval.Result, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT case_id, case_hash, sample, output, finish_reason, prompt_tokens,
		completion_tokens, latency_ns, lock_seen, endpoint, error_kind, error, checks
		FROM results WHERE run_id = ? ORDER BY case_id, sample`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []eval.Result
	for rows.Next() {
		var (
			r              eval.Result
			latency        int64
			lock, checksJS string
		)
		if err := rows.Scan(&r.CaseID, &r.CaseHash, &r.Sample, &r.Output, &r.FinishReason, &r.PromptTokens,
			&r.CompletionTokens, &latency, &lock, &r.Endpoint, &r.ErrorKind, &r.Error, &checksJS); err != nil {
			return nil, err
		}
		r.Latency, r.Lock = time.Duration(latency), lockid.ID(lock)
		if r.Checks, err = plainChecks(checksJS); err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// comparedOnly returns rs with only what ComparedResults reads: the finish
// reason, token counts, lock and endpoint zero.
func comparedOnly(rs []eval.Result) []eval.Result {
	if rs == nil {
		return nil
	}
	out := make([]eval.Result, len(rs))
	for i, r := range rs {
		r.FinishReason, r.PromptTokens, r.CompletionTokens, r.Lock, r.Endpoint = "", 0, 0, "", ""
		out[i] = r
	}
	return out
}

// compared returns the results ComparedResults reads of the run, collected.
func compared(ctx context.Context, db *DB, runID int64) ([]eval.Result, error) {
	var rs []eval.Result
	err := db.ComparedResults(ctx, runID, func(r *eval.Result) error {
		rs = append(rs, *r)
		return nil
	})
	return rs, err
}

// FuzzResults holds Results and ComparedResults, with the tricks of the
// store's reader (the slice sized by a count, strings shared with the
// previous sample), equal to plainResults. Each input stores a baseline
// and a candidate run of a few cases and samples, whose fields come from
// the fuzzed strings and bits.
func FuzzResults(f *testing.F) {
	f.Add("out", "stop", "http://127.0.0.1:8000/v1", "fact", "want 43, got 41", "", uint32(0), uint8(3))
	f.Add("", "", "", "", "", "", uint32(0xffffffff), uint8(0))
	f.Add("naïve 日本語 \u2028 \x00 end", "length", "http://a/v1", `a "quoted" name`, `no match for "a\d+" in <b>&`, "timeout",
		uint32(0x5a5a5a5a), uint8(7))
	f.Add("x", "stop", "e", "s", `},{"scorer":"y","pass":true}`, "http", uint32(0x12345678), uint8(255))
	f.Add("\xff bad utf-8", "\xc3", "ep", "\xed\xa0\x80", "d\n", "k", uint32(0x0f0f0f0f), uint8(5))
	ctx := context.Background()
	db := NewDB(":memory:")
	if err := db.Open(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	var runs int
	f.Fuzz(func(t *testing.T, output, finish, endpoint, scorer, detail, errorKind string, bits uint32, shape uint8) {
		bit := func(i int) bool { return bits>>(i%32)&1 != 0 }
		locks := []lockid.ID{"sha256:aa", "sha256:bb", ""}
		var ids [2]int64
		for side := range ids {
			runs++
			run := eval.Run{Lock: "sha256:aa", Suite: "s", SuiteVersion: "1", SuiteHash: fmt.Sprint("h", runs),
				Settings: eval.DefaultSettings(), Version: "test"}
			if side == 1 && bit(0) {
				run.Lock = "sha256:bb"
			}
			if err := db.CreateRun(ctx, &run); err != nil {
				t.Fatal(err)
			}
			ids[side] = run.ID
			cases, samples := 1+int(shape%4), 1+int(shape/4%3)
			w := db.NewWriter(ctx, run.ID, WriterOptions{FlushInterval: time.Hour})
			k := 0
			for c := range cases {
				for s := range samples {
					k++
					if side == 1 && bit(k+7) && bit(k+13) { // the candidate lacks some
						continue
					}
					r := eval.Result{CaseID: fmt.Sprint("case-", c), CaseHash: fmt.Sprint("h", c), Sample: s,
						Output: output, FinishReason: finish, Endpoint: endpoint, Lock: run.Lock,
						PromptTokens: k, CompletionTokens: int(shape), Latency: time.Duration(bits)}
					if bit(k) {
						r.Output += fmt.Sprint(k) // outputs that differ between samples and runs
					}
					if bit(k + 3) {
						r.Lock = locks[(k+side)%len(locks)] // a replica serving another lock, or none
					}
					if bit(k + 5) {
						r.ErrorKind, r.Error = errorKind, "failed: "+detail
					}
					for i := range int(shape>>5) + (k % 2) {
						ch := eval.Check{Scorer: scorer, Pass: bit(k + i)}
						if !ch.Pass {
							ch.Detail = detail
						}
						if i > 0 {
							ch.Scorer += fmt.Sprint(i) // names in a check set are unique
						}
						if bit(k + i + 11) {
							ch.Detail += fmt.Sprint(" case ", c) // a detail of its own
						}
						r.Checks = append(r.Checks, ch)
					}
					if err := w.Put(r); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		for side, id := range ids {
			want, err := plainResults(ctx, db, id)
			if err != nil {
				t.Fatal(err)
			}
			got, err := db.Results(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("run %d: Results\n%+v\nplain\n%+v", side, got, want)
			}
			if side == 1 {
				if got, err = compared(ctx, db, id); err != nil {
					t.Fatal(err)
				}
				if want := comparedOnly(want); !reflect.DeepEqual(got, want) {
					t.Fatalf("ComparedResults\n%+v\nplain\n%+v", got, want)
				}
			}
		}
	})
}

// FuzzDone holds Done, whose samples 0–63 are the bits of one entry a case,
// equal to a plain set of (case id, sample) pairs: each pair of the input is
// added or looked up, and the two must agree on every lookup and the count.
func FuzzDone(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 0, 63, 64, 65, 0x80, 0xff, 2, 63})
	f.Add([]byte{})
	f.Add([]byte{3, 0x7f, 3, 0x7f, 3, 0x80, 3, 0xc1, 3, 0x40, 3, 0x3f})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var d Done
		plain := make(map[doneKey]bool)
		for i := 0; i+1 < len(ops); i += 2 {
			caseID := fmt.Sprint("case-", ops[i]%8)
			sample := int(int8(ops[i+1])) // -128…127: negative, low and high samples
			if got, want := d.Has(caseID, sample), plain[doneKey{caseID, sample}]; got != want {
				t.Fatalf("op %d: Has(%s, %d) = %v, want %v", i/2, caseID, sample, got, want)
			}
			if ops[i]&0x80 == 0 {
				d.Add(caseID, sample)
				plain[doneKey{caseID, sample}] = true
			}
			if got, want := d.Len(), len(plain); got != want {
				t.Fatalf("op %d: Len() = %d, want %d", i/2, got, want)
			}
		}
	})
}

// FuzzCaseLabels holds SuiteLabels, which SQLite's json_extract reads
// without decoding the cases, equal to the tags and clusters of the cases
// Cases decodes with encoding/json.
func FuzzCaseLabels(f *testing.F) {
	f.Add("reading", "t1", "passage-1", uint8(0))
	f.Add("", "", "", uint8(0xff))
	f.Add(`"quoted" \ back`, "<tag> &amp;", "日本 🎉 \u2028", uint8(0x5a))
	f.Add("nul \x00 in", "\xff bad utf-8", "\xed\xa0\x80", uint8(0x33))
	f.Add("tab\tnew\nline", "\x7f", "\u0000", uint8(0x0f))
	ctx := context.Background()
	db := NewDB(":memory:")
	if err := db.Open(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	var suites int
	f.Fuzz(func(t *testing.T, tag1, tag2, cluster string, bits uint8) {
		suites++
		suite := eval.Suite{Name: "s", Version: "1", Hash: fmt.Sprint("suite-", suites), Settings: eval.DefaultSettings()}
		for i := range 4 {
			c := eval.Case{ID: fmt.Sprint("case-", i), Prompt: "p", Hash: fmt.Sprint("h", i)}
			switch bits >> (2 * i) & 3 {
			case 1:
				c.Tags = []string{tag1}
			case 2:
				c.Tags, c.Cluster = []string{tag1, tag2}, cluster
			case 3:
				c.Tags, c.Cluster = []string{}, cluster+fmt.Sprint(i)
			}
			suite.Cases = append(suite.Cases, c)
		}
		if err := db.PutSuite(ctx, suite); err != nil {
			t.Fatal(err)
		}
		cases, err := db.Cases(ctx, suite.Hash)
		if err != nil {
			t.Fatal(err)
		}
		want := make(map[string]eval.Case, len(cases))
		for id, c := range cases {
			want[id] = eval.Case{ID: c.ID, Tags: c.Tags, Cluster: c.Cluster}
		}
		held, err := db.SuiteLabels(ctx, suite.Hash)
		if err != nil {
			t.Fatal(err)
		}
		labels := maps.Collect(held.All())
		wantLabels := make(map[string]Label, len(want))
		for id, c := range want {
			wantLabels[id] = Label{Tags: c.Tags, Cluster: c.Cluster}
		}
		if !reflect.DeepEqual(labels, wantLabels) {
			t.Fatalf("SuiteLabels\n%#v\nthe labels of Cases\n%#v", labels, wantLabels)
		}
	})
}
