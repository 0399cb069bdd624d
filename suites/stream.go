package suites

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
)

// A Stream is a JSON lines suite read from its file a case at a time: its
// eval.Source. Checking it (Scan) reads the file once, validating every case
// with the errors Load reports and computing the same hashes (its lines
// parsed in batches on every processor, taken in file order), and keeps of
// the cases only a compact index: an 8-byte hash of each id, sorted, which
// finds duplicate ids and gives each case its key; and, in a temporary file
// rather than in memory, each case's hash and a fingerprint of its line.
// Walk reads the file again, takes each case's hash from there rather than
// computing it again, and refuses a file that changed since it was checked,
// before it yields a line that changed.
type Stream struct {
	path   string
	suite  eval.Suite // without cases
	seed   maphash.Seed
	mu     sync.Mutex
	file   FileID   // the file's identity when it was checked
	ids    []uint64 // the hashes of the case ids, sorted: a case's key is its index
	n      int
	header uint64   // the fingerprint of the header line
	sums   *os.File // a caseSum a case, in file order; unlinked
	lazy   bool     // the hash came from a cache: the index is built on first use
	cached bool     // the hash came from a cache
	err    error    // of building the index lazily
	mem    *mapping // holds the memory of ids, when it is mapped apart from the heap
}

// A caseSum is what Scan keeps of a case for Walk: the fingerprint of its
// line (maphash with the Stream's seed, little-endian) and its hash (raw).
type caseSum [8 + sha256.Size]byte

// fingerprint returns the fingerprint of a line of the file.
func (st *Stream) fingerprint(text []byte) uint64 { return maphash.Bytes(st.seed, text) }

// A mapping is memory mapped apart from Go's heap, unmapped once nothing
// refers to it.
type mapping struct{ _ byte }

var _ eval.Source = (*Stream)(nil)

// A FileID identifies the content of a file by its metadata: its device and
// inode, size, modification and change times. A file written changes it.
type FileID string

// Identify returns the FileID of the file at path.
func Identify(path string) (FileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fileID(fi), nil
}

// A Cache remembers the hash and case count of suite files checked before,
// by their FileID; a suite file whose FileID has an entry is not read again
// to learn its hash (evalpin keeps it in the store, runs.SuiteCache).
type Cache func(id string) (hash string, cases int, ok bool)

// OpenStream opens the suite arg names as Open does, except that a JSON
// lines file is a Stream (its Suite's Source, Cases nil): checked a case at
// a time, or, when cache knows its FileID, only its header read. cache may
// be nil.
func OpenStream(arg string, cache Cache) (*eval.Suite, error) {
	if !isJSONL(arg) {
		return Open(arg)
	}
	if _, err := os.Stat(arg); err != nil {
		return Open(arg) // Open words the error
	}
	if cache != nil {
		if id, err := Identify(arg); err == nil {
			if h, n, ok := cache(string(id)); ok {
				if s, err := openCached(arg, id, h, n); err == nil {
					return s, nil
				}
			}
		}
	}
	st, err := Scan(arg, nil)
	if err != nil {
		return nil, err
	}
	return st.Suite(), nil
}

// isJSONL reports whether name is a JSON lines suite file.
func isJSONL(name string) bool {
	return len(name) > 6 && bytes.EqualFold([]byte(name[len(name)-6:]), []byte(".jsonl"))
}

// openCached returns the suite of the file at path, of FileID id, whose
// hash and case count a cache remembers: only its header is read now, the
// rest when the run first needs its cases.
func openCached(path string, id FileID, hash string, n int) (*eval.Suite, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lr := newLineReader(f)
	no, text, err := lr.next()
	if err != nil || text == nil {
		return nil, errors.New("no header")
	}
	s, ps, _ := parseHeaderLine(path, rawLine{no: no, text: text})
	if len(ps) > 0 {
		return nil, errors.New("bad header")
	}
	s.Hash = hash
	st := &Stream{path: path, suite: *s, seed: maphash.MakeSeed(), file: id, n: n, lazy: true, cached: true}
	return st.Suite(), nil
}

// Suite returns the suite: its name, version, defaults and hash, and st as
// its Source.
func (st *Stream) Suite() *eval.Suite {
	s := st.suite
	s.Source = st
	return &s
}

// CacheKey returns the identity the file had when it was checked: what a
// Cache remembers its hash by; "" when its hash came from a Cache.
func (st *Stream) CacheKey() string {
	if st.cached {
		return ""
	}
	return string(st.file)
}

