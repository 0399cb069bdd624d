package score

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// spec decodes a scorer as a JSON suite line writes it, numbers as
// json.Numbers.
func spec(t *testing.T, text string) *Spec {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(text)))
	d.UseNumber()
	d.DisallowUnknownFields()
	var s Spec
	if err := d.Decode(&s); err != nil {
		t.Fatalf("spec %s: %v", text, err)
	}
	return &s
}

// TestBuild builds each kind from its parameters and checks the scorer, and
// that building from the scorer's JSON encoding gives it again, or the
// problems with their paths and messages (the messages suite files have
// always given; testdata/bad under suites pins them in context).
func TestBuild(t *testing.T) {
	f := func(v float64) float64 { return v }
	tests := []struct {
		kind string
		spec string     // the scorer's parameters as JSON
		want KindScorer // nil when problems are expected
		errs []string   // "path: message" of each problem; path "" for the scorer, "(missing x)" when it reports x missing
	}{
		// equals
		{ScorerEquals, `{"value": "Yes"}`, &Equals{Value: "Yes", Trim: true}, nil},
		{ScorerEquals, `{"value": 42, "name": "n", "ignore_case": true, "trim": false}`, &Equals{Label: "n", Value: "42", IgnoreCase: true}, nil},
		{ScorerEquals, `{}`, nil, []string{`(missing value): scorer has no value; add value: ...`}},
		{ScorerEquals, `{"value": ["a"]}`, nil, []string{`value: value must be a string, got a list`}},
		{ScorerEquals, `{"value": true}`, nil, []string{`value: value must be a string, got the boolean true`}},
		{ScorerEquals, `{"value": "x", "pattern": "y", "any": false}`, nil, []string{
			`pattern: pattern does not apply to scorer equals (it takes value, ignore_case, trim)`,
			`any: any does not apply to scorer equals (it takes value, ignore_case, trim)`}},
		{ScorerEquals, `{"value": "x", "name": ""}`, nil, []string{`name: name is empty; remove it to use the kind, or write one`}},
		// contains
		{ScorerContains, `{"value": "4"}`, &Contains{Values: []string{"4"}}, nil},
		{ScorerContains, `{"values": ["a", 3], "any": true, "ignore_case": true, "name": "c"}`, &Contains{Label: "c", Values: []string{"a", "3"}, Any: true, IgnoreCase: true}, nil},
		{ScorerContains, `{}`, nil, []string{`(missing value values): scorer has no value; add value: ... (or values: [...])`}},
		{ScorerContains, `{"value": "a", "values": ["b"]}`, nil, []string{`: scorer has both value and values; keep one`}},
		{ScorerContains, `{"value": ""}`, nil, []string{`value: value is empty; every output contains the empty string`}},
		{ScorerContains, `{"values": []}`, nil, []string{`values: values is empty; list at least one string`}},
		{ScorerContains, `{"values": ["a", "", {}]}`, nil, []string{`values[1]: values must not be empty strings`, `values[2]: values[2] must be a string, got a mapping`}},
		{ScorerContains, `{"values": [null]}`, nil, []string{`values[0]: values[0] must be a string, got null`}},
		// not_contains
		{ScorerNotContains, `{"value": "z", "name": "no-z"}`, &NotContains{Label: "no-z", Values: []string{"z"}}, nil},
		{ScorerNotContains, `{"values": ["x"], "any": true}`, nil, []string{`any: any does not apply to scorer not_contains (it takes value, values, ignore_case)`}},
		// regex
		{ScorerRegex, `{"pattern": "^\\d+$", "ignore_case": true}`, &Regex{Pattern: `^\d+$`, IgnoreCase: true}, nil},
		{ScorerRegex, `{}`, nil, []string{`(missing pattern): regex scorer has no pattern; add pattern: '^\d+$' (RE2 syntax)`}},
		{ScorerRegex, `{"pattern": "hi("}`, nil, []string{`pattern: bad regex "hi(": missing closing ) in "hi("; fix the pattern (RE2 syntax: https://golang.org/s/re2syntax)`}},
		{ScorerRegex, `{"pattern": "a", "value": "b"}`, nil, []string{`value: value does not apply to scorer regex (it takes pattern, ignore_case)`}},
		// json_valid
		{ScorerJSONValid, `{}`, &JSONValid{}, nil},
		{ScorerJSONValid, `{"strip_fence": true, "name": "fenced"}`, &JSONValid{Label: "fenced", StripFence: true}, nil},
		// json_schema
		{ScorerJSONSchema, `{"schema": {"type": "object", "properties": {"a": {"maximum": 1.50}}}, "strip_fence": true}`,
			&JSONSchema{Schema: map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"maximum": f(1.5)}}}, StripFence: true}, nil},
		{ScorerJSONSchema, `{"schema": true}`, &JSONSchema{Schema: true}, nil},
		{ScorerJSONSchema, `{}`, nil, []string{`(missing schema): json_schema scorer has no schema; add schema: {type: object, ...}`}},
		{ScorerJSONSchema, `{"schema": "object"}`, nil, []string{`schema: schema must be a JSON Schema object (or true/false)`}},
		{ScorerJSONSchema, `{"schema": {"type": "objekt"}}`, nil, []string{`schema: bad JSON schema: at /type: value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'; at /type: got string, want array; fix the schema`}},
		// number
		{ScorerNumber, `{"value": 4, "abs": 0.5, "rel": 1e-3, "pick": "first"}`, &Number{Value: 4, Abs: 0.5, Rel: 1e-3, Pick: PickFirst}, nil},
		{ScorerNumber, `{"value": -1.5e2}`, &Number{Value: -150, Pick: PickLast}, nil},
		{ScorerNumber, `{}`, nil, []string{`(missing value): number scorer has no value; add value: 42`}},
		{ScorerNumber, `{"value": "42"}`, nil, []string{`value: value must be a number, got the string "42"; write it unquoted: value: 42`}},
		{ScorerNumber, `{"value": 1e999}`, nil, []string{`value: value 1e999 is not a finite number`, `: value must be a finite number, got +Inf`}},
		{ScorerNumber, `{"value": 1, "abs": -1}`, nil, []string{`: abs must be a finite number ≥ 0, got -1`}},
		{ScorerNumber, `{"value": 1, "rel": -0.5}`, nil, []string{`: rel must be a finite number ≥ 0, got -0.5`}},
		{ScorerNumber, `{"value": 1, "pick": "middle"}`, nil, []string{`: pick must be "first" or "last", got "middle"`}},
		// choice
		{ScorerChoice, `{"value": " b "}`, &Choice{Answer: "B", Choices: "ABCD"}, nil},
		{ScorerChoice, `{"value": "C", "choices": "abcde", "name": "five"}`, &Choice{Label: "five", Answer: "C", Choices: "ABCDE"}, nil},
		{ScorerChoice, `{"value": "E"}`, nil, []string{`value: value must be one letter of "ABCD", got "E"`}},
		{ScorerChoice, `{"value": "A", "choices": "AAB"}`, nil, []string{`value: choices must be distinct upper-case letters A-Z, got "AAB"`}},
		{ScorerChoice, `{}`, nil, []string{`(missing value): scorer has no value; add value: ...`}},
		// length
		{ScorerLength, `{"max_words": 10}`, &Length{MaxWords: 10, Trim: true}, nil},
		{ScorerLength, `{"min_chars": 2, "max_chars": 300, "min_words": 1, "max_words": 10, "trim": false}`, &Length{MinChars: 2, MaxChars: 300, MinWords: 1, MaxWords: 10}, nil},
		{ScorerLength, `{}`, nil, []string{`: length needs at least one of min_chars, max_chars, min_words, max_words`}},
		{ScorerLength, `{"max_words": 0}`, nil, []string{`max_words: max_words must be ≥ 1, got 0`}},
		{ScorerLength, `{"min_chars": -1, "max_chars": 5}`, nil, []string{`min_chars: min_chars must be ≥ 0, got -1`}},
		{ScorerLength, `{"min_chars": 5, "max_chars": 2}`, nil, []string{`: min_chars 5 is above max_chars 2`}},
		{ScorerLength, `{"min_words": 5, "max_words": 2}`, nil, []string{`: min_words 5 is above max_words 2`}},
		// Contradicting bounds are not reported along with another problem.
		{ScorerLength, `{"min_words": 5, "max_words": 2, "name": ""}`, nil, []string{`name: name is empty; remove it to use the kind, or write one`}},
	}
	built := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.spec, func(t *testing.T) {
			k := Lookup(tt.kind)
			if k == nil {
				t.Fatalf("Lookup(%q) = nil", tt.kind)
			}
			got, ps := k.Build(spec(t, tt.spec))
			var errs []string
			for _, p := range ps {
				where := ""
				for _, e := range p.Path {
					if i, ok := e.(int); ok {
						where += fmt.Sprintf("[%d]", i)
					} else {
						where += fmt.Sprint(e)
					}
				}
				if p.Missing != nil {
					where += fmt.Sprintf("(missing %s)", strings.Join(p.Missing, " "))
				}
				errs = append(errs, where+": "+p.Msg)
			}
			if !slices.Equal(errs, tt.errs) {
				t.Errorf("problems:\n  %q\nwant\n  %q", errs, tt.errs)
			}
			if tt.want == nil {
				if got != nil {
					t.Errorf("Build = %#v along with problems, want nil", got)
				}
				return
			}
			if got == nil {
				t.Fatal("Build = nil")
			}
			built[tt.kind] = true
			if got.Kind() != k.Name {
				t.Errorf("Kind() = %q, want %q", got.Kind(), k.Name)
			}
			// A scorer is its type and its JSON encoding (see Kind); the
			// compiled regex or schema is not compared.
			if reflect.TypeOf(got) != reflect.TypeOf(tt.want) {
				t.Fatalf("Build = %T, want %T", got, tt.want)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tt.want)
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Errorf("Build = %s, want %s", gotJSON, wantJSON)
			}
			// The encoding is a Spec too, of the same scorer: its parameters
			// with their defaults filled in.
			again, ps := k.Build(spec(t, string(gotJSON)))
			if againJSON, _ := json.Marshal(again); ps != nil || !bytes.Equal(againJSON, gotJSON) {
				t.Errorf("Build(its own encoding %s) = %s, %v", gotJSON, againJSON, ps)
			}
		})
	}
	for _, name := range ScorerKinds {
		if !built[name] {
			t.Errorf("no test builds a %s scorer", name)
		}
	}
}

