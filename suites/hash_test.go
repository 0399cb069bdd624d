package suites

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
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
func referenceCaseHash(t testing.TB, c *eval.Case, defaults eval.Settings) string {
	t.Helper()
	set := defaults.With(c.Overrides)
	set.Samples, set.Logprobs = 0, false
	doc := map[string]any{"id": c.ID, "settings": set}
	if c.Messages == nil {
		doc["prompt"] = c.Prompt
		set.System = ""
	} else {
		if len(c.Messages) > 0 { // an empty list is left out, as omitempty does
			doc["messages"] = c.Messages
		}
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

// FuzzCaseHash holds hasher.caseHash equal to referenceCaseHash on generated
// cases: chat or prompt, overrides or none, and a scorer of every kind built
// directly (so that it may hold what a suite file cannot give, such as a -0
// tolerance), with floats (finite: suites reject the others), unicode,
// empty and absent lists and labels, and omitempty fields set and unset.
// Strings are valid UTF-8, as decoding a suite file makes them: JSON decoding
// replaces each invalid byte by U+FFFD, and YAML refuses them. (appendString
// replaces a run of invalid bytes by one U+FFFD, encoding/json each byte.)
func FuzzCaseHash(f *testing.F) {
	negZero := math.Copysign(0, -1)
	f.Add("chat", "What is 2+2?", "Be brief.", uint8(1), "4", "has-four", 4.0, 0.5, 1e-3, 1, 10, uint16(0))
	f.Add("neg-zero", "p", "", uint8(0), "", "", negZero, negZero, negZero, 0, 0, uint16(0xffff))
	f.Add("tiny", "x", "", uint8(2), "first", "last", 5e-324, 1e21, 1e-7, -1, 1<<40, uint16(0x5555))
	f.Add("unicode é 日本 🎉", "\u2028 \u2029 <b>&amp;</b> \"q\" \\ \x00\x1f\x7f", "système", uint8(3), "ÉCOLE", "straße", -1.5, 0.1, 123456789012.0, 3, 3, uint16(0xaaaa))
	f.Add("bad-utf8", "lone \xff\xfe end", "\xc3", uint8(1), "\xed\xa0\x80", "\U0010ffff", 1e300, 0.0, 0.01, 0, 0, uint16(0x0f0f))
	f.Add("", "", "", uint8(0), "", "", 0.0, 0.0, 0.0, 0, 0, uint16(0))
	f.Fuzz(func(t *testing.T, id, text, system string, form uint8, s1, s2 string, x, y, z float64, n, m int, flags uint16) {
		for _, v := range []float64{x, y, z} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Skip("suites reject non-finite numbers")
			}
		}
		id, text, system, s1, s2 = decoded(id), decoded(text), decoded(system), decoded(s1), decoded(s2)
		bit := func(i int) bool { return flags>>i&1 != 0 }
		label := func(i int, l string) string { // given or absent
			if bit(i) {
				return l
			}
			return ""
		}
		defaults := eval.DefaultSettings()
		defaults.System, defaults.Temperature, defaults.FrequencyPenalty = system, y, z
		if bit(0) {
			topK, minP := n, x
			defaults.TopK, defaults.MinP, defaults.Stop = &topK, &minP, []string{s2}
		}
		c := eval.Case{ID: id}
		switch form % 5 {
		case 0:
			c.Prompt = text
		case 1:
			c.Messages = []eval.Message{{Role: "user", Content: text}}
		case 2:
			c.Messages = []eval.Message{{Role: "system", Content: s1}, {Role: "user", Content: text}, {Role: "assistant", Content: s2}}
		case 3:
			c.Messages = []eval.Message{}
		case 4:
			c.Messages = []eval.Message{{Role: s1, Content: s2}}
		}
		if bit(1) {
			maxTokens, seed := m, int64(n)%(1<<53) // the reference's floats hold seeds to 2^53
			c.Overrides = eval.Overrides{MaxTokens: &maxTokens, Temperature: &x, Seed: &seed}
			if bit(2) {
				c.Overrides.Stop = []string{} // given, empty
			} else {
				c.Overrides.Stop = []string{s1, text}
			}
		}
		var values []string // absent, empty or given
		switch {
		case bit(3):
			values = []string{}
		case bit(4):
			values = []string{s1, s2, text}
		}
		var schema any = bit(5)
		if bit(6) {
			schema = map[string]any{"type": "object", "maximum": y, s1: []any{x, s2, nil, true, map[string]any{}}, "properties": map[string]any{s1: map[string]any{"minimum": z}}}
		}
		c.Scorers = []eval.Scorer{
			&score.Equals{Label: label(7, s1), Value: text, IgnoreCase: bit(8), Trim: bit(9)},
			&score.Contains{Label: label(10, s2), Values: values, Any: bit(11), IgnoreCase: bit(12)},
			&score.NotContains{Values: values, IgnoreCase: bit(13)},
			&score.Regex{Label: label(14, s2), Pattern: s1, IgnoreCase: bit(15)},
			&score.JSONValid{StripFence: bit(8)},
			&score.JSONSchema{Label: label(9, text), Schema: schema, StripFence: bit(10)},
			&score.Number{Label: label(11, s1), Value: x, Abs: y, Rel: z, Pick: s2},
			&score.Choice{Label: label(12, s2), Answer: s1, Choices: s2},
			&score.Length{Label: label(13, s1), MinChars: n, MaxChars: m, MinWords: m - n, MaxWords: n & m, Trim: bit(14)},
		}
		if bit(15) && bit(0) {
			c.Scorers = nil // no scorers
		}
		if got, want := newHasher(defaults).caseHash(&c), referenceCaseHash(t, &c, defaults); got != want {
			t.Errorf("caseHash = %s, want %s (the reference)", got, want)
		}
	})
}

