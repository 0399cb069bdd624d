// Package score holds evalpin's deterministic scorers: each judges one output
// (equals, contains, not-contains, regex, valid JSON, JSON schema, number
// within tolerance, multiple-choice letter, length bounds) and says why it
// failed, for people. Each kind is declared once, in the kinds table of
// kind.go: suites look a kind up by name (Lookup) and build a scorer from the
// parameters a suite file gives it (Kind.Build).
package score

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/evalpin/evalpin/eval"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/unicode/norm"
)

// The scorer kinds, as suites name them; ScorerKinds lists them.
const (
	ScorerEquals      = "equals"
	ScorerContains    = "contains"
	ScorerNotContains = "not_contains"
	ScorerRegex       = "regex"
	ScorerJSONValid   = "json_valid"
	ScorerJSONSchema  = "json_schema"
	ScorerNumber      = "number"
	ScorerChoice      = "choice"
	ScorerLength      = "length"
)

// A KindScorer is a Scorer that says which kind it is. Every scorer of this
// package is one; see Kind for what a suite's content hash covers.
type KindScorer interface {
	eval.Scorer
	Kind() string
}

// folder does Unicode case folding; it is stateless and safe for concurrent use.
var folder = cases.Fold()

// normText brings s into Unicode normal form C, so that canonically equivalent
// texts ("é" as one code point or as "e" and a combining accent) compare equal,
// and folds its case when ignoreCase is set.
func normText(s string, ignoreCase bool) string {
	s = norm.NFC.String(s)
	if ignoreCase {
		s = norm.NFC.String(folder.String(s))
	}
	return s
}

// snippet quotes s for a Check's Detail, cut to a readable length. Outputs are
// untrusted: %q escapes control characters, and renderers escape the rest.
func snippet(s string) string {
	const max = 60
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return fmt.Sprintf("%q…", string(r[:max]))
	}
	return fmt.Sprintf("%q", s)
}

// labelOr returns label, or kind when label is empty.
func labelOr(label, kind string) string {
	if label != "" {
		return label
	}
	return kind
}

// Equals passes when the output equals Value. Both sides are compared in
// Unicode normal form C.
type Equals struct {
	Label      string `json:"name,omitempty"`        // the scorer's name; default "equals"
	Value      string `json:"value"`                 // the expected output
	IgnoreCase bool   `json:"ignore_case,omitempty"` // compare with Unicode case folding
	Trim       bool   `json:"trim"`                  // trim white space around the output and Value first
}

// Kind returns "equals".
func (s *Equals) Kind() string { return ScorerEquals }

// Name returns the scorer's label or its kind.
func (s *Equals) Name() string { return labelOr(s.Label, ScorerEquals) }

// Score reports whether output equals the expected value. With Trim, white
// space around either side does not count: an expected value written with a
// trailing space or newline still matches.
func (s *Equals) Score(output string) eval.Check {
	got, want := output, s.Value
	if s.Trim {
		got, want = strings.TrimSpace(got), strings.TrimSpace(want)
	}
	c := eval.Check{Scorer: s.Name()}
	if normText(got, s.IgnoreCase) == normText(want, s.IgnoreCase) {
		c.Pass = true
		return c
	}
	c.Detail = fmt.Sprintf("want %s, got %s", snippet(want), snippet(got))
	return c
}

// Contains passes when the output contains every one of Values, or, with Any,
// at least one of them. Texts are compared in Unicode normal form C.
type Contains struct {
	Label      string   `json:"name,omitempty"`        // the scorer's name; default "contains"
	Values     []string `json:"values"`                // the substrings looked for; at least one
	Any        bool     `json:"any,omitempty"`         // one of Values suffices
	IgnoreCase bool     `json:"ignore_case,omitempty"` // compare with Unicode case folding
}

// Kind returns "contains".
func (s *Contains) Kind() string { return ScorerContains }

// Name returns the scorer's label or its kind.
func (s *Contains) Name() string { return labelOr(s.Label, ScorerContains) }

