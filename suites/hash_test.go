package suites

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/score"
)

// TestHashGolden pins the case and suite hashes of suites that use every
// field, every scorer kind and option, and strings and numbers that need
// care in canonical JSON (escapes, HTML characters, invalid UTF-8, exponents,
// -0). A change to how hashes are computed shows up here; -update rewrites
// the golden file after a deliberate one.
func TestHashGolden(t *testing.T) {
	tests := []struct {
		file   string // the suite
		golden string // its hashes
	}{
		{"testdata/hash/every-field.jsonl", "testdata/hash/every-field.hashes"},
		{"testdata/good/base.yaml", "testdata/hash/base.hashes"},
		// 700 cases over several chunks, with blank lines of every kind,
		// indentation and trailing white space.
		{"testdata/hash/layout.jsonl", "testdata/hash/layout.hashes"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s := mustLoad(t, tt.file)
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s\n", s.Name, s.Hash)
			for _, c := range s.Cases {
				fmt.Fprintf(&b, "  %s %s\n", c.ID, c.Hash)
			}
			checkGolden(t, tt.golden, b.String())
		})
	}
}

// TestCaseHashReference checks every case hash against the definition
// computed the slow way: the hash document built from the scorers' own JSON
// encodings (with their names and kinds added), encoded by encoding/json,
// decoded generically and encoded again in canonical form.
func TestCaseHashReference(t *testing.T) {
	suites := []*eval.Suite{mustLoad(t, "testdata/hash/every-field.jsonl"), mustLoad(t, "testdata/good/base.yaml")}
	for _, n := range ExampleNames() {
		s, err := LoadExample(n)
		if err != nil {
			t.Fatal(err)
		}
		suites = append(suites, s)
	}
	s, err := Parse("bench.jsonl", containsRegexSuite(50))
	if err != nil {
		t.Fatal(err)
	}
	suites = append(suites, s)
	for _, s := range suites {
		for i := range s.Cases {
			c := &s.Cases[i]
			if got, want := c.Hash, referenceCaseHash(t, c, s.Settings); got != want {
				t.Errorf("suite %s, case %s: hash %s, want %s", s.Name, c.ID, got, want)
			}
		}
	}
}

// referenceCaseHash computes a case's hash from its definition in hash.go
// with encoding/json alone.
func referenceCaseHash(t *testing.T, c *eval.Case, defaults eval.Settings) string {
	t.Helper()
	set := defaults.With(c.Overrides)
	set.Samples, set.Logprobs = 0, false
	doc := map[string]any{"id": c.ID, "settings": set}
	if c.Messages == nil {
		doc["prompt"] = c.Prompt
		set.System = ""
	} else {
		doc["messages"] = c.Messages
		if slices.ContainsFunc(c.Messages, func(m eval.Message) bool { return m.Role == "system" }) {
			set.System = ""
		}
	}
	doc["settings"] = set
	scorers := []any{}
	for _, s := range c.Scorers {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["name"] = s.Name()
		m["kind"] = s.(score.KindScorer).Kind()
		scorers = append(scorers, m)
	}
	doc["scorers"] = scorers
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var g any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	// The generic value's canonical JSON: TestCanonicalJSON checks that part
	// of appendCanonical against encoding/json, which differs only in writing
	// -0 and escaping U+2028 and U+2029.
	return sum(appendCanonical(nil, g))
}

// containsRegexSuite returns a JSONL suite of n chat cases, each with a
// contains and a regex scorer shared by all of them: the suite the run
// benchmark of cmd/evalpin replays.
func containsRegexSuite(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"suite": {"name": "bench-run", "version": "1"}}` + "\n")
	for i := range n {
		fmt.Fprintf(&b, `{"id": "case-%06d", "messages": [{"role": "user", "content": "What is 2+2? Answer briefly. #%06d"}], "tags": ["t%d"], "scorers": [{"kind": "contains", "value": "2+2"}, {"kind": "regex", "pattern": "^echo: What is \\d\\+\\d\\?"}]}`+"\n",
			i, i, i%3)
	}
	return b.Bytes()
}

// BenchmarkLoadContainsRegex10k parses a 10,000-case JSONL suite with a
// contains and a regex scorer per case: the fixed cost of "evalpin run"
// before its first request.
func BenchmarkLoadContainsRegex10k(b *testing.B) {
	data := containsRegexSuite(10_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := Parse("bench-run.jsonl", data)
		if err != nil || len(s.Cases) != 10_000 {
			b.Fatal(err)
		}
	}
}