// decoded returns s as decoding it from a JSON string gives it: each byte
// that is not part of valid UTF-8 replaced by U+FFFD.
func decoded(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // a range over a string yields U+FFFD for each invalid byte
	}
	return b.String()
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

// BenchmarkCaseHash hashes the cases of the 10,000-case suites of
// BenchmarkLoadContainsRegex10k and BenchmarkLoadJSONL (the first 10,000 of
// it): the part of loading that the hash document's encoding costs.
func BenchmarkCaseHash(b *testing.B) {
	for _, bb := range []struct {
		name string
		data []byte
	}{{"ContainsRegex10k", containsRegexSuite(10_000)}, {"NumberLength10k", jsonlSuite(10_000)}} {
		s, err := Parse("bench.jsonl", bb.data)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h := newHasher(s.Settings)
				for i := range s.Cases {
					h.caseHash(&s.Cases[i])
				}
			}
		})
	}
}

// TestKindsCovered checks that every scorer kind has golden hashes (a scorer
// in testdata/hash/every-field.jsonl, which TestHashGolden pins and
// TestCaseHashReference checks), a row naming its parameters in the scorer
// table of docs/suites.md, and a mention in the README.
func TestKindsCovered(t *testing.T) {
	hashed := map[string]bool{}
	for _, c := range mustLoad(t, "testdata/hash/every-field.jsonl").Cases {
		for _, s := range c.Scorers {
			hashed[s.(score.KindScorer).Kind()] = true
		}
	}
	docs, err := os.ReadFile("../docs/suites.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range score.ScorerKinds {
		if !hashed[k] {
			t.Errorf("no %s scorer in testdata/hash/every-field.jsonl: add one (and go test ./suites -run TestHashGolden -update)", k)
		}
		_, row, ok := bytes.Cut(docs, []byte("\n| `"+k+"` |"))
		if !ok {
			t.Errorf("docs/suites.md has no row for scorer %s in its table of scorers", k)
		}
		row, _, _ = bytes.Cut(row, []byte("\n"))
		for _, p := range score.Lookup(k).Params {
			if ok && !bytes.Contains(row, []byte("`"+p+"`")) {
				t.Errorf("the row of scorer %s in docs/suites.md does not name its parameter %s", k, p)
			}
		}
		if !bytes.Contains(readme, []byte("`"+k+"`")) {
			t.Errorf("README.md does not name scorer %s", k)
		}
	}
}
