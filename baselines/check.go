package baselines

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
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
	lat    []byte   // a version-2 file's latencies, as varints
}

// Check reads the baseline file that open opens, as Decode does, with the
// same checks and the same errors (open's error is returned as it is), but
// holds a few bytes a case and a result rather than the file: a hash of
// each case id, each result's latency, and a SHA-256 every blockLines lines.
// name names the file in errors.
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
	if err := d.read(rc); err != nil {
		return nil, err
	}
	f.Header, f.lat = d.h, d.lat
	return f, nil
}

// Name returns the name the file was checked under.
func (f *File) Name() string { return f.name }

// Cases returns the file's cases in file order, read again from the file.
// The error, the last value yielded, is open's, or matches ErrChanged.
func (f *File) Cases() iter.Seq2[eval.Case, error] {
	return reread(f, true, func(d *decoder, keep func(eval.Case)) { d.onCase = keep })
}

// Results returns the file's results in file order with their latencies,
// read again from the file, as Decode returns them. The error, the last
// value yielded, is open's, or matches ErrChanged.
func (f *File) Results() iter.Seq2[eval.Result, error] {
	return reread(f, false, func(d *decoder, keep func(eval.Result)) {
		lat := f.lat
		d.onResult = func(r eval.Result) {
			if f.Header.Version >= 2 && len(lat) > 0 {
				v, n := binary.Varint(lat)
				r.Latency, lat = time.Duration(v), lat[n:]
			}
			keep(r)
		}
	})
}

// errStopped ends a read again whose consumer stopped.
var errStopped = errors.New("stopped")

// reread reads f again, giving set the decoder and the function that keeps
// each entry it decodes; the entries of a block are yielded once its sum is
// Check's. With casesOnly, result lines are summed, not decoded.
func reread[T any](f *File, casesOnly bool, set func(d *decoder, keep func(T))) iter.Seq2[T, error] {
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
		set(d, func(v T) { pending = append(pending, v) })
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
			yield(zero, fmt.Errorf("%w: %w", ErrChanged, err))
		case err != nil:
			yield(zero, err)
		}
	}
}
