package suites

import (
	"fmt"
	"testing"
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
