package score

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// A Spec is a scorer as a suite file writes it: its kind, its name and its
// parameters, each nil where the file leaves it out. It holds every kind's
// parameters, so that a suite line decodes straight into it before its kind
// is known, and a parameter has one name and one type whatever the kind;
// Kind.Build checks that only the kind's own are set. Value, Values and
// Schema hold decoded JSON values as encoding/json gives them with UseNumber:
// strings, json.Numbers, booleans, nil, []any and map[string]any.
type Spec struct {
	Kind       *string  `json:"kind"`
	Name       *string  `json:"name"`
	Value      any      `json:"value"`  // string or json.Number
	Values     []any    `json:"values"` // strings or json.Numbers
	Pattern    *string  `json:"pattern"`
	IgnoreCase *bool    `json:"ignore_case"`
	Trim       *bool    `json:"trim"`
	Any        *bool    `json:"any"`
	StripFence *bool    `json:"strip_fence"`
	Schema     any      `json:"schema"`
	Abs        *float64 `json:"abs"`
	Rel        *float64 `json:"rel"`
	Pick       *string  `json:"pick"`
	Choices    *string  `json:"choices"`
	MinChars   *int     `json:"min_chars"`
	MaxChars   *int     `json:"max_chars"`
	MinWords   *int     `json:"min_words"`
	MaxWords   *int     `json:"max_words"`
}

// specFields are the JSON names of Spec's fields, in order.
var specFields = func() []string {
	t := reflect.TypeFor[Spec]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return names
}()

// A Problem is something wrong with a Spec.
type Problem struct {
	// Path is where, within the scorer: a parameter's name, and the index of
	// a list item after it ({"values", 2}); nil for the scorer as a whole.
	Path []any
	// Missing names the parameters whose absence the problem reports; a
	// caller that reported one of them as malformed already may drop it (a
	// value of the wrong type reads as missing).
	Missing []string
	Msg     string
}

// problems collects the problems of one Spec.
type problems []Problem

func (ps *problems) add(path []any, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// missing adds the problem that the parameters are missing.
func (ps *problems) missing(params []string, format string, args ...any) {
	*ps = append(*ps, Problem{Missing: params, Msg: fmt.Sprintf(format, args...)})
}

// A Kind is a kind of scorer: the name suite files give it, the parameters it
// takes and how it is built from them. Every kind is one entry of kinds;
// Lookup finds one by name.
//
// A scorer's identity, which a suite's case hash covers, is its kind, its
// Name and its JSON encoding (the json tags of its exported fields), so a
// scorer type's fields are its parameters with their defaults filled in: its
// encoding, decoded into a Spec (with UseNumber), builds the scorer again.
type Kind struct {
	Name string // as suites name it, e.g. "regex"
	// Params are the JSON names of the Spec fields the kind takes besides
	// kind and name, in the order messages list them.
	Params []string
	// build makes the scorer from its label (its given name, or "") and
	// spec, and returns it with ps, the problems found so far, and what is
	// wrong with spec appended; Build drops a scorer returned along with
	// problems. (ps is passed by value: a pointer passed to a function value
	// would move it to the heap, one allocation per scorer.)
	build func(label string, spec *Spec, ps problems) (KindScorer, problems)
}

// Build makes the scorer spec describes, a scorer of kind k (spec.Kind is
// not looked at), or returns what is wrong with spec. Scorers with a compiled
// regex or schema are shared: building the same one twice, while the first
// is still in use, returns it again. Build is safe for concurrent use.
func (k *Kind) Build(spec *Spec) (KindScorer, []Problem) {
	var ps problems
	rv := reflect.ValueOf(spec).Elem()
	for i, f := range specFields {
		if f != "kind" && f != "name" && !rv.Field(i).IsZero() && !slices.Contains(k.Params, f) {
			ps.add([]any{f}, "%s does not apply to scorer %s (it takes %s)", f, k.Name, strings.Join(k.Params, ", "))
		}
	}
	label := ""
	if spec.Name != nil {
		if *spec.Name == "" {
			ps.add([]any{"name"}, "name is empty; remove it to use the kind, or write one")
		}
		label = *spec.Name
	}
	s, ps := k.build(label, spec, ps)
	if len(ps) > 0 {
		return nil, ps
	}
	return s, nil
}

// Lookup returns the kind of scorer named name, or nil.
func Lookup(name string) *Kind {
	for i := range kinds {
		if kinds[i].Name == name {
			return &kinds[i]
		}
	}
	return nil
}

// ScorerKinds lists every scorer kind's name in alphabetical order.
var ScorerKinds = func() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	slices.Sort(names)
	return names
}()

