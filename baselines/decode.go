package baselines

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

// decoder holds the state of one Decode.
type decoder struct {
	name string
	b    Baseline
	// cur is the index in b.Cases of the case whose results may follow, or
	// -1 before the first case line.
	cur   int
	index map[string]bool // case ids seen
	// latencies is whether a version-2 file's latency line has been read.
	latencies bool
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
// Header.LockManifest.
func Decode(r io.Reader, name string) (*Baseline, error) {
	d := &decoder{name: name, cur: -1, index: map[string]bool{}}
	br := bufio.NewReaderSize(r, 64<<10)
	sum := sha256.New()
	var (
		buf      []byte
		n        int   // line number
		firstErr error // the first problem with the content, a *ParseError
		sumLine  int   // the checksum line's number, 0 until seen
		sumOK    bool
	)
	for {
		line, err := readLine(br, &buf)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		n++
		if sumLine > 0 {
			return nil, d.checksumError(n, nil, fmt.Sprintf("content after the checksum line %d: the file was edited after export", sumLine))
		}
		if line[len(line)-1] != '\n' {
			return nil, d.checksumError(n, nil, "the file is truncated: its last line is cut short and the checksum line is missing")
		}
		body := line[:len(line)-1]
		switch {
		case n == 1 && bytes.HasPrefix(body, []byte("\ufeff")):
			return nil, d.errorf(n, "%w", errBOM)
		case n == 1 && bytes.HasSuffix(body, []byte("\r")):
			return nil, d.errorf(n, "%w", errCRLF)
		}
		if n == 1 {
			sum.Write(line)
			if err := d.header(body); err != nil {
				if errors.Is(err, ErrVersion) || errors.Is(err, ErrNotBaseline) {
					return nil, d.errorf(n, "%w", err)
				}
				firstErr = d.errorf(n, "%w", err)
			}
			continue
		}
		var e entry
		if err := decodeStrict(body, &e); err != nil {
			sum.Write(line)
			if firstErr == nil {
				firstErr = d.errorf(n, "%w", err)
			}
			continue
		}
		if e.SHA256 != nil && e.Case == nil && e.Result == nil {
			sumLine = n
			got := hex.EncodeToString(sum.Sum(nil))
			sumOK = *e.SHA256 == got
			if !sumOK {
				return nil, d.checksumError(n, firstErr, fmt.Sprintf("checksum mismatch: the file was edited or damaged after export (its content hashes to %s, the checksum line says %s)", got, *e.SHA256))
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
	switch {
	case n == 0:
		return nil, &ParseError{File: name, Err: fmt.Errorf("%w: the file is empty", ErrNotBaseline)}
	case sumLine == 0:
		return nil, d.checksumError(n, firstErr, "no checksum line: the file is truncated or was not written by 'evalpin baseline export'")
	case firstErr != nil:
		return nil, firstErr
	}
	h := d.b.Header
	if h.Version >= 2 && len(d.b.Results) > 0 && !d.latencies {
		return nil, d.errorf(sumLine, "no latency line before the checksum: a version-2 file with results has one")
	}
	if h.Cases != len(d.b.Cases) || h.Results != len(d.b.Results) || h.Errors != errorCount(d.b.Results) {
		return nil, d.errorf(1, "the header counts %d cases, %d results and %d errors, the file holds %d, %d and %d",
			h.Cases, h.Results, h.Errors, len(d.b.Cases), len(d.b.Results), errorCount(d.b.Results))
	}
	return &d.b, nil
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
	h := &d.b.Header
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
	// The counts are not trusted yet: they size the slices only up to a
	// bound, so a forged header cannot make Decode allocate gigabytes.
	d.b.Cases = make([]eval.Case, 0, max(0, min(h.Cases, 1<<14)))
	d.b.Results = make([]eval.Result, 0, max(0, min(h.Results, 1<<16)))
	return nil
}

// entry checks and keeps a case, result or latency line.
func (d *decoder) entry(e *entry) error {
	v2 := d.b.Header.Version >= 2
	switch {
	case d.latencies:
		return errors.New("a line after the latency line: it comes last, before the checksum")
	case e.LatenciesNS != nil && e.Case == nil && e.Result == nil && e.SHA256 == nil:
		if !v2 {
			return errors.New("a latency line in a version-1 file, whose result lines carry their latency")
		}
		if len(*e.LatenciesNS) != len(d.b.Results) {
			return fmt.Errorf("the latency line holds %d latencies for %d results", len(*e.LatenciesNS), len(d.b.Results))
		}
		for i, ns := range *e.LatenciesNS {
			if ns < 0 {
				return fmt.Errorf("the latency line holds a negative latency for result %d", i+1)
			}
			d.b.Results[i].Latency = time.Duration(ns)
		}
		d.latencies = true
		return nil
	case e.LatenciesNS != nil:
		return errors.New(`a line must have exactly one of "case", "result", "latencies_ns" and "sha256"`)
	case v2 && e.Result != nil && e.LatencyNS != nil:
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

func (d *decoder) caseLine(id string, f *caseFields) error {
	if id == "" {
		return errors.New("case with an empty id")
	}
	if d.index[id] {
		return fmt.Errorf("duplicate case %q", id)
	}
	if d.cur >= 0 && d.b.Cases[d.cur].ID > id {
		return fmt.Errorf("case %q out of order: cases are sorted by id, and %q came before it", id, d.b.Cases[d.cur].ID)
	}
	d.index[id] = true
	d.b.Cases = append(d.b.Cases, eval.Case{ID: id, Messages: f.Messages, Prompt: f.Prompt, Tags: f.Tags,
		Cluster: f.Cluster, Overrides: f.Overrides, Hash: f.Hash})
	d.cur = len(d.b.Cases) - 1
	return nil
}

func (d *decoder) resultLine(id string, f *resultFields) error {
	if d.cur < 0 || d.b.Cases[d.cur].ID != id {
		if d.index[id] {
			return fmt.Errorf("result of case %q out of order: a case's results follow its case line", id)
		}
		return fmt.Errorf("result of unknown case %q: no case line before it", id)
	}
	if f.Sample < 0 {
		return fmt.Errorf("result of case %q has a negative sample %d", id, f.Sample)
	}
	if n := len(d.b.Results); n > 0 && d.b.Results[n-1].CaseID == id {
		switch prev := d.b.Results[n-1].Sample; {
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
	d.b.Results = append(d.b.Results, eval.Result{
		CaseID: id, CaseHash: d.b.Cases[d.cur].Hash, Sample: f.Sample, Output: out, FinishReason: f.FinishReason,
		PromptTokens: f.PromptTokens, CompletionTokens: f.CompletionTokens, Latency: time.Duration(derefOr(f.LatencyNS)),
		Lock: d.resultLock(f.Lock), ErrorKind: f.ErrorKind, Error: f.Error, Checks: f.Checks,
	})
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
	case d.b.Header.Version >= 2:
		return d.b.Header.Lock
	}
	return ""
}
