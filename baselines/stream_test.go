package baselines

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"iter"
	"slices"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/secret"
)

// errSeq yields vs, then err if it is not nil.
func errSeq[T any](vs []T, err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, v := range vs {
			if !yield(v, nil) {
				return
			}
		}
		if err != nil {
			var zero T
			yield(zero, err)
		}
	}
}

// EncodeStream writes what Encode writes of the same baseline, byte for
// byte; with addCases, what Encode writes of New's baseline, which adds the
// cases of results its cases lack; and it refuses what Encode refuses, in the
// same words.
func TestEncodeStream(t *testing.T) {
	secret.Register("sk-stream-test-51a0")
	sample := sampleBaseline()
	secretOut := sampleBaseline()
	secretOut.Results[0].Output = "key sk-stream-test-51a0 " // redacted, with the secret registered below
	withoutCase := sampleBaseline()                          // New adds the case line of a-raw back
	withoutCase.Cases = withoutCase.Cases[1:]
	noResults := sampleBaseline()
	noResults.Results, noResults.Header.Results, noResults.Header.Errors = nil, 0, 0
	incomplete := sampleBaseline()
	incomplete.Header.Status = eval.RunInterrupted
	incomplete.Results = incomplete.Results[:3]
	incomplete.Header.Results = 3

	dupCase := sampleBaseline()
	dupCase.Cases = append(dupCase.Cases, dupCase.Cases[1])
	dupResult := sampleBaseline()
	dupResult.Results = slices.Insert(dupResult.Results, 1, dupResult.Results[1])
	wrongHash := sampleBaseline()
	wrongHash.Results[3].CaseHash = "other"
	negative := sampleBaseline()
	negative.Results[0].Sample = -1
	unknown := sampleBaseline()
	unknown.Results[3].CaseID, unknown.Results[3].Sample = "c-gone", 0
	noLock := sampleBaseline()
	noLock.Header.Lock = ""
	tests := []struct {
		name     string
		b        *Baseline
		addCases bool
		err      string // Encode's error, which EncodeStream gives too
	}{
		{name: "sample", b: sample},
		{name: "a secret", b: secretOut},
		{name: "no results", b: noResults},
		{name: "incomplete", b: incomplete},
		{name: "a result's case added", b: withoutCase, addCases: true},
		{name: "duplicate case", b: dupCase, err: `encode baseline: duplicate case "b-chat"`},
		{name: "duplicate result", b: dupResult, err: `encode baseline: duplicate result "a-raw" sample 1`},
		{name: "case hash", b: wrongHash, err: `encode baseline: result "b-chat" sample 1 has case hash "other", its case "hb"`},
		{name: "negative sample", b: negative, err: `encode baseline: result "a-raw" has negative sample -1`},
		{name: "unknown case", b: unknown, err: `encode baseline: result of unknown case "c-gone"`},
		{name: "no lock", b: noLock, err: `encode baseline: no lock id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.b
			if tt.addCases {
				want = New(want.Run(), want.Cases, want.Results)
				want.Header = sample.Header
			}
			var encoded bytes.Buffer
			err := Encode(&encoded, want)
			if got := errText(err); got != tt.err {
				t.Fatalf("Encode: error %q, want %q", got, tt.err)
			}
			// The streams in file order, as a store yields them.
			s := sorted(tt.b)
			h := s.Header
			h.Cases, h.Results, h.Errors = len(s.Cases), len(s.Results), errorCount(s.Results)
			if tt.addCases {
				h.Cases = len(want.Cases)
			}
			var streamed bytes.Buffer
			err = EncodeStream(&streamed, h, errSeq(s.Cases, nil), errSeq(s.Results, nil), tt.addCases)
			if got := errText(err); got != tt.err {
				t.Fatalf("EncodeStream: error %q, want %q", got, tt.err)
			}
			if tt.err == "" && !bytes.Equal(streamed.Bytes(), encoded.Bytes()) {
				t.Errorf("EncodeStream wrote\n%s\nEncode wrote\n%s", streamed.Bytes(), encoded.Bytes())
			}
		})
	}
}

// EncodeStream refuses streams out of order, header counts the streams do
// not hold, and passes on a stream's error.
func TestEncodeStreamRefuses(t *testing.T) {
	b := sampleBaseline()
	h := b.Header
	boom := errors.New("boom")
	reversed := slices.Clone(b.Cases)
	slices.Reverse(reversed)
	swapped := slices.Clone(b.Results)
	swapped[2], swapped[0] = swapped[0], swapped[2]
	tests := []struct {
		name    string
		h       Header
		cases   iter.Seq2[eval.Case, error]
		results iter.Seq2[eval.Result, error]
		err     string
	}{
		{name: "cases out of order", h: h, cases: errSeq(reversed, nil), results: errSeq[eval.Result](nil, nil),
			err: `encode baseline: cases out of order at "a-raw"`},
		{name: "results out of order", h: h, cases: errSeq(b.Cases, nil), results: errSeq(swapped, nil),
			err: `encode baseline: results out of order at "a-raw" sample 1`},
		{name: "counts", h: Header{Lock: h.Lock, SuiteHash: h.SuiteHash, Status: h.Status, Cases: 2, Results: 3},
			cases: errSeq(b.Cases, nil), results: errSeq(b.Results, nil),
			err: "encode baseline: the header counts 2 cases, 3 results, 0 errors; the streams held 2, 4, 1"},
		{name: "a stream's error", h: h, cases: errSeq(b.Cases, nil), results: errSeq(b.Results[:1], boom), err: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := EncodeStream(&bytes.Buffer{}, tt.h, tt.cases, tt.results, false)
			if got := errText(err); got != tt.err {
				t.Errorf("error %q, want %q", got, tt.err)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The latencies line written in pieces is the line encoding/json writes, a
// piece's end falling anywhere; one that a secret is redacted from is
// refused, as e.line refuses it.
func TestLatencyLine(t *testing.T) {
	for _, n := range []int{1, 3, 9000, 70000} {
		lat := make([]int64, n)
		for i := range lat {
			lat[i] = int64(i)*7919 - 5
		}
		var varints []byte
		for _, v := range lat {
			varints = binary.AppendVarint(varints, v)
		}
		var got bytes.Buffer
		if err := latencyChunks(varints, func(p []byte) error { got.Write(p); return nil }); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(latencyLine{LatenciesNS: lat}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%d latencies: the pieces make %.80q…, encoding/json %.80q…", n, got.Bytes(), want.Bytes())
		}
	}

	const digits = "98765432123456789"
	secret.Register(digits)
	b := sampleBaseline()
	b.Results[2].Latency = 98765432123456789
	err := Encode(&bytes.Buffer{}, b)
	if want := "encode baseline: latencies: a secret in it cannot be redacted"; errText(err) != want {
		t.Errorf("a secret in the latencies: error %q, want %q", errText(err), want)
	}
}