// kinds are the scorer kinds. A new kind is a scorer type (its parameters as
// json-tagged fields, and Kind, Name and Score methods) and an entry here; a
// parameter no kind took before is a field of Spec too.
var kinds = []Kind{
	{
		Name:   ScorerEquals,
		Params: []string{"value", "ignore_case", "trim"},
		build: func(label string, spec *Spec, ps problems) (KindScorer, problems) {
			v, ok := textParam(spec.Value, "value", &ps)
			if !ok {
				return nil, ps
			}
			return &Equals{Label: label, Value: v, IgnoreCase: boolOr(spec.IgnoreCase, false), Trim: boolOr(spec.Trim, true)}, ps
		},
	},
	{
		Name:   ScorerContains,
		Params: []string{"value", "values", "any", "ignore_case"},
		build: func(label string, spec *Spec, ps problems) (KindScorer, problems) {
			vals := textValues(spec, &ps)
			return &Contains{Label: label, Values: vals, Any: boolOr(spec.Any, false), IgnoreCase: boolOr(spec.IgnoreCase, false)}, ps
		},
	},
	{
		Name:   ScorerNotContains,
		Params: []string{"value", "values", "ignore_case"},
		build: func(label string, spec *Spec, ps problems) (KindScorer, problems) {
			vals := textValues(spec, &ps)
			return &NotContains{Label: label, Values: vals, IgnoreCase: boolOr(spec.IgnoreCase, false)}, ps
		},
	},
	{
		Name:   ScorerRegex,
		Params: []string{"pattern", "ignore_case"},
		build: func(label string, spec *Spec, ps problems) (KindScorer, problems) {
			if spec.Pattern == nil {
				ps.missing([]string{"pattern"}, `regex scorer has no pattern; add pattern: '^\d+$' (RE2 syntax)`)
				return nil, ps
			}
			pattern, ignoreCase := *spec.Pattern, boolOr(spec.IgnoreCase, false)
			re, err := sharedRegexes.get(sharedKey{label, pattern, ignoreCase}, func() (*Regex, error) {
				return NewRegex(label, pattern, ignoreCase)
			})
			if err != nil {
				ps.add([]any{"pattern"}, "%v; fix the pattern (RE2 syntax: https://golang.org/s/re2syntax)", err)
				return nil, ps
			}
			return re, ps
		},
	},
	{
		Name:   ScorerJSONValid,
		Params: []string{"strip_fence"},
		build: func(label string, spec *Spec, ps problems) (KindScorer, problems) {
			return &JSONValid{Label: label, StripFence: boolOr(spec.StripFence, false)}, ps
		},
	},
	{
		Name:   ScorerJSONSchema,
		Params: []string{"schema", "strip_fence"},
		build: func(label string, spec *Spec, ps problems) (KindScorer, problems) {
			if spec.Schema == nil {
				ps.missing([]string{"schema"}, "json_schema scorer has no schema; add schema: {type: object, ...}")
				return nil, ps
			}
			switch spec.Schema.(type) {
			case map[string]any, bool:
			default:
				ps.add([]any{"schema"}, "schema must be a JSON Schema object (or true/false)")
				return nil, ps
			}
			schema, stripFence := normalizeNumbers(spec.Schema), boolOr(spec.StripFence, false)
			key, err := json.Marshal(schema) // sorted keys: equal schemas, equal text
			if err != nil {
				ps.add([]any{"schema"}, "%v; fix the schema", err)
				return nil, ps
			}
			js, err := sharedSchemas.get(sharedKey{label, string(key), stripFence}, func() (*JSONSchema, error) {
				return NewJSONSchema(label, schema, stripFence)
			})
			if err != nil {
				ps.add([]any{"schema"}, "%v; fix the schema", err)
				return nil, ps
			}
			return js, ps
		},
	},
	{
		Name:   ScorerNumber,
		Params: []string{"value", "abs", "rel", "pick"},
		build: func(label string, spec *Spec, ps problems) (KindScorer, problems) {
			num := &Number{Label: label, Pick: PickLast}
			switch v := spec.Value.(type) {
			case nil:
				ps.missing([]string{"value"}, "number scorer has no value; add value: 42")
			case json.Number:
				f, err := strconv.ParseFloat(string(v), 64)
				if err != nil || math.IsInf(f, 0) {
					ps.add([]any{"value"}, "value %s is not a finite number", v)
				}
				num.Value = f
			default:
				ps.add([]any{"value"}, "value must be a number, got %s; write it unquoted: value: 42", DescribeValue(v))
			}
			if spec.Abs != nil {
				num.Abs = *spec.Abs
			}
			if spec.Rel != nil {
				num.Rel = *spec.Rel
			}
			if spec.Pick != nil {
				num.Pick = *spec.Pick
			}
			if err := num.Validate(); err != nil {
				ps.add(nil, "%v", err)
			}
			return num, ps
		},
	},
	{
		Name:   ScorerChoice,
		Params: []string{"value", "choices"},
		build: func(label string, spec *Spec, ps problems) (KindScorer, problems) {
			ch := &Choice{Label: label, Choices: DefaultChoices}
			if spec.Choices != nil {
				ch.Choices = strings.ToUpper(*spec.Choices)
			}
			if v, ok := textParam(spec.Value, "value", &ps); ok {
				ch.Answer = strings.ToUpper(strings.TrimSpace(v))
				if err := ch.Validate(); err != nil {
					ps.add([]any{"value"}, "%v", err)
				}
			}
			return ch, ps
		},
	},
	{
		Name:   ScorerLength,
		Params: []string{"min_chars", "max_chars", "min_words", "max_words", "trim"},
		build: func(label string, spec *Spec, ps problems) (KindScorer, problems) {
			l := &Length{Label: label, Trim: boolOr(spec.Trim, true)}
			for _, b := range []struct {
				name string
				v    *int
				dst  *int
			}{{"min_chars", spec.MinChars, &l.MinChars}, {"max_chars", spec.MaxChars, &l.MaxChars}, {"min_words", spec.MinWords, &l.MinWords}, {"max_words", spec.MaxWords, &l.MaxWords}} {
				if b.v == nil {
					continue
				}
				if least := boolInt(strings.HasPrefix(b.name, "max")); *b.v < least {
					ps.add([]any{b.name}, "%s must be ≥ %d, got %d", b.name, least, *b.v)
				}
				*b.dst = *b.v
			}
			// Bounds that contradict each other, only where nothing else is
			// wrong with the scorer.
			if err := l.Validate(); err != nil && len(ps) == 0 {
				ps.add(nil, "%v", err)
			}
			return l, ps
		},
	},
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// text returns the text of a parameter's value; a number is taken as written.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	}
	return "", false
}

