package suites

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/evalpin/evalpin/eval"
)

// The benchmarks in this file hold each fast path of the package against its
// plain version in one run, as docs/architecture.md ("Fast paths") records:
//
//	go test -run='^$' -bench='Fast' -count=6 ./suites | benchstat -col /impl -

// BenchmarkFastCaseHash hashes the cases of two 10,000-case suites:
// impl=fast is hasher.caseHash, which writes the canonical JSON of the hash
// document from its Go value; impl=plain is referenceCaseHash, which encodes
// it with encoding/json and decodes it generically first.
func BenchmarkFastCaseHash(b *testing.B) {
	for _, data := range []struct {
		name string
		data []byte
	}{{"ContainsRegex10k", containsRegexSuite(10_000)}, {"NumberLength10k", jsonlSuite(10_000)}} {
		s, err := Parse("bench.jsonl", data.data)
		if err != nil {
			b.Fatal(err)
		}
		for _, impl := range []string{"fast", "plain"} {
			b.Run(fmt.Sprintf("data=%s/impl=%s", data.name, impl), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					h := newHasher(s.Settings)
					for i := range s.Cases {
						if impl == "fast" {
							h.caseHash(&s.Cases[i])
						} else {
							referenceCaseHash(b, &s.Cases[i], s.Settings)
						}
					}
				}
			})
		}
	}
}

// plainCaseLines parses each case line alone: parseCaseLines' plain version.
func plainCaseLines(file string, lines []rawLine, hs *hasher, results []jsonlCase, cases []eval.Case) {
	for i, l := range lines {
		results[i] = parseCaseLine(file, l.no, l.text, hs, &cases[i], nil)
	}
}

// BenchmarkFastCaseLines parses the 10,000 case lines of two JSONL suites on
// one goroutine: impl=fast is parseCaseLines, one json.Decoder for a run of
// lines; impl=plain is plainCaseLines, a decoder a line.
func BenchmarkFastCaseLines(b *testing.B) {
	for _, data := range []struct {
		name string
		data []byte
	}{{"ContainsRegex10k", containsRegexSuite(10_000)}, {"NumberLength10k", jsonlSuite(10_000)}} {
		lines := splitLines(data.data)[1:] // after the header
		results, cases := make([]jsonlCase, len(lines)), make([]eval.Case, len(lines))
		for _, impl := range []string{"fast", "plain"} {
			b.Run(fmt.Sprintf("data=%s/impl=%s", data.name, impl), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					hs := newHasher(eval.DefaultSettings())
					if impl == "fast" {
						parseCaseLines("bench.jsonl", data.data, lines, hs, results, cases)
					} else {
						plainCaseLines("bench.jsonl", lines, hs, results, cases)
					}
				}
			})
		}
	}
}

// FuzzCaseLines holds parseCaseLines, which decodes a run of lines with one
// json.Decoder, equal to plainCaseLines, which decodes each line alone: the
// same cases (their hashes stand for their scorers) and the same problems.
// The seeds put on one line what the shared decoder must not take for the
// line's case: two values, a value spanning lines, trailing garbage, blank
// and white-space lines, unknown fields and invalid JSON.
func FuzzCaseLines(f *testing.F) {
	for _, s := range []string{
		string(containsRegexSuite(3)),
		string(jsonlSuite(3)),
		`{"id": "a", "prompt": "p"}` + "\n" + `{"id": "b", "prompt": "q"}`,
		`{"id": "a", "prompt": "p"} {"id": "b", "prompt": "q"}` + "\n" + `{"id": "c", "prompt": "r"}`,
		`{"id": "a",` + "\n" + `"prompt": "p"}` + "\n" + `{"id": "c", "prompt": "r"}`,
		`{"id": "a", "prompt": "p"} x` + "\n" + `{"id": "b", "prompt": "q"}` + "\r\n" + `{"id": "c", "prompt": "r"}  ` + "\t",
		`{"id": "a", "prompt": "p", "nope": 1}` + "\n" + `{"id": "b", "prompt": "q"}`,
		`[1, 2]` + "\n" + `"x"` + "\n" + `{"id": "b", "prompt": "q"}` + "\n" + `{`,
		`{"id": "a", "prompt": "p"}` + "\n\n   \n" + `{"id": "a", "prompt": "p"}`,
		`{"id": "é\u2028", "prompt": "\ud800 \u0000", "tags": ["x"], "cluster": "c"}` + "\n" + `{"id": 5}`,
		`{"id": "a", "messages": [{"role": "user", "content": "hi"}], "scorers": [{"kind": "regex", "pattern": "("}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		lines := splitLines([]byte(data))
		if len(lines) == 0 {
			return
		}
		n := len(lines)
		fastResults, fastCases := make([]jsonlCase, n), make([]eval.Case, n)
		plainResults, plainCases := make([]jsonlCase, n), make([]eval.Case, n)
		parseCaseLines("f.jsonl", []byte(data), lines, newHasher(eval.DefaultSettings()), fastResults, fastCases)
		plainCaseLines("f.jsonl", lines, newHasher(eval.DefaultSettings()), plainResults, plainCases)
		if !reflect.DeepEqual(fastResults, plainResults) {
			t.Fatalf("parseCaseLines problems\n%+v\nplainCaseLines\n%+v", fastResults, plainResults)
		}
		for i := range fastCases {
			got, want := fastCases[i], plainCases[i]
			if len(got.Scorers) != len(want.Scorers) {
				t.Fatalf("line %d: %d scorers, plainCaseLines %d", lines[i].no, len(got.Scorers), len(want.Scorers))
			}
			got.Scorers, want.Scorers = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("line %d: parseCaseLines\n%+v\nplainCaseLines\n%+v", lines[i].no, got, want)
			}
		}
	})
}
