package baselines

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/secret"
)

// caseLine is a case as one line of a baseline file.
type caseLine struct {
	Case string `json:"case"`
	caseFields
}

// caseFields are a case line's fields after its id.
type caseFields struct {
	Hash      string         `json:"hash"`
	Tags      []string       `json:"tags,omitempty"`
	Cluster   string         `json:"cluster,omitempty"`
	Messages  []eval.Message `json:"messages,omitempty"`
	Prompt    string         `json:"prompt,omitempty"`
	Overrides eval.Overrides `json:"overrides,omitzero"`
}

// resultLine is a result as one line of a baseline file.
type resultLine struct {
	Result string `json:"result"` // the case id
	resultFields
}

// resultFields are a result line's fields after its case id. An output that
// is not valid UTF-8, which a JSON string cannot hold exactly, is written as
// OutputBase64 instead of Output.
type resultFields struct {
	Sample           int          `json:"sample"`
	Output           string       `json:"output,omitempty"`
	OutputBase64     []byte       `json:"output_base64,omitempty"`
	FinishReason     string       `json:"finish_reason,omitempty"`
	PromptTokens     int          `json:"prompt_tokens"`
	CompletionTokens int          `json:"completion_tokens"`
	LatencyNS        *int64       `json:"latency_ns,omitempty"` // version 1 only: version 2 keeps latencies on one line (latencyLine)
	Lock             *lockid.ID   `json:"lock,omitempty"`       // the lock the response carried; version 2 leaves out the header's
	ErrorKind        string       `json:"error_kind,omitempty"`
	Error            string       `json:"error,omitempty"`
	Checks           []eval.Check `json:"checks,omitempty"`
}

// latencyLine holds, in version 2, the latency of every result in file
// order, on one line before the checksum: the one figure that changes each
// time the same outputs are measured again, kept out of the result lines so
// that a re-accepted baseline's diff shows the outputs that changed.
type latencyLine struct {
	LatenciesNS []int64 `json:"latencies_ns"`
}

// sumLine is a baseline file's last line.
type sumLine struct {
	SHA256 string `json:"sha256"`
}

func newCaseLine(c eval.Case) caseLine {
	return caseLine{Case: c.ID, caseFields: caseFields{Hash: c.Hash, Tags: c.Tags, Cluster: c.Cluster,
		Messages: c.Messages, Prompt: c.Prompt, Overrides: c.Overrides}}
}

func newResultLine(r eval.Result, lock lockid.ID) resultLine {
	// An output that is not UTF-8 is written as base64, where line's
	// redaction would not see a secret in it.
	r.Output = secret.Redact(r.Output)
	l := resultLine{Result: r.CaseID, resultFields: resultFields{Sample: r.Sample, Output: r.Output,
		FinishReason: r.FinishReason, PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		ErrorKind: r.ErrorKind, Error: r.Error, Checks: r.Checks}}
	if r.Lock != lock {
		l.Lock = &r.Lock
	}
	if !utf8.ValidString(r.Output) {
		l.Output, l.OutputBase64 = "", []byte(r.Output)
	}
	return l
}

// lineEncoder writes JSON values one per line to w and to a running SHA-256.
type lineEncoder struct {
	w   io.Writer
	sum hash.Hash
	buf bytes.Buffer
	enc *json.Encoder
}

func newLineEncoder(w io.Writer) *lineEncoder {
	e := &lineEncoder{w: w, sum: sha256.New()}
	e.enc = json.NewEncoder(&e.buf)
	// Outputs are full of <, > and &; escaping them would only make the
	// file harder to read in a diff.
	e.enc.SetEscapeHTML(false)
	return e
}

