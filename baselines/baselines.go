// Package baselines reads and writes portable baseline files: one complete
// run of a suite against a lock (the lock id and manifest, the suite's cases,
// the settings and every stored result) as a versioned, line-oriented file
// that is kept in git next to the suites, so a CI job that starts with an
// empty database can still gate a candidate against it.
//
// The format is JSON lines, written in one canonical order so that exporting
// the same run twice gives byte-identical files and a new baseline diffs line
// by line against the old one:
//
//	{"format":"evalpin-baseline","version":2,"lock":…}   the header
//	{"case":"q01","hash":…,"tags":…}                      a case,
//	{"result":"q01","sample":0,"output":…}                then its results by sample
//	{"case":"q02",…}                                      cases by id
//	…
//	{"latencies_ns":[…]}                                  every result's latency, in file order
//	{"sha256":"…"}                                        SHA-256 of every byte before it
//
// A file whose checksum does not match (a hand edit) or that lacks the final
// line (a truncated copy) is refused. docs/baselines.md describes every field.
//
// The package does no I/O beyond the io.Reader and io.Writer it is given;
// storing a decoded baseline, and checking that its lock id matches its
// manifest, is the caller's.
package baselines

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
)

// Format is the name in a baseline file's header, and Version the version of
// the format this package writes. It reads version 1 too, whose result lines
// carry their latency (version 2 keeps the latencies on one line of their
// own, so that the diff of a re-accepted baseline is its changed outputs).
const (
	Format  = "evalpin-baseline"
	Version = 2
)

// Errors Decode returns inside a *ParseError; test for them with errors.Is.
var (
	// ErrChecksum means the file's content does not match its final SHA-256
	// line, or that line is missing: the file was edited or truncated.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrVersion means the file is a baseline of a format version this
	// package does not read.
	ErrVersion = errors.New("unknown baseline version")
	// ErrNotBaseline means the file's first line is not a baseline header:
	// the file is something else.
	ErrNotBaseline = errors.New("not an evalpin baseline file")
)

// errBOM is the error of a file an editor gave a byte order mark, which
// export never writes.
var errBOM = errors.New("the file starts with a byte order mark (U+FEFF), which export never writes: an editor added it after export")

// errCRLF is the error of a file whose line endings were converted to CRLF
// after export, which its checksum would refuse on the last line: it names
// the first line and the cause.
var errCRLF = errors.New(`the line ends in CRLF ("\r\n"): the file's line endings were converted after export (git's core.autocrlf or an editor); a baseline file is read byte for byte, so mark baseline files "-text" in .gitattributes`)