// Score reports whether output contains the values.
func (s *Contains) Score(output string) eval.Check {
	c := eval.Check{Scorer: s.Name()}
	out := normText(output, s.IgnoreCase)
	var missing []string
	for _, v := range s.Values {
		if strings.Contains(out, normText(v, s.IgnoreCase)) {
			if s.Any {
				c.Pass = true
				return c
			}
			continue
		}
		missing = append(missing, snippet(v))
	}
	if len(missing) == 0 && len(s.Values) > 0 {
		c.Pass = true
		return c
	}
	if s.Any {
		c.Detail = "none of " + strings.Join(missing, ", ") + " found"
	} else {
		c.Detail = "missing " + strings.Join(missing, ", ")
	}
	return c
}

// NotContains passes when the output contains none of Values. Texts are
// compared in Unicode normal form C.
type NotContains struct {
	Label      string   `json:"name,omitempty"`        // the scorer's name; default "not_contains"
	Values     []string `json:"values"`                // the forbidden substrings; at least one
	IgnoreCase bool     `json:"ignore_case,omitempty"` // compare with Unicode case folding
}

// Kind returns "not_contains".
func (s *NotContains) Kind() string { return ScorerNotContains }

// Name returns the scorer's label or its kind.
func (s *NotContains) Name() string { return labelOr(s.Label, ScorerNotContains) }

// Score reports whether output is free of the values.
func (s *NotContains) Score(output string) eval.Check {
	c := eval.Check{Scorer: s.Name()}
	out := normText(output, s.IgnoreCase)
	var found []string
	for _, v := range s.Values {
		if strings.Contains(out, normText(v, s.IgnoreCase)) {
			found = append(found, snippet(v))
		}
	}
	if len(found) == 0 {
		c.Pass = true
		return c
	}
	c.Detail = "found " + strings.Join(found, ", ")
	return c
}

// Regex passes when the output matches Pattern, an RE2 expression
// (https://golang.org/s/re2syntax) matched anywhere in the output unless
// anchored. Build one with NewRegex.
type Regex struct {
	Label      string `json:"name,omitempty"`        // the scorer's name; default "regex"
	Pattern    string `json:"pattern"`               // the RE2 expression
	IgnoreCase bool   `json:"ignore_case,omitempty"` // match case-insensitively, as (?i)

	re *regexp.Regexp
}

// NewRegex compiles pattern into a Regex scorer.
func NewRegex(label, pattern string, ignoreCase bool) (*Regex, error) {
	s := &Regex{Label: label, Pattern: pattern, IgnoreCase: ignoreCase}
	re, err := s.compile()
	if err != nil {
		return nil, err
	}
	s.re = re
	return s, nil
}

func (s *Regex) compile() (*regexp.Regexp, error) {
	p := s.Pattern
	if s.IgnoreCase {
		p = "(?i)" + p
	}
	re, err := regexp.Compile(p)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("bad regex %q: %s in %q", s.Pattern, se.Code, se.Expr)
		}
		return nil, fmt.Errorf("bad regex %q: %w", s.Pattern, err)
	}
	return re, nil
}

// Kind returns "regex".
func (s *Regex) Kind() string { return ScorerRegex }

// Name returns the scorer's label or its kind.
func (s *Regex) Name() string { return labelOr(s.Label, ScorerRegex) }

// Score reports whether output matches the pattern.
func (s *Regex) Score(output string) eval.Check {
	c := eval.Check{Scorer: s.Name()}
	re := s.re
	if re == nil { // a Regex not made by NewRegex
		var err error
		if re, err = s.compile(); err != nil {
			c.Detail = err.Error()
			return c
		}
	}
	if re.MatchString(output) {
		c.Pass = true
		return c
	}
	c.Detail = fmt.Sprintf("no match for %s in %s", snippet(s.Pattern), snippet(output))
	return c
}

// stripFence removes a Markdown code fence (```json … ```) around s, if s is
// one, and white space around the result.
func stripFence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s[3:], "```") {
		return s
	}
	body := strings.TrimSuffix(s[3:], "```")
	// The rest of the opening line is the info string ("json").
	if i := strings.IndexByte(body, '\n'); i >= 0 {
		body = body[i+1:]
	} else {
		return s // "```x```" on one line is not a fence
	}
	return strings.TrimSpace(body)
}