// line writes v as one line, with the process's secrets redacted.
func (e *lineEncoder) line(v any) error {
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil { // Encode ends the line with '\n'
		return err
	}
	line := e.buf.Bytes()
	// A baseline file is meant for git: a secret a server echoed (in an
	// output, an error, a lock document) must not reach it. The line is
	// redacted as a whole, so that no field is forgotten, before it is
	// summed, so that the checksum holds. Replacing a secret inside a JSON
	// string keeps the line valid JSON unless the secret spans JSON syntax.
	if red := secret.RedactBytes(line); !bytes.Equal(red, line) {
		if !json.Valid(red) {
			return errors.New("a secret in it cannot be redacted")
		}
		line = red
	}
	e.sum.Write(line)
	_, err := e.w.Write(line)
	return err
}

// Encode writes b to w as a baseline file: the header, each case followed by
// its results, and the checksum line. Cases and results are written in id and
// sample order whatever their order in b. Encode refuses a baseline that
// Decode would refuse: duplicate cases or results, results of a case b lacks,
// a result whose case hash differs from its case's.
//
// Strings are written as JSON strings, which keep every character exactly
// (newlines, NUL and escape sequences become \n, \u0000, \u001b); a string
// that is not valid UTF-8 has each invalid byte replaced by U+FFFD, except an
// output, which is then written base64-encoded as output_base64 and so kept
// byte for byte.
//
// The process's secrets (internal/secret) are redacted from every line, as
// from everything evalpin writes; so are they from Digest's lines.
func Encode(w io.Writer, b *Baseline) error {
	b = sorted(b)
	if err := b.check(); err != nil { // before a line is written
		return fmt.Errorf("encode baseline: %w", err)
	}
	h := b.Header
	h.Cases, h.Results, h.Errors = len(b.Cases), len(b.Results), errorCount(b.Results)
	return EncodeStream(w, h, eval.SliceSeq(b.Cases), eval.SliceSeq(b.Results), false)
}

// EncodeStream writes a baseline file to w as Encode does, from h and the
// baseline's cases and results as streams, holding one of each at a time
// (and each result's latency, for the latencies line): the file Encode writes
// of the Baseline with header h, those cases and results. cases must be in id
// order and results in case id and sample order; h's Cases, Results and
// Errors must count what they yield. With addCases, a result of a case that
// cases lacks gets a case line of its id and case hash, as New adds one;
// without, it is an error.
//
// EncodeStream refuses what Encode refuses, in the same words, and streams
// out of order or that do not match h's counts; as it writes while it reads,
// w then holds the lines written before the error.
func EncodeStream(w io.Writer, h Header, cases iter.Seq2[eval.Case, error], results iter.Seq2[eval.Result, error], addCases bool) error {
	if err := (&Baseline{Header: h}).check(); err != nil {
		return fmt.Errorf("encode baseline: %w", err)
	}
	h.Format, h.Version = Format, Version
	h.Started, h.Finished = h.Started.UTC(), h.Finished.UTC() // the zero time stays zero
	bw := bufio.NewWriterSize(w, 64<<10)
	e := newLineEncoder(bw)
	if err := e.line(h); err != nil {
		return fmt.Errorf("encode baseline: header: %w", err)
	}
	ew := &entryWriter{e: e, lock: h.Lock, cases: true, lat: make([]byte, 0, 4*max(h.Results, 0))}
	if err := ew.merge(cases, results, addCases); err != nil {
		return err
	}
	if ew.nCases != h.Cases || ew.nResults != h.Results || ew.nErrors != h.Errors {
		return fmt.Errorf("encode baseline: the header counts %d cases, %d results, %d errors; the streams held %d, %d, %d",
			h.Cases, h.Results, h.Errors, ew.nCases, ew.nResults, ew.nErrors)
	}
	if err := ew.finish(); err != nil {
		return err
	}
	e.buf.Reset()
	if err := e.enc.Encode(sumLine{SHA256: hex.EncodeToString(e.sum.Sum(nil))}); err != nil {
		return fmt.Errorf("encode baseline: %w", err)
	}
	if _, err := bw.Write(e.buf.Bytes()); err != nil {
		return fmt.Errorf("encode baseline: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode baseline: %w", err)
	}
	return nil
}