// Check checks the file once, when its hash came from a Cache and it was
// not checked yet, and returns the error of checking it: that of an
// invalid file, or of one whose hash is not the cached one.
func (st *Stream) Check() error { return st.index() }

// Len returns the number of cases.
func (st *Stream) Len() int { return st.n }

// Key returns the index of the hash of id among the sorted hashes of the
// case ids.
func (st *Stream) Key(id string) (int, bool) {
	if st.index() != nil {
		return 0, false
	}
	h := maphash.String(st.seed, id)
	i, ok := slices.BinarySearch(st.ids, h)
	return i, ok
}

// index builds the index of a stream opened from a cache, once, checking
// that the file still has the hash the cache gave.
func (st *Stream) index() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.lazy || st.err != nil {
		return st.err
	}
	st.lazy = false
	got, err := Scan(st.path, nil)
	switch {
	case err != nil:
		st.err = err
	case got.suite.Hash != st.suite.Hash || got.n != st.n:
		st.err = st.changed()
	default:
		st.seed, st.file, st.ids, st.header, st.sums, st.mem = got.seed, got.file, got.ids, got.header, got.sums, got.mem
	}
	return st.err
}

// changed is the error of a suite file that changed since it was checked.
func (st *Stream) changed() error {
	return fault.Errorf(fault.Input, "keep a suite file unchanged while it runs; run the command again to run the suite as it is now",
		"suite %s changed while the run read it (its content or its size, times or inode differ from when it was checked)", st.path)
}

