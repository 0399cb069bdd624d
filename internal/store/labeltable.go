package store

import (
	"cmp"
	"iter"
	"slices"
	"strings"
)

// Labels are the labels of a set of cases, by case id, held in a few
// arrays instead of a map: the ids packed one after another in id order,
// and per case an index into the distinct tag lists and one into the
// distinct clusters, so that a case costs its id and three four-byte
// numbers. The zero value holds no case.
type Labels struct {
	ids      string     // the case ids one after another, in id order
	ends     []uint32   // ends[i] is where case i's id ends in ids
	tags     []uint32   // tags[i] indexes tagLists
	clusters []uint32   // clusters[i] indexes names
	tagLists [][]string // [0] is nil, [1] empty
	names    []string   // the distinct clusters
}

// Len returns the number of cases l holds.
func (l *Labels) Len() int { return len(l.ends) }

// Label returns the labels of the case id; ok is false for a case l does
// not hold.
func (l *Labels) Label(id string) (_ Label, ok bool) {
	i, ok := l.find(id)
	if !ok {
		return Label{}, false
	}
	return l.at(i), true
}

// find returns the index of the case id, and whether l holds it.
func (l *Labels) find(id string) (int, bool) {
	lo, hi := 0, len(l.ends)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.id(m) < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(l.ends) && l.id(lo) == id
}

// id returns the id of case i.
func (l *Labels) id(i int) string {
	start := uint32(0)
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.ids[start:l.ends[i]]
}

// at returns the labels of case i.
func (l *Labels) at(i int) Label {
	return Label{Tags: l.tagLists[l.tags[i]], Cluster: l.names[l.clusters[i]]}
}

// All yields every case's id and labels, in id order; cases of equal tags
// share one Tags slice (clipped, so that an append copies it).
func (l *Labels) All() iter.Seq2[string, Label] {
	return func(yield func(string, Label) bool) {
		for i := range l.ends {
			if !yield(l.id(i), l.at(i)) {
				return
			}
		}
	}
}

// labelsBuilder builds Labels a case at a time, in any order.
type labelsBuilder struct {
	l        Labels // its ids held in ids until labels
	ids      []byte
	shared   tagSets
	tagIndex map[*string]uint32 // the index of a shared, non-empty tag list by its first element
	names    map[string]uint32  // the index of a cluster
	sorted   bool               // the cases were added in strictly increasing id order
}

// newLabelsBuilder returns a builder with room for n cases.
func newLabelsBuilder(n int) *labelsBuilder {
	return &labelsBuilder{
		l:      Labels{ends: make([]uint32, 0, n), tags: make([]uint32, 0, n), clusters: make([]uint32, 0, n), tagLists: [][]string{nil, {}}, names: []string{""}},
		names:  map[string]uint32{"": 0},
		sorted: true,
	}
}

// addLabel records the labels of the case id with b; of two cases of one id,
// the one added last is kept.
func addLabel[S ~string | ~[]byte](b *labelsBuilder, id S, tags []string, cluster S) {
	if n := len(b.l.ends); n > 0 && b.sorted && string(b.ids[b.start(n-1):]) >= string(id) {
		b.sorted = false
	}
	b.ids = append(b.ids, id...)
	b.l.ends = append(b.l.ends, uint32(len(b.ids)))
	b.l.tags = append(b.l.tags, b.tagList(tags))
	c, ok := b.names[string(cluster)]
	if !ok {
		c = uint32(len(b.l.names))
		name := string(cluster)
		b.l.names = append(b.l.names, name)
		b.names[name] = c
	}
	b.l.clusters = append(b.l.clusters, c)
}

// start returns where the id of case i starts in b.ids.
func (b *labelsBuilder) start(i int) uint32 {
	if i == 0 {
		return 0
	}
	return b.l.ends[i-1]
}

// tagList returns the index of the list tags, shared with equal lists.
func (b *labelsBuilder) tagList(tags []string) uint32 {
	switch {
	case tags == nil:
		return 0
	case len(tags) == 0:
		return 1
	}
	tags = b.shared.share(tags)
	if i, ok := b.tagIndex[&tags[0]]; ok {
		return i
	}
	i := uint32(len(b.l.tagLists))
	b.l.tagLists = append(b.l.tagLists, tags)
	if b.tagIndex == nil {
		b.tagIndex = make(map[*string]uint32)
	}
	b.tagIndex[&tags[0]] = i
	return i
}

// labels returns the cases added, in id order.
func (b *labelsBuilder) labels() *Labels {
	b.l.ids = string(b.ids)
	if b.sorted {
		return &b.l
	}
	order := make([]int, len(b.l.ends))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(b.l.id(i), b.l.id(j)) })
	out := &Labels{tagLists: b.l.tagLists, names: b.l.names}
	var ids strings.Builder
	ids.Grow(len(b.l.ids))
	for k, i := range order {
		if k+1 < len(order) && b.l.id(order[k+1]) == b.l.id(i) {
			continue // a later case of the same id
		}
		ids.WriteString(b.l.id(i))
		out.ends = append(out.ends, uint32(ids.Len()))
		out.tags = append(out.tags, b.l.tags[i])
		out.clusters = append(out.clusters, b.l.clusters[i])
	}
	out.ids = ids.String()
	return out
}