// An entryWriter writes case and result lines in file order, checking as it
// goes what check checks of a whole baseline, and keeps the results'
// latencies for the latencies line.
type entryWriter struct {
	e     *lineEncoder
	lock  lockid.ID
	cases bool // write case lines (Digest leaves them out)

	cur      eval.Case // the last case written; its ID is "" before the first
	prev     eval.Result
	nCases   int
	nErrors  int
	nResults int
	// lat holds the results' latencies as varints (binary.AppendVarint): a
	// few bytes each, not eight, for a million results.
	lat []byte
}

// merge writes cases and results in file order: each case, then the results
// of its id.
func (w *entryWriter) merge(cases iter.Seq2[eval.Case, error], results iter.Seq2[eval.Result, error], addCases bool) error {
	nextC, stopC := iter.Pull2(cases)
	defer stopC()
	nextR, stopR := iter.Pull2(results)
	defer stopR()
	c, err, cok := nextC()
	if err != nil {
		return err
	}
	r, err, rok := nextR()
	if err != nil {
		return err
	}
	for cok || rok {
		switch {
		case rok && w.nCases > 0 && r.CaseID == w.cur.ID:
			if err := w.result(r); err != nil {
				return err
			}
			if r, err, rok = nextR(); err != nil {
				return err
			}
		case cok && (!rok || c.ID <= r.CaseID):
			if err := w.caseLine(c); err != nil {
				return err
			}
			if c, err, cok = nextC(); err != nil {
				return err
			}
		case addCases && (w.nCases == 0 || r.CaseID > w.cur.ID):
			if err := w.caseLine(eval.Case{ID: r.CaseID, Hash: r.CaseHash}); err != nil {
				return err
			}
		case w.nCases > 0 && r.CaseID < w.cur.ID:
			return fmt.Errorf("encode baseline: results out of order at %q sample %d", r.CaseID, r.Sample)
		default:
			return fmt.Errorf("encode baseline: result of unknown case %q", r.CaseID)
		}
	}
	return nil
}

// caseLine writes c, the next case in id order.
func (w *entryWriter) caseLine(c eval.Case) error {
	if c.ID == "" {
		return errors.New("encode baseline: a case has an empty id")
	}
	if w.nCases > 0 && w.cur.ID >= c.ID {
		if w.cur.ID == c.ID {
			return fmt.Errorf("encode baseline: duplicate case %q", c.ID)
		}
		return fmt.Errorf("encode baseline: cases out of order at %q", c.ID)
	}
	c.Scorers = nil
	w.cur = c
	w.nCases++
	if !w.cases {
		return nil
	}
	if err := w.e.line(newCaseLine(c)); err != nil {
		return fmt.Errorf("encode baseline: case %q: %w", c.ID, err)
	}
	return nil
}

// result writes r, the next result of the current case.
func (w *entryWriter) result(r eval.Result) error {
	if r.CaseHash != w.cur.Hash {
		return fmt.Errorf("encode baseline: result %q sample %d has case hash %q, its case %q", r.CaseID, r.Sample, r.CaseHash, w.cur.Hash)
	}
	if r.Sample < 0 {
		return fmt.Errorf("encode baseline: result %q has negative sample %d", r.CaseID, r.Sample)
	}
	if w.nResults > 0 {
		switch c := compareResults(w.prev, r); {
		case c == 0:
			return fmt.Errorf("encode baseline: duplicate result %q sample %d", r.CaseID, r.Sample)
		case c > 0:
			return fmt.Errorf("encode baseline: results out of order at %q sample %d", r.CaseID, r.Sample)
		}
	}
	w.prev = eval.Result{CaseID: r.CaseID, Sample: r.Sample}
	w.lat = binary.AppendVarint(w.lat, int64(r.Latency))
	w.nResults++
	if r.Error != "" {
		w.nErrors++
	}
	if err := w.e.line(newResultLine(r, w.lock)); err != nil {
		return fmt.Errorf("encode baseline: result %q sample %d: %w", r.CaseID, r.Sample, err)
	}
	return nil
}

