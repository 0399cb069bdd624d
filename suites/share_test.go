package suites

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/evalpin/evalpin/eval"
)

func TestSharedScorers(t *testing.T) {
	s, err := Parse("share.yaml", []byte(`name: share
version: "1"
cases:
  - {id: a, prompt: p, scorers: [{kind: regex, pattern: '^\d+$'}, {kind: json_schema, schema: {type: object, required: [x], properties: {x: {maximum: 1}}}}]}
  - {id: b, prompt: p, scorers: [{kind: regex, pattern: '^\d+$'}, {kind: json_schema, schema: {properties: {x: {maximum: 1.0}}, required: [x], type: object}}]}
  - {id: c, prompt: p, scorers: [{kind: regex, pattern: '^\d+$', ignore_case: true}, {kind: json_schema, schema: {type: object}}]}
  - {id: d, prompt: p, scorers: [{kind: regex, pattern: '^\d+$', name: digits}, {kind: json_schema, schema: {type: object, required: [x], properties: {x: {maximum: 1}}}, strip_fence: true}]}
  - {id: e, prompt: p, scorers: [{kind: regex, pattern: '^\d*$'}, {kind: json_schema, name: obj, schema: {type: object, required: [x], properties: {x: {maximum: 1}}}}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	byID := make(map[string]eval.Case)
	for _, c := range s.Cases {
		byID[c.ID] = c
	}
	for _, tt := range []struct {
		a, b   string // case ids
		scorer int    // index of the scorer compared
		shared bool
	}{
		{"a", "b", 0, true},  // the same regex
		{"a", "b", 1, true},  // the same schema, keys in another order, 1.0 for 1
		{"a", "c", 0, false}, // ignore_case differs
		{"a", "d", 0, false}, // the name differs
		{"a", "e", 0, false}, // the pattern differs
		{"a", "c", 1, false}, // the schema differs
		{"a", "d", 1, false}, // strip_fence differs
		{"a", "e", 1, false}, // the name differs
	} {
		sa, sb := byID[tt.a].Scorers[tt.scorer], byID[tt.b].Scorers[tt.scorer]
		if got := sa == sb; got != tt.shared {
			t.Errorf("cases %s and %s share scorer %d (%s): %v, want %v", tt.a, tt.b, tt.scorer, sa.Name(), got, tt.shared)
		}
	}
	// Sharing changes no verdict and no hash.
	if got := byID["b"].Scorers[0].Score("123"); !got.Pass {
		t.Errorf("shared regex scorer: %+v, want a pass", got)
	}
	if got := byID["b"].Scorers[1].Score(`{"x": 2}`); got.Pass {
		t.Errorf("shared schema scorer: %+v, want a failure", got)
	}
}

func TestSharedScorers_Concurrent(t *testing.T) {
	// A JSONL suite this long is built by several goroutines.
	s, err := Parse("regex.jsonl", regexSuite(3000))
	if err != nil {
		t.Fatal(err)
	}
	distinct := make(map[eval.Scorer]bool)
	for _, c := range s.Cases {
		for _, sc := range c.Scorers {
			distinct[sc] = true
		}
	}
	if got, want := len(distinct), 4; got != want { // three patterns, one schema
		t.Fatalf("3000 cases hold %d distinct scorers, want %d", got, want)
	}
}

// regexSuite returns a JSONL suite of n cases that judge their outputs with a
// few regexes and one JSON schema, the same in many cases, as generated
// suites do.
func regexSuite(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"suite": {"name": "regex", "version": "1"}}` + "\n")
	patterns := []string{`^\\s*(?:[A-D])\\s*$`, `(?i)\\b(?:yes|no)\\b`, `^\\d+(?:\\.\\d+)?\\s*(?:km|m|cm)$`}
	for i := range n {
		fmt.Fprintf(&b, `{"id": "case-%06d", "prompt": "Question %d", "scorers": [`+
			`{"kind": "regex", "pattern": "%s"}, `+
			`{"kind": "json_schema", "schema": {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string", "maxLength": 64}}}}]}`+"\n",
			i, i, patterns[i%len(patterns)])
	}
	return b.Bytes()
}

// BenchmarkLoadRegexSuite10k parses a 10,000-case JSONL suite with regex and
// JSON schema scorers and reports the heap the loaded suite keeps.
func BenchmarkLoadRegexSuite10k(b *testing.B) {
	data := regexSuite(10_000)
	var kept uint64
	b.ReportAllocs()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := Parse("regex.jsonl", data)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		kept = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(s)
	}
	b.ReportMetric(float64(kept)/(1<<20), "MiB-kept")
}
