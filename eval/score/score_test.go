package score

import (
	"math"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
)

func TestScorers(t *testing.T) {
	mustRegex := func(p string, ic bool) *Regex {
		s, err := NewRegex("", p, ic)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	schema := map[string]any{
		"type":                 "object",
		"required":             []any{"name", "age"},
		"additionalProperties": false,
		"properties": map[string]any{
			"name": map[string]any{"type": "string"},
			"age":  map[string]any{"type": "integer", "minimum": 0},
		},
	}
	mustSchema := func(strip bool) *JSONSchema {
		s, err := NewJSONSchema("", schema, strip)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name   string
		scorer eval.Scorer
		output string
		pass   bool
		detail string // a substring of the Detail of a failed check
	}{
		// equals
		{"equals exact", &Equals{Value: "Paris", Trim: true}, "Paris", true, ""},
		{"equals trims", &Equals{Value: "Paris", Trim: true}, "  Paris\n", true, ""},
		{"equals without trim", &Equals{Value: "Paris"}, "Paris\n", false, `want "Paris", got "Paris\n"`},
		{"equals case", &Equals{Value: "Paris", Trim: true}, "paris", false, "want"},
		{"equals ignore case", &Equals{Value: "Paris", IgnoreCase: true}, "PARIS", true, ""},
		{"equals unicode fold", &Equals{Value: "straße", IgnoreCase: true}, "STRASSE", true, ""},
		{"equals NFC vs NFD", &Equals{Value: "café"}, "cafe\u0301", true, ""},
		{"equals empty output", &Equals{Value: "x", Trim: true}, "", false, `got ""`},
		{"equals empty value", &Equals{Value: "", Trim: true}, " \n", true, ""},
		{"equals trims the value", &Equals{Value: " Paris\n", Trim: true}, "Paris", true, ""},
		{"equals trims both", &Equals{Value: "\tParis ", Trim: true}, "  Paris\n", true, ""},
		{"equals blank value", &Equals{Value: "  ", Trim: true}, "", true, ""},
		{"equals trimmed value still differs", &Equals{Value: " Paris ", Trim: true}, "Lyon", false, `want "Paris", got "Lyon"`},
		{"equals without trim keeps the value's spaces", &Equals{Value: "Paris "}, "Paris", false, `want "Paris ", got "Paris"`},
		// contains
		{"contains one", &Contains{Values: []string{"blue"}}, "The sky is blue.", true, ""},
		{"contains all", &Contains{Values: []string{"red", "blue"}}, "red and green", false, `missing "blue"`},
		{"contains any", &Contains{Values: []string{"red", "blue"}, Any: true}, "only blue", true, ""},
		{"contains any none", &Contains{Values: []string{"red", "blue"}, Any: true}, "green", false, `none of "red", "blue"`},
		{"contains ignore case", &Contains{Values: []string{"ÉCOLE"}, IgnoreCase: true}, "une école", true, ""},
		{"contains case sensitive", &Contains{Values: []string{"ÉCOLE"}}, "une école", false, "missing"},
		{"contains empty output", &Contains{Values: []string{"a"}}, "", false, "missing"},
		{"contains emoji", &Contains{Values: []string{"👍🏽"}}, "ok 👍🏽!", true, ""},
		{"contains no values", &Contains{}, "anything", false, ""},
		// not_contains
		{"not_contains clean", &NotContains{Values: []string{"As an AI"}}, "Sure.", true, ""},
		{"not_contains found", &NotContains{Values: []string{"as an ai", "sorry"}, IgnoreCase: true}, "As an AI, sorry", false, `found "as an ai", "sorry"`},
		{"not_contains empty output", &NotContains{Values: []string{"x"}}, "", true, ""},
		// regex
		{"regex match", mustRegex(`^\d{3}-\d{4}$`, false), "555-1234", true, ""},
		{"regex anywhere", mustRegex(`\bcat\b`, false), "the cat sat", true, ""},
		{"regex no match", mustRegex(`^\d+$`, false), "12a", false, "no match"},
		{"regex ignore case", mustRegex(`^yes$`, true), "YES", true, ""},
		{"regex unicode class", mustRegex(`^\p{Han}+$`, false), "你好", true, ""},
		{"regex empty output", mustRegex(`.`, false), "", false, "no match"},
		{"regex built by hand", &Regex{Pattern: `^a`}, "abc", true, ""},
		{"regex bad by hand", &Regex{Pattern: `(`}, "abc", false, "bad regex"},
		// json_valid
		{"json object", &JSONValid{}, `{"a": 1}`, true, ""},
		{"json scalar", &JSONValid{}, ` 42 `, true, ""},
		{"json trailing text", &JSONValid{}, `{"a": 1} thanks`, false, "invalid JSON"},
		{"json empty", &JSONValid{}, "", false, "empty output"},
		{"json fenced strict", &JSONValid{}, "```json\n{\"a\":1}\n```", false, "invalid JSON"},
		{"json fenced allowed", &JSONValid{StripFence: true}, "```json\n{\"a\":1}\n```", true, ""},
		{"json fence without newline", &JSONValid{StripFence: true}, "```{}```", false, "invalid JSON"},
		{"json unicode", &JSONValid{}, `{"name":"Zoë 🎉"}`, true, ""},
		// json_schema
		{"schema valid", mustSchema(false), `{"name":"Ada","age":36}`, true, ""},
		{"schema missing field", mustSchema(false), `{"name":"Ada"}`, false, "missing property 'age'"},
		{"schema wrong type", mustSchema(false), `{"name":"Ada","age":"36"}`, false, "at /age"},
		{"schema extra field", mustSchema(false), `{"name":"Ada","age":1,"x":2}`, false, "additional"},
		{"schema not JSON", mustSchema(false), `name: Ada`, false, "invalid JSON"},
		{"schema fenced", mustSchema(true), "```\n{\"name\":\"Ada\",\"age\":1}\n```", true, ""},
		{"schema big integer", mustSchema(false), `{"name":"Ada","age":12345678901234567890}`, true, ""},
		// number
		{"number exact", &Number{Value: 42}, "42", true, ""},
		{"number last", &Number{Value: 42}, "6 times 7 is 42.", true, ""},
		{"number first", &Number{Value: 6, Pick: PickFirst}, "6 times 7 is 42.", true, ""},
		{"number wrong", &Number{Value: 42}, "It is 41", false, "want 42, got 41"},
		{"number commas", &Number{Value: 1234567.5}, "Total: $1,234,567.50", true, ""},
		{"number negative", &Number{Value: -3}, "x = -3", true, ""},
		{"number unicode minus", &Number{Value: -3}, "x = −3", true, ""},
		{"number hyphen not sign", &Number{Value: 3}, "between 2-3", true, ""},
		{"number exponent", &Number{Value: 6.02e23, Rel: 1e-9}, "about 6.02E23 atoms", true, ""},
		{"number negative exponent", &Number{Value: 0.001}, "1e-3", true, ""},
		{"number plus sign", &Number{Value: 5}, "+5", true, ""},
		{"number leading dot", &Number{Value: 0.5}, "p = .5", true, ""},
		{"number percent", &Number{Value: 50}, "50%", true, ""},
		{"number abs tolerance", &Number{Value: 3.14159, Abs: 0.01}, "pi ≈ 3.14", true, ""},
		{"number abs too far", &Number{Value: 3.14159, Abs: 0.001}, "pi ≈ 3.14", false, "abs 0.001"},
		{"number rel tolerance", &Number{Value: 1000, Rel: 0.05}, "roughly 960", true, ""},
		{"number no number", &Number{Value: 1}, "one", false, "no number"},
		{"number empty", &Number{Value: 0}, "", false, "no number"},
		{"number not after letter e", &Number{Value: 3}, "3 eggs", true, ""},
		// choice
		{"choice bare", &Choice{Answer: "B"}, "B", true, ""},
		{"choice wrong", &Choice{Answer: "B"}, "C", false, "want B, got C"},
		{"choice in prose", &Choice{Answer: "C"}, "Let me think. Paris is in France, so the answer is (C).", true, ""},
		{"choice not a letter", &Choice{Answer: "A"}, "The answer is 42", false, "no answer letter"},
		{"choice empty", &Choice{Answer: "A"}, "", false, "no answer letter"},
		{"choice ambiguous", &Choice{Answer: "A"}, "Either (A) or (B).", false, "ambiguous"},
		// length
		{"length chars", &Length{MaxChars: 5, Trim: true}, " hello \n", true, ""},
		{"length chars untrimmed", &Length{MaxChars: 5}, " hello \n", false, "8 characters, want at most 5"},
		{"length runes not bytes", &Length{MaxChars: 3}, "日本語", true, ""},
		{"length words", &Length{MinWords: 2, MaxWords: 3}, "one two three four", false, "4 words, want at most 3"},
		{"length too short", &Length{MinWords: 2}, "one", false, "1 words, want at least 2"},
		{"length empty", &Length{MinChars: 1}, "", false, "0 characters"},
		{"length both fail", &Length{MinChars: 10, MaxWords: 1}, "a b", false, "; "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.scorer.Score(tt.output)
			if c.Pass != tt.pass {
				t.Fatalf("Score(%q).Pass = %v, want %v (detail %q)", tt.output, c.Pass, tt.pass, c.Detail)
			}
			if c.Scorer != tt.scorer.Name() {
				t.Errorf("Scorer = %q, want %q", c.Scorer, tt.scorer.Name())
			}
			if tt.pass && c.Detail != "" {
				t.Errorf("passing check has Detail %q", c.Detail)
			}
			if !tt.pass && !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("Detail = %q, want it to contain %q", c.Detail, tt.detail)
			}
			if !tt.pass && c.Detail == "" {
				t.Errorf("failed check has no Detail")
			}
		})
	}
}

func TestExtractNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want []float64
	}{
		{"", nil},
		{"no digits here", nil},
		{"42", []float64{42}},
		{"-42", []float64{-42}},
		{"+4.5", []float64{4.5}},
		{"−7", []float64{-7}},
		{"1,234", []float64{1234}},
		{"1,234,567.891", []float64{1234567.891}},
		{"1,2345", []float64{1, 2345}},        // not a thousands group
		{"1234,567", []float64{1234, 567}},    // first group too long
		{"1, 2, 3", []float64{1, 2, 3}},       // a list
		{"12,34", []float64{12, 34}},          // groups are three digits
		{"3.", []float64{3}},                  // full stop
		{".5 and 0.25", []float64{0.5, 0.25}}, // leading dot
		{"1.2.3", []float64{1.2, 3}},          // a version string
		{"1e3 2E-2 3e+1", []float64{1000, 0.02, 30}},
		{"3 eggs, 4e", []float64{3, 4}},     // e without digits
		{"2-3", []float64{2, 3}},            // hyphen
		{"GPT-4", []float64{4}},             // hyphen after a letter
		{"x = -1", []float64{-1}},           // sign after a space
		{"(-2)", []float64{-2}},             // sign after a bracket
		{"$19.99", []float64{19.99}},        // currency
		{"٣ and 3", []float64{3}},           // only ASCII digits
		{"－5", []float64{5}},                // full-width minus is not a sign
		{"1e999", []float64{math.Inf(1)}},   // out of range
		{"H2O", []float64{2}},               // digits inside a word
		{"answer: 1,000.", []float64{1000}}, // separator and full stop
		{"-.5", []float64{-0.5}},            // sign and leading dot
		{"a-.5", []float64{0.5}},            // hyphen and leading dot
		{"۱۲ and 12", []float64{12}},        // Extended Arabic-Indic digits are not read
		{"1 000", []float64{1, 0}},          // space is not a separator
		{"10−3", []float64{10, 3}},          // unicode minus between digits is a hyphen
		{"ends in 7", []float64{7}},         // at the end
		{"9,999,", []float64{9999}},         // trailing comma
		{"4,5", []float64{4, 5}},            // decimal comma is not read
		{"1_000", []float64{1, 0}},          // underscores are not separators
		{"0x1F", []float64{0, 1}},           // no hex
		{"1/2", []float64{1, 2}},            // no fractions
		{"5e-", []float64{5}},               // dangling exponent
		{"e5", []float64{5}},                // no mantissa
		{"1,234e2", []float64{123400}},      // separators and exponent
		{"--3", []float64{-3}},              // the second dash is the sign
		{"3--", []float64{3}},               // trailing dashes
		{"−", nil},                          // only a sign
		{"1.5e3.2", []float64{1500, 2}},     // exponent then a stray fraction
		{"\u00a0-8", []float64{-8}},         // sign after a no-break space
		{"日本-8", []float64{8}},              // hyphen after a CJK letter
		{"🎉-8", []float64{-8}},              // sign after a symbol
		{"Pay 1,000,000,000 now", []float64{1e9}},
	}
	for _, tt := range tests {
		got := ExtractNumbers(tt.in)
		if len(got) != len(tt.want) {
			t.Errorf("ExtractNumbers(%q) = %v, want %v", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ExtractNumbers(%q) = %v, want %v", tt.in, got, tt.want)
				break
			}
		}
	}
}

