package compare

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/evalpin/evalpin/eval"
)

// Results are one side's results as a comparison holds them: a column of
// cases (id, case hash, where their samples start) and one of compact rows,
// one per result, with a hash of the output instead of its text, the
// output's length in runes, the latency and an index into the distinct
// check lists. Whether two outputs are equal, and the length and latency
// measures, need no text; the few texts a comparison shows or measures (the
// similarity of outputs that differ, the flipped cases) it asks for by row
// (Outputs). Build them with NewResults from results in memory, or with
// Add, a result at a time in case id and sample order, from a store.
type Results struct {
	cases  []resultCase
	rows   []resultRow
	checks [][]eval.Check // the distinct check lists; checks[0] is none
	known  map[*eval.Check]int32
	// kinds are the distinct error kinds of failed results.
	kinds []string
	// src holds the results NewResults was given, in row order; nil for
	// Results built with Add, whose texts read reads.
	src  []*eval.Result
	read func(keys []OutputKey) ([]string, error)
}

// An OutputKey names one result of a side: its case id and sample.
type OutputKey struct {
	CaseID string
	Sample int
}

// resultCase is one case of a side: its rows are rows[first:first+n], in
// sample order.
type resultCase struct {
	id, hash string
	first, n int32
	// kind is 1 + the index in kinds of the error kind of the case's first
	// failed sample; 0 when no sample failed.
	kind int32
}

// resultRow is one result, without its texts.
type resultRow struct {
	output  uint64 // maphash of the output (outputSeed)
	latency int64  // nanoseconds
	sample  int32
	runes   int32 // the output's length in runes
	checks  int32 // index into Results.checks
	failed  bool  // the request failed (eval.Result.Error is set)
}

// outputSeed seeds the output hashes of every side of the process, so that
// equal outputs have equal hashes; a per-process seed keeps a crafted output
// from colliding with another on purpose.
var outputSeed = maphash.MakeSeed()

// NewResults returns the compact form of rs, which need not be ordered; it
// reads the outputs from rs, which must not change while the Results are in
// use.
func NewResults(rs []eval.Result) *Results {
	perm := make([]*eval.Result, len(rs))
	for i := range rs {
		perm[i] = &rs[i]
	}
	slices.SortStableFunc(perm, func(a, b *eval.Result) int {
		return cmp.Or(strings.Compare(a.CaseID, b.CaseID), cmp.Compare(a.Sample, b.Sample))
	})
	x := &Results{src: perm, rows: make([]resultRow, 0, len(rs))}
	for _, r := range perm {
		x.add(r)
	}
	return x
}

// NewStoredResults returns empty Results for Add to fill, with room for the
// results and cases expected, whose texts read returns: the outputs of the
// results keys name, in their order.
func NewStoredResults(read func(keys []OutputKey) ([]string, error), results, cases int) *Results {
	return &Results{read: read, rows: make([]resultRow, 0, results), cases: make([]resultCase, 0, cases)}
}

// Add appends the result r, which sorts after every result added before it
// by case id, then sample; Add keeps nothing of r but its case id, its case
// hash and its check list (shared with results of equal checks when r's
// Checks are the same slice as theirs). It refuses a result out of order.
func (x *Results) Add(r *eval.Result) error {
	if n := len(x.cases); n > 0 {
		last := &x.cases[n-1]
		if c := strings.Compare(r.CaseID, last.id); c < 0 || c == 0 && r.Sample <= int(x.rows[len(x.rows)-1].sample) {
			return fmt.Errorf("case %q sample %d is out of order (after case %q)", r.CaseID, r.Sample, last.id)
		}
	}
	x.add(r)
	return nil
}

// add appends r, which sorts after the results before it.
func (x *Results) add(r *eval.Result) {
	if n := len(x.cases); n == 0 || x.cases[n-1].id != r.CaseID {
		x.cases = append(x.cases, resultCase{id: r.CaseID, hash: r.CaseHash, first: int32(len(x.rows))})
	}
	c := &x.cases[len(x.cases)-1]
	c.n++
	if r.Error != "" && c.kind == 0 {
		c.kind = x.kind(cmp.Or(r.ErrorKind, UnknownErrorKind))
	}
	x.rows = append(x.rows, resultRow{
		output: maphash.String(outputSeed, r.Output), latency: int64(r.Latency), sample: int32(r.Sample),
		runes: int32(utf8.RuneCountInString(r.Output)), checks: x.checkList(r.Checks), failed: r.Error != "",
	})
}

// kind returns 1 + the index of the error kind k in x.kinds, adding it.
func (x *Results) kind(k string) int32 {
	i := slices.Index(x.kinds, k)
	if i < 0 {
		i = len(x.kinds)
		x.kinds = append(x.kinds, k)
	}
	return int32(i + 1)
}

// checkList returns the index of cs in x.checks, adding it unless the same
// slice is there already.
func (x *Results) checkList(cs []eval.Check) int32 {
	if x.checks == nil {
		x.checks = [][]eval.Check{nil}
		x.known = make(map[*eval.Check]int32)
	}
	if len(cs) == 0 {
		return 0
	}
	if i, ok := x.known[&cs[0]]; ok && len(x.checks[i]) == len(cs) {
		return i
	}
	i := int32(len(x.checks))
	x.checks = append(x.checks, cs)
	x.known[&cs[0]] = i
	return i
}

