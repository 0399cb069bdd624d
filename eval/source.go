package eval

import (
	"iter"
	"sync"
)

// A Source is the cases of a suite, read in suite order as often as a run
// needs them, so that a suite too large to hold in memory need not be held: a
// JSON lines suite is read again from its file (suites.Stream), a loaded
// suite's cases are a SliceSource.
type Source interface {
	// Len returns how many cases the suite has.
	Len() int
	// Key returns the key of the case with id: a number from 0 to Len()-1
	// that no other case of the suite has. ok is false when the suite has
	// no case of that id.
	Key(id string) (key int, ok bool)
	// Walk calls yield with every case of the suite in suite order, with
	// its key, until yield returns false. yield may keep c and must not
	// change it. The error says the cases could not be read again, or that
	// they changed since the suite was checked.
	Walk(yield func(key int, c *Case) bool) error
}

// CasesOf returns the cases of s: its Source, else its Cases.
func CasesOf(s *Suite) Source {
	if s.Source != nil {
		return s.Source
	}
	return NewSliceSource(s.Cases)
}

// Len returns how many cases s has.
func (s *Suite) Len() int {
	if s.Source != nil {
		return s.Source.Len()
	}
	return len(s.Cases)
}

// A SliceSource is the Source of cases held in memory: a case's key is its
// index.
type SliceSource struct {
	cases []Case
	once  sync.Once
	keys  map[string]int
}

// NewSliceSource returns the Source of cases.
func NewSliceSource(cases []Case) *SliceSource { return &SliceSource{cases: cases} }

// Len returns len(cases).
func (s *SliceSource) Len() int { return len(s.cases) }

// Key returns the index of the case with id.
func (s *SliceSource) Key(id string) (int, bool) {
	s.once.Do(func() {
		s.keys = make(map[string]int, len(s.cases))
		for i, c := range s.cases {
			if _, dup := s.keys[c.ID]; !dup {
				s.keys[c.ID] = i
			}
		}
	})
	k, ok := s.keys[id]
	return k, ok
}

// Walk yields the cases in order; it has no error.
func (s *SliceSource) Walk(yield func(int, *Case) bool) error {
	for i := range s.cases {
		if !yield(i, &s.cases[i]) {
			break
		}
	}
	return nil
}

// A KeySet is a set of case keys (Source.Key), one bit each.
type KeySet []uint64

// NewKeySet returns an empty set for keys below n.
func NewKeySet(n int) KeySet { return make(KeySet, (n+63)/64) }

// Has reports whether k is in the set.
func (s KeySet) Has(k int) bool { return k >= 0 && k/64 < len(s) && s[k/64]&(1<<(k%64)) != 0 }

// Add puts k, below the set's n, into it.
func (s KeySet) Add(k int) { s[k/64] |= 1 << (k % 64) }

// SliceSeq returns the stream of s's values without an error: a slice held
// in memory, given where a stream read from a file or a store is taken.
func SliceSeq[T any](s []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, v := range s {
			if !yield(v, nil) {
				return
			}
		}
	}
}