// TestKinds checks the kinds table: unique names, listed in ScorerKinds,
// parameters that are Spec fields, and every Spec field a parameter of some
// kind.
func TestKinds(t *testing.T) {
	var names []string
	used := map[string]bool{"kind": true, "name": true}
	for _, k := range kinds {
		if slices.Contains(names, k.Name) {
			t.Errorf("kind %q is declared twice", k.Name)
		}
		names = append(names, k.Name)
		if Lookup(k.Name) == nil || Lookup(k.Name).Name != k.Name {
			t.Errorf("Lookup(%q) = %v", k.Name, Lookup(k.Name))
		}
		if k.build == nil {
			t.Errorf("kind %s has no build function", k.Name)
		}
		for i, p := range k.Params {
			if p == "kind" || p == "name" || !slices.Contains(specFields, p) || slices.Contains(k.Params[:i], p) {
				t.Errorf("kind %s: parameter %q is no Spec field (besides kind and name), or listed twice", k.Name, p)
			}
			used[p] = true
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, ScorerKinds) {
		t.Errorf("ScorerKinds = %v, want %v", ScorerKinds, names)
	}
	for _, f := range specFields {
		if !used[f] {
			t.Errorf("Spec field %q is a parameter of no kind", f)
		}
	}
	if Lookup("containz") != nil {
		t.Error(`Lookup("containz") != nil`)
	}
}

func TestDescribeValue(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want string
	}{
		{"42", `the string "42"`},
		{json.Number("4.5"), "the number 4.5"},
		{false, "the boolean false"},
		{map[string]any{}, "a mapping"},
		{[]any{}, "a list"},
		{nil, "null"},
	} {
		if got := DescribeValue(tt.v); got != tt.want {
			t.Errorf("DescribeValue(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
