package eval

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A Selection picks the cases of a suite a run replays, for a quick look at a
// part of it: the cases whose id is in Cases (all when empty), of those the
// ones that carry one of Tags (all when empty), and of those the first Limit
// in suite order (all when 0). The zero Selection is the whole suite.
//
// A run records its Selection (String) beside the suite's hash, so a subset's
// results pair with a whole run's case by case, and a subset run is never
// taken for a complete run of the whole suite.
type Selection struct {
	Cases []string `json:"cases,omitempty"`
	Tags  []string `json:"tags,omitempty"`
	Limit int      `json:"limit,omitempty"`
}

// All reports whether s selects the whole suite.
func (s Selection) All() bool { return len(s.Cases) == 0 && len(s.Tags) == 0 && s.Limit == 0 }

// String is s's canonical form, what a run records: "" for the whole suite,
// else its parts with sorted, de-duplicated lists, e.g.
// "cases=a,b tags=x limit=5".
func (s Selection) String() string {
	var parts []string
	if len(s.Cases) > 0 {
		parts = append(parts, "cases="+strings.Join(sortedSet(s.Cases), ","))
	}
	if len(s.Tags) > 0 {
		parts = append(parts, "tags="+strings.Join(sortedSet(s.Tags), ","))
	}
	if s.Limit > 0 {
		parts = append(parts, "limit="+strconv.Itoa(s.Limit))
	}
	return strings.Join(parts, " ")
}

func set(v []string) map[string]bool {
	m := make(map[string]bool, len(v))
	for _, x := range v {
		m[x] = true
	}
	return m
}

func sortedSet(v []string) []string {
	out := slices.Clone(v)
	slices.Sort(out)
	return slices.Compact(out)
}

// ParseSelection reads a Selection's String.
func ParseSelection(text string) (Selection, error) {
	var s Selection
	for part := range strings.FieldsSeq(text) {
		key, val, _ := strings.Cut(part, "=")
		switch key {
		case "cases":
			s.Cases = strings.Split(val, ",")
		case "tags":
			s.Tags = strings.Split(val, ",")
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				return Selection{}, fmt.Errorf("selection %q: limit %q is not a positive number", text, val)
			}
			s.Limit = n
		default:
			return Selection{}, fmt.Errorf("selection %q: unknown part %q", text, part)
		}
	}
	return s, nil
}

// Apply returns the cases of cases that s selects, in their order. A case id
// that no case has, a tag no case carries, or a selection of no case is an
// error.
func (s Selection) Apply(cases []Case) ([]Case, error) {
	if s.All() {
		return cases, nil
	}
	ids := make(map[string]bool, len(cases))
	tags := map[string]bool{}
	for _, c := range cases {
		ids[c.ID] = true
		for _, t := range c.Tags {
			tags[t] = true
		}
	}
	for _, id := range s.Cases {
		if !ids[id] {
			return nil, fmt.Errorf("no case %q in the suite", id)
		}
	}
	for _, t := range s.Tags {
		if !tags[t] {
			return nil, fmt.Errorf("no case of the suite is tagged %q", t)
		}
	}
	wantID, wantTag := set(s.Cases), set(s.Tags)
	var out []Case
	for _, c := range cases {
		if s.Limit > 0 && len(out) == s.Limit {
			break
		}
		if (len(wantID) == 0 || wantID[c.ID]) && (len(wantTag) == 0 || slices.ContainsFunc(c.Tags, func(t string) bool { return wantTag[t] })) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the selection %s holds no case", s)
	}
	return out, nil
}
