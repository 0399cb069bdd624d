package eval

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestSelection(t *testing.T) {
	cases := []Case{
		{ID: "a", Tags: []string{"x"}}, {ID: "b", Tags: []string{"y"}},
		{ID: "c", Tags: []string{"x", "y"}}, {ID: "d"},
	}
	tests := []struct {
		s    Selection
		text string
		ids  string // the selected cases, or the error
	}{
		{Selection{}, "", "a b c d"},
		{Selection{Cases: []string{"c", "a", "c"}}, "cases=a,c", "a c"},
		{Selection{Tags: []string{"y"}}, "tags=y", "b c"},
		{Selection{Tags: []string{"x"}, Limit: 1}, "tags=x limit=1", "a"},
		{Selection{Cases: []string{"a", "b"}, Tags: []string{"y"}}, "cases=a,b tags=y", "b"},
		{Selection{Limit: 3}, "limit=3", "a b c"},
		{Selection{Cases: []string{"z"}}, "cases=z", `no case "z" in the suite`},
		{Selection{Tags: []string{"w"}}, "tags=w", `no case of the suite is tagged "w"`},
		{Selection{Cases: []string{"a"}, Tags: []string{"y"}}, "cases=a tags=y", "the selection cases=a tags=y holds no case"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.text {
			t.Errorf("String() = %q, want %q", got, tt.text)
		}
		back, err := ParseSelection(tt.text)
		if err != nil || back.String() != tt.text {
			t.Errorf("ParseSelection(%q) = %v, %v", tt.text, back, err)
		}
		sel, err := tt.s.Apply(cases)
		var got string
		if err != nil {
			got = err.Error()
		} else {
			for _, c := range sel {
				got += c.ID + " "
			}
			got = strings.TrimSpace(got)
		}
		if got != tt.ids {
			t.Errorf("%q.Apply = %q, want %q", tt.text, got, tt.ids)
		}
	}
	for _, bad := range []string{"limit=0", "limit=x", "colour=red"} {
		if _, err := ParseSelection(bad); err == nil {
			t.Errorf("ParseSelection(%q) accepted", bad)
		}
	}
	if !slices.Equal(Selection{}.Cases, nil) || !(Selection{}).All() {
		t.Error("the zero Selection is not the whole suite")
	}
}

// A case's shard is pinned by its id alone: these values, computed apart
// (Python: int.from_bytes(hashlib.sha256(id.encode()).digest()[:8], "big")
// % n + 1), hold on every machine and in every version of evalpin, so the
// shard jobs of one CI matrix agree.
func TestShardOfStable(t *testing.T) {
	tests := []struct {
		id   string
		n    int
		want int
	}{
		{"a", 3, 2}, {"b", 3, 2}, {"c", 3, 3}, {"d", 3, 3},
		{"case-000", 3, 1}, {"case-001", 3, 3}, {"q01", 3, 1},
		{"a", 7, 5}, {"b", 7, 1}, {"c", 7, 4}, {"case-000", 7, 4}, {"q01", 7, 3},
		{"a", 1, 1}, {"a", 0, 1}, // one shard, or none, is the whole
	}
	for _, tt := range tests {
		if got := ShardOf(tt.id, tt.n); got != tt.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", tt.id, tt.n, got, tt.want)
		}
	}
}

// The n shards of a selection are disjoint and together are the selection,
// whatever the selection, and a suite edited (cases added, removed,
// reordered) moves no remaining case to another shard.
func TestShardPartition(t *testing.T) {
	var cases []Case
	for i := range 500 {
		cases = append(cases, Case{ID: fmt.Sprintf("case-%03d", i), Tags: []string{[]string{"x", "y"}[i%2]}})
	}
	edited := slices.Clone(cases[100:])
	slices.Reverse(edited)
	edited = append(edited, Case{ID: "new-1"}, Case{ID: "new-2"})
	tests := []struct {
		base Selection
		n    int
	}{
		{Selection{}, 1},
		{Selection{}, 2},
		{Selection{}, 3},
		{Selection{}, 16},
		{Selection{}, 600}, // more shards than cases: some are empty
		{Selection{Tags: []string{"x"}}, 3},
		{Selection{Limit: 50}, 4},
		{Selection{Cases: []string{"case-001", "case-002", "case-003"}}, 2},
	}
	for _, tt := range tests {
		all, err := tt.base.Apply(cases)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{} // case id → its shard
		for i := 1; i <= tt.n; i++ {
			s := tt.base
			s.Shard = Shard{Index: i, Count: tt.n}
			part, err := s.Apply(cases)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			for _, c := range part {
				if j, ok := seen[c.ID]; ok {
					t.Fatalf("%s: case %s is in shards %d and %d", s, c.ID, j, i)
				}
				seen[c.ID] = i
			}
			later, err := s.Apply(edited)
			if err != nil && tt.base.Cases == nil {
				t.Fatalf("%s of the edited suite: %v", s, err)
			}
			for _, c := range later {
				if j, ok := seen[c.ID]; ok && j != i {
					t.Errorf("%s: case %s moved from shard %d when the suite was edited", s, c.ID, j)
				}
			}
		}
		if len(seen) != len(all) {
			t.Errorf("%s in %d shards: %d cases, want the selection's %d", tt.base, tt.n, len(seen), len(all))
		}
		for _, c := range all {
			if _, ok := seen[c.ID]; !ok {
				t.Errorf("%s in %d shards: case %s is in none", tt.base, tt.n, c.ID)
			}
		}
	}
}

