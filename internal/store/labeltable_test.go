package store_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/evalpin/evalpin/internal/store"
)

// TestLabelsOf: Labels hold what they were given, by id in id order, the
// last of two labels of one id, nil tags apart from empty ones, and no
// case they were not given.
func TestLabelsOf(t *testing.T) {
	type kv struct {
		id string
		l  store.Label
	}
	for _, tt := range []struct {
		name string
		in   []kv
		want map[string]store.Label
	}{
		{"none", nil, map[string]store.Label{}},
		{"in order", []kv{{"a", store.Label{Tags: []string{"x"}, Cluster: "d1"}}, {"b", store.Label{Tags: []string{"x"}}}},
			map[string]store.Label{"a": {Tags: []string{"x"}, Cluster: "d1"}, "b": {Tags: []string{"x"}}}},
		{"out of order, a repeated id", []kv{{"c", store.Label{Cluster: "d2"}}, {"a", store.Label{Tags: []string{}}}, {"c", store.Label{Tags: []string{"y", "z"}}}, {"b", store.Label{Cluster: "d2"}}},
			map[string]store.Label{"a": {Tags: []string{}}, "b": {Cluster: "d2"}, "c": {Tags: []string{"y", "z"}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := store.LabelsOf(len(tt.in), func(yield func(string, store.Label) bool) {
				for _, x := range tt.in {
					if !yield(x.id, x.l) {
						return
					}
				}
			})
			if l.Len() != len(tt.want) {
				t.Errorf("Len %d, want %d", l.Len(), len(tt.want))
			}
			var ids []string
			for id := range l.All() {
				ids = append(ids, id)
			}
			if !slices.IsSorted(ids) || fmt.Sprintf("%#v", maps.Collect(l.All())) != fmt.Sprintf("%#v", tt.want) {
				t.Errorf("All %#v, want %#v in id order", maps.Collect(l.All()), tt.want)
			}
			for id, w := range tt.want {
				if got, ok := l.Label(id); !ok || fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", w) {
					t.Errorf("Label(%q) = %#v, %v; want %#v", id, got, ok, w)
				}
			}
			for _, id := range []string{"", "0", "aa", "d"} {
				if got, ok := l.Label(id); ok {
					t.Errorf("Label(%q) = %#v, want none", id, got)
				}
			}
		})
	}
}
