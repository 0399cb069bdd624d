package eval

import (
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
