package runs

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/identity"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A Side is one side of a comparison, loaded: a stored run, or the run of a
// baseline file.
type Side struct {
	Run eval.Run // its ID is 0 for a baseline file's run
	// Results are the side's results in the compact form a comparison
	// holds; of a stored run, read by store.ComparedResults, the few
	// outputs a comparison shows kept as the two sides were read
	// (mergeTexts) or read again by store.Outputs.
	Results  *compare.Results
	File     string // the baseline file's path as given; "" for a stored run
	Document []byte // the identity document of Run.Lock; nil when unknown
	// Quantization is what the engine reported of the lock's weights
	// encoding when it was stored (store.Lock); "" when unknown.
	Quantization string
}

// A Pair is the two sides of a comparison and the labels of their cases.
type Pair struct {
	Base, Cand Side
	// Cases are the tags and cluster of every case of the two sides' suites,
	// by case id, the candidate's where both know a case. Of a stored case
	// nothing else is read: prompts and scorers are most of a large suite.
	Cases *store.Labels
	// Floor, when the store holds one, is another complete run of the
	// baseline's lock with its suite, settings and selection (not the
	// candidate): the noise floor of drift between runs
	// (compare.Options.Floor). nil for a baseline file, or when the lock was
	// run once.
	Floor *Side
	// Warnings say what the comparison should know of the pair: that the
	// two runs' labels differ (compare.Options.Warnings).
	Warnings []error
}

// PairOptions say which runs LoadPair accepts.
type PairOptions struct {
	// AllowIncomplete loads runs that are not complete; without it such a
	// side is an *IncompleteError.
	AllowIncomplete bool
}

// LoadPair resolves the sides base and cand and reads them, from the store or
// from their baseline files; db may be nil when neither side NeedsStore. A
// run id is that run; a lock id is that lock's newest complete run with the
// suite and settings of the other side (a run's, or a baseline file's
// header); with two lock ids, the candidate lock's newest complete run sets
// them. The errors are the store's, a *NoCompleteRunError, and an
// *IncompleteError, checked before any result is read.
func LoadPair(ctx context.Context, db *store.DB, base, cand Ref, opts PairOptions) (*Pair, error) {
	var err error
	if base, err = base.resolve(ctx, db); err != nil {
		return nil, err
	}
	if cand, err = cand.resolve(ctx, db); err != nil {
		return nil, err
	}
	b, c, err := resolvePair(ctx, db, base, cand)
	if err != nil {
		return nil, err
	}
	for _, s := range []struct {
		side string
		run  eval.Run
	}{{"baseline", b}, {"candidate", c}} {
		if s.run.Status != eval.RunComplete && !opts.AllowIncomplete {
			return nil, &IncompleteError{Side: s.side, Run: s.run}
		}
	}
	// The candidate and the labels are read beside the baseline (a store in
	// WAL mode reads on several connections): on BenchmarkDiffCommand100k
	// each takes about as long as the others.
	p := &Pair{}
	var labelsErr error
	var wg sync.WaitGroup
	wg.Go(func() { labelsErr = p.labels(ctx, db, base, cand, b, c) })
	if base.NeedsStore() && cand.NeedsStore() && db.ReadsAtOnce() {
		err = p.loadStored(ctx, db, b, c)
	} else {
		err = p.load(ctx, db, base, cand, b, c)
	}
	wg.Wait()
	if err := cmp.Or(err, labelsErr); err != nil {
		return nil, err
	}
	return p, nil
}

// load reads the sides base and cand, of the runs b and c, one of them a
// baseline file, at once.
func (p *Pair) load(ctx context.Context, db *store.DB, base, cand Ref, b, c eval.Run) error {
	var candErr error
	var wg sync.WaitGroup
	wg.Go(func() { p.Cand, candErr = loadSide(ctx, db, cand, c) })
	baseErr := p.loadBase(ctx, db, func() (Side, error) { return loadSide(ctx, db, base, b) }, c.ID)
	wg.Wait()
	if err := cmp.Or(baseErr, candErr); err != nil {
		return err
	}
	p.Cand.Results.Share(p.Base.Results)
	return nil
}

// loadStored reads the stored runs b and c at once, keeping the outputs a
// comparison of them may ask for (mergeTexts). The store must read on two
// connections at once (store.DB.ReadsAtOnce): the merge waits for both.
func (p *Pair) loadStored(ctx context.Context, db *store.DB, b, c eval.Run) error {
	var keptB, keptC keptTexts
	toB, toC := make(chan []caseTexts, 4), make(chan []caseTexts, 4)
	var baseErr, candErr error
	var wg sync.WaitGroup
	wg.Go(func() { p.Cand, candErr = readSide(ctx, db, c, &keptC, toC) })
	wg.Go(func() {
		baseErr = p.loadBase(ctx, db, func() (Side, error) { return readSide(ctx, db, b, &keptB, toB) }, c.ID)
	})
	keptB, keptC = mergeTexts(toB, toC)
	wg.Wait()
	if err := cmp.Or(baseErr, candErr); err != nil {
		return err
	}
	p.Cand.Results.Share(p.Base.Results)
	return nil
}