// finish writes the latencies line, if there were results.
func (w *entryWriter) finish() error {
	if w.nResults == 0 {
		return nil
	}
	// The line holds a number a result: written in pieces, it takes no
	// memory beyond w.lat (a run of a million results would otherwise hold
	// the line several times over while encoding/json builds it). It is the
	// line e.line writes when redaction leaves it as it is, which is checked
	// first by streaming it through a secret.Writer; else e.line writes it.
	orig, red := sha256.New(), sha256.New()
	sw := secret.NewWriter(red)
	err := latencyChunks(w.lat, func(p []byte) error {
		orig.Write(p)
		_, err := sw.Write(p)
		return err
	})
	if err == nil {
		err = sw.Flush()
	}
	if err == nil && bytes.Equal(orig.Sum(nil), red.Sum(nil)) {
		err = latencyChunks(w.lat, func(p []byte) error {
			w.e.sum.Write(p)
			_, err := w.e.w.Write(p)
			return err
		})
	} else if err == nil {
		l := latencyLine{LatenciesNS: make([]int64, 0, w.nResults)}
		for p := w.lat; len(p) > 0; {
			v, n := binary.Varint(p)
			l.LatenciesNS, p = append(l.LatenciesNS, v), p[n:]
		}
		err = w.e.line(l)
	}
	if err != nil {
		return fmt.Errorf("encode baseline: latencies: %w", err)
	}
	return nil
}

// latencyChunks calls emit with the JSON line of the latencyLine of lat,
// varints (entryWriter.lat), as encoding/json writes it, in pieces of about
// 64 KiB.
func latencyChunks(lat []byte, emit func([]byte) error) error {
	const size = 64 << 10
	buf := make([]byte, 0, size+32)
	buf = append(buf, `{"latencies_ns":[`...)
	for i := 0; len(lat) > 0; i++ {
		v, n := binary.Varint(lat)
		if n <= 0 {
			return errors.New("bad latency varint")
		}
		lat = lat[n:]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, v, 10)
		if len(buf) >= size {
			if err := emit(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return emit(append(buf, "]}\n"...))
}

// sorted returns b, or a copy of b in file order if b is not.
func sorted(b *Baseline) *Baseline {
	byID := func(x, y eval.Case) int { return strings.Compare(x.ID, y.ID) }
	if slices.IsSortedFunc(b.Cases, byID) && slices.IsSortedFunc(b.Results, compareResults) {
		return b
	}
	c := &Baseline{Header: b.Header, Cases: slices.Clone(b.Cases), Results: slices.Clone(b.Results)}
	c.sort()
	return c
}

// Digest returns the hex SHA-256 of b's result lines as Encode writes them:
// two runs with the same digest stored the same outputs, token counts,
// latencies, locks, errors and checks for the same cases and samples. An
// importer compares digests to recognise a baseline it has already stored.
func (b *Baseline) Digest() (string, error) {
	b = sorted(b)
	if err := b.check(); err != nil {
		return "", fmt.Errorf("baseline digest: %w", err)
	}
	return DigestResults(b.Header.Lock, eval.SliceSeq(b.Results))
}

// DigestResults returns the Digest of a baseline of lock whose results, in
// file order (case id, then sample), are results, reading them one at a
// time: of a File's Results, or of a stored run's.
func DigestResults(lock lockid.ID, results iter.Seq2[eval.Result, error]) (string, error) {
	e := newLineEncoder(io.Discard)
	w := &entryWriter{e: e, lock: lock}
	if err := w.merge(eval.SliceSeq[eval.Case](nil), results, true); err != nil {
		return "", err
	}
	if err := w.finish(); err != nil {
		return "", err
	}
	return hex.EncodeToString(e.sum.Sum(nil)), nil
}
