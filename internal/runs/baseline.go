package runs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/identity"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// Baseline files (package baselines) carry a run from one store to another:
// Export reads a stored run into one, ReadBaseline reads and verifies one
// (CheckBaselineArg without holding it), and ImportStream stores it again
// (FindImported first, to store nothing twice).

// ErrOpen marks the error of a baseline file that ReadBaselineFile cannot
// open: it does not exist or cannot be read.
var ErrOpen = errors.New("cannot open the baseline file")

// A DocumentError says that the identity document a baseline file's header
// carries is not the document of the header's lock.
type DocumentError struct {
	File string    // the name the file was read under
	Lock lockid.ID // the header's lock
	Err  error     // why identity.Parse refused the document
}

func (e *DocumentError) Error() string {
	return fmt.Sprintf("%s:1: the identity document of lock %s is refused: %v", e.File, untrusted.Line(string(e.Lock)), e.Err)
}

func (e *DocumentError) Unwrap() error { return e.Err }

// ReadBaseline decodes a baseline file from r (baselines.Decode; name names
// the file in errors) and verifies the lock's identity document its header
// carries, if any (identity.Parse): one that is not the document of the
// header's lock is a *DocumentError.
func ReadBaseline(r io.Reader, name string) (*baselines.Baseline, error) {
	b, err := baselines.Decode(r, name)
	if err != nil {
		return nil, err
	}
	if err := checkDocument(name, b.Header); err != nil {
		return nil, err
	}
	return b, nil
}

// checkDocument verifies the lock's identity document a baseline file's
// header h carries, if any: one that is not the document of the header's
// lock is a *DocumentError naming the file name.
func checkDocument(name string, h baselines.Header) error {
	if len(h.LockManifest) == 0 {
		return nil
	}
	if _, err := identity.Parse(h.Lock, h.LockManifest); err != nil {
		return &DocumentError{File: name, Lock: h.Lock, Err: err}
	}
	return nil
}

// ReadBaselineFile is ReadBaseline of the file at path. A file it cannot open
// is an error matching ErrOpen, in os.Open's words.
func ReadBaselineFile(path string) (*baselines.Baseline, error) {
	f, err := openBaseline(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadBaseline(f, path)
}

// openBaseline opens the baseline file at path; its error matches ErrOpen.
func openBaseline(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fault.Mark(err, ErrOpen)
	}
	return f, nil
}

// ExportOptions say which runs Export exports.
type ExportOptions struct {
	// AllowIncomplete exports a run that is not complete; without it such a
	// run is an *IncompleteError.
	AllowIncomplete bool
	// Suite, when set, is the name of the suite whose run of a lock is
	// exported (Resolve).
	Suite string
}

// An Exported is a stored run read back as a baseline file.
type Exported struct {
	Run      eval.Run
	Baseline *baselines.Baseline
	// Warnings say what was left out of the file: the lock's stored identity
	// document when it does not verify, as ReadBaseline would refuse a file
	// that carries it; the lock then travels by its id alone.
	Warnings []error
}

// Export reads the run ref names (Resolve: a run id, else a lock id's newest
// complete run) with its lock, its suite's cases and its results into a
// baseline file. The errors are Resolve's, an *IncompleteError, and the
// store's.
func Export(ctx context.Context, db *store.DB, ref string, opts ExportOptions) (*Exported, error) {
	x, err := StartExport(ctx, db, ref, opts)
	if err != nil {
		return nil, err
	}
	r := x.Run
	results, err := db.Results(ctx, r.ID)
	if err != nil {
		return nil, fmt.Errorf("read results of run %d: %w", r.ID, err)
	}
	byID, err := db.Cases(ctx, r.SuiteHash)
	if err != nil {
		return nil, err
	}
	cases := make([]eval.Case, 0, len(byID))
	for _, c := range byID {
		cases = append(cases, c)
	}
	b := baselines.New(r, cases, results)
	h := x.Baseline.Header
	b.Header.LockSource, b.Header.LockQuantization, b.Header.LockManifest = h.LockSource, h.LockQuantization, h.LockManifest
	x.Baseline = b
	return x, nil
}