// loadBase reads the baseline with read, then, of a stored run, the floor
// (loadFloor) of the comparison with the candidate run cand.
func (p *Pair) loadBase(ctx context.Context, db *store.DB, read func() (Side, error), cand int64) error {
	var err error
	if p.Base, err = read(); err != nil {
		return err
	}
	if p.Base.File == "" && p.Base.Run.ID != 0 {
		p.Floor, err = loadFloor(ctx, db, p.Base.Run, cand)
	}
	return err
}

// labels sets p.Cases to the candidate's labels, with the baseline's for the
// cases only it has, and warns when the two runs' labels differ: each side's
// labels are those snapshotted with its run (store.RunLabels), else those of
// its stored suite or baseline file.
func (p *Pair) labels(ctx context.Context, db *store.DB, base, cand Ref, b, c eval.Run) error {
	candL, candSet, err := runLabels(ctx, db, cand, c)
	if err != nil {
		return err
	}
	p.Cases = candL
	if base.NeedsStore() && cand.NeedsStore() && b.SuiteHash == c.SuiteHash && candSet == "" {
		if _, _, ok, err := db.RunLabels(ctx, b.ID); err != nil || !ok {
			return err // both read from the one stored suite
		}
	}
	baseL, baseSet, err := runLabels(ctx, db, base, b)
	if err != nil {
		return err
	}
	if baseSet != "" && baseSet == candSet {
		return nil
	}
	var differ int
	var first string
	p.Cases, differ, first = mergeLabels(candL, baseL)
	if differ > 0 {
		p.Warnings = append(p.Warnings, fmt.Errorf("the labels (tags, cluster) of %d cases differ between the baseline run and the candidate run (first: %s): the diff uses the candidate's", differ, untrusted.Line(first)))
	}
	return nil
}

// mergeLabels returns the labels of cand with those of the cases only base
// has, and how many cases both have with different labels, the first of
// them by id.
func mergeLabels(cand, base *store.Labels) (_ *store.Labels, differ int, first string) {
	only := 0
	for id, x := range base.All() {
		y, ok := cand.Label(id)
		switch {
		case !ok:
			only++
		case x.Cluster != y.Cluster || !slices.Equal(x.Tags, y.Tags):
			if differ++; differ == 1 {
				first = id
			}
		}
	}
	if only == 0 {
		return cand, differ, first
	}
	all := func(yield func(string, store.Label) bool) {
		for id, x := range base.All() {
			if !yield(id, x) {
				return
			}
		}
		for id, y := range cand.All() {
			if !yield(id, y) {
				return
			}
		}
	}
	return store.LabelsOf(cand.Len()+only, all), differ, first
}

// runLabels returns the labels of the cases of side r: those snapshotted
// with its stored run, with their label set's hash, else (set "") those of
// its suite (caseLabels).
func runLabels(ctx context.Context, db *store.DB, r Ref, run eval.Run) (*store.Labels, string, error) {
	if r.File == nil && run.ID != 0 {
		cases, set, ok, err := db.RunLabels(ctx, run.ID)
		if err != nil || ok {
			return cases, set, err
		}
	}
	cases, err := caseLabels(ctx, db, r, run)
	return cases, "", err
}

// loadFloor returns the newest complete run of b's lock, suite, settings
// and selection other than b and the run cand, with its results; nil when
// there is none.
func loadFloor(ctx context.Context, db *store.DB, b eval.Run, cand int64) (*Side, error) {
	all, err := db.Runs(ctx, store.RunFilter{Lock: string(b.Lock), SuiteHash: b.SuiteHash, Status: eval.RunComplete})
	if err != nil {
		return nil, err
	}
	for _, r := range slices.Backward(all) {
		if r.Lock != b.Lock || r.ID == b.ID || r.ID == cand || r.SettingsHash != b.SettingsHash || r.Selection != b.Selection {
			continue
		}
		var none keptTexts
		rs, err := storedResults(ctx, db, r, none.reader(ctx, db, r.ID), nil)
		if err != nil {
			return nil, err
		}
		return &Side{Run: r, Results: rs}, nil
	}
	return nil, nil
}

// resolvePair returns the runs base and cand name (see LoadPair).
func resolvePair(ctx context.Context, db *store.DB, base, cand Ref) (b, c eval.Run, err error) {
	if b, err = resolveFixed(ctx, db, base); err != nil {
		return b, c, err
	}
	if c, err = resolveFixed(ctx, db, cand); err != nil {
		return b, c, err
	}
	if cand.Lock != "" {
		if base.Lock != "" {
			c, err = NewestComplete(ctx, db, cand.Lock, "")
		} else {
			c, err = LatestLike(ctx, db, cand.Lock, b)
		}
		if err != nil {
			return b, c, err
		}
	}
	if base.Lock != "" {
		b, err = LatestLike(ctx, db, base.Lock, c)
	}
	return b, c, err
}