// JSONValid passes when the output, trimmed of white space, is one JSON value.
type JSONValid struct {
	Label      string `json:"name,omitempty"`        // the scorer's name; default "json_valid"
	StripFence bool   `json:"strip_fence,omitempty"` // accept a Markdown code fence around the JSON
}

// Kind returns "json_valid".
func (s *JSONValid) Kind() string { return ScorerJSONValid }

// Name returns the scorer's label or its kind.
func (s *JSONValid) Name() string { return labelOr(s.Label, ScorerJSONValid) }

// Score reports whether output is valid JSON.
func (s *JSONValid) Score(output string) eval.Check {
	c := eval.Check{Scorer: s.Name()}
	text := strings.TrimSpace(output)
	if s.StripFence {
		text = stripFence(text)
	}
	if err := checkJSON(text); err != nil {
		c.Detail = err.Error()
		return c
	}
	c.Pass = true
	return c
}

// checkJSON returns why text is not one JSON value, or nil.
func checkJSON(text string) error {
	if json.Valid([]byte(text)) {
		return nil
	}
	if text == "" {
		return errors.New("invalid JSON: empty output")
	}
	var v any
	err := json.Unmarshal([]byte(text), &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	if err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return errors.New("invalid JSON")
}

// JSONSchema passes when the output is JSON that validates against Schema
// (JSON Schema draft 2020-12 unless the schema names another in "$schema").
// The schema cannot refer to files or URLs, so the suite's hash covers all of
// it. Build one with NewJSONSchema.
type JSONSchema struct {
	Label      string `json:"name,omitempty"`        // the scorer's name; default "json_schema"
	Schema     any    `json:"schema"`                // the schema as a decoded JSON value
	StripFence bool   `json:"strip_fence,omitempty"` // accept a Markdown code fence around the JSON

	compiled *jsonschema.Schema
}

// NewJSONSchema compiles schema, a decoded JSON value (maps, slices, strings,
// numbers, booleans and nil), into a JSONSchema scorer.
func NewJSONSchema(label string, schema any, stripFence bool) (*JSONSchema, error) {
	b, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("bad JSON schema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("bad JSON schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{}) // no files, no network
	const url = "file:///suite/schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("bad JSON schema: %w", err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("bad JSON schema: %s", schemaErrorText(err))
	}
	return &JSONSchema{Label: label, Schema: schema, StripFence: stripFence, compiled: sch}, nil
}

// schemaErrorText shortens a schema compilation error to its leaves, without
// the library's URLs.
func schemaErrorText(err error) string {
	var ve *jsonschema.SchemaValidationError
	if errors.As(err, &ve) {
		var verr *jsonschema.ValidationError
		if errors.As(ve.Err, &verr) {
			return validationText(verr)
		}
	}
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "file:///suite/schema.json", "schema")
	return msg
}

