package suites

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"weak"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/score"
)

// scorerParams lists the parameters each scorer kind takes, besides kind and
// name.
var scorerParams = map[string][]string{
	score.ScorerEquals:      {"value", "ignore_case", "trim"},
	score.ScorerContains:    {"value", "values", "any", "ignore_case"},
	score.ScorerNotContains: {"value", "values", "ignore_case"},
	score.ScorerRegex:       {"pattern", "ignore_case"},
	score.ScorerJSONValid:   {"strip_fence"},
	score.ScorerJSONSchema:  {"schema", "strip_fence"},
	score.ScorerNumber:      {"value", "abs", "rel", "pick"},
	score.ScorerChoice:      {"value", "choices"},
	score.ScorerLength:      {"min_chars", "max_chars", "min_words", "max_words", "trim"},
}

// problems collects the fieldProblems of one header or case.
type problems []fieldProblem

func (ps *problems) add(p path, format string, args ...any) {
	*ps = append(*ps, fieldProblem{path: slices.Clone(p), msg: fmt.Sprintf(format, args...)})
}

// missing adds the problem that the value at p lacks the fields; it is
// dropped where decoding already reported one of those fields (a field of the
// wrong type reads as missing).
func (ps *problems) missing(p path, fields []string, format string, args ...any) {
	ps.add(p, format, args...)
	(*ps)[len(*ps)-1].missing = fields
}

// buildSettings applies a suite's defaults to eval.DefaultSettings.
func buildSettings(r *rawSettings, ps *problems) eval.Settings {
	s := eval.DefaultSettings()
	if r == nil {
		return s
	}
	p := path{"defaults"}
	nonNeg := func(name string, v *float64, dst *float64) {
		if v == nil {
			return
		}
		if *v < 0 {
			ps.add(append(p, name), "%s must be ≥ 0, got %v", name, *v)
		}
		*dst = *v
	}
	nonNeg("temperature", r.Temperature, &s.Temperature)
	if r.TopP != nil {
		if *r.TopP <= 0 || *r.TopP > 1 {
			ps.add(append(p, "top_p"), "top_p must be in (0, 1], got %v", *r.TopP)
		}
		s.TopP = *r.TopP
	}
	if r.TopK != nil {
		if *r.TopK < 0 {
			ps.add(append(p, "top_k"), "top_k must be ≥ 0, got %d", *r.TopK)
		}
		s.TopK = r.TopK
	}
	if r.MinP != nil {
		if *r.MinP < 0 || *r.MinP > 1 {
			ps.add(append(p, "min_p"), "min_p must be in [0, 1], got %v", *r.MinP)
		}
		s.MinP = r.MinP
	}
	if r.RepetitionPenalty != nil {
		if *r.RepetitionPenalty <= 0 {
			ps.add(append(p, "repetition_penalty"), "repetition_penalty must be > 0, got %v", *r.RepetitionPenalty)
		}
		s.RepetitionPenalty = r.RepetitionPenalty
	}
	if r.PresencePenalty != nil {
		s.PresencePenalty = *r.PresencePenalty
	}
	if r.FrequencyPenalty != nil {
		s.FrequencyPenalty = *r.FrequencyPenalty
	}
	if r.Seed != nil {
		s.Seed = *r.Seed
	}
	if r.MaxTokens != nil {
		if *r.MaxTokens < 1 {
			ps.add(append(p, "max_tokens"), "max_tokens must be ≥ 1, got %d", *r.MaxTokens)
		}
		s.MaxTokens = *r.MaxTokens
	}
	if r.Stop != nil {
		checkStop(r.Stop, append(p, "stop"), ps)
		s.Stop = r.Stop
	}
	if r.System != nil {
		s.System = *r.System
	}
	if r.Logprobs != nil {
		s.Logprobs = *r.Logprobs
	}
	if r.Samples != nil {
		if *r.Samples < 1 {
			ps.add(append(p, "samples"), "samples must be ≥ 1, got %d", *r.Samples)
		}
		s.Samples = *r.Samples
	}
	return s
}

func checkStop(stop []string, p path, ps *problems) {
	for i, s := range stop {
		if s == "" {
			ps.add(append(p, i), "stop sequences must not be empty")
		}
	}
}