// resolveFixed returns the run of a baseline file or a run id; of a lock id,
// which depends on the other side, the zero Run.
func resolveFixed(ctx context.Context, db *store.DB, r Ref) (eval.Run, error) {
	switch {
	case r.File != nil:
		return r.File.Run(), nil
	case r.Run > 0:
		return db.ResolveRun(ctx, r.Arg)
	}
	return eval.Run{}, nil
}

// loadSide reads the side r of run, with its lock's identity document.
func loadSide(ctx context.Context, db *store.DB, r Ref, run eval.Run) (Side, error) {
	if r.File != nil {
		h := &r.File.Header
		return Side{Run: run, Results: compare.NewResults(r.File.Results), File: r.Arg, Document: h.LockManifest, Quantization: h.LockQuantization}, nil
	}
	var none keptTexts
	return storedSide(ctx, db, run, none.reader(ctx, db, run.ID), nil)
}

// readSide reads the stored run (storedSide) and sends its cases on out for
// mergeTexts, closing it at the end; kept, which mergeTexts sets, holds the
// outputs kept of it.
func readSide(ctx context.Context, db *store.DB, run eval.Run, kept *keptTexts, out chan<- []caseTexts) (Side, error) {
	add, end := sendCases(out)
	defer end()
	return storedSide(ctx, db, run, kept.reader(ctx, db, run.ID), add)
}

// storedSide reads the side of the stored run (storedResults) with its
// lock's identity document.
func storedSide(ctx context.Context, db *store.DB, run eval.Run, read func([]compare.OutputKey) ([]string, error), each func(*eval.Result)) (Side, error) {
	rs, err := storedResults(ctx, db, run, read, each)
	if err != nil {
		return Side{}, err
	}
	s := Side{Run: run, Results: rs}
	if l, err := db.Lock(ctx, run.Lock); err == nil {
		s.Document, s.Quantization = l.Manifest, l.Quantization
	}
	return s, nil
}

// storedResults reads the results of run (store.ComparedResults) in the
// compact form, handing each to each as well when it is not nil; read gives
// their outputs when a comparison asks for them (keptTexts.reader).
func storedResults(ctx context.Context, db *store.DB, run eval.Run, read func([]compare.OutputKey) ([]string, error), each func(*eval.Result)) (*compare.Results, error) {
	n, err := db.Counts(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	rs := compare.NewStoredResults(read, n.Results, n.Results/max(run.Settings.Samples, 1))
	err = db.ComparedResults(ctx, run.ID, func(r *eval.Result) error {
		if each != nil {
			each(r)
		}
		return rs.Add(r)
	})
	if err != nil {
		return nil, fmt.Errorf("read results of run %d: %w", run.ID, err)
	}
	return rs, nil
}

// caseLabels returns the labels of the cases of side r's suite: a baseline
// file's cases, or the store's labels of the run's suite.
func caseLabels(ctx context.Context, db *store.DB, r Ref, run eval.Run) (*store.Labels, error) {
	if r.File == nil {
		return db.SuiteLabels(ctx, run.SuiteHash)
	}
	cases := r.File.Cases
	return store.LabelsOf(len(cases), func(yield func(string, store.Label) bool) {
		for _, c := range cases {
			if !yield(c.ID, store.Label{Tags: c.Tags, Cluster: c.Cluster}) {
				return
			}
		}
	}), nil
}

// Label returns the tags and cluster of the case id (Cases); ok is false
// for a case neither side's suite has. It is compare.Options.Label.
func (p *Pair) Label(id string) (tags []string, cluster string, ok bool) {
	if p.Cases == nil {
		return nil, "", false
	}
	l, ok := p.Cases.Label(id)
	return l.Tags, l.Cluster, ok
}

// LockWords says in words what differs between the locks of the two sides,
// from their identity documents: "template changed; weights same; …". It
// returns "" when a side's document is unknown or the locks are of different
// kinds (a report then names the two ids), and an error when a document does
// not verify.
//
// Where the engine reported both locks' quantization and they differ, the
// words start with it: "quantization F16 → Q4_K_M; weights changed; …" (an
// identity names its weights by their hash only).
func (p *Pair) LockWords() (string, error) {
	words, err := lockWords(p.Base.Run.Lock, p.Base.Document, p.Cand.Run.Lock, p.Cand.Document)
	if a, b := p.Base.Quantization, p.Cand.Quantization; err == nil && a != "" && b != "" && a != b {
		q := "quantization " + untrusted.Line(a) + " → " + untrusted.Line(b)
		if words == "" {
			return q, nil
		}
		return q + "; " + words, nil
	}
	return words, err
}

// lockWords is LockWords of the locks a and b with their documents.
func lockWords(a lockid.ID, aDoc []byte, b lockid.ID, bDoc []byte) (string, error) {
	if len(aDoc) == 0 || len(bDoc) == 0 {
		return "", nil
	}
	da, err := identity.Parse(a, aDoc)
	if err != nil {
		return "", fmt.Errorf("the identity document of lock %s is refused: %w", untrusted.Line(string(a)), err)
	}
	db, err := identity.Parse(b, bDoc)
	if err != nil {
		return "", fmt.Errorf("the identity document of lock %s is refused: %w", untrusted.Line(string(b)), err)
	}
	return da.Words(db), nil
}