// Walk reads the file again and yields its cases, with their hashes, in
// order. The error says the file could not be read, or that it changed
// since it was checked: its identity differs, or a line is not what it was
// (found before its case is yielded).
func (st *Stream) Walk(yield func(int, *eval.Case) bool) error {
	if err := st.index(); err != nil {
		return err
	}
	f, err := os.Open(st.path)
	if err != nil {
		return fmt.Errorf("read suite: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fileID(fi) != st.file {
		return st.changed()
	}
	lr := newLineReader(f)
	_, header, err := lr.next()
	if err != nil {
		return fmt.Errorf("read suite: %w", err)
	}
	if header == nil || st.fingerprint(header) != st.header {
		return st.changed()
	}
	sums := bufio.NewReaderSize(io.NewSectionReader(st.sums, 0, int64(st.n)*int64(len(caseSum{}))), 16<<10)
	var sum caseSum
	var lp lineParser // hashes none: each case's hash is the check's
	n := 0
	for {
		no, text, err := lr.next()
		if err != nil {
			return fmt.Errorf("read suite: %w", err)
		}
		if text == nil {
			break
		}
		if n == st.n {
			return st.changed()
		}
		if _, err := io.ReadFull(sums, sum[:]); err != nil {
			return fmt.Errorf("read suite: %w", err)
		}
		if st.fingerprint(text) != binary.LittleEndian.Uint64(sum[:8]) {
			return st.changed()
		}
		c := new(eval.Case)
		if r := parseCaseLine(st.path, no, text, &lp, c); len(r.problems) > 0 {
			return st.changed()
		}
		c.Hash = hex.EncodeToString(sum[8:])
		k, ok := st.Key(c.ID)
		if !ok {
			return st.changed()
		}
		n++
		if !yield(k, c) {
			return nil
		}
	}
	if n != st.n {
		return st.changed()
	}
	// Written while it was read (the reader may hold what it read before),
	// or replaced by another file.
	if fi, err := os.Stat(st.path); err != nil || fileID(fi) != st.file {
		return st.changed()
	}
	return nil
}

// Scan checks the JSON lines suite file at path a case at a time, as Load
// does, with the same errors, and returns it as a Stream; each, when not
// nil, is called with every case in order (for Check's description), the
// case valid until each returns.
// Duplicate ids are found by the hashes of the ids, and confirmed, with the
// lines of both, by a second reading of the lines whose id hash collides.
func Scan(path string, each func(*eval.Case)) (*Stream, error) { return scanFile(path, each, true) }

// scanFile is Scan; without index, it keeps no index of the ids in memory
// (its Stream has no keys, for Check): it finds duplicate ids by sorting
// their hashes in bounded memory as it does the case hashes.
func scanFile(path string, each func(*eval.Case), index bool) (*Stream, error) {
	for {
		st, err := scan(path, each, index)
		if !errors.Is(err, errCollision) {
			return st, err
		}
		each = nil // two ids share a hash: again, with another seed
	}
}

// errCollision is scan's error when two distinct ids have the same hash.
var errCollision = errors.New("two case ids have the same hash")

func scan(path string, each func(*eval.Case), index bool) (_ *Stream, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fault.Errorf(fault.Input, "check the suite's path", "read suite: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fault.Errorf(fault.Input, "check the suite's path", "read suite: %w", err)
	}
	st := &Stream{path: path, seed: maphash.MakeSeed(), file: fileID(fi)}
	var sums *bufio.Writer
	if index {
		if st.sums, err = tempFile(); err != nil {
			return nil, fmt.Errorf("check suite %s: %w", path, err)
		}
		defer func() {
			if err != nil {
				st.sums.Close()
			}
		}()
		sums = bufio.NewWriterSize(st.sums, 16<<10)
		// A line with an id is at least {"id":"x"} and its newline: the
		// index never outgrows its mapping, nor copies itself to grow.
		if ids, unmap, ok := offHeap(int(fi.Size()/11) + 1); ok {
			st.ids, st.mem = ids, &mapping{}
			runtime.AddCleanup(st.mem, func(f func()) { f() }, unmap)
		}
	}
	lr := newLineReader(f)
	var ps problemList
	no, text, err := lr.next()
	if err != nil {
		return nil, fault.Errorf(fault.Input, "check the suite's path", "read suite: %w", err)
	}
	if text == nil {
		return nil, invalid(path, []Problem{{File: path, Msg: `empty suite; a JSONL suite is a header line {"suite": {"name": ...}} and one case a line`}}, 0)
	}
	first := rawLine{no: no, text: text}
	suite, hps, header := parseHeaderLine(path, first)
	ps.add(hps...)
	st.header = st.fingerprint(first.text)
	hashes := newHashSorter()
	defer hashes.close()
	ids := &sorter{size: 8} // without index
	defer ids.close()
	var sum caseSum
	// count takes in a parsed case line, in file order.
	count := func(text []byte, r jsonlCase, c *eval.Case) {
		ps.add(r.problems...)
		if c.ID != "" {
			h := maphash.String(st.seed, c.ID)
			if index {
				st.ids = append(st.ids, h)
			} else if err := ids.add(binary.BigEndian.AppendUint64(nil, h)); err != nil {
				ps.err = err
			}
		}
		st.n++
		if len(r.problems) == 0 {
			if ps.total == 0 {
				if err := hashes.addHash(c.Hash); err != nil {
					ps.err = err
				}
			}
			if sums != nil && ps.total == 0 {
				binary.LittleEndian.PutUint64(sum[:8], st.fingerprint(text))
				hex.Decode(sum[8:], []byte(c.Hash))
				if _, err := sums.Write(sum[:]); err != nil {
					ps.err = err
				}
			}
			if each != nil {
				each(c)
			}
		}
	}
	var lead *rawLine
	if !header {
		lead = &first
	}
	if err := parseInOrder(path, lr, lead, suite.Settings, count); err != nil {
		return nil, fault.Errorf(fault.Input, "check the suite's path", "read suite: %w", err)
	}
	if sums != nil && ps.err == nil {
		ps.err = sums.Flush()
	}
	if ps.err != nil {
		return nil, fmt.Errorf("hash suite %s: %w", path, ps.err)
	}
	if header && st.n == 0 {
		ps.add(Problem{File: path, Line: first.no, Msg: "suite has no cases; add one case a line after the header"})
	}
	twice := map[uint64]bool{}
	if index {
		slices.Sort(st.ids)
		for i := 1; i < len(st.ids); i++ {
			if st.ids[i] == st.ids[i-1] {
				twice[st.ids[i]] = true
			}
		}
	} else {
		var prev []byte
		if err := ids.each(func(h []byte) {
			if prev != nil && bytes.Equal(prev, h) {
				twice[binary.BigEndian.Uint64(h)] = true
			}
			prev = append(prev[:0], h...)
		}); err != nil {
			return nil, fmt.Errorf("check suite %s: %w", path, err)
		}
	}
	dups, err := st.duplicates(path, twice)
	if err != nil {
		return nil, err
	}
	ps.add(dups...)
	if ps.total > 0 {
		return nil, invalid(path, ps.kept, ps.total)
	}
	if suite.Hash, err = hashes.suiteHash(suite.Settings); err != nil {
		return nil, fmt.Errorf("hash suite %s: %w", path, err)
	}
	st.suite = *suite
	return st, nil
}

// A lineBatch is consecutive case lines of a file, copied out of its
// reader, parsed apart from the other batches.
type lineBatch struct {
	lines   []rawLine
	text    []byte // the lines' text, one after another
	results []jsonlCase
	cases   []eval.Case
	parsed  chan struct{} // closed once results and cases are filled in
}

// The bounds of a lineBatch: so many lines, or lines of so many bytes.
const (
	batchLines = 256
	batchBytes = 1 << 20
)

// add copies the line no of text into b and reports whether b is full.
func (b *lineBatch) add(no int, text []byte) bool {
	b.lines = append(b.lines, rawLine{no: no, start: len(b.text)})
	b.text = append(b.text, text...)
	return len(b.lines) >= batchLines || len(b.text) >= batchBytes
}

// reset empties b for other lines, keeping its memory.
func (b *lineBatch) reset() {
	b.lines, b.text = b.lines[:0], b.text[:0]
}

// seal points each line's text into b.text, now that it no longer grows,
// and makes room for what parsing it gives.
func (b *lineBatch) seal() {
	for i := range b.lines {
		end := len(b.text)
		if i+1 < len(b.lines) {
			end = b.lines[i+1].start
		}
		b.lines[i].text = b.text[b.lines[i].start:end]
	}
	b.results = slices.Grow(b.results[:0], len(b.lines))[:len(b.lines)]
	b.cases = slices.Grow(b.cases[:0], len(b.lines))[:len(b.lines)]
	b.parsed = make(chan struct{})
}

// parseInOrder parses the case lines of the file at path that lr reads
// (lead first, when not nil) under defaults, a batch of lines at a time on
// every processor, as parseJSONL does, and calls count with each line's
// text, result and case in file order, on the calling goroutine; the case
// is valid until count returns. Batches read ahead are bounded, and reused
// once counted, so memory stays bounded whatever the file's size. The error
// is the reader's, once the lines read before it are counted.
func parseInOrder(path string, lr *lineReader, lead *rawLine, defaults eval.Settings, count func([]byte, jsonlCase, *eval.Case)) error {
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *lineBatch, workers)
	ordered := make(chan *lineBatch, 2*workers)
	free := make(chan *lineBatch, 3*workers+1) // at most so many are read ahead
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			lp := &lineParser{hs: newHasher(defaults)}
			for b := range work {
				parseCaseLines(path, b.lines, lp, b.results, b.cases)
				close(b.parsed)
			}
		})
	}
	var readErr error
	go func() {
		defer close(work)
		defer close(ordered)
		fresh := func() *lineBatch {
			select {
			case b := <-free:
				b.reset()
				return b
			default:
				return &lineBatch{}
			}
		}
		b := fresh()
		send := func() {
			b.seal()
			ordered <- b
			work <- b
			b = fresh()
		}
		if lead != nil {
			b.add(lead.no, lead.text)
		}
		for {
			no, text, err := lr.next()
			if err != nil || text == nil {
				readErr = err
				break
			}
			if b.add(no, text) {
				send()
			}
		}
		if len(b.lines) > 0 {
			send()
		}
	}()
	for b := range ordered {
		<-b.parsed
		for i := range b.lines {
			count(b.lines[i].text, b.results[i], &b.cases[i])
		}
		select {
		case free <- b:
		default:
		}
	}
	wg.Wait()
	return readErr
}