// StartExport is Export without the cases and results: the Baseline it
// returns holds the header alone, with no counts, and Stream streams the
// file. The errors are Export's.
func StartExport(ctx context.Context, db *store.DB, ref string, opts ExportOptions) (*Exported, error) {
	r, err := Resolve(ctx, db, ref, opts.Suite)
	if err != nil {
		return nil, err
	}
	if r.Status != eval.RunComplete && !opts.AllowIncomplete {
		return nil, &IncompleteError{Run: r}
	}
	x := &Exported{Run: r, Baseline: baselines.New(r, nil, nil)}
	l, err := db.Lock(ctx, r.Lock)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return x, nil
	case err != nil:
		return nil, err
	}
	h := &x.Baseline.Header
	h.LockSource, h.LockQuantization = l.Source, l.Quantization
	if len(l.Manifest) > 0 {
		if _, err := identity.Parse(r.Lock, l.Manifest); err != nil {
			x.Warnings = append(x.Warnings, fmt.Errorf("the identity document of lock %s is left out of the baseline: %w", r.Lock, err))
		} else {
			h.LockManifest = l.Manifest
		}
	}
	return x, nil
}

// Stream writes the baseline file of x, a StartExport, to w: the file
// baselines.Encode writes of Export's Baseline, streamed from the store
// (store.DB.ReadExport, baselines.EncodeStream) so that its memory does not
// grow with the run. It sets the header's counts in x.Baseline.
func (x *Exported) Stream(ctx context.Context, db *store.DB, w io.Writer) error {
	return db.ReadExport(ctx, x.Run.ID, x.Run.SuiteHash, func(rd store.ExportRead) error {
		h := &x.Baseline.Header
		h.Cases, h.Results, h.Errors = rd.Cases, rd.Results, rd.Errors
		return baselines.EncodeStream(w, *h, rd.StoredCases, rd.RunResults, true)
	})
}

// findImported returns the id of a stored run that holds the baseline of
// header h whose digest digest returns, which it calls only when a stored
// run's counts match h's.
func findImported(ctx context.Context, db *store.DB, h baselines.Header, digest func() (string, error)) (int64, bool, error) {
	all, err := db.Runs(ctx, store.RunFilter{Lock: string(h.Lock), SuiteHash: h.SuiteHash, Status: h.Status})
	if err != nil {
		return 0, false, err
	}
	var want string
	for _, r := range slices.Backward(all) {
		if r.Lock != h.Lock || r.SettingsHash != h.SettingsHash || r.Selection != h.Selection {
			continue
		}
		counts, err := db.Counts(ctx, r.ID)
		if err != nil {
			return 0, false, err
		}
		if counts.Results != h.Results || counts.Errors != h.Errors {
			continue // cheap: no need to read the outputs
		}
		if want == "" {
			if want, err = digest(); err != nil {
				return 0, false, err
			}
		}
		got, err := storedDigest(ctx, db, r)
		if err != nil {
			return 0, false, err
		}
		if got == want {
			return r.ID, true, nil
		}
	}
	return 0, false, nil
}

// storedDigest returns the digest of the stored run r's results, read one at
// a time; "" for a run that no baseline file could hold.
func storedDigest(ctx context.Context, db *store.DB, r eval.Run) (string, error) {
	var got string
	var readErr error
	err := db.ReadExport(ctx, r.ID, r.SuiteHash, func(rd store.ExportRead) error {
		results := func(yield func(eval.Result, error) bool) {
			for res, err := range rd.RunResults {
				if err != nil {
					readErr = err
				}
				if !yield(res, err) {
					return
				}
			}
		}
		got, _ = baselines.DigestResults(r.Lock, results)
		return readErr
	})
	if err != nil {
		return "", fmt.Errorf("read results of run %d: %w", r.ID, err)
	}
	return got, nil
}