// textParam returns the text of the required parameter name, whose value is v.
func textParam(v any, name string, ps *problems) (string, bool) {
	if v == nil {
		ps.missing([]string{name}, "scorer has no %s; add %s: ...", name, name)
		return "", false
	}
	s, ok := text(v)
	if !ok {
		ps.add([]any{name}, "%s must be a string, got %s", name, DescribeValue(v))
	}
	return s, ok
}

// textValues returns the value or values of a contains or not_contains scorer.
func textValues(spec *Spec, ps *problems) []string {
	switch {
	case spec.Value != nil && spec.Values != nil:
		ps.add(nil, "scorer has both value and values; keep one")
		return nil
	case spec.Value != nil:
		v, ok := textParam(spec.Value, "value", ps)
		if ok && v == "" {
			ps.add([]any{"value"}, "value is empty; every output contains the empty string")
		}
		return []string{v}
	case spec.Values != nil:
		if len(spec.Values) == 0 {
			ps.add([]any{"values"}, "values is empty; list at least one string")
		}
		out := make([]string, 0, len(spec.Values))
		for i, v := range spec.Values {
			s, ok := text(v)
			switch {
			case !ok:
				ps.add([]any{"values", i}, "values[%d] must be a string, got %s", i, DescribeValue(v))
			case s == "":
				ps.add([]any{"values", i}, "values must not be empty strings")
			}
			out = append(out, s)
		}
		return out
	}
	ps.missing([]string{"value", "values"}, "scorer has no value; add value: ... (or values: [...])")
	return nil
}

// DescribeValue names the type of a decoded JSON value for a message: "the
// string \"42\"", "the number 42", "a list".
func DescribeValue(v any) string {
	switch v := v.(type) {
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + string(v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// normalizeNumbers replaces each json.Number in v by the float64 it denotes,
// so that 1.50, 1.5 and 15e-1 encode alike. Integers beyond 2^53 are rounded,
// as JavaScript would.
func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return v
		}
		return f
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalizeNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalizeNumbers(e)
		}
		return out
	}
	return v
}
