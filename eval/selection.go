package eval

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A Selection picks the cases of a suite a run replays, for a quick look at a
// part of it: the cases whose id is in Cases (all when empty), of those the
// ones that carry one of Tags (all when empty), and of those the first Limit
// in suite order (all when 0), and of those the ones of Shard (all when
// Shard is zero or 1/1). The zero Selection is the whole suite.
//
// A run records its Selection (String) beside the suite's hash, so a subset's
// results pair with a whole run's case by case, and a subset run is never
// taken for a complete run of the whole suite.
type Selection struct {
	Cases []string `json:"cases,omitempty"`
	Tags  []string `json:"tags,omitempty"`
	Limit int      `json:"limit,omitempty"`
	Shard Shard    `json:"shard,omitzero"`
}

// All reports whether s selects the whole suite.
func (s Selection) All() bool {
	return len(s.Cases) == 0 && len(s.Tags) == 0 && s.Limit == 0 && s.Shard.Whole()
}

// Unsharded returns s without its Shard: the selection that the n shards of
// s together replay.
func (s Selection) Unsharded() Selection {
	s.Shard = Shard{}
	return s
}

// A Shard is part Index (1 to Count) of Count of a selection, for spreading
// one run over Count machines: each replays its shard, and the shards' runs
// merge into one run of the whole selection (evalpin baseline import).
//
// A case's shard depends on its id alone (ShardOf), not on its position in
// the suite or on the other cases, so every machine computes the same
// shards, and adding, removing or reordering cases moves no other case to
// another shard. The zero Shard, and 1/1, are the whole selection.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// ShardOf returns the shard (1 to n) of the case with id among n shards: the
// first 8 bytes of the SHA-256 of id, as a big-endian unsigned integer,
// modulo n, plus 1. It is 1 when n < 2.
func ShardOf(id string, n int) int {
	if n < 2 {
		return 1
	}
	sum := sha256.Sum256([]byte(id))
	return int(binary.BigEndian.Uint64(sum[:8])%uint64(n)) + 1
}

// Whole reports whether s is the whole selection: zero or 1/1.
func (s Shard) Whole() bool { return s.Count <= 1 }

// Holds reports whether the case with id is in shard s.
func (s Shard) Holds(id string) bool { return s.Whole() || ShardOf(id, s.Count) == s.Index }

// String is s as "i/n", "" for the whole selection.
func (s Shard) String() string {
	if s.Whole() {
		return ""
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// ErrShard is the error of a shard that is not i/n with 1 <= i <= n.
var ErrShard = errors.New("a shard is i/n, a whole number i from 1 to n")

// ParseShard reads a shard "i/n" (1 <= i <= n); "" is the zero Shard.
func ParseShard(text string) (Shard, error) {
	if text == "" {
		return Shard{}, nil
	}
	is, ns, ok := strings.Cut(text, "/")
	i, ierr := strconv.Atoi(is)
	n, nerr := strconv.Atoi(ns)
	if !ok || ierr != nil || nerr != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("shard %q: %w", text, ErrShard)
	}
	return Shard{Index: i, Count: n}, nil
}

// Set sets s from its text (ParseShard), for a command-line flag.
func (s *Shard) Set(text string) (err error) {
	*s, err = ParseShard(text)
	return err
}

// String is s's canonical form, what a run records: "" for the whole suite,
// else its parts with sorted, de-duplicated lists, e.g.
// "cases=a,b tags=x limit=5 shard=2/3".
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
	if !s.Shard.Whole() {
		parts = append(parts, "shard="+s.Shard.String())
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
		case "shard":
			sh, err := ParseShard(val)
			if err != nil {
				return Selection{}, fmt.Errorf("selection %q: %w", text, err)
			}
			s.Shard = sh
		default:
			return Selection{}, fmt.Errorf("selection %q: unknown part %q", text, part)
		}
	}
	return s, nil
}

// Apply returns the cases of cases that s selects, in their order. A case id
// that no case has, a tag no case carries, or a selection of no case is an
// error. The shard is taken last, of the cases the rest of s selects, so that
// the shards of s are a partition of s.Unsharded(); a shard may hold no case
// (a small suite over many shards), and that is not an error.
func (s Selection) Apply(cases []Case) ([]Case, error) {
	if s.All() {
		return cases, nil
	}
	if !s.Shard.Whole() {
		all, err := s.Unsharded().Apply(cases)
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(slices.Clone(all), func(c Case) bool { return !s.Shard.Holds(c.ID) }), nil
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

// Pick returns the keys of the cases of src that s selects, as Apply selects
// them, and how many there are, reading src once; the whole suite (s.All)
// is a nil set, and src is not read. Its errors are Apply's, and src's.
func (s Selection) Pick(src Source) (KeySet, int, error) {
	if s.All() {
		return nil, src.Len(), nil
	}
	wantID, wantTag := set(s.Cases), set(s.Tags)
	foundID, foundTag := map[string]bool{}, map[string]bool{}
	picked := NewKeySet(src.Len())
	unsharded, n := 0, 0
	err := src.Walk(func(k int, c *Case) bool {
		if wantID[c.ID] {
			foundID[c.ID] = true
		}
		tagged := false
		for _, t := range c.Tags {
			if wantTag[t] {
				foundTag[t], tagged = true, true
			}
		}
		if (len(wantID) == 0 || wantID[c.ID]) && (len(wantTag) == 0 || tagged) && (s.Limit == 0 || unsharded < s.Limit) {
			unsharded++
			if s.Shard.Holds(c.ID) {
				picked.Add(k)
				n++
			}
		}
		return true
	})
	if err != nil {
		return nil, 0, err
	}
	for _, id := range s.Cases {
		if !foundID[id] {
			return nil, 0, fmt.Errorf("no case %q in the suite", id)
		}
	}
	for _, t := range s.Tags {
		if !foundTag[t] {
			return nil, 0, fmt.Errorf("no case of the suite is tagged %q", t)
		}
	}
	if unsharded == 0 {
		return nil, 0, fmt.Errorf("the selection %s holds no case", s.Unsharded())
	}
	return picked, n, nil
}