// Share points the case ids and case hashes of x that equal like's (the
// other side of the comparison) at like's strings, so that x's copies are
// left to the collector: two runs of one suite have the same cases. Sides
// read at once (not one after the other) share their strings so.
func (x *Results) Share(like *Results) {
	i := 0
	for k := range x.cases {
		c := &x.cases[k]
		for i < len(like.cases) && like.cases[i].id < c.id {
			i++
		}
		if i == len(like.cases) {
			return
		}
		if l := &like.cases[i]; l.id == c.id {
			c.id = l.id
			if c.hash == l.hash {
				c.hash = l.hash
			}
		}
	}
}

// Len returns the number of results.
func (x *Results) Len() int {
	if x == nil {
		return 0
	}
	return len(x.rows)
}

// Outputs returns the outputs of the results at the rows, counted in case
// id and sample order.
func (x *Results) Outputs(rows []int32) ([]string, error) {
	if x.src != nil {
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = x.src[r].Output
		}
		return out, nil
	}
	keys := make([]OutputKey, len(rows))
	for i, r := range rows {
		keys[i] = OutputKey{CaseID: x.cases[x.caseOf(r)].id, Sample: int(x.rows[r].sample)}
	}
	out, err := x.read(keys)
	if err == nil && len(out) != len(keys) {
		err = fmt.Errorf("read %d outputs, want %d", len(out), len(keys))
	}
	return out, err
}

// caseOf returns the index of the case of row r.
func (x *Results) caseOf(r int32) int {
	i, _ := slices.BinarySearchFunc(x.cases, r, func(c resultCase, r int32) int {
		return cmp.Compare(c.first+c.n-1, r)
	})
	return i
}

// samples returns the rows of case i.
func (x *Results) samples(i int32) []resultRow {
	c := &x.cases[i]
	return x.rows[c.first : c.first+c.n : c.first+c.n]
}

// errKind returns the error kind of case c's first failed sample, "" when
// none failed.
func (x *Results) errKind(c *resultCase) string {
	if c.kind == 0 {
		return ""
	}
	return x.kinds[c.kind-1]
}

// first returns the row of case i's first sample.
func (x *Results) first(i int32) *resultRow { return &x.rows[x.cases[i].first] }

// firstChecks returns the checks of case i's first sample.
func (x *Results) firstChecks(i int32) []eval.Check { return x.checks[x.first(i).checks] }

// rows returns the side's results in compact form: Rows, else made of Results.
func (s *Side) rows() *Results {
	if s.Rows != nil {
		return s.Rows
	}
	return NewResults(s.Results)
}

// sideTexts are the outputs a comparison read of one side: the rows, in
// ascending order, and their texts.
type sideTexts struct {
	rows  []int32
	texts []string
}

// want adds row to the rows to read.
func (t *sideTexts) want(row int32) { t.rows = append(t.rows, row) }

// read reads the texts of the rows wanted, of x.
func (t *sideTexts) read(x *Results) (err error) {
	slices.Sort(t.rows)
	t.rows = slices.Compact(t.rows)
	t.texts, err = x.Outputs(t.rows)
	return err
}

// text returns the text of row, which was read.
func (t *sideTexts) text(row int32) string {
	i, _ := slices.BinarySearch(t.rows, row)
	return t.texts[i]
}

// readTexts reads the outputs the comparison shows or measures: of sample 0
// of both sides where their outputs differ (similarity) or the case flipped
// (overall), and of samples 0 and 1 of the side whose repeats set the
// similarity's noise floor, where they differ.
func (m *comparer) readTexts(overall outcomes) error {
	floorA := m.c.Baseline.Settings.Samples >= 2
	floorB := !floorA && m.c.Candidate.Settings.Samples >= 2
	for i, p := range m.pairs {
		a, b := m.ra.cases[p.a].first, m.rb.cases[p.b].first
		if m.ra.rows[a].output != m.rb.rows[b].output || overall.a[i] != overall.b[i] {
			m.ta.want(a)
			m.tb.want(b)
		}
		switch {
		case floorA:
			wantRepeats(m.ra, p.a, &m.ta)
		case floorB:
			wantRepeats(m.rb, p.b, &m.tb)
		}
	}
	// The two sides are read at once: a store reads on several connections.
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { errB = m.tb.read(m.rb) })
	errA = m.ta.read(m.ra)
	wg.Wait()
	if errA != nil {
		return fmt.Errorf("the baseline's outputs: %w", errA)
	}
	if errB != nil {
		return fmt.Errorf("the candidate's outputs: %w", errB)
	}
	return nil
}

// wantRepeats adds samples 0 and 1 of case k of x to t when their outputs
// differ.
func wantRepeats(x *Results, k int32, t *sideTexts) {
	if c := &x.cases[k]; c.n >= 2 && x.rows[c.first].output != x.rows[c.first+1].output {
		t.want(c.first)
		t.want(c.first + 1)
	}
}