// validationText lists the leaf errors of a validation as
// "at /path: message; …", at most three of them.
func validationText(verr *jsonschema.ValidationError) string {
	p := message.NewPrinter(language.English) // a Printer is not safe for concurrent use
	var leaves []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/" + strings.Join(e.InstanceLocation, "/")
			leaves = append(leaves, fmt.Sprintf("at %s: %s", loc, e.ErrorKind.LocalizedString(p)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(verr)
	const max = 3
	if len(leaves) > max {
		leaves = append(leaves[:max], fmt.Sprintf("and %d more", len(leaves)-max))
	}
	return strings.Join(leaves, "; ")
}

// Kind returns "json_schema".
func (s *JSONSchema) Kind() string { return ScorerJSONSchema }

// Name returns the scorer's label or its kind.
func (s *JSONSchema) Name() string { return labelOr(s.Label, ScorerJSONSchema) }

// Score reports whether output is JSON valid against the schema.
func (s *JSONSchema) Score(output string) eval.Check {
	c := eval.Check{Scorer: s.Name()}
	sch := s.compiled
	if sch == nil { // a JSONSchema not made by NewJSONSchema
		built, err := NewJSONSchema(s.Label, s.Schema, s.StripFence)
		if err != nil {
			c.Detail = err.Error()
			return c
		}
		sch = built.compiled
	}
	text := strings.TrimSpace(output)
	if s.StripFence {
		text = stripFence(text)
	}
	if err := checkJSON(text); err != nil {
		c.Detail = err.Error()
		return c
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		c.Detail = "invalid JSON: " + err.Error()
		return c
	}
	if err := sch.Validate(inst); err != nil {
		var verr *jsonschema.ValidationError
		if errors.As(err, &verr) {
			c.Detail = "schema: " + validationText(verr)
		} else {
			c.Detail = "schema: " + err.Error()
		}
		return c
	}
	c.Pass = true
	return c
}

// The positions Number can pick a number from.
const (
	PickLast  = "last"
	PickFirst = "first"
)

// Number passes when a number taken from the output is within tolerance of
// Value: |got − Value| ≤ Abs or |got − Value| ≤ Rel·|Value|. With both
// tolerances 0 the numbers must be equal. See ExtractNumbers for what counts
// as a number.
type Number struct {
	Label string  `json:"name,omitempty"` // the scorer's name; default "number"
	Value float64 `json:"value"`          // the expected number
	Abs   float64 `json:"abs,omitempty"`  // absolute tolerance, ≥ 0
	Rel   float64 `json:"rel,omitempty"`  // relative tolerance, ≥ 0, as a fraction of |Value|
	Pick  string  `json:"pick"`           // which number of the output: PickLast (default) or PickFirst
}

// Validate reports a tolerance or pick the scorer cannot use.
func (s *Number) Validate() error {
	switch {
	case s.Abs < 0 || math.IsNaN(s.Abs) || math.IsInf(s.Abs, 0):
		return fmt.Errorf("abs must be a finite number ≥ 0, got %v", s.Abs)
	case s.Rel < 0 || math.IsNaN(s.Rel) || math.IsInf(s.Rel, 0):
		return fmt.Errorf("rel must be a finite number ≥ 0, got %v", s.Rel)
	case math.IsNaN(s.Value) || math.IsInf(s.Value, 0):
		return fmt.Errorf("value must be a finite number, got %v", s.Value)
	case s.Pick != "" && s.Pick != PickLast && s.Pick != PickFirst:
		return fmt.Errorf("pick must be %q or %q, got %q", PickFirst, PickLast, s.Pick)
	}
	return nil
}

// Kind returns "number".
func (s *Number) Kind() string { return ScorerNumber }

// Name returns the scorer's label or its kind.
func (s *Number) Name() string { return labelOr(s.Label, ScorerNumber) }

// Score reports whether the output's number is within tolerance.
func (s *Number) Score(output string) eval.Check {
	c := eval.Check{Scorer: s.Name()}
	nums := ExtractNumbers(output)
	if len(nums) == 0 {
		c.Detail = "no number in " + snippet(output)
		return c
	}
	got := nums[len(nums)-1]
	if s.Pick == PickFirst {
		got = nums[0]
	}
	d := math.Abs(got - s.Value)
	if d <= s.Abs || d <= s.Rel*math.Abs(s.Value) {
		c.Pass = true
		return c
	}
	c.Detail = fmt.Sprintf("want %v, got %v", s.Value, got)
	if s.Abs > 0 || s.Rel > 0 {
		c.Detail += fmt.Sprintf(" (abs %v, rel %v)", s.Abs, s.Rel)
	}
	return c
}

// ExtractNumbers returns the numbers written in s, in order. A number is ASCII
// digits with an optional sign ("+", "-" or "−" U+2212; a "-" right after a
// letter or digit is a hyphen, as in "2-3" or "GPT-4", not a sign), optional
// thousands separators ("1,234,567": groups of exactly three digits), an
// optional fraction (".5", "3.25") and an optional exponent ("1e-3",
// "6.02E23"). Currency and percent signs and a full stop ending a sentence are
// not part of a number: "$1,250.", "50%" and "x = -4.5e2" give 1250, 50 and
// -450.
func ExtractNumbers(s string) []float64 {
	var nums []float64
	buf := make([]byte, 0, 32)
	for i := 0; i < len(s); {
		if end, v, ok := numberAt(s, i, buf); ok {
			nums = append(nums, v)
			i = end
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return nums
}

// numberAt parses a number starting at s[i], using buf as scratch space, and
// returns where it ends.
func numberAt(s string, i int, buf []byte) (end int, v float64, ok bool) {
	buf = buf[:0]
	j := i
	switch {
	case s[j] == '+' || s[j] == '-':
		j++
	case strings.HasPrefix(s[j:], "−"):
		j += len("−")
	}
	if j > i {
		if prev, _ := utf8.DecodeLastRuneInString(s[:i]); i > 0 && (unicode.IsLetter(prev) || unicode.IsDigit(prev)) {
			return 0, 0, false // a hyphen; the digits after it are read next
		}
		if s[i] != '+' {
			buf = append(buf, '-')
		}
	}
	startsFrac := j+1 < len(s) && s[j] == '.' && isDigit(s[j+1])
	if j >= len(s) || !isDigit(s[j]) && !startsFrac {
		return 0, 0, false
	}
	if startsFrac && j > 0 && (isDigit(s[j-1]) || s[j-1] == '.') {
		return 0, 0, false // "1.2.3": the ".3" is no number of its own
	}
	// Integer part, with thousands separators after a first group of 1-3 digits.
	d := j
	for d < len(s) && isDigit(s[d]) {
		d++
	}
	buf = append(buf, s[j:d]...)
	if n := d - j; n >= 1 && n <= 3 {
		for d+4 <= len(s) && s[d] == ',' && isDigit(s[d+1]) && isDigit(s[d+2]) && isDigit(s[d+3]) &&
			(d+4 == len(s) || !isDigit(s[d+4])) {
			buf = append(buf, s[d+1:d+4]...)
			d += 4
		}
	}
	// Fraction.
	if d+1 < len(s) && s[d] == '.' && isDigit(s[d+1]) {
		e := d + 1
		for e < len(s) && isDigit(s[e]) {
			e++
		}
		buf = append(buf, s[d:e]...)
		d = e
	}
	// Exponent.
	if d < len(s) && (s[d] == 'e' || s[d] == 'E') {
		e := d + 1
		if e < len(s) && (s[e] == '+' || s[e] == '-') {
			e++
		}
		f := e
		for f < len(s) && isDigit(s[f]) {
			f++
		}
		if f > e {
			buf = append(buf, s[d:f]...)
			d = f
		}
	}
	v, err := strconv.ParseFloat(string(buf), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, 0, false
	}
	return d, v, true // out of range: ±Inf or 0, as ParseFloat rounds
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// DefaultChoices are the answer letters of a Choice scorer that names none.
const DefaultChoices = "ABCD"

// Choice passes when the answer letter of a multiple-choice output is Answer.
// See ExtractChoice for how the letter is found.
type Choice struct {
	Label   string `json:"name,omitempty"` // the scorer's name; default "choice"
	Answer  string `json:"value"`          // the correct letter, one of Choices
	Choices string `json:"choices"`        // the letters offered, e.g. "ABCD"
}

// Validate reports an answer or set of choices the scorer cannot use.
func (s *Choice) Validate() error {
	choices := s.choices()
	for i := 0; i < len(choices); i++ {
		if c := choices[i]; c < 'A' || c > 'Z' || strings.IndexByte(choices[:i], c) >= 0 {
			return fmt.Errorf("choices must be distinct upper-case letters A-Z, got %q", choices)
		}
	}
	if len(s.Answer) != 1 || !strings.Contains(choices, s.Answer) {
		return fmt.Errorf("value must be one letter of %q, got %q", choices, s.Answer)
	}
	return nil
}

func (s *Choice) choices() string {
	if s.Choices == "" {
		return DefaultChoices
	}
	return s.Choices
}

// Kind returns "choice".
func (s *Choice) Kind() string { return ScorerChoice }

// Name returns the scorer's label or its kind.
func (s *Choice) Name() string { return labelOr(s.Label, ScorerChoice) }

// Score reports whether output answers with the right letter.
func (s *Choice) Score(output string) eval.Check {
	c := eval.Check{Scorer: s.Name()}
	got, err := ExtractChoice(output, s.choices())
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	if got == s.Answer {
		c.Pass = true
		return c
	}
	c.Detail = fmt.Sprintf("want %s, got %s", s.Answer, got)
	return c
}

// choiceRegexps are ExtractChoice's patterns, compiled on its first use
// rather than at start-up.
type choiceRegexps struct {
	// answerPhrase finds "Answer: B", "the correct option is (C)", "final answer: **D**".
	answerPhrase *regexp.Regexp
	// leadingLetter finds "B) …", "B. …", "(B) …", "B: …" at the start.
	leadingLetter *regexp.Regexp
	// bracketed finds "(B)" and "[B]" anywhere.
	bracketed *regexp.Regexp
	// loneLetter finds a one-letter word, and the start of the next word.
	loneLetter *regexp.Regexp
}

var choicePatterns = sync.OnceValue(func() *choiceRegexps {
	return &choiceRegexps{
		answerPhrase:  regexp.MustCompile(`(?i)\b(?:final\s+answer|answer|correct\s+(?:option|choice|letter)|option|choice)\b(?:\s*(?:is|would\s+be|:|=|-|–))+\s*(?:option\s+|choice\s+|letter\s+)?([(\[]?)([A-Za-z])([)\]]?)(?:$|[^\pL\pN])`),
		leadingLetter: regexp.MustCompile(`^(?:\(([A-Z])\)|\[([A-Z])\]|([A-Z])[).:]|([A-Z])\s+[-–—]\s)`),
		bracketed:     regexp.MustCompile(`[(\[]([A-Z])[)\]]`),
		loneLetter:    regexp.MustCompile(`(?:^|[^\pL\pN])([A-Z])(?:$|[^\pL\pN'’])(\s*\pL*)`),
	}
})

// verbs after "A" make it a letter, not an article: "A is wrong".
var verbs = map[string]bool{"is": true, "was": true, "would": true, "seems": true, "looks": true, "fits": true}

// ExtractChoice finds the answer letter, one of choices, in a multiple-choice
// output. It tries, in order, and takes the first that finds a letter:
//
//  1. an answer phrase; the last one wins: "Answer: B", "the answer is (C)",
//     "Final answer: **D**", "correct option is a." (a lower-case letter only
//     where it cannot be a word: in brackets, or before a full stop, colon or
//     the end);
//  2. the whole output being one letter: "B", "(b)", "B.", "**B**";
//  3. a letter opening the output ("B) Paris", "(B) Paris", "B. Paris") and
//     letters in brackets anywhere ("(B)", "[B]"), if they all agree;
//  4. upper-case one-letter words, if they all agree, not counting "A" and "I"
//     before a lower-case word, where they are English words ("A cat", "I
//     think"), unless that word is a verb ("A is wrong").
//
// It returns an error when no letter is found, or when step 3 or 4 finds
// different letters (the output is ambiguous).
func ExtractChoice(output, choices string) (string, error) {
	text := strings.NewReplacer("**", "", "__", "", "`", "").Replace(norm.NFC.String(output))
	in := func(l string) bool { return len(l) == 1 && strings.Contains(choices, l) }
	re := choicePatterns()

	// 1. Answer phrases, the last that names a choice.
	ms := re.answerPhrase.FindAllStringSubmatch(text, -1)
	for k := len(ms) - 1; k >= 0; k-- {
		m := ms[k]
		l := m[2]
		if l != strings.ToUpper(l) {
			// A lower-case letter counts only in brackets or before punctuation
			// that ends it: "answer is a bit" is not "A".
			end := m[0][len(m[0])-1:]
			if m[1] == "" && m[3] == "" && !strings.HasSuffix(m[0], l) && !strings.ContainsAny(end, ".:;,!?)") {
				continue
			}
			l = strings.ToUpper(l)
		}
		if in(l) {
			return l, nil
		}
	}
	// 2. The whole output is one letter.
	bare := strings.Trim(strings.TrimSpace(text), "()[]{}.:;,!*_ \t\n")
	if u := strings.ToUpper(bare); in(u) {
		return u, nil
	}
	// agree returns the one letter of choices among letters, if any.
	agree := func(letters []string) (string, bool, error) {
		var seen []string
		for _, l := range letters {
			if in(l) && !slices.Contains(seen, l) {
				seen = append(seen, l)
			}
		}
		switch len(seen) {
		case 0:
			return "", false, nil
		case 1:
			return seen[0], true, nil
		}
		return "", true, fmt.Errorf("ambiguous answer: letters %s", strings.Join(seen, ", "))
	}
	// 3. A letter opening the output, and bracketed letters anywhere.
	var letters []string
	if m := re.leadingLetter.FindStringSubmatch(strings.TrimSpace(text)); m != nil {
		letters = append(letters, m[1:]...)
	}
	for _, m := range re.bracketed.FindAllStringSubmatch(text, -1) {
		letters = append(letters, m[1])
	}
	if l, ok, err := agree(letters); ok {
		return l, err
	}
	// 4. One-letter words.
	letters = letters[:0]
	for _, m := range re.loneLetter.FindAllStringSubmatch(text, -1) {
		next := strings.TrimSpace(m[2])
		if (m[1] == "A" || m[1] == "I") && next != "" && next == strings.ToLower(next) && !verbs[next] {
			continue // an English word: "A cat", "I think"; but not "A is wrong"
		}
		letters = append(letters, m[1])
	}
	if l, ok, err := agree(letters); ok {
		return l, err
	}
	return "", fmt.Errorf("no answer letter (%s) in %s", choices, snippet(output))
}

// Length passes when the output's length is within bounds. Characters are
// Unicode code points; words are runs of non-space characters (so a sentence
// in a script written without spaces counts as one word). A zero bound is no
// bound.
type Length struct {
	Label    string `json:"name,omitempty"`      // the scorer's name; default "length"
	MinChars int    `json:"min_chars,omitempty"` // at least this many characters
	MaxChars int    `json:"max_chars,omitempty"` // at most this many characters
	MinWords int    `json:"min_words,omitempty"` // at least this many words
	MaxWords int    `json:"max_words,omitempty"` // at most this many words
	Trim     bool   `json:"trim"`                // count characters after trimming white space
}

// Validate reports bounds the scorer cannot use.
func (s *Length) Validate() error {
	switch {
	case s.MinChars < 0 || s.MaxChars < 0 || s.MinWords < 0 || s.MaxWords < 0:
		return errors.New("length bounds must be ≥ 0")
	case s.MinChars == 0 && s.MaxChars == 0 && s.MinWords == 0 && s.MaxWords == 0:
		return errors.New("length needs at least one of min_chars, max_chars, min_words, max_words")
	case s.MaxChars > 0 && s.MinChars > s.MaxChars:
		return fmt.Errorf("min_chars %d is above max_chars %d", s.MinChars, s.MaxChars)
	case s.MaxWords > 0 && s.MinWords > s.MaxWords:
		return fmt.Errorf("min_words %d is above max_words %d", s.MinWords, s.MaxWords)
	}
	return nil
}

// Kind returns "length".
func (s *Length) Kind() string { return ScorerLength }

// Name returns the scorer's label or its kind.
func (s *Length) Name() string { return labelOr(s.Label, ScorerLength) }

// Score reports whether output's length is within the bounds.
func (s *Length) Score(output string) eval.Check {
	c := eval.Check{Scorer: s.Name()}
	text := output
	if s.Trim {
		text = strings.TrimSpace(text)
	}
	chars := utf8.RuneCountInString(text)
	words := len(strings.Fields(text))
	var why []string
	if chars < s.MinChars {
		why = append(why, fmt.Sprintf("%d characters, want at least %d", chars, s.MinChars))
	}
	if s.MaxChars > 0 && chars > s.MaxChars {
		why = append(why, fmt.Sprintf("%d characters, want at most %d", chars, s.MaxChars))
	}
	if words < s.MinWords {
		why = append(why, fmt.Sprintf("%d words, want at least %d", words, s.MinWords))
	}
	if s.MaxWords > 0 && words > s.MaxWords {
		why = append(why, fmt.Sprintf("%d words, want at most %d", words, s.MaxWords))
	}
	if len(why) == 0 {
		c.Pass = true
		return c
	}
	c.Detail = strings.Join(why, "; ")
	return c
}
