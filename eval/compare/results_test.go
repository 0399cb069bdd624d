package compare

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/evalpin/evalpin/eval"
)

// TestResultsShare: after Share, a case id or hash equal to the other
// side's is the other side's string; one that differs stays its own.
func TestResultsShare(t *testing.T) {
	side := func(hash func(i int) string, skip int) *Results {
		var rs []eval.Result
		for i := range 10 {
			if i != skip {
				// Built, so that each side holds copies of its own.
				rs = append(rs, eval.Result{CaseID: strings.Clone(fmt.Sprint("case-", i)), CaseHash: hash(i)})
			}
		}
		return NewResults(rs)
	}
	like := side(func(i int) string { return fmt.Sprint("h", i) }, 3)
	x := side(func(i int) string {
		if i == 5 {
			return "edited"
		}
		return fmt.Sprint("h", i)
	}, 7)
	x.Share(like)
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	for _, c := range x.cases {
		i := -1
		for k, l := range like.cases {
			if l.id == c.id {
				i = k
			}
		}
		if i < 0 {
			continue // case-3: like lacks it
		}
		l := like.cases[i]
		if !same(c.id, l.id) {
			t.Errorf("%s: the id is a copy", c.id)
		}
		if got := same(c.hash, l.hash); got != (c.hash == l.hash) {
			t.Errorf("%s: hash %q shares like's %q: %v", c.id, c.hash, l.hash, got)
		}
	}
}