// buildCase turns a raw case into an eval.Case with its hash, computed by h
// under the suite's defaults.
func buildCase(r *rawCase, h *hasher) (eval.Case, problems) {
	var ps problems
	var c eval.Case
	switch {
	case r.ID == nil:
		ps.missing(nil, []string{"id"}, `case has no id; add a stable, unique id, e.g. id: "capital-france"`)
	case *r.ID == "":
		ps.add(path{"id"}, "id is empty; give the case a stable, unique id")
	case strings.IndexFunc(*r.ID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		ps.add(path{"id"}, "id %q contains white space; use - or _ instead", *r.ID)
	default:
		c.ID = *r.ID
	}
	switch {
	case r.Messages != nil && r.Prompt != nil:
		ps.add(nil, "case has both messages and prompt; keep exactly one (messages for chat, prompt for raw completion)")
	case r.Messages == nil && r.Prompt == nil:
		ps.missing(nil, []string{"messages", "prompt"}, "case has neither messages nor prompt; add one (messages for chat, prompt for raw completion)")
	case r.Prompt != nil:
		if *r.Prompt == "" {
			ps.add(path{"prompt"}, "prompt is empty; write the prompt text")
		}
		c.Prompt = *r.Prompt
	default:
		if len(r.Messages) == 0 {
			ps.add(path{"messages"}, "messages is empty; add at least one {role: user, content: ...}")
		}
		c.Messages = make([]eval.Message, len(r.Messages))
		for i, m := range r.Messages {
			p := path{"messages", i}
			if m.Role == nil {
				ps.missing(p, []string{"role"}, "message has no role; add role: system, user or assistant")
			} else if r := *m.Role; r != "system" && r != "user" && r != "assistant" {
				ps.add(append(p, "role"), "role %q is not system, user or assistant", r)
			} else {
				c.Messages[i].Role = r
			}
			if m.Content == nil {
				ps.missing(p, []string{"content"}, "message has no content; add content: ...")
			} else {
				c.Messages[i].Content = *m.Content
			}
		}
	}
	for i, t := range r.Tags {
		if strings.TrimSpace(t) == "" {
			ps.add(path{"tags", i}, "tags must not be empty")
		}
	}
	c.Tags = r.Tags
	if r.Cluster != nil {
		c.Cluster = *r.Cluster
	}
	if o := r.Overrides; o != nil {
		p := path{"overrides"}
		if o.MaxTokens != nil && *o.MaxTokens < 1 {
			ps.add(append(p, "max_tokens"), "max_tokens must be ≥ 1, got %d", *o.MaxTokens)
		}
		if o.Temperature != nil && *o.Temperature < 0 {
			ps.add(append(p, "temperature"), "temperature must be ≥ 0, got %v", *o.Temperature)
		}
		checkStop(o.Stop, append(p, "stop"), &ps)
		c.Overrides = eval.Overrides{MaxTokens: o.MaxTokens, Stop: o.Stop, Temperature: o.Temperature, Seed: o.Seed}
	}
	// The scorers built so far and their indexes in r.Scorers: a case has
	// few, so a list searched from its end (the latest of a name) does.
	type named struct {
		name  string
		index int
	}
	var namesBuf [8]named
	names := namesBuf[:0]
	if len(r.Scorers) > 0 {
		c.Scorers = make([]eval.Scorer, 0, len(r.Scorers))
	}
	for i := range r.Scorers {
		s := buildScorer(&r.Scorers[i], path{"scorers", i}, &ps)
		if s == nil {
			continue
		}
		name := s.Name()
		for k := len(names) - 1; k >= 0; k-- {
			if names[k].name == name {
				ps.add(path{"scorers", i}, "two scorers are named %q (scorers %d and %d); give one a name so their pass rates stay apart", name, names[k].index+1, i+1)
				break
			}
		}
		names = append(names, named{name, i})
		c.Scorers = append(c.Scorers, s)
	}
	if len(ps) == 0 {
		c.Hash = h.caseHash(&c)
	}
	return c, ps
}

// buildScorer makes the scorer r describes, or returns nil after adding its
// problems to ps.
func buildScorer(r *rawScorer, p path, ps *problems) score.KindScorer {
	if r.Kind == nil {
		ps.missing(p, []string{"kind"}, "scorer has no kind; add kind: one of %s", strings.Join(score.ScorerKinds, ", "))
		return nil
	}
	kind := *r.Kind
	allowed, ok := scorerParams[kind]
	if !ok {
		msg := fmt.Sprintf("unknown scorer %q", kind)
		if s := nearest(kind, score.ScorerKinds); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		ps.add(append(p, "kind"), "%s (known: %s)", msg, strings.Join(score.ScorerKinds, ", "))
		return nil
	}
	n := len(*ps)
	r.forSetFields(func(f string) {
		if f != "kind" && f != "name" && !slices.Contains(allowed, f) {
			ps.add(append(p, f), "%s does not apply to scorer %s (it takes %s)", f, kind, strings.Join(allowed, ", "))
		}
	})
	label := ""
	if r.Name != nil {
		if *r.Name == "" {
			ps.add(append(p, "name"), "name is empty; remove it to use the kind, or write one")
		}
		label = *r.Name
	}
	boolOr := func(b *bool, def bool) bool {
		if b == nil {
			return def
		}
		return *b
	}
	var s score.KindScorer
	switch kind {
	case score.ScorerEquals:
		v, ok := textParam(r.Value, append(p, "value"), ps, true)
		if ok {
			s = &score.Equals{Label: label, Value: v, IgnoreCase: boolOr(r.IgnoreCase, false), Trim: boolOr(r.Trim, true)}
		}
	case score.ScorerContains, score.ScorerNotContains:
		vals := textValues(r, p, ps)
		if kind == score.ScorerContains {
			s = &score.Contains{Label: label, Values: vals, Any: boolOr(r.Any, false), IgnoreCase: boolOr(r.IgnoreCase, false)}
		} else {
			s = &score.NotContains{Label: label, Values: vals, IgnoreCase: boolOr(r.IgnoreCase, false)}
		}
	case score.ScorerRegex:
		if r.Pattern == nil {
			ps.missing(p, []string{"pattern"}, `regex scorer has no pattern; add pattern: '^\d+$' (RE2 syntax)`)
			break
		}
		ignoreCase := boolOr(r.IgnoreCase, false)
		re, err := sharedRegexes.get(scorerKey{label, *r.Pattern, ignoreCase}, func() (*score.Regex, error) {
			return score.NewRegex(label, *r.Pattern, ignoreCase)
		})
		if err != nil {
			ps.add(append(p, "pattern"), "%v; fix the pattern (RE2 syntax: https://golang.org/s/re2syntax)", err)
			break
		}
		s = re
	case score.ScorerJSONValid:
		s = &score.JSONValid{Label: label, StripFence: boolOr(r.StripFence, false)}
	case score.ScorerJSONSchema:
		if r.Schema == nil {
			ps.missing(p, []string{"schema"}, "json_schema scorer has no schema; add schema: {type: object, ...}")
			break
		}
		if _, isMap := r.Schema.(map[string]any); !isMap {
			if _, isBool := r.Schema.(bool); !isBool {
				ps.add(append(p, "schema"), "schema must be a JSON Schema object (or true/false)")
				break
			}
		}
		schema, stripFence := normalizeNumbers(r.Schema), boolOr(r.StripFence, false)
		key, err := json.Marshal(schema) // sorted keys: equal schemas, equal text
		if err != nil {
			ps.add(append(p, "schema"), "%v; fix the schema", err)
			break
		}
		js, err := sharedSchemas.get(scorerKey{label, string(key), stripFence}, func() (*score.JSONSchema, error) {
			return score.NewJSONSchema(label, schema, stripFence)
		})
		if err != nil {
			ps.add(append(p, "schema"), "%v; fix the schema", err)
			break
		}
		s = js
	case score.ScorerNumber:
		num := &score.Number{Label: label, Pick: score.PickLast}
		switch v := r.Value.(type) {
		case nil:
			ps.missing(p, []string{"value"}, "number scorer has no value; add value: 42")
		case json.Number:
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil || math.IsInf(f, 0) {
				ps.add(append(p, "value"), "value %s is not a finite number", v)
			}
			num.Value = f
		default:
			ps.add(append(p, "value"), "value must be a number, got %s; write it unquoted: value: 42", describe(v))
		}
		if r.Abs != nil {
			num.Abs = *r.Abs
		}
		if r.Rel != nil {
			num.Rel = *r.Rel
		}
		if r.Pick != nil {
			num.Pick = *r.Pick
		}
		if err := num.Validate(); err != nil {
			ps.add(p, "%v", err)
		}
		s = num
	case score.ScorerChoice:
		ch := &score.Choice{Label: label, Choices: score.DefaultChoices}
		if r.Choices != nil {
			ch.Choices = strings.ToUpper(*r.Choices)
		}
		if v, ok := textParam(r.Value, append(p, "value"), ps, true); ok {
			ch.Answer = strings.ToUpper(strings.TrimSpace(v))
			if err := ch.Validate(); err != nil {
				ps.add(append(p, "value"), "%v", err)
			}
		}
		s = ch
	case score.ScorerLength:
		l := &score.Length{Label: label, Trim: boolOr(r.Trim, true)}
		for _, b := range []struct {
			name string
			v    *int
			dst  *int
		}{{"min_chars", r.MinChars, &l.MinChars}, {"max_chars", r.MaxChars, &l.MaxChars}, {"min_words", r.MinWords, &l.MinWords}, {"max_words", r.MaxWords, &l.MaxWords}} {
			if b.v == nil {
				continue
			}
			if *b.v < 0 || strings.HasPrefix(b.name, "max") && *b.v == 0 {
				ps.add(append(p, b.name), "%s must be ≥ %d, got %d", b.name, boolInt(strings.HasPrefix(b.name, "max")), *b.v)
			}
			*b.dst = *b.v
		}
		if err := l.Validate(); err != nil && len(*ps) == n {
			ps.add(p, "%v", err)
		}
		s = l
	}
	if len(*ps) > n {
		return nil
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// textParam returns a string parameter; a number is taken as written.
func textParam(v any, p path, ps *problems, required bool) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case nil:
		if required {
			ps.missing(p[:len(p)-1], []string{fmt.Sprint(p[len(p)-1])}, "scorer has no %s; add %s: ...", p[len(p)-1], p[len(p)-1])
		}
		return "", false
	}
	ps.add(p, "%s must be a string, got %s", p[len(p)-1], describe(v))
	return "", false
}

// textValues returns the value or values of a contains or not_contains scorer.
func textValues(r *rawScorer, p path, ps *problems) []string {
	switch {
	case r.Value != nil && r.Values != nil:
		ps.add(p, "scorer has both value and values; keep one")
		return nil
	case r.Value != nil:
		v, ok := textParam(r.Value, append(p, "value"), ps, true)
		if ok && v == "" {
			ps.add(append(p, "value"), "value is empty; every output contains the empty string")
		}
		return []string{v}
	case r.Values != nil:
		if len(r.Values) == 0 {
			ps.add(append(p, "values"), "values is empty; list at least one string")
		}
		out := make([]string, 0, len(r.Values))
		for i, v := range r.Values {
			s, ok := textParam(v, append(p, "values", i), ps, true)
			if ok && s == "" {
				ps.add(append(p, "values", i), "values must not be empty strings")
			}
			out = append(out, s)
		}
		return out
	}
	ps.missing(p, []string{"value", "values"}, "scorer has no value; add value: ... (or values: [...])")
	return nil
}

// describe names a decoded JSON value's type for a message.
func describe(v any) string {
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
	}
	return fmt.Sprintf("%T", v)
}