// A Header is a baseline file's first line: which run the file holds and how
// many cases and results follow.
type Header struct {
	Format     string    `json:"format"`                // always Format
	Version    int       `json:"version"`               // Version when written; 1 or 2 when read
	Lock       lockid.ID `json:"lock"`                  // the run's lock
	LockSource string    `json:"lock_source,omitempty"` // how the lock was obtained
	// LockQuantization is what the engine reported of the lock's weights
	// encoding (e.g. Q4_K_M), when known; not part of the lock's identity.
	LockQuantization string          `json:"lock_quantization,omitempty"`
	LockManifest     json.RawMessage `json:"lock_manifest,omitempty"` // the lock's identity document (manifest or Ollama identity), when known
	Suite            string          `json:"suite"`                   // the suite's name
	SuiteVersion     string          `json:"suite_version"`
	SuiteHash        string          `json:"suite_hash"`
	Settings         eval.Settings   `json:"settings"` // the settings the run was made at
	SettingsHash     string          `json:"settings_hash"`
	// Selection is the part of the suite the run replayed
	// (eval.Selection's String); "" for the whole suite.
	Selection string `json:"selection,omitempty"`
	// Model is the name the lock was served under, and Labels the run's
	// labels, where known.
	Model  string            `json:"model,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// EvalpinVersion is the version of evalpin that made the run (not the one
	// that exported it, so a re-export is byte-identical).
	EvalpinVersion string         `json:"evalpin_version"`
	Status         eval.RunStatus `json:"status"`
	Started        time.Time      `json:"started"`
	Finished       time.Time      `json:"finished,omitzero"`
	Cases          int            `json:"cases"`   // case lines that follow
	Results        int            `json:"results"` // result lines that follow
	Errors         int            `json:"errors"`  // results whose request failed
}

// A Baseline is the content of a baseline file: a run with its cases and
// results.
type Baseline struct {
	Header Header
	// Cases are the suite's stored cases, without their Scorers (the checks
	// of each result name the scorers that judged it).
	Cases []eval.Case
	// Results are the run's stored results. Their Endpoint is not kept: it
	// names a host of the machine that made the run, not the deliverable.
	Results []eval.Result
}

// New returns the baseline of run with the given cases and results, sorted
// into the file's order, with the header's counts filled in. A result whose
// case is not among cases gets a case of its own with only its id and hash,
// enough to pair it. The caller sets Header.LockManifest and LockSource when
// the lock is known.
func New(run eval.Run, cases []eval.Case, results []eval.Result) *Baseline {
	b := &Baseline{
		Header: Header{
			Format: Format, Version: Version,
			Lock: run.Lock, Suite: run.Suite, SuiteVersion: run.SuiteVersion, SuiteHash: run.SuiteHash,
			Settings: run.Settings, SettingsHash: run.SettingsHash, EvalpinVersion: run.Version,
			Status: run.Status, Started: run.Started.UTC(), Finished: run.Finished.UTC(), Selection: run.Selection,
			Model: run.Model, Labels: run.Labels,
		},
		Cases:   slices.Clone(cases),
		Results: slices.Clone(results),
	}
	if b.Header.SettingsHash == "" {
		b.Header.SettingsHash = run.Settings.Hash()
	}
	known := make(map[string]bool, len(b.Cases))
	for i := range b.Cases {
		b.Cases[i].Scorers = nil
		known[b.Cases[i].ID] = true
	}
	for _, r := range b.Results {
		if !known[r.CaseID] {
			known[r.CaseID] = true
			b.Cases = append(b.Cases, eval.Case{ID: r.CaseID, Hash: r.CaseHash})
		}
	}
	b.sort()
	b.Header.Cases, b.Header.Results, b.Header.Errors = len(b.Cases), len(b.Results), errorCount(b.Results)
	return b
}

// sort puts the cases in id order and the results in (case id, sample) order.
func (b *Baseline) sort() {
	slices.SortFunc(b.Cases, func(x, y eval.Case) int { return strings.Compare(x.ID, y.ID) })
	slices.SortFunc(b.Results, compareResults)
}

func compareResults(x, y eval.Result) int {
	if c := strings.Compare(x.CaseID, y.CaseID); c != 0 {
		return c
	}
	return x.Sample - y.Sample
}

// errorCount returns how many of results are failed requests.
func errorCount(results []eval.Result) int {
	n := 0
	for _, r := range results {
		if r.Error != "" {
			n++
		}
	}
	return n
}

// Run returns the run the baseline holds, without an ID or endpoints, as a
// store would create it.
func (b *Baseline) Run() eval.Run {
	h := b.Header
	return eval.Run{
		Lock: h.Lock, Suite: h.Suite, SuiteVersion: h.SuiteVersion, SuiteHash: h.SuiteHash,
		Settings: h.Settings, SettingsHash: h.SettingsHash, Version: h.EvalpinVersion,
		Status: h.Status, Started: h.Started, Finished: h.Finished, Selection: h.Selection,
		Model: h.Model, Labels: h.Labels,
	}
}

// Suite returns the baseline's suite: its name, version, hash and cases. The
// file does not record the suite's own default settings, so Settings are the
// run's.
func (b *Baseline) Suite() eval.Suite {
	h := b.Header
	return eval.Suite{Name: h.Suite, Version: h.SuiteVersion, Settings: h.Settings, Cases: b.Cases, Hash: h.SuiteHash}
}

// check reports the first inconsistency of b that Encode would write into a
// file Decode refuses: results out of order or duplicated, results of cases
// it lacks, or a result whose case hash is not its case's.
func (b *Baseline) check() error {
	h := b.Header
	if h.Lock == "" {
		return errors.New("no lock id")
	}
	if h.SuiteHash == "" {
		return errors.New("no suite hash")
	}
	if !validStatus(h.Status) {
		return fmt.Errorf("unknown run status %q", h.Status)
	}
	hashes := make(map[string]string, len(b.Cases))
	for i, c := range b.Cases {
		if c.ID == "" {
			return errors.New("a case has an empty id")
		}
		if i > 0 && b.Cases[i-1].ID >= c.ID {
			if b.Cases[i-1].ID == c.ID {
				return fmt.Errorf("duplicate case %q", c.ID)
			}
			return fmt.Errorf("cases out of order at %q", c.ID)
		}
		hashes[c.ID] = c.Hash
	}
	for i, r := range b.Results {
		hash, ok := hashes[r.CaseID]
		if !ok {
			return fmt.Errorf("result of unknown case %q", r.CaseID)
		}
		if r.CaseHash != hash {
			return fmt.Errorf("result %q sample %d has case hash %q, its case %q", r.CaseID, r.Sample, r.CaseHash, hash)
		}
		if r.Sample < 0 {
			return fmt.Errorf("result %q has negative sample %d", r.CaseID, r.Sample)
		}
		if i > 0 {
			switch c := compareResults(b.Results[i-1], r); {
			case c == 0:
				return fmt.Errorf("duplicate result %q sample %d", r.CaseID, r.Sample)
			case c > 0:
				return fmt.Errorf("results out of order at %q sample %d", r.CaseID, r.Sample)
			}
		}
	}
	return nil
}

func validStatus(s eval.RunStatus) bool {
	switch s {
	case eval.RunRunning, eval.RunInterrupted, eval.RunComplete:
		return true
	}
	return false
}
