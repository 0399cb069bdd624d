package runs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/identity"
	"github.com/evalpin/evalpin/internal/store"
)

// A baseline file of a million cases is imported without being held:
// CheckBaselineArg checks it whole (baselines.Check), and ImportFile reads
// it again a case or a result at a time to store it, each block of lines
// checked to be the one Check read.

// CheckBaselineArg checks the baseline file at path ("-" is standard input,
// first copied to a temporary file, which cleanup removes) with
// baselines.Check, and verifies the lock's identity document its header
// carries, as ReadBaseline does. A file it cannot open is an error matching
// ErrOpen. cleanup is never nil.
func CheckBaselineArg(path string) (f *baselines.File, cleanup func(), err error) {
	cleanup, name := func() {}, path
	if path == "-" {
		if path, err = spool(os.Stdin); err != nil {
			return nil, cleanup, fmt.Errorf("read standard input: %w", err)
		}
		cleanup, name = func() { os.Remove(path) }, "standard input"
	}
	f, err = checkBaselineFile(path, name)
	return f, cleanup, err
}

// checkBaselineFile checks the baseline file at path, named name in errors,
// as CheckBaselineArg does.
func checkBaselineFile(path, name string) (*baselines.File, error) {
	f, err := baselines.Check(name, func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fault.Mark(err, ErrOpen)
		}
		return f, nil
	})
	if err != nil {
		return nil, err
	}
	if h := f.Header; len(h.LockManifest) > 0 {
		if _, err := identity.Parse(h.Lock, h.LockManifest); err != nil {
			return nil, &DocumentError{File: name, Lock: h.Lock, Err: err}
		}
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

// ImportFile is Import of a checked baseline file, read again from the file
// a case or a result at a time, so that its memory does not grow with the
// file. A file changed since it was checked is an error matching
// baselines.ErrChanged, with nothing of the changed part stored: the run is
// then left running, as any import that stops half-way.
func ImportFile(ctx context.Context, db *store.DB, f *baselines.File) (int64, error) {
	h := f.Header
	if err := putLock(ctx, db, h); err != nil {
		return 0, err
	}
	src := &fileSource{f: f}
	suite := eval.Suite{Name: h.Suite, Version: h.SuiteVersion, Settings: h.Settings, Hash: h.SuiteHash, Source: src}
	if err := db.PutSuite(ctx, suite); err != nil {
		return 0, err
	}
	r := (&baselines.Baseline{Header: h}).Run()
	if err := db.ImportRun(ctx, &r, f.Results()); err != nil {
		return 0, err
	}
	if err := db.PutRunLabelsFrom(ctx, r.ID, h.SuiteHash, src, nil); err != nil { // the labels the run was made with
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

// FindImportedFile is FindImported of a checked baseline file, whose digest
// is taken, when a stored run may hold it, by reading the file again.
func FindImportedFile(ctx context.Context, db *store.DB, f *baselines.File) (int64, bool, error) {
	return findImported(ctx, db, f.Header, func() (string, error) {
		return baselines.DigestResults(f.Header.Lock, f.Results())
	})
}

// A fileSource is the cases of a checked baseline file as an eval.Source,
// read again from the file at each Walk.
type fileSource struct {
	f    *baselines.File
	once sync.Once
	keys map[string]int
	err  error
}

// Len returns the file's count of cases.
func (s *fileSource) Len() int { return s.f.Header.Cases }

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
	for c, err := range s.f.Cases() {
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
