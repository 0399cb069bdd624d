package baselines

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// blockLines is how many lines of a file Check sums together: a File read
// again yields the entries of a block only once the block's sum is the one
// Check took, so nothing it yields was not checked.
const blockLines = 1024

// ErrChanged means a file that Check checked was changed before it was read
// again.
var ErrChanged = errors.New("the file changed since it was checked")

// A File is a baseline file that Check has checked whole, to be read again
// a case or result at a time: the way to store a file too large to decode
// (Decode holds every case and result).
type File struct {
	Header Header // the file's header, its counts checked
	name   string
	open   func() (io.ReadCloser, error)
	blocks [][]byte // the SHA-256 of each blockLines lines, in order
	lat    *spill   // a version-2 file's latencies
}

// Check reads the baseline file that open opens, as Decode does, with the
// same checks and the same errors (open's error is returned as it is), but
// holds a few bytes a result rather than the file: each result's latency
// (on disk beyond spillMemory, until Close) and a SHA-256 every blockLines
// lines. name names the file in errors.
func Check(name string, open func() (io.ReadCloser, error)) (*File, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f := &File{name: name, open: open}
	d := newDecoder(name)
	d.keepLat = true
	d.blk, d.onBlock = sha256.New(), func(sum []byte) error {
		f.blocks = append(f.blocks, sum)
		return nil
	}
	d.lookBack = func(id string, lines int) bool { return caseBefore(open, id, lines) }
	if err := d.read(rc); err != nil {
		d.lat.close()
		return nil, err
	}
	if d.lat.err != nil {
		d.lat.close()
		return nil, fmt.Errorf("check %s: keep its latencies: %w", name, d.lat.err)
	}
	f.Header, f.lat = d.h, &d.lat
	return f, nil
}

// Close removes what Check kept on disk (the latencies of a large file).
// The File is not read again after.
func (f *File) Close() error { return f.lat.close() }

// caseBefore reports whether one of the first lines lines of the file that
// open opens is a case line of id: the question a line out of order asks,
// answered by reading the file again rather than by holding every id.
func caseBefore(open func() (io.ReadCloser, error), id string, lines int) bool {
	rc, err := open()
	if err != nil {
		return false
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	var buf []byte
	for n := 1; n <= lines; n++ {
		line, err := readLine(br, &buf)
		var e struct {
			Case *string `json:"case"`
		}
		if n > 1 && json.Unmarshal(line, &e) == nil && e.Case != nil && *e.Case == id {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// Name returns the name the file was checked under.
func (f *File) Name() string { return f.name }

// Cases returns the file's cases in file order, read again from the file.
// The error, the last value yielded, is open's, or matches ErrChanged.
func (f *File) Cases() iter.Seq2[eval.Case, error] {
	return reread(f, true, func(d *decoder, keep func(eval.Case)) func() {
		d.onCase = keep
		return func() {}
	})
}

// Results returns the file's results in file order with their latencies,
// read again from the file, as Decode returns them. The error, the last
// value yielded, is open's, or matches ErrChanged.
func (f *File) Results() iter.Seq2[eval.Result, error] {
	return reread(f, false, func(d *decoder, keep func(eval.Result)) func() {
		next, stop := iter.Pull(f.lat.values())
		d.onResult = func(r eval.Result) {
			if v, ok := next(); ok && f.Header.Version >= 2 {
				r.Latency = time.Duration(v)
			}
			keep(r)
		}
		return stop
	})
}

// errStopped ends a read again whose consumer stopped.
var errStopped = errors.New("stopped")

// reread reads f again, giving set the decoder and the function that keeps
// each entry it decodes (set returns what to do when the read ends); the
// entries of a block are yielded once its sum is Check's. With casesOnly,
// result lines are summed, not decoded.
func reread[T any](f *File, casesOnly bool, set func(d *decoder, keep func(T)) (done func())) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		rc, err := f.open()
		if err != nil {
			yield(zero, err)
			return
		}
		defer rc.Close()
		d := newDecoder(f.name)
		d.verified, d.skipResults = true, casesOnly
		var pending []T
		defer set(d, func(v T) { pending = append(pending, v) })()
		block := 0
		d.blk, d.onBlock = sha256.New(), func(sum []byte) error {
			if block >= len(f.blocks) || !bytes.Equal(sum, f.blocks[block]) {
				return fmt.Errorf("%s: %w (lines %d to %d differ): read it again", f.name, ErrChanged, block*blockLines+1, (block+1)*blockLines)
			}
			block++
			for _, v := range pending {
				if !yield(v, nil) {
					return errStopped
				}
			}
			clear(pending)
			pending = pending[:0]
			return nil
		}
		err = d.read(rc)
		switch {
		case errors.Is(err, errStopped):
		case err == nil && block != len(f.blocks):
			yield(zero, fmt.Errorf("%s: %w (it is shorter): read it again", f.name, ErrChanged))
		case err != nil && !errors.Is(err, ErrChanged):
			// Content Check accepted, read again and refused: changed.
			var pe *ParseError
			if errors.As(err, &pe) && pe.Line > 0 {
				err = fmt.Errorf("%s: %w (seen at line %d): read it again", f.name, ErrChanged, pe.Line)
			} else {
				err = fmt.Errorf("%s: %w (%w): read it again", f.name, ErrChanged, err)
			}
			yield(zero, err)
		case err != nil:
			yield(zero, err)
		}
	}
}