// duplicates returns the problems of the duplicate ids of the file at path,
// twice the id hashes seen more than once: it reads the file again for the
// lines of those hashes, and reports each line of an id after its first.
// errCollision says two distinct ids share a hash.
func (st *Stream) duplicates(path string, twice map[uint64]bool) ([]Problem, error) {
	if len(twice) == 0 {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fault.Errorf(fault.Input, "check the suite's path", "read suite: %w", err)
	}
	defer f.Close()
	lr := newLineReader(f)
	type seen struct {
		id   string
		line int
	}
	firsts := map[uint64][]seen{}
	var ps []Problem
	lp := &lineParser{hs: newHasher(st.suite.Settings)}
	for {
		no, text, err := lr.next()
		if err != nil {
			return nil, fault.Errorf(fault.Input, "check the suite's path", "read suite: %w", err)
		}
		if text == nil {
			break
		}
		var c eval.Case
		r := parseCaseLine(path, no, text, lp, &c)
		h := maphash.String(st.seed, c.ID)
		if c.ID == "" || !twice[h] {
			continue
		}
		i := slices.IndexFunc(firsts[h], func(s seen) bool { return s.id == c.ID })
		if i < 0 {
			firsts[h] = append(firsts[h], seen{c.ID, no})
			continue
		}
		ps = append(ps, Problem{File: path, Line: r.line, Col: r.col,
			Msg: fmt.Sprintf("duplicate case id %q, first used on line %d; give each case its own id", c.ID, firsts[h][i].line)})
	}
	for _, s := range firsts {
		if len(s) > 1 {
			return nil, errCollision
		}
	}
	return ps, nil
}

