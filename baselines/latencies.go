package baselines

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"os"
)

// latencyPrefix starts a version-2 file's latency line as export writes it.
var latencyPrefix = []byte(`{"latencies_ns":[`)

// latencyLineCopy is how long a latency line may be and still be decoded
// again as JSON when it is not written as export writes it: a latency line
// as export writes it is parsed as it streams by, however long.
const latencyLineCopy = 1 << 20

// latencyLine reads and sums the line at the head of br, which starts with
// latencyPrefix, without holding it: a million results make a line of
// megabytes. With check, it checks the line (entry's latency case) and keeps
// its latencies; content is the problem it finds. A line that is not written
// as export writes it (spaces, other fields) is decoded as any other line if
// it is short, and refused if not. err is a truncated file or a read error,
// which end the read.
func (d *decoder) latencyLine(br *bufio.Reader, sum hash.Hash, n int, check bool) (content, err error) {
	if check {
		if content = d.latencyStart(); content != nil {
			check = false
		}
	}
	p := latencyParser{skip: len(latencyPrefix)}
	var line []byte // the line so far, up to latencyLineCopy
	for {
		chunk, rerr := br.ReadSlice('\n')
		sum.Write(chunk)
		if d.blk != nil {
			d.blk.Write(chunk)
		}
		if len(line)+len(chunk) <= latencyLineCopy {
			line = append(line, chunk...)
		} else {
			line = nil
		}
		if check && !p.bad {
			p.parse(chunk, d.latency)
		}
		switch {
		case rerr == bufio.ErrBufferFull:
			continue
		case rerr == io.EOF:
			return nil, d.checksumError(n, nil, "the file is truncated: its last line is cut short and the checksum line is missing")
		case rerr != nil:
			return nil, fmt.Errorf("read %s: %w", d.name, rerr)
		}
		break
	}
	if !check {
		return content, nil
	}
	if !p.bad && p.state == lDone {
		return d.latencyEnd(), nil
	}
	// Not as export writes it: undo what the parser kept (a file has one
	// latency line), and read the line as Decode reads any other.
	d.lat.reset()
	d.nLat, d.negLat = 0, 0
	if line == nil {
		return errors.New("the latency line is longer than 1 MiB and not written as 'evalpin baseline export' writes it"), nil
	}
	var e entry
	if err := decodeStrict(line[:len(line)-1], &e); err != nil {
		return err, nil
	}
	return d.entry(&e), nil
}

// latencyStart checks that a latency line may come here.
func (d *decoder) latencyStart() error {
	switch {
	case d.latencies:
		return errLineAfterLatencies
	case d.h.Version < 2:
		return errors.New("a latency line in a version-1 file, whose result lines carry their latency")
	}
	return nil
}

// latency takes the next value of the latency line.
func (d *decoder) latency(ns int64) {
	if ns < 0 && d.negLat == 0 {
		d.negLat = d.nLat + 1
	}
	if d.keepLat && d.nLat < d.nResults {
		d.lat.add(ns)
	}
	d.nLat++
}

// latencyEnd checks the latency line's values: one a result, none negative.
func (d *decoder) latencyEnd() error {
	if d.nLat != d.nResults {
		return fmt.Errorf("the latency line holds %d latencies for %d results", d.nLat, d.nResults)
	}
	if d.negLat > 0 {
		return fmt.Errorf("the latency line holds a negative latency for result %d", d.negLat)
	}
	d.latencies = true
	return nil
}

// The states of a latencyParser.
const (
	lValue    = iota // after '[': a value or ']'
	lNext            // after ',': a value
	lMinus           // after '-'
	lZero            // after a value "0"
	lDigits          // in a value
	lBracket         // after ']': '}'
	lBrace           // after '}': '\n'
	lDone            // after '\n'
	maxDigits = 18   // more is refused here, and decoded as JSON
)

// A latencyParser parses a latency line as export writes it,
// {"latencies_ns":[1,2,3]} and a newline, given in pieces. Anything else
// (spaces, a leading zero, a number of more than maxDigits digits) sets bad,
// and the line is left to encoding/json.
type latencyParser struct {
	skip   int // bytes of latencyPrefix still to skip
	state  int
	neg    bool
	v      int64
	digits int
	bad    bool
}

// parse parses the next piece of the line, calling emit with each value.
func (p *latencyParser) parse(b []byte, emit func(int64)) {
	k := min(p.skip, len(b))
	b, p.skip = b[k:], p.skip-k
	for _, c := range b {
		if p.bad {
			return
		}
		digit := c >= '0' && c <= '9'
		switch p.state {
		case lValue, lNext:
			switch {
			case c == ']' && p.state == lValue:
				p.state = lBracket
			case c == '-':
				p.neg, p.state = true, lMinus
			case c == '0':
				p.state = lZero
			case digit:
				p.v, p.digits, p.state = int64(c-'0'), 1, lDigits
			default:
				p.bad = true
			}
		case lMinus:
			if !digit || c == '0' {
				p.bad = true
			}
			p.v, p.digits, p.state = int64(c-'0'), 1, lDigits
		case lZero, lDigits:
			switch {
			case digit && p.state == lDigits && p.digits < maxDigits:
				p.v, p.digits = p.v*10+int64(c-'0'), p.digits+1
			case c == ',' || c == ']':
				if p.neg {
					p.v = -p.v
				}
				emit(p.v)
				p.v, p.digits, p.neg, p.state = 0, 0, false, lNext
				if c == ']' {
					p.state = lBracket
				}
			default:
				p.bad = true
			}
		case lBracket:
			p.state, p.bad = lBrace, c != '}'
		case lBrace:
			p.state, p.bad = lDone, c != '\n'
		default:
			p.bad = true
		}
	}
}

// spillMemory is how many bytes of latencies a spill keeps in memory before
// it writes them to a temporary file (a variable for tests).
var spillMemory = 256 << 10

// A spill keeps a latency line's values as varints: in memory up to
// spillMemory bytes, and beyond that in a temporary file, so that checking
// a file of a million results does not hold their latencies.
type spill struct {
	mem  []byte
	file *os.File // nil until the first spill
	size int64    // bytes written to file
	err  error    // the first error writing the file
}

// add appends v.
func (s *spill) add(v int64) {
	s.mem = binary.AppendVarint(s.mem, v)
	if len(s.mem) < spillMemory || s.err != nil {
		return
	}
	if s.file == nil {
		if s.file, s.err = os.CreateTemp("", "evalpin-latencies-*"); s.err != nil {
			return
		}
	}
	n, err := s.file.Write(s.mem)
	s.size, s.err, s.mem = s.size+int64(n), err, s.mem[:0]
}

// reset forgets every value.
func (s *spill) reset() {
	s.mem, s.size = s.mem[:0], 0
	if s.file != nil && s.err == nil {
		s.err = s.file.Truncate(0)
		if _, err := s.file.Seek(0, io.SeekStart); s.err == nil {
			s.err = err
		}
	}
}

// values returns the values in the order added.
func (s *spill) values() iter.Seq[int64] {
	return func(yield func(int64) bool) {
		r := io.Reader(bytes.NewReader(s.mem))
		if s.file != nil {
			r = io.MultiReader(io.NewSectionReader(s.file, 0, s.size), r)
		}
		br := bufio.NewReader(r)
		for {
			v, err := binary.ReadVarint(br)
			if err != nil || !yield(v) {
				return
			}
		}
	}
}

// close removes the temporary file.
func (s *spill) close() error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	if rerr := os.Remove(s.file.Name()); err == nil {
		err = rerr
	}
	s.file = nil
	return err
}
