package runs

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/evalpin/evalpin/eval"
)

// A countingSource is a Source of cases held that counts its walks, and
// fails each after failAfter cases when failAfter > 0 (a file changed).
type countingSource struct {
	*eval.SliceSource
	mu        sync.Mutex
	walks     int
	failAfter int
}

func (s *countingSource) Walk(yield func(int, *eval.Case) bool) error {
	s.mu.Lock()
	s.walks++
	s.mu.Unlock()
	n := 0
	var err error
	s.SliceSource.Walk(func(k int, c *eval.Case) bool {
		if s.failAfter > 0 && n == s.failAfter {
			err = errors.New("suite changed")
			return false
		}
		n++
		return yield(k, c)
	})
	return err
}

// caseIDs returns the ids of the cases a walk of src yields, and its error.
func caseIDs(src eval.Source) ([]string, error) {
	var ids []string
	err := src.Walk(func(k int, c *eval.Case) bool {
		if want := fmt.Sprintf("c%05d", k); c.ID != want {
			ids = append(ids, "key of "+c.ID+" is not "+want)
		}
		ids = append(ids, c.ID)
		return true
	})
	return ids, err
}

// TestCaseTee: the storing of a suite reads every case in order, with its
// key, whatever the replay does: a whole first pass hands them all on and
// the file is not read again; a replay that stops early, walks nothing,
// outruns the storing or fails leaves the storing to read the file for
// what it missed. The replay never waits for the storing.
func TestCaseTee(t *testing.T) {
	// small fits in the feed; big does not, unless the storing reads it.
	const small, big = teeBatch * teeBatches, teeBatch*(teeBatches+2) + 7
	for _, tt := range []struct {
		name  string
		cases int
		// stopAt stops the replay's walk after that many cases (0: never);
		// noWalk, the replay does not walk at all.
		stopAt int
		noWalk bool
		// late makes the storing read the feed only once the replay has
		// ended: the feed fills, and the replay goes on without it.
		late      bool
		failAfter int
		// walks is how many walks of the source there are in all, wantErr
		// whether the storing fails.
		walks   int
		wantErr bool
	}{
		{name: "whole pass", cases: small, walks: 1},
		{name: "whole pass, storing late", cases: small, late: true, walks: 1},
		{name: "one case", cases: 1, walks: 1},
		{name: "stopped early", cases: big, stopAt: teeBatch + 10, walks: 2},
		{name: "stopped in the first batch", cases: big, stopAt: 3, walks: 2},
		{name: "no replay", cases: big, noWalk: true, walks: 1},
		{name: "feed full, storing late", cases: big, late: true, walks: 2},
		{name: "file changed", cases: big, failAfter: 2*teeBatch + 1, walks: 2, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var cases []eval.Case
			var want []string
			for i := range tt.cases {
				cases = append(cases, eval.Case{ID: fmt.Sprintf("c%05d", i)})
				want = append(want, cases[i].ID)
			}
			src := &countingSource{SliceSource: eval.NewSliceSource(cases), failAfter: tt.failAfter}
			tee := newCaseTee(src)
			replayed := make(chan struct{})
			var got []string
			var err error
			stored := make(chan struct{})
			go func() {
				defer close(stored)
				if tt.late {
					<-replayed
				}
				got, err = caseIDs(teeFeed{tee})
			}()
			if !tt.noWalk {
				walked := 0
				tee.Walk(func(int, *eval.Case) bool {
					walked++
					return tt.stopAt == 0 || walked < tt.stopAt
				})
			}
			close(replayed)
			tee.end()
			<-stored
			if tt.wantErr {
				if err == nil {
					t.Fatalf("storing read %d cases of a changed file without an error", len(got))
				}
			} else if err != nil || !slices.Equal(got, want) {
				t.Fatalf("storing read %d cases (%v), want the %d of the suite in order", len(got), err, tt.cases)
			}
			if src.walks != tt.walks {
				t.Errorf("the source was walked %d times, want %d", src.walks, tt.walks)
			}
		})
	}
}