// parseHeaderLine parses the first line of a JSON lines suite: its header
// when it names the suite (header true), else a problem saying it must.
func parseHeaderLine(file string, first rawLine) (*eval.Suite, []Problem, bool) {
	suite := &eval.Suite{Settings: eval.DefaultSettings()}
	if !bytes.Contains(first.text, []byte(`"suite"`)) {
		return suite, []Problem{{File: file, Line: first.no, Col: 1,
			Msg: `the first line of a JSONL suite must be its header: {"suite": {"name": "my-suite", "version": "1"}}`}}, false
	}
	var h jsonlHeader
	fps, node := decodeLine(first.text, &h, "the header line")
	var hps problems
	if h.Suite == nil {
		if !hasProblemAt(fps, path{"suite"}) {
			hps.add(nil, `the header line has no "suite" object; write {"suite": {"name": ..., "version": ...}}`)
		}
	} else {
		if h.Suite.Cases != nil && !hasProblemAt(fps, path{"suite"}) {
			hps.add(path{"suite", "cases"}, "a JSONL suite has one case a line after the header, not cases in the header")
		}
		var sps problems
		suite = buildHeader(h.Suite, &sps)
		for _, p := range filterMissing(sps, fps, path{"suite"}) {
			p.path = append(path{"suite"}, p.path...)
			hps = append(hps, p)
		}
	}
	return suite, lineProblems(file, first.no, first.text, node, append(fps, hps...)), true
}

// invalid is the error of a suite file with problems: ps, of total, the
// first MaxProblems of which it lists in file order.
func invalid(file string, ps []Problem, total int) error {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	ie := &InvalidError{File: file, Problems: ps}
	if len(ps) > MaxProblems {
		ie.Problems = ps[:MaxProblems]
	}
	ie.More = max(total, len(ps)) - len(ie.Problems)
	return fault.Errorf(fault.Input, formatHint, "%w", ie)
}

// A problemList keeps the problems of a file read in order: all of them
// until MaxProblems are kept, then only those of the line being read, which
// may come before some kept ones once sorted by column; it counts them all.
type problemList struct {
	kept  []Problem
	total int
	last  int   // the line of the last problem kept
	err   error // of hashing
}

func (l *problemList) add(ps ...Problem) {
	for _, p := range ps {
		l.total++
		if len(l.kept) < MaxProblems || p.Line == l.last {
			l.kept = append(l.kept, p)
			l.last = p.Line
		}
	}
}

// A lineReader reads the non-blank lines of a JSON lines file, numbered from
// 1, without their line endings and the file's byte order mark.
type lineReader struct {
	r     *bufio.Reader
	no    int
	long  []byte // a line longer than the buffer
	first bool
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), first: true}
}

// next returns the next non-blank line and its number, valid until the
// next call; nil text at the end of the file.
func (lr *lineReader) next() (int, []byte, error) {
	for {
		line, err := lr.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			lr.long = append(lr.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = lr.r.ReadSlice('\n')
				lr.long = append(lr.long, line...)
			}
			line = lr.long
		}
		if err != nil && err != io.EOF {
			return 0, nil, err
		}
		if len(line) == 0 && err == io.EOF {
			return 0, nil, nil
		}
		lr.no++
		if lr.first {
			line, lr.first = bytes.TrimPrefix(line, []byte("\ufeff")), false
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(bytes.TrimSpace(line)) > 0 {
			return lr.no, line, nil
		}
		if err == io.EOF {
			return 0, nil, nil
		}
	}
}

