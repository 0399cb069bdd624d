package baselines

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"reflect"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
)

// A ParseError is a problem with one line of a baseline file.
type ParseError struct {
	File string // the name Decode was given
	Line int    // 1-based; 0 when the problem is the file as a whole
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// entry is any line after the header: exactly one of Case, Result and SHA256
// is set, and only that kind's fields.
type entry struct {
	Case *string `json:"case"`
	caseFields
	Result *string `json:"result"`
	resultFields
	LatenciesNS *[]int64 `json:"latencies_ns"`
	SHA256      *string  `json:"sha256"`
}

// decoder holds the state of one read of a baseline file: what it checks
// takes a few bytes a case, not the case, so that a file of a million cases
// can be checked (Check) without being held.
type decoder struct {
	name string
	h    Header
	// cur is the last case line's case; nCases is 0 before the first.
	cur                       eval.Case
	nCases, nResults, nErrors int
	// prevID and prevSample are the last result line's case and sample.
	prevID     string
	prevSample int
	// seen, when set (Decode), holds each case id read: read only to word
	// an error (a result or case of an id seen before). lookBack (Check)
	// answers the same by reading the file's first lines again, so that a
	// read that holds no case keeps no id; a re-read of checked content
	// has neither, as it finds no such error.
	seen     map[string]bool
	lookBack func(id string, lines int) bool
	line     int // the number of the line being read
	// latencies is whether a version-2 file's latency line has been read;
	// nLat and negLat count its values and name its first negative one
	// (1-based, 0 for none); lat keeps them when keepLat is set, up to one
	// a result.
	latencies    bool
	nLat, negLat int
	keepLat      bool
	lat          spill

	// onCase and onResult receive each case and result checked, in file
	// order, while no problem has been found; results carry no latency
	// from a version-2 file's latency line, which comes last.
	onCase   func(eval.Case)
	onResult func(eval.Result)
	// verified is set when the content was checked before (File): the
	// counts and the latency line are not checked again, and with
	// skipResults, result lines are only summed, not decoded.
	verified, skipResults bool
	// blk, when set, sums each block of blockLines lines, and onBlock is
	// given each block's sum (and the last, shorter one).
	blk      hash.Hash
	blkLines int
	onBlock  func(sum []byte) error
}

// newDecoder returns a decoder of the file name.
func newDecoder(name string) *decoder {
	return &decoder{name: name}
}

// Decode reads a baseline file from r; name is the file's name for errors,
// which are *ParseError values naming the line. It checks the whole file:
// the header's format and version, each line's fields, that cases and results
// come in file order without duplicates, that every result follows its own
// case, that the header's counts are right, and the final SHA-256 line.
//
// A file that was edited or truncated after export is refused with
// ErrChecksum, whatever else is wrong with it; the first other problem is
// named in the same error, to help find the edit. A header of another format
// version is refused with ErrVersion at once.
//
// Decode does not check that the header's lock id is the id of its
// manifest: that takes the lock package, so the caller does it with
// Header.LockManifest. Decode holds the whole file; Check reads one a line
// at a time.
func Decode(r io.Reader, name string) (*Baseline, error) {
	d := newDecoder(name)
	var b Baseline
	d.keepLat, d.seen = true, map[string]bool{}
	d.onCase = func(c eval.Case) { b.Cases = append(b.Cases, c) }
	d.onResult = func(r eval.Result) { b.Results = append(b.Results, r) }
	defer d.lat.close()
	if err := d.read(r); err != nil {
		return nil, err
	}
	if d.lat.err != nil {
		return nil, fmt.Errorf("read %s: keep its latencies: %w", name, d.lat.err)
	}
	b.Header = d.h
	if b.Header.Version >= 2 {
		i := 0
		for v := range d.lat.values() {
			if i == len(b.Results) {
				break
			}
			b.Results[i].Latency = time.Duration(v)
			i++
		}
	}
	return &b, nil
}

// read reads a baseline file from r and checks it (Decode).
func (d *decoder) read(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	sum := sha256.New()
	var (
		buf      []byte
		n        int   // line number
		firstErr error // the first problem with the content, a *ParseError
		sumLine  int   // the checksum line's number, 0 until seen
	)
	// A line is added to its block once it is decoded, when the next is
	// read: what it holds is then in the block's entries.
	var done []byte
	for {
		if done != nil {
			if err := d.lineRead(done); err != nil {
				return err
			}
			done = nil
		}
		if n > 0 && sumLine == 0 {
			if p, _ := br.Peek(len(latencyPrefix)); bytes.Equal(p, latencyPrefix) {
				n++
				content, err := d.latencyLine(br, sum, n, firstErr == nil && !d.verified)
				if err != nil {
					return err
				}
				if content != nil && firstErr == nil {
					firstErr = d.errorf(n, "%w", content)
				}
				if err := d.lineRead(nil); err != nil {
					return err
				}
				continue
			}
		}
		line, err := readLine(br, &buf)
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", d.name, err)
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		n++
		d.line = n
		if sumLine > 0 {
			return d.checksumError(n, nil, fmt.Sprintf("content after the checksum line %d: the file was edited after export", sumLine))
		}
		if line[len(line)-1] != '\n' {
			return d.checksumError(n, nil, "the file is truncated: its last line is cut short and the checksum line is missing")
		}
		done = line
		body := line[:len(line)-1]
		switch {
		case n == 1 && bytes.HasPrefix(body, []byte("\ufeff")):
			return d.errorf(n, "%w", errBOM)
		case n == 1 && bytes.HasSuffix(body, []byte("\r")):
			return d.errorf(n, "%w", errCRLF)
		}
		if n == 1 {
			sum.Write(line)
			if err := d.header(body); err != nil {
				if errors.Is(err, ErrVersion) || errors.Is(err, ErrNotBaseline) {
					return d.errorf(n, "%w", err)
				}
				firstErr = d.errorf(n, "%w", err)
			}
			continue
		}
		if d.skipped(body) {
			sum.Write(line)
			continue
		}
		var e entry
		if d.verified {
			// Checked strictly before: what is wanted of it, quickly.
			if d.caseHead(body) {
				sum.Write(line)
				continue
			}
			err = json.Unmarshal(body, &e)
		} else {
			err = decodeStrict(body, &e)
		}
		if err != nil {
			sum.Write(line)
			if firstErr == nil {
				firstErr = d.errorf(n, "%w", err)
			}
			continue
		}
		if e.SHA256 != nil && e.Case == nil && e.Result == nil {
			sumLine = n
			got := hex.EncodeToString(sum.Sum(nil))
			if *e.SHA256 != got {
				return d.checksumError(n, firstErr, fmt.Sprintf("checksum mismatch: the file was edited or damaged after export (its content hashes to %s, the checksum line says %s)", got, *e.SHA256))
			}
			continue
		}
		sum.Write(line)
		if firstErr == nil {
			if err := d.entry(&e); err != nil {
				firstErr = d.errorf(n, "%w", err)
			}
		}
	}
	if done != nil {
		if err := d.lineRead(done); err != nil {
			return err
		}
	}
	if err := d.endBlock(); err != nil {
		return err
	}
	switch {
	case n == 0:
		return &ParseError{File: d.name, Err: fmt.Errorf("%w: the file is empty", ErrNotBaseline)}
	case sumLine == 0:
		return d.checksumError(n, firstErr, "no checksum line: the file is truncated or was not written by 'evalpin baseline export'")
	case firstErr != nil:
		return firstErr
	case d.verified:
		return nil
	}
	h := d.h
	if h.Version >= 2 && d.nResults > 0 && !d.latencies {
		return d.errorf(sumLine, "no latency line before the checksum: a version-2 file with results has one")
	}
	if h.Cases != d.nCases || h.Results != d.nResults || h.Errors != d.nErrors {
		return d.errorf(1, "the header counts %d cases, %d results and %d errors, the file holds %d, %d and %d",
			h.Cases, h.Results, h.Errors, d.nCases, d.nResults, d.nErrors)
	}
	return nil
}

// caseHead reads, of a case line as export starts one, only the id and hash
// when no case is wanted (a re-read of results), and reports whether it did.
func (d *decoder) caseHead(body []byte) bool {
	if d.onCase != nil || !bytes.HasPrefix(body, []byte(`{"case":`)) {
		return false
	}
	var head struct {
		Case string `json:"case"`
		Hash string `json:"hash"`
	}
	if json.Unmarshal(body, &head) != nil {
		return false
	}
	d.cur = eval.Case{ID: head.Case, Hash: head.Hash}
	d.nCases++
	return true
}

// skipped reports whether body is a line the decoder skips: a result line,
// as export starts one, with skipResults.
func (d *decoder) skipped(body []byte) bool {
	return d.skipResults && bytes.HasPrefix(body, []byte(`{"result":`))
}

// lineRead adds a line read whole (or, nil, read and summed by
// latencyLine) to the block sum, and ends a block every blockLines lines.
func (d *decoder) lineRead(line []byte) error {
	if d.blk == nil {
		return nil
	}
	d.blk.Write(line)
	if d.blkLines++; d.blkLines == blockLines {
		return d.endBlock()
	}
	return nil
}

// endBlock gives onBlock the sum of the block read so far, if it has a line.
func (d *decoder) endBlock() error {
	if d.blk == nil || d.blkLines == 0 {
		return nil
	}
	s := d.blk.Sum(nil)
	d.blk.Reset()
	d.blkLines = 0
	return d.onBlock(s)
}

func (d *decoder) errorf(line int, format string, args ...any) error {
	return &ParseError{File: d.name, Line: line, Err: fmt.Errorf(format, args...)}
}

// checksumError is an ErrChecksum error at line n with msg, naming first, the
// first problem found in the content, if any.
func (d *decoder) checksumError(n int, first error, msg string) error {
	if first != nil {
		var pe *ParseError
		if errors.As(first, &pe) {
			msg += fmt.Sprintf("; the first problem is on line %d: %v", pe.Line, pe.Err)
		}
	}
	return &ParseError{File: d.name, Line: n, Err: checksumErr(msg)}
}

// checksumErr is an error that matches ErrChecksum with its own text.
type checksumErr string

func (e checksumErr) Error() string        { return string(e) }
func (e checksumErr) Is(target error) bool { return target == ErrChecksum }

// header decodes and checks the first line.
func (d *decoder) header(body []byte) error {
	var probe struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(body, &probe); err != nil || probe.Format != Format {
		return fmt.Errorf("%w: the first line is not a header with \"format\":%q", ErrNotBaseline, Format)
	}
	if probe.Version != 1 && probe.Version != Version {
		return fmt.Errorf("%w %d: this evalpin reads versions 1 to %d (use the evalpin that exported the file, or export it again)", ErrVersion, probe.Version, Version)
	}
	h := &d.h
	if err := decodeStrict(body, h); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	switch {
	case h.Lock == "":
		return errors.New("header: no lock id")
	case h.SuiteHash == "":
		return errors.New("header: no suite_hash")
	case h.SettingsHash == "":
		return errors.New("header: no settings_hash")
	case !validStatus(h.Status):
		return fmt.Errorf("header: unknown status %q (want running, interrupted or complete)", h.Status)
	case h.Started.IsZero():
		return errors.New("header: no started time")
	}
	h.Started = h.Started.UTC()
	if !h.Finished.IsZero() {
		h.Finished = h.Finished.UTC()
	}
	return nil
}

// entry checks and keeps a case, result or latency line.
func (d *decoder) entry(e *entry) error {
	switch {
	case e.LatenciesNS != nil && e.Case == nil && e.Result == nil && e.SHA256 == nil:
		if d.verified {
			return nil
		}
		if err := d.latencyStart(); err != nil {
			return err
		}
		for _, ns := range *e.LatenciesNS {
			d.latency(ns)
		}
		return d.latencyEnd()
	case d.latencies:
		return errLineAfterLatencies
	case e.LatenciesNS != nil:
		return errors.New(`a line must have exactly one of "case", "result", "latencies_ns" and "sha256"`)
	case d.h.Version >= 2 && e.Result != nil && e.LatencyNS != nil:
		return fmt.Errorf("result of case %q has latency_ns: version 2 keeps latencies on the latency line", *e.Result)
	case e.Case != nil && e.Result == nil && e.SHA256 == nil:
		if !reflect.ValueOf(e.resultFields).IsZero() {
			return fmt.Errorf("case %q has fields of a result line", *e.Case)
		}
		return d.caseLine(*e.Case, &e.caseFields)
	case e.Result != nil && e.Case == nil && e.SHA256 == nil:
		if !reflect.ValueOf(e.caseFields).IsZero() {
			return fmt.Errorf("result of case %q has fields of a case line", *e.Result)
		}
		return d.resultLine(*e.Result, &e.resultFields)
	}
	return errors.New(`a line must have exactly one of "case", "result" and "sha256"`)
}

// errLineAfterLatencies is the error of a line between the latency line and
// the checksum.
var errLineAfterLatencies = errors.New("a line after the latency line: it comes last, before the checksum")

// seenCase reports whether a case line of id came before.
func (d *decoder) seenCase(id string) bool {
	if d.lookBack != nil {
		return d.lookBack(id, d.line-1)
	}
	return d.seen[id]
}

func (d *decoder) caseLine(id string, f *caseFields) error {
	if id == "" {
		return errors.New("case with an empty id")
	}
	if d.nCases > 0 && id <= d.cur.ID {
		// Cases come in id order, so only an id not above the last can
		// be one seen before.
		if id == d.cur.ID || d.seenCase(id) {
			return fmt.Errorf("duplicate case %q", id)
		}
		return fmt.Errorf("case %q out of order: cases are sorted by id, and %q came before it", id, d.cur.ID)
	}
	if d.seen != nil {
		d.seen[id] = true
	}
	d.cur = eval.Case{ID: id, Messages: f.Messages, Prompt: f.Prompt, Tags: f.Tags,
		Cluster: f.Cluster, Overrides: f.Overrides, Hash: f.Hash}
	d.nCases++
	if d.onCase != nil {
		d.onCase(d.cur)
	}
	return nil
}

func (d *decoder) resultLine(id string, f *resultFields) error {
	if d.nCases == 0 || d.cur.ID != id {
		if id < d.cur.ID && d.seenCase(id) {
			return fmt.Errorf("result of case %q out of order: a case's results follow its case line", id)
		}
		return fmt.Errorf("result of unknown case %q: no case line before it", id)
	}
	if f.Sample < 0 {
		return fmt.Errorf("result of case %q has a negative sample %d", id, f.Sample)
	}
	if d.nResults > 0 && d.prevID == id {
		switch prev := d.prevSample; {
		case prev == f.Sample:
			return fmt.Errorf("duplicate result: case %q sample %d", id, f.Sample)
		case prev > f.Sample:
			return fmt.Errorf("result of case %q sample %d out of order: samples are sorted, and %d came before it", id, f.Sample, prev)
		}
	}
	out := f.Output
	if f.OutputBase64 != nil {
		if out != "" {
			return fmt.Errorf("result of case %q sample %d has both output and output_base64", id, f.Sample)
		}
		out = string(f.OutputBase64)
	}
	d.prevID, d.prevSample = id, f.Sample
	d.nResults++
	if f.Error != "" {
		d.nErrors++
	}
	if d.onResult != nil {
		d.onResult(eval.Result{
			CaseID: id, CaseHash: d.cur.Hash, Sample: f.Sample, Output: out, FinishReason: f.FinishReason,
			PromptTokens: f.PromptTokens, CompletionTokens: f.CompletionTokens, Latency: time.Duration(derefOr(f.LatencyNS)),
			Lock: d.resultLock(f.Lock), ErrorKind: f.ErrorKind, Error: f.Error, Checks: f.Checks,
		})
	}
	return nil
}

// decodeStrict decodes the JSON object in body into v, refusing unknown
// fields and anything after the object.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty line")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not a baseline line: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("not a baseline line: more than one JSON value")
	}
	return nil
}

// readLine returns the next line of br including its '\n', which is missing
// only on a last line cut short. The line is valid until the next call; buf
// is reused for lines longer than br's buffer.
func readLine(br *bufio.Reader, buf *[]byte) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	*buf = append((*buf)[:0], line...)
	for {
		line, err = br.ReadSlice('\n')
		*buf = append(*buf, line...)
		if err != bufio.ErrBufferFull {
			return *buf, err
		}
	}
}

// derefOr returns *p, or 0 for nil.
func derefOr(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// resultLock returns the lock of a result line: its own, or, left out of a
// version-2 line, the header's.
func (d *decoder) resultLock(l *lockid.ID) lockid.ID {
	switch {
	case l != nil:
		return *l
	case d.h.Version >= 2:
		return d.h.Lock
	}
	return ""
}