// Compiled scorers are shared: a generated suite often gives thousands of
// cases the same regex or JSON schema, and each compiled copy costs kilobytes
// (a 10,000-case suite held 33 MB of identical regexes). A scorer is
// immutable once built and safe for concurrent use, so cases, and suites
// loaded while another still holds it, use one copy per kind and parameters.
// The caches hold their scorers weakly: a scorer no loaded suite uses any
// more is collected, and its entry removed.
var (
	sharedRegexes weakCache[score.Regex]
	sharedSchemas weakCache[score.JSONSchema]
)

// A scorerKey is a compiled scorer's parameters: its label, its pattern or
// schema text, and its one flag (ignore_case or strip_fence).
type scorerKey struct {
	label, param string
	flag         bool
}

// A weakCache maps scorer parameters to the scorer built from them, for as
// long as something else holds the scorer. It is safe for concurrent use.
type weakCache[T any] struct {
	mu sync.Mutex
	m  map[scorerKey]weak.Pointer[T]
}

// get returns the live scorer stored under k, or builds one with build and
// stores it. A failed build is not stored: its error is returned.
func (c *weakCache[T]) get(k scorerKey, build func() (*T, error)) (*T, error) {
	if v := c.lookup(k); v != nil {
		return v, nil
	}
	// Built outside the lock: compiling takes long, and two loaders that
	// race to build the same scorer both end up with the first one stored.
	v, err := build()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[k].Value(); old != nil {
		return old, nil
	}
	if c.m == nil {
		c.m = make(map[scorerKey]weak.Pointer[T])
	}
	c.m[k] = weak.Make(v)
	runtime.AddCleanup(v, c.drop, k)
	return v, nil
}

// lookup returns the live scorer stored under k, or nil.
func (c *weakCache[T]) lookup(k scorerKey) *T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k].Value()
}

// drop removes k's entry once its scorer has been collected (and not
// replaced by a new one since).
func (c *weakCache[T]) drop(k scorerKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.m[k]; ok && p.Value() == nil {
		delete(c.m, k)
	}
}