func TestParseShard(t *testing.T) {
	tests := []struct {
		text string
		want Shard
		sel  string // the Selection's String with only this shard
		bad  bool
	}{
		{text: "", want: Shard{}, sel: ""},
		{text: "1/1", want: Shard{1, 1}, sel: ""}, // the whole suite: the same run as no shard
		{text: "2/3", want: Shard{2, 3}, sel: "shard=2/3"},
		{text: "3/3", want: Shard{3, 3}, sel: "shard=3/3"},
		{text: "0/3", bad: true},
		{text: "4/3", bad: true},
		{text: "1/0", bad: true},
		{text: "-1/3", bad: true},
		{text: "3", bad: true},
		{text: "a/b", bad: true},
	}
	for _, tt := range tests {
		var got Shard
		err := got.Set(tt.text)
		if tt.bad {
			if !errors.Is(err, ErrShard) {
				t.Errorf("Set(%q) = %v, want ErrShard", tt.text, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Set(%q) = %v, %v; want %v", tt.text, got, err, tt.want)
		}
		s := Selection{Tags: []string{"x"}, Shard: got}
		if want := strings.TrimSpace("tags=x " + tt.sel); s.String() != want {
			t.Errorf("%v: String() = %q, want %q", got, s.String(), want)
		}
		if back, err := ParseSelection(s.String()); err != nil || back.String() != s.String() || back.Unsharded().String() != "tags=x" {
			t.Errorf("ParseSelection(%q) = %v, %v", s.String(), back, err)
		}
	}
	if _, err := ParseSelection("shard=4/3"); !errors.Is(err, ErrShard) {
		t.Errorf("ParseSelection(shard=4/3) = %v, want ErrShard", err)
	}
}

// TestPickEqualsApply: Pick, which reads a Source once and keeps a bit a
// case, selects the cases Apply selects, with its errors, for subsets and
// shards alike.
func TestPickEqualsApply(t *testing.T) {
	var cases []Case
	for i := range 40 {
		c := Case{ID: fmt.Sprintf("c%02d", i)}
		if i%3 == 0 {
			c.Tags = []string{"x"}
		}
		if i%5 == 0 {
			c.Tags = append(c.Tags, "y")
		}
		cases = append(cases, c)
	}
	for _, s := range []Selection{
		{}, {Cases: []string{"c07", "c01", "c07"}}, {Tags: []string{"y"}}, {Tags: []string{"x"}, Limit: 4},
		{Limit: 9, Shard: Shard{2, 3}}, {Tags: []string{"x", "y"}, Shard: Shard{1, 4}}, {Shard: Shard{3, 3}},
		{Cases: []string{"zz"}}, {Tags: []string{"w"}}, {Cases: []string{"c01"}, Tags: []string{"y"}},
		{Cases: []string{"c01"}, Shard: Shard{1, 40}}, {Cases: []string{"c01"}, Tags: []string{"y"}, Shard: Shard{1, 2}},
	} {
		want, werr := s.Apply(cases)
		picked, n, err := s.Pick(NewSliceSource(cases))
		if fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Errorf("%s: Pick error %v, Apply's %v", s, err, werr)
			continue
		}
		var got []Case
		for k, c := range cases {
			if picked == nil || picked.Has(k) {
				got = append(got, c)
			}
		}
		if werr == nil && (n != len(want) || fmt.Sprint(got) != fmt.Sprint(want)) {
			t.Errorf("%s: Pick %d %v, Apply %v", s, n, got, want)
		}
	}
}
