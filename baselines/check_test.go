package baselines

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// opener returns an open function of data.
func opener(data []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

// collect returns what seq yields before its error, and the error.
func collect[T any](seq func(func(T, error) bool)) ([]T, error) {
	var vs []T
	for v, err := range seq {
		if err != nil {
			return vs, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// TestCheckReadsAgain checks that a File read again holds what Decode
// returns, on files of one block and of many, of both versions, and with a
// latency line not written as export writes it.
func TestCheckReadsAgain(t *testing.T) {
	v1, err := os.ReadFile("testdata/small-v1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := sampleLines(t)
	spaced := reseal(append(lines[:7:7], `{ "latencies_ns": [ 1, 2, 3, 4 ] }`))
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"sample", encode(t, sampleBaseline())},
		{"many blocks", encode(t, bigBaseline(4000))},
		{"version 1", v1},
		{"spaced latency line", spaced},
		{"no results", encode(t, New(sampleBaseline().Run(), sampleBaseline().Cases, nil))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := Decode(bytes.NewReader(tc.data), "b.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			f, err := Check("b.jsonl", opener(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.Header, want.Header) {
				t.Errorf("header:\n got %+v\nwant %+v", f.Header, want.Header)
			}
			cases, err := collect(f.Cases())
			if err != nil || !reflect.DeepEqual(cases, want.Cases) {
				t.Errorf("cases: %v; equal %v", err, reflect.DeepEqual(cases, want.Cases))
			}
			results, err := collect(f.Results())
			if err != nil || !reflect.DeepEqual(results, want.Results) {
				t.Errorf("results: %v; equal %v", err, reflect.DeepEqual(results, want.Results))
			}
			digest, err := DigestResults(f.Header.Lock, f.Results())
			if wantDigest := mustDigest(t, want); err != nil || digest != wantDigest {
				t.Errorf("DigestResults: %s, %v; Digest %s", digest, err, wantDigest)
			}
		})
	}
}

// TestCheckSpills checks that a File keeps its latencies on disk beyond
// spillMemory, reads them back, and removes the file on Close.
func TestCheckSpills(t *testing.T) {
	defer func(m int) { spillMemory = m }(spillMemory)
	spillMemory = 64
	data := encode(t, bigBaseline(4000))
	want, err := Decode(bytes.NewReader(data), "big.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Check("big.jsonl", opener(data))
	if err != nil {
		t.Fatal(err)
	}
	if f.lat.file == nil {
		t.Fatal("the latencies were not spilled")
	}
	results, err := collect(f.Results())
	if err != nil || !reflect.DeepEqual(results, want.Results) {
		t.Errorf("results read again: %v; equal %v", err, reflect.DeepEqual(results, want.Results))
	}
	name := f.lat.file.Name()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the spilled latencies %s are still there after Close: %v", name, err)
	}
}

// TestCheckRefusesChange checks that a file changed after Check is refused
// when read again, and that nothing of a changed block is yielded.
func TestCheckRefusesChange(t *testing.T) {
	data := encode(t, bigBaseline(4000)) // 1,000 cases, 4,000 results: 5 blocks
	f, err := Check("big.jsonl", opener(data))
	if err != nil {
		t.Fatal(err)
	}
	var cur []byte
	f.open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cur)), nil }
	lines := strings.SplitAfter(string(data), "\n")
	edited := slices.Clone(lines)
	edited[blockLines+10] = strings.Replace(edited[blockLines+10], "The square", "The cube", 1)
	block1 := 0 // the results of the first block
	for _, l := range lines[:blockLines] {
		if strings.HasPrefix(l, `{"result":`) {
			block1++
		}
	}
	for _, tc := range []struct {
		name  string
		file  []byte
		yield int // results yielded before the error: those of the first block
	}{
		{"output edited in block 2", []byte(strings.Join(edited, "")), block1},
		{"cut after block 1", []byte(strings.Join(lines[:blockLines], "")), block1},
		{"empty", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur = tc.file
			got, err := collect(f.Results())
			if !errors.Is(err, ErrChanged) {
				t.Fatalf("Results: %v, want an error matching ErrChanged", err)
			}
			if len(got) != tc.yield {
				t.Errorf("Results yielded %d results before the error, want %d (those of the blocks before the change)", len(got), tc.yield)
			}
		})
	}
}

// TestCheckStops checks that a consumer may stop reading again.
func TestCheckStops(t *testing.T) {
	f, err := Check("big.jsonl", opener(encode(t, bigBaseline(4000))))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range f.Results() {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 10 {
			break
		}
	}
	var first eval.Case
	for c, err := range f.Cases() {
		if err != nil {
			t.Fatal(err)
		}
		first = c
		break
	}
	if first.ID != "case-000000" {
		t.Errorf("first case %q", first.ID)
	}
}

// FuzzLatencyLine checks the latency line's parser against encoding/json:
// a file whose latency line starts as export writes it (parsed as it
// streams by) is read as the same file whose line starts with a space
// (decoded as JSON), to the same latencies or the same error.
func FuzzLatencyLine(f *testing.F) {
	for _, s := range []string{"1,2,3,4]}", "1,2,3,-4]}", "0,0,0,0]}", "01,2,3,4]}", "1,2,3,4] }", "1,2,3,4]}x",
		"1,2,3,4,]}", "]}", "1e3,2,3,4]}", "1,2,3,99999999999999999999]}", "1,2,3,4],\"x\":1}", "-0,1,2,3]}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		if strings.ContainsAny(rest, "\n\r") {
			return
		}
		lines := sampleLines(t)[:7]
		read := func(line string) (*Baseline, string) {
			b, err := Decode(bytes.NewReader(reseal(append(slices.Clone(lines), line))), "b")
			if err != nil {
				return nil, err.Error()
			}
			return b, ""
		}
		got, gotErr := read(`{"latencies_ns":[` + rest)
		want, wantErr := read(` {"latencies_ns":[` + rest)
		if gotErr != wantErr {
			t.Fatalf("streamed: %q\nas JSON: %q", gotErr, wantErr)
		}
		if got != nil && !reflect.DeepEqual(got.Results, want.Results) {
			t.Fatal("streamed and JSON latencies differ")
		}
	})
}

// BenchmarkCheck100k checks a file of 100,000 results (Check) and reads its
// cases and its results again, as an import does, reporting each pass's time
// per result.
func BenchmarkCheck100k(b *testing.B) {
	const n = 100_000
	data := encode(b, bigBaseline(n))
	var check, cases, results time.Duration
	for b.Loop() {
		start := time.Now()
		f, err := Check("big.jsonl", opener(data))
		if err != nil {
			b.Fatal(err)
		}
		check += time.Since(start)
		start = time.Now()
		for _, err := range f.Cases() {
			if err != nil {
				b.Fatal(err)
			}
		}
		cases += time.Since(start)
		start = time.Now()
		for _, err := range f.Results() {
			if err != nil {
				b.Fatal(err)
			}
		}
		results += time.Since(start)
		f.Close()
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / n }
	b.ReportMetric(per(check), "check-ns/result")
	b.ReportMetric(per(cases), "cases-ns/result")
	b.ReportMetric(per(results), "results-ns/result")
}