// A sorter sorts records of a fixed size, added one at a time, in bounded
// memory: it holds sortRun of them, sorts them and writes them as a run of a
// temporary file, and merges the runs. It sorts the case hashes a suite hash
// covers (hashSorter) and the id hashes that find duplicate ids.
type sorter struct {
	size int
	buf  []byte // records held, size bytes each
	file *os.File
	runs []int64 // the offset of the end of each run in file
}

// sortRun is how many records a sorter holds.
var sortRun = 1 << 15

func (s *sorter) add(rec []byte) error {
	s.buf = append(s.buf, rec...)
	if len(s.buf) >= sortRun*s.size {
		return s.spill()
	}
	return nil
}

// records sorts the records of a buffer.
type records struct {
	b    []byte
	size int
}

func (r records) Len() int { return len(r.b) / r.size }
func (r records) Less(i, j int) bool {
	return bytes.Compare(r.b[i*r.size:(i+1)*r.size], r.b[j*r.size:(j+1)*r.size]) < 0
}
func (r records) Swap(i, j int) {
	var t [sha256.Size]byte
	a, b := r.b[i*r.size:(i+1)*r.size], r.b[j*r.size:(j+1)*r.size]
	copy(t[:], a)
	copy(a, b)
	copy(b, t[:r.size])
}

// tempFile creates a temporary file, unlinked: gone when closed.
func tempFile() (*os.File, error) {
	f, err := os.CreateTemp("", "evalpin-suite-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// spill writes the records held, sorted, as a run of the file.
func (s *sorter) spill() error {
	if s.file == nil {
		f, err := tempFile()
		if err != nil {
			return err
		}
		s.file = f
	}
	sort.Sort(records{s.buf, s.size})
	if _, err := s.file.Write(s.buf); err != nil {
		return err
	}
	end := int64(0)
	if len(s.runs) > 0 {
		end = s.runs[len(s.runs)-1]
	}
	s.runs = append(s.runs, end+int64(len(s.buf)))
	s.buf = s.buf[:0]
	return nil
}

func (s *sorter) close() {
	if s.file != nil {
		s.file.Close()
	}
}

// each calls f with every record added, in sorted order; rec is valid
// until f returns.
func (s *sorter) each(f func(rec []byte)) error {
	if s.file == nil {
		sort.Sort(records{s.buf, s.size})
		for i := 0; i < len(s.buf); i += s.size {
			f(s.buf[i : i+s.size])
		}
		return nil
	}
	if len(s.buf) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	return s.merge(f)
}

// A hashSorter computes a suite's hash (suiteHash) from its case hashes
// added one at a time, in bounded memory.
type hashSorter struct{ sorter }

func newHashSorter() *hashSorter { return &hashSorter{sorter{size: sha256.Size}} }

func (s *hashSorter) addHash(h string) error {
	var b [sha256.Size]byte
	if _, err := hex.Decode(b[:], []byte(h)); err != nil {
		return err
	}
	return s.add(b[:])
}

// suiteHash returns the hash of the suite of the hashes added under
// defaults: byte for byte suiteHash's.
func (s *hashSorter) suiteHash(defaults eval.Settings) (string, error) {
	sum := sha256.New()
	sum.Write([]byte(`{"cases":[`))
	n := 0
	var x [2*sha256.Size + 2]byte
	x[0], x[len(x)-1] = '"', '"'
	err := s.each(func(h []byte) {
		if n > 0 {
			sum.Write([]byte(","))
		}
		n++
		hex.Encode(x[1:], h)
		sum.Write(x[:])
	})
	if err != nil {
		return "", err
	}
	sum.Write([]byte(`],"defaults":`))
	sum.Write(appendCanonical(nil, &defaults))
	sum.Write([]byte(`}`))
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// merge calls write with every record of the runs in sorted order.
func (s *sorter) merge(write func([]byte)) error {
	h := &runHeap{}
	start := int64(0)
	for _, end := range s.runs {
		r := &run{r: bufio.NewReaderSize(io.NewSectionReader(s.file, start, end-start), 4096), cur: make([]byte, s.size)}
		start = end
		if ok, err := r.next(); err != nil {
			return err
		} else if ok {
			*h = append(*h, r)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		r := (*h)[0]
		write(r.cur)
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

// A run is a sorted run of the sorter's file being merged.
type run struct {
	r   *bufio.Reader
	cur []byte
}

func (r *run) next() (bool, error) {
	if _, err := io.ReadFull(r.r, r.cur); err == io.EOF {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

type runHeap []*run

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return bytes.Compare(h[i].cur, h[j].cur) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*run)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
