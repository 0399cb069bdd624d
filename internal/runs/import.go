package runs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/store"
)

// A baseline file of a million cases is imported without being held:
// CheckBaselineArg checks it whole (baselines.Check), and ImportStream reads
// it again a case or a result at a time to store it, each block of lines
// checked to be the one Check read.

// CheckBaselineArg checks the baseline file at path ("-" is standard input,
// first copied to a temporary file, which cleanup removes) with
// baselines.Check, and verifies the lock's identity document its header
// carries, as ReadBaseline does. A file it cannot open is an error matching
// ErrOpen. cleanup, never nil, closes f too (baselines.File.Close).
func CheckBaselineArg(path string) (f *baselines.File, cleanup func(), err error) {
	cleanup, name := func() {}, path
	if path == "-" {
		if path, err = spool(os.Stdin); err != nil {
			return nil, cleanup, fmt.Errorf("read standard input: %w", err)
		}
		cleanup, name = func() { os.Remove(path) }, "standard input"
	}
	if f, err = checkBaselineFile(path, name); err != nil {
		return nil, cleanup, err
	}
	removeSpool := cleanup
	return f, func() { f.Close(); removeSpool() }, nil
}

// checkBaselineFile checks the baseline file at path, named name in errors,
// as CheckBaselineArg does; the caller closes the File.
func checkBaselineFile(path, name string) (*baselines.File, error) {
	f, err := baselines.Check(name, func() (io.ReadCloser, error) { return openBaseline(path) })
	if err != nil {
		return nil, err
	}
	if err := checkDocument(name, f.Header); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// spool copies r to a new temporary file and returns its path.
func spool(r io.Reader) (string, error) {
	tmp, err := os.CreateTemp("", "evalpin-baseline-*.jsonl")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// A Stream is a baseline read a case or a result at a time, so that its
// memory does not grow with the run: a checked file (FileStream) or the
// shards of one run merged (MergeShards). Each range over Cases or Results
// reads the files again; its error, the last value, matches
// baselines.ErrChanged when a file changed since it was checked.
type Stream struct {
	Name    string // what was read, for messages: a file, or the shards and their files
	Header  baselines.Header
	Cases   iter.Seq2[eval.Case, error]
	Results iter.Seq2[eval.Result, error]
}

// FileStream returns the Stream of a checked baseline file.
func FileStream(f *baselines.File) *Stream {
	return &Stream{Name: f.Name(), Header: f.Header, Cases: f.Cases(), Results: f.Results()}
}

// ImportStream stores the baseline of s: its lock (with its identity
// document and source, "baseline" when the file names none), its suite and
// cases, and its run with every result, and returns the new run's id. The
// run keeps the file's start and finish times and its status
// (store.ImportRun), which it is given only once every result is stored, so
// an import that stops half-way (a file changed since it was checked, whose
// changed part is never stored; a crash) leaves a run that no gate takes
// for complete. ImportStream stores s even when db holds it already:
// FindImported says whether it does.
func ImportStream(ctx context.Context, db *store.DB, s *Stream) (int64, error) {
	h := s.Header
	if err := putLock(ctx, db, h); err != nil {
		return 0, err
	}
	src := &fileSource{cases: s.Cases, n: h.Cases}
	stored, err := db.StoredCases(ctx, h.SuiteHash)
	if err != nil {
		return 0, err
	}
	suite := eval.Suite{Name: h.Suite, Version: h.SuiteVersion, Settings: h.Settings, Hash: h.SuiteHash, Source: src}
	if err := db.PutSuite(ctx, suite); err != nil {
		return 0, err
	}
	r := (&baselines.Baseline{Header: h}).Run()
	if err := db.ImportRun(ctx, &r, s.Results); err != nil {
		return 0, err
	}
	// The labels the run was made with: those of the cases just stored, or,
	// of a suite stored before, compared with its (PutRunLabelsFrom).
	if stored == 0 {
		err = db.PutRunSuiteLabels(ctx, r.ID, h.SuiteHash)
	} else {
		err = db.PutRunLabelsFrom(ctx, r.ID, h.SuiteHash, src, nil)
	}
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}

// putLock stores the lock of a baseline file's header, with its identity
// document, its source ("baseline" when the file names none) and its
// quantization.
func putLock(ctx context.Context, db *store.DB, h baselines.Header) error {
	source := h.LockSource
	if source == "" {
		source = "baseline"
	}
	var manifest []byte
	if len(h.LockManifest) > 0 {
		manifest = bytes.Clone(h.LockManifest)
	}
	if err := db.PutLock(ctx, h.Lock, manifest, source); err != nil {
		return err
	}
	return db.SetLockQuantization(ctx, h.Lock, h.LockQuantization)
}

// FindImported returns the id of a stored run that holds the same baseline as
// s: the same lock, suite, settings and status, and results with the same
// digest (baselines.DigestResults), which is taken, reading s again, only
// when a stored run's counts match.
func FindImported(ctx context.Context, db *store.DB, s *Stream) (int64, bool, error) {
	return findImported(ctx, db, s.Header, func() (string, error) {
		return baselines.DigestResults(s.Header.Lock, s.Results)
	})
}

// A fileSource is the cases of a Stream as an eval.Source, read again at
// each Walk.
type fileSource struct {
	cases iter.Seq2[eval.Case, error]
	n     int
	once  sync.Once
	keys  map[string]int
	err   error
}

// Len returns the count of cases.
func (s *fileSource) Len() int { return s.n }

// Key returns a case's position in the file. The first call reads every
// case id into memory; storing a file (ImportFile) never calls it.
func (s *fileSource) Key(id string) (int, bool) {
	s.once.Do(func() {
		s.keys = make(map[string]int)
		s.err = s.Walk(func(k int, c *eval.Case) bool {
			s.keys[c.ID] = k
			return true
		})
	})
	k, ok := s.keys[id]
	return k, ok && s.err == nil
}

// Walk yields the file's cases in file order, numbered from 0.
func (s *fileSource) Walk(yield func(int, *eval.Case) bool) error {
	k := 0
	for c, err := range s.cases {
		if err != nil {
			return err
		}
		if !yield(k, &c) {
			return nil
		}
		k++
	}
	return nil
}
