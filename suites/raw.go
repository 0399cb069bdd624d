package suites

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/eval/score"
	"go.yaml.in/yaml/v3"
)

// The raw types mirror a suite file field for field. Pointers, interfaces and
// slices are nil where a field is absent, so that build can tell "not given"
// from a zero value. JSON lines decode into them directly (the fast path);
// YAML, and JSON lines that fail to decode, go through decoder, which checks
// every type and field name and knows where each value is.

// rawHeader is a suite's header: the top level of a YAML suite, or the
// "suite" object on the first line of a JSONL suite.
type rawHeader struct {
	Name        *string      `json:"name"`
	Version     any          `json:"version"` // any scalar: 1, 1.2 or "2024-06"
	Description *string      `json:"description"`
	Defaults    *rawSettings `json:"defaults"`
	Cases       []rawCase    `json:"cases"` // YAML only
}

// rawSettings are a suite's defaults, eval.Settings field for field.
type rawSettings struct {
	Temperature       *float64 `json:"temperature"`
	TopP              *float64 `json:"top_p"`
	TopK              *int     `json:"top_k"`
	MinP              *float64 `json:"min_p"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	PresencePenalty   *float64 `json:"presence_penalty"`
	FrequencyPenalty  *float64 `json:"frequency_penalty"`
	Seed              *int64   `json:"seed"`
	MaxTokens         *int     `json:"max_tokens"`
	Stop              []string `json:"stop"`
	System            *string  `json:"system"`
	Logprobs          *bool    `json:"logprobs"`
	Samples           *int     `json:"samples"`
}

// rawCase is one case.
type rawCase struct {
	ID        *string       `json:"id"`
	Messages  []rawMessage  `json:"messages"`
	Prompt    *string       `json:"prompt"`
	Tags      []string      `json:"tags"`
	Cluster   *string       `json:"cluster"`
	Overrides *rawOverrides `json:"overrides"`
	Scorers   []score.Spec  `json:"scorers"`
}

// rawMessage is one chat turn.
type rawMessage struct {
	Role    *string `json:"role"`
	Content *string `json:"content"`
}

// rawOverrides are a case's eval.Overrides.
type rawOverrides struct {
	MaxTokens   *int     `json:"max_tokens"`
	Stop        []string `json:"stop"`
	Temperature *float64 `json:"temperature"`
	Seed        *int64   `json:"seed"`
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// fieldNames returns the JSON names of a raw struct type's fields.
func fieldNames(t reflect.Type) []string {
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = jsonName(t.Field(i))
	}
	return names
}

// A place is a position in a suite file; Line and Col are 1-based, 0 when
// unknown.
type place struct{ Line, Col int }

// A path names a value within a case or header: field names and list indexes,
// e.g. {"scorers", 2, "pattern"}.
type path []any

func (p path) String() string {
	var b strings.Builder
	for i, e := range p {
		switch e := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", e)
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, e)
		}
	}
	return b.String()
}

// A fieldProblem is something wrong with the value at a path.
type fieldProblem struct {
	path    path
	msg     string
	at      *place   // where it is, if known without resolving path
	missing []string // the fields whose absence it reports, if any
}

// decoder decodes YAML nodes into the raw types, checking types and field
// names and recording each problem where it is.
type decoder struct {
	problems []fieldProblem
	top      string // what the top level is, for messages: "the suite", "the case"
}

func (d *decoder) fail(n *yaml.Node, p path, format string, args ...any) {
	d.problems = append(d.problems, fieldProblem{path: slices.Clone(p), msg: fmt.Sprintf(format, args...), at: &place{n.Line, n.Column}})
}

// kindName describes a node's type for an error message.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
}

// decode stores n into v, a pointer to a raw type or one of its fields.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, p path) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	isNull := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if isNull {
			return // absent
		}
		elem := reflect.New(t.Elem())
		before := len(d.problems)
		d.decode(n, elem.Elem(), p)
		if len(d.problems) == before || t.Elem().Kind() == reflect.Struct {
			v.Set(elem) // a value of the wrong type stays absent
		}
		return
	}
	if isNull && (t.Kind() == reflect.Slice || t.Kind() == reflect.Interface) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, p)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, p, "%s must be a list, got %s", fieldLabel(p), kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), append(p, i))
		}
		v.Set(s)
	case reflect.Interface:
		val, ok := d.jsonValue(n, p)
		if ok && val != nil {
			v.Set(reflect.ValueOf(val))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf(`; quote it: "%s"`, n.Value)
			}
			d.fail(n, p, "%s must be a string, got %s%s", fieldLabel(p), kindName(n), hint)
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, p, "%s must be true or false, got %s", fieldLabel(p), kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.fail(n, p, "%s must be a whole number, got %s", fieldLabel(p), kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || tag != "!!int" && tag != "!!float" || n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(n, p, "%s must be a number, got %s", fieldLabel(p), kindName(n))
			return
		}
		v.SetFloat(f)
	default:
		panic("suites: no decoder for " + t.String())
	}
}

// decodeStruct decodes a mapping into a raw struct, reporting unknown and
// repeated field names.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, p path) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.fail(n, p, "%s must be a mapping of %s, got %s", fieldLabel(p), strings.Join(fieldNames(t), ", "), kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name := k.Value
		if line, dup := seen[name]; dup {
			d.fail(k, append(p, name), "%s is given twice (also on line %d); keep one", fieldLabel(append(p, name)), line)
			continue
		}
		seen[name] = k.Line
		f, ok := fieldByJSON(t, name)
		if !ok || (name == "cases" && len(p) > 0) {
			d.fail(k, p, "%s", unknownField(name, p, d.top, fieldNames(t)))
			continue
		}
		d.decode(val, v.FieldByIndex(f.Index), append(p, name))
	}
}

// unknownField says a field name is unknown, suggests the nearest known one
// and lists them all.
func unknownField(name string, p path, top string, known []string) string {
	where := "in " + top
	if len(p) > 0 {
		where = "in " + p.String()
	}
	if name == "cases" {
		known = slices.DeleteFunc(slices.Clone(known), func(s string) bool { return s == "cases" })
	}
	msg := fmt.Sprintf("unknown field %q %s", name, where)
	if s := nearest(name, known); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	sorted := slices.Clone(known)
	slices.Sort(sorted)
	return msg + " (known: " + strings.Join(sorted, ", ") + ")"
}

func fieldByJSON(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if jsonName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// fieldLabel names the field at p for a message, by its name and any list
// indexes after it ("stop[0]"); the position says where it is.
func fieldLabel(p path) string {
	for i := len(p) - 1; i >= 0; i-- {
		if _, ok := p[i].(string); ok {
			return p[i:].String()
		}
	}
	if len(p) == 0 {
		return "this"
	}
	return "item " + p.String()
}

// jsonValue converts a YAML node into the value encoding/json would decode
// from the same JSON with UseNumber: maps with string keys, []any, strings,
// json.Numbers, booleans and nil.
func (d *decoder) jsonValue(n *yaml.Node, p path) (any, bool) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" && k.ShortTag() != "!!int" {
				d.fail(k, p, "keys in %s must be strings, got %s", fieldLabel(p), kindName(k))
				ok = false
				continue
			}
			if _, dup := m[k.Value]; dup {
				d.fail(k, p, "key %q is given twice in %s; keep one", k.Value, fieldLabel(p))
				ok = false
				continue
			}
			v, vok := d.jsonValue(n.Content[i+1], append(p, k.Value))
			ok = ok && vok
			m[k.Value] = v
		}
		return m, ok
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		ok := true
		for i, c := range n.Content {
			v, vok := d.jsonValue(c, append(p, i))
			ok = ok && vok
			s[i] = v
		}
		return s, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return n.Value, true
		case "!!null":
			return nil, true
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err == nil {
				return b, true
			}
		case "!!int", "!!float":
			if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
				return json.Number(n.Value), true
			}
			var f float64
			if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
			}
		}
	}
	d.fail(n, p, "%s cannot be written in JSON, got %s", fieldLabel(p), kindName(n))
	return nil, false
}

// resolve returns where the value at p is within n; for a path into a
// missing field, the position of the nearest mapping that holds it.
func resolve(n *yaml.Node, p path) place {
	if n == nil {
		return place{}
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	at := place{n.Line, n.Column}
	for _, e := range p {
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		var next *yaml.Node
		switch e := e.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == e {
						next = n.Content[i+1]
						if next.Kind == yaml.ScalarNode && next.ShortTag() == "!!null" {
							next = n.Content[i] // point at the key of an empty value
						}
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && e < len(n.Content) {
				next = n.Content[e]
			}
		}
		if next == nil {
			return at
		}
		n = next
		at = place{n.Line, n.Column}
	}
	return at
}

// nearest returns the name in known closest to name, if it is close enough
// to be a typo.
func nearest(name string, known []string) string {
	best, bestD := "", 3
	if len(name) <= 3 {
		bestD = 2
	}
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