func TestExtractChoice(t *testing.T) {
	tests := []struct {
		out     string
		choices string
		want    string // "" when an error is expected
		err     string // a substring of the error
	}{
		{"B", "ABCD", "B", ""},
		{"b", "ABCD", "B", ""},
		{"(B)", "ABCD", "B", ""},
		{"B.", "ABCD", "B", ""},
		{"**B**", "ABCD", "B", ""},
		{" [C] \n", "ABCD", "C", ""},
		{"Answer: B", "ABCD", "B", ""},
		{"answer: b", "ABCD", "B", ""},
		{"The answer is (D).", "ABCD", "D", ""},
		{"The correct option is C because ...", "ABCD", "C", ""},
		{"Final answer: **A**", "ABCD", "A", ""},
		{"My first guess was Answer: A, but the final answer is C.", "ABCD", "C", ""},
		{"The answer is a bit tricky, but (B) fits.", "ABCD", "B", ""},
		{"answer is b.", "ABCD", "B", ""},
		{"B) Paris", "ABCD", "B", ""},
		{"(C) Lyon is wrong", "ABCD", "C", ""},
		{"D. 42", "ABCD", "D", ""},
		{"C - Rome", "ABCD", "C", ""},
		{"I think it's (B), since A cat cannot fly.", "ABCD", "B", ""},
		{"I think B is right.", "ABCD", "B", ""},
		{"A cat is B.", "ABCD", "B", ""},
		{"Option A is wrong and option C is right", "ABCD", "", "ambiguous"},
		{"(A) or (B)", "ABCD", "", "ambiguous"},
		{"E", "ABCD", "", "no answer letter"},
		{"E", "ABCDE", "E", ""},
		{"Answer: E", "ABCD", "", "no answer letter"},
		{"", "ABCD", "", "no answer letter"},
		{"I don't know", "ABCD", "", "no answer letter"},
		{"Die Antwort ist B", "ABCD", "B", ""},
		{"Réponse : « C »", "ABCD", "C", ""},
		{"答案是 B", "ABCD", "B", ""},
		{"`B`", "ABCD", "B", ""},
		{"A", "ABCD", "A", ""},
		{"A.", "ABCD", "A", ""},
		{"Answer: A", "ABCD", "A", ""},
		{"So, A", "ABCD", "A", ""},
		{"A bird in the hand", "ABCD", "", "no answer letter"},
		{"USA", "ABCD", "", "no answer letter"},
	}
	for _, tt := range tests {
		got, err := ExtractChoice(tt.out, tt.choices)
		if tt.want != "" {
			if err != nil || got != tt.want {
				t.Errorf("ExtractChoice(%q, %q) = %q, %v; want %q", tt.out, tt.choices, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ExtractChoice(%q, %q) = %q, %v; want error containing %q", tt.out, tt.choices, got, err, tt.err)
		}
	}
}

func TestScorerValidate(t *testing.T) {
	tests := []struct {
		name string
		v    interface{ Validate() error }
		err  string // "" when valid
	}{
		{"number ok", &Number{Value: 1, Abs: 0.5, Pick: PickFirst}, ""},
		{"number negative abs", &Number{Abs: -1}, "abs must be"},
		{"number negative rel", &Number{Rel: -0.1}, "rel must be"},
		{"number NaN", &Number{Value: math.NaN()}, "value must be"},
		{"number bad pick", &Number{Pick: "middle"}, "pick must be"},
		{"choice ok", &Choice{Answer: "B"}, ""},
		{"choice custom", &Choice{Answer: "E", Choices: "ABCDE"}, ""},
		{"choice outside", &Choice{Answer: "E"}, `one letter of "ABCD"`},
		{"choice lower", &Choice{Answer: "b"}, "one letter"},
		{"choice bad set", &Choice{Answer: "A", Choices: "AAB"}, "distinct"},
		{"choice lower set", &Choice{Answer: "a", Choices: "ab"}, "upper-case"},
		{"length ok", &Length{MaxWords: 3}, ""},
		{"length none", &Length{}, "at least one"},
		{"length negative", &Length{MaxChars: -1}, "≥ 0"},
		{"length min above max", &Length{MinWords: 5, MaxWords: 2}, "above"},
	}
	for _, tt := range tests {
		err := tt.v.Validate()
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: Validate() = %v, want error containing %q", tt.name, err, tt.err)
		}
	}
}

func TestNewCompiledErrors(t *testing.T) {
	if _, err := NewRegex("", "a(b", false); err == nil || !strings.Contains(err.Error(), "missing closing )") {
		t.Errorf("NewRegex(a(b) error = %v, want missing closing )", err)
	}
	if _, err := NewRegex("", `\p{Klingon}`, false); err == nil || !strings.Contains(err.Error(), "bad regex") {
		t.Errorf("NewRegex error = %v, want bad regex", err)
	}
	if _, err := NewJSONSchema("", map[string]any{"type": "objekt"}, false); err == nil || !strings.Contains(err.Error(), "bad JSON schema") {
		t.Errorf("NewJSONSchema(objekt) error = %v, want bad JSON schema", err)
	}
	if _, err := NewJSONSchema("", map[string]any{"$ref": "other.json"}, false); err == nil {
		t.Errorf("NewJSONSchema with a $ref to a file succeeded; schemas must be self-contained")
	}
	if _, err := NewJSONSchema("", map[string]any{"type": "object", "minProperties": 1}, false); err != nil {
		t.Errorf("NewJSONSchema(valid) = %v", err)
	}
}

func TestScorerNames(t *testing.T) {
	for _, s := range []KindScorer{&Equals{}, &Contains{}, &NotContains{}, &Regex{}, &JSONValid{}, &JSONSchema{}, &Number{}, &Choice{}, &Length{}} {
		if s.Name() != s.Kind() {
			t.Errorf("%T.Name() = %q without a label, want its kind %q", s, s.Name(), s.Kind())
		}
	}
	if got := (&Contains{Label: "mentions-paris"}).Name(); got != "mentions-paris" {
		t.Errorf("Name() = %q, want the label", got)
	}
	for _, k := range ScorerKinds {
		if k == "" {
			t.Fatal("empty kind")
		}
	}
}

func BenchmarkScoreChoice(b *testing.B) {
	s := &Choice{Answer: "C"}
	out := strings.Repeat("Let me reason about each option carefully. ", 20) + "Final answer: (C)"
	for b.Loop() {
		s.Score(out)
	}
}

func BenchmarkExtractNumbers(b *testing.B) {
	out := strings.Repeat("We add 1,234.5 and -6e2 to get 634.5; ", 20)
	for b.Loop() {
		ExtractNumbers(out)
	}
}
