// Package compare turns two runs of a suite — a baseline and a candidate —
// into a paired Comparison: pass rates per scorer and tag with intervals and
// exact tests, continuous measures, output drift against a noise floor, the
// flipped cases, and the gate's verdict (PASS, FAIL or INCONCLUSIVE) under a
// Policy. The statistics themselves are in eval/stats; rendering is report's.
package compare

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/stats"
	"github.com/evalpin/evalpin/internal/fault"
)

// A Verdict is a metric's conclusion, read off its numbers: a change is
// called regressed or improved only when it is statistically significant
// (after the metric's multiple-comparison adjustment) and shown beyond the
// policy's practical threshold (its interval lies wholly beyond it).
type Verdict string

// The verdicts of a metric. Every one is worded with its numbers (Words): a
// NoChange with the resolution the suite had, a Within with the threshold.
const (
	Regressed    Verdict = "regressed"    // significantly worse, shown beyond the threshold
	Improved     Verdict = "improved"     // significantly better, shown beyond the threshold
	Changed      Verdict = "changed"      // a significant change shown beyond the threshold, of a measure without a better direction (output length)
	Within       Verdict = "within"       // a significant change not shown beyond the threshold
	NoChange     Verdict = "~"            // no significant change, at the resolution the metric had
	Underpowered Verdict = "underpowered" // no significant change, and a gated metric whose resolution is coarser than its threshold
	Descriptive  Verdict = "descriptive"  // a run-level measure (latency) described, not tested: one run pair is one replicate
)

// Adjustments name the multiple-comparison adjustment a metric's AdjP comes from.
const (
	AdjustHolm = "holm" // gated metrics: family-wise error control
	AdjustBH   = "bh"   // reported metrics (tags, small scorers): false discovery rate
	AdjustNone = ""     // a metric judged alone, or not tested
)

// The adjustments a metric's interval is at, so that its level matches its
// test: Bonferroni for the gated family (Holm's step-down has no matching
// interval; the Bonferroni interval is wider, so an interval that excludes a
// value implies the Holm test rejects it), the false-coverage-rate level of
// Benjamini & Yekutieli (2005) for the reported family (an interval excludes
// 0 exactly when Benjamini–Hochberg selects the metric), none for a metric
// judged alone.
const (
	CIBonferroni = "bonferroni"
	CIFCR        = "fcr"
	CINone       = ""
)

// The pass-rate tests, each the one its interval inverts: Newcombe's paired
// interval (stats.NewcombeP) on pass/fail outcomes; a t test on the CR1
// cluster-robust standard error when cases share clusters; a t test of the
// paired differences of the cases' pass shares when samples are averaged
// (with the cases' clusters, if any).
const (
	MethodNewcombe  = "newcombe"
	MethodClustered = "clustered"
	MethodMean      = "mean"
)

// The kinds of pass-rate metric.
const (
	PassOverall = "overall" // every check of the case passes
	PassScorer  = "scorer"  // every check of one scorer passes
	PassTag     = "tag"     // every check passes, among the cases with one tag
)

// The continuous measures.
const (
	MeasureLength     = "length"     // output length in characters (runes)
	MeasureLatency    = "latency"    // request latency in milliseconds
	MeasureSimilarity = "similarity" // token Jaccard similarity to the baseline output
)

// MinPairedCases is the number of paired cases below which a comparison warns
// that it has too few cases to say much.
const MinPairedCases = 30

// AggregationMean and AggregationMajority state in words how the samples of
// a case are combined (Policy.Aggregate); reports print the one a comparison
// used and docs/diff.md explains them.
const (
	AggregationMean = "a case counts on one side by the share of its samples that pass a check (one sample: 0 or 1), " +
		"and pass rates are tested on the paired differences of the shares; length and latency are the mean over samples; " +
		"similarity and drift compare sample 0 of each side, the noise floor samples 0 and 1 of one side"
	AggregationMajority = "a case passes a check on one side when a strict majority of its samples pass it " +
		"(one sample: that sample); length and latency are the mean over samples; " +
		"similarity and drift compare sample 0 of each side, the noise floor samples 0 and 1 of one side"
)

// A Side is one run of a comparison with its stored results.
type Side struct {
	Run eval.Run
	// Rows are the results in the compact form a comparison reads; when nil,
	// Diff makes them of Results.
	Rows    *Results
	Results []eval.Result
	// File, when set, is the baseline file the side was read from instead
	// of the store; its Run has no id.
	File string
}

// Options configure Diff. The zero value compares with DefaultPolicy.
type Options struct {
	// Policy holds alpha and the practical thresholds; nil means DefaultPolicy.
	Policy *Policy
	// Cases give the tags and cluster of each case by id; cases missing from it
	// have no tags and a cluster of their own.
	Cases map[string]eval.Case
	// Label, when set, gives them instead of Cases: the tags and cluster of
	// the case id, ok false for a case it does not know. A caller that holds
	// a large suite's labels in a leaner form than eval.Case passes them so.
	Label func(id string) (tags []string, cluster string, ok bool)
	// AllowSettingsMismatch compares runs whose settings hashes differ, with a
	// warning, instead of refusing.
	AllowSettingsMismatch bool
	// LockDiff is the lock manifest diff in words, when both manifests are
	// known; reports print it first, else the two lock ids.
	LockDiff string
	// Resamples is the number of bootstrap resamples; 0 means
	// stats.DefaultResamples.
	Resamples int
	// Seed seeds the bootstrap; 0 means stats.DefaultSeed.
	Seed uint64
	// Floor, when set, is another run of the baseline's lock, of the same
	// suite and settings (a re-run of the baseline, or the other half of an
	// A/A pair): the noise floor of drift is then the disagreement between
	// the two runs of one lock, which, like the baseline and the candidate,
	// come from different server processes. Without it the floor is that of
	// repeats within one run, a lower bound (DriftResult.LowerBound). A Floor
	// of another lock, or the baseline run itself, is ignored with a warning.
	Floor *Side
	// Warnings are the caller's, about the pair (its runs' labels differ),
	// added to the comparison's.
	Warnings []error
}

// Exclusions count the cases a comparison left out, by reason. A case is
// counted under the first reason that applies, in field order, so a case
// whose requests failed on both sides counts as BaselineErrored.
type Exclusions struct {
	OnlyBaseline     int // stored for the baseline only
	OnlyCandidate    int // stored for the candidate only
	HashChanged      int // the case's content hash differs between the runs
	BaselineErrored  int // a baseline request of the case failed: no output to judge
	CandidateErrored int // the baseline answered, a candidate request failed: lost to errors (Evidence.Lost)
}

// Errored returns the number of cases left out because a request failed on
// either side.
func (e Exclusions) Errored() int { return e.BaselineErrored + e.CandidateErrored }

// Total returns the number of cases left out.
func (e Exclusions) Total() int {
	return e.OnlyBaseline + e.OnlyCandidate + e.HashChanged + e.Errored()
}

// String says in words how many cases were left out and why.
func (e Exclusions) String() string { return e.words("") }

// words is String with the error kinds of the candidate's failed cases, when
// known, after their count: "20 errored in candidate (not_found 20)".
func (e Exclusions) words(candidateKinds string) string {
	var parts []string
	add := func(n int, why string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, why))
		}
	}
	add(e.OnlyBaseline, "only in baseline")
	add(e.OnlyCandidate, "only in candidate")
	add(e.HashChanged, "case hash changed")
	add(e.BaselineErrored, "errored in baseline")
	if candidateKinds != "" {
		add(e.CandidateErrored, "errored in candidate ("+candidateKinds+")")
	} else {
		add(e.CandidateErrored, "errored in candidate")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// A Measure compares a continuous measure of the paired cases with the
// Wilcoxon signed-rank test, the Hodges–Lehmann shift and the confidence
// interval for the shift that the test inverts.
type Measure struct {
	Name string // MeasureLength, MeasureLatency or MeasureSimilarity
	Unit string // "chars", "ms" or "" (a share)
	N    int    // paired cases measured
	// Baseline and Candidate are the medians of the per-case values. For
	// similarity, Baseline is the median similarity between two samples of one
	// run (the noise floor; NaN when unmeasured) and Candidate the median
	// similarity of each candidate output to its baseline output.
	Baseline, Candidate float64
	Test                stats.SignedRank // candidate − baseline; zero when not tested
	Tested              bool             // false when there is nothing to pair the values with
	// Shift is the Hodges–Lehmann shift, candidate − baseline: the median of
	// the Walsh averages of the differences of the pairs that differ (Test.N of
	// them; Test.Zeros equal pairs are left out, as the test leaves them out).
	// NaN when not tested.
	Shift float64
	// CI is the confidence interval for Shift from the order statistics of the
	// same Walsh averages (stats.SignedRank.CI): distribution-free, exact below
	// 50 untied differing pairs, and consistent with the test: it excludes 0
	// when the unadjusted p-value is at most alpha. CI.Level can fall below the
	// requested level for very few pairs (with a warning). NaN when not tested.
	CI stats.Interval
	// Bootstrap is the median difference of all pairs with a percentile
	// bootstrap interval (fixed seed), an extra description beside the shift;
	// for an untested similarity, the median similarity itself. Its warnings
	// are not the measure's.
	Bootstrap stats.Bootstrap
	P, AdjP   float64 // two-sided; NaN when not tested
	Adjust    string
	// CIAdjust is the adjustment CI's level follows: CIBonferroni when gated,
	// CINone (1 − alpha) otherwise.
	CIAdjust  string
	Threshold Threshold // MinEffect is relative to the baseline median for length and latency
	// Resolution is the smallest shift the test would detect with
	// stats.DefaultPower, from the width of CI (the shift's standard error it
	// implies); NaN when not tested or no pair differs.
	Resolution float64
	Gated      bool
	// Descriptive reports a run-level measure (latency) that is described,
	// not tested: its medians and shift are shown, with no interval or
	// p-value, because the run, not the case, is its unit of replication
	// (server load, warm caches and co-tenants differ between runs and move
	// every case of a run together), so a per-case test of one run pair
	// would present the difference of two runs as evidence of a model
	// change: it called 68% of A/A pairs significant. Tested is false.
	Descriptive bool
	Verdict     Verdict
	Warnings    []error

	x, y []float64 // the candidate's and the baseline's values, for a test at another level
}

// RunLevelWords says why a run-level measure is described and not tested.
const RunLevelWords = "the run, not the case, is its unit of replication (server load differs between runs), so one pair of runs cannot test it"

// describe makes ms a run-level measure: described, not tested, and not
// gated even when the policy names it (with a warning).
func (ms *Measure) describe() {
	nan := math.NaN()
	ms.Tested, ms.Descriptive = false, true
	ms.x, ms.y = nil, nil // never tested again: its data need not be held
	ms.P, ms.AdjP, ms.Resolution = nan, nan, nan
	ms.CI = stats.Interval{Lo: nan, Hi: nan, Level: nan}
	ms.Warnings = []error{fmt.Errorf("%s: descriptive only: %s", ms.Name, RunLevelWords)}
	if ms.Gated {
		ms.Gated = false
		ms.Warnings = append(ms.Warnings, fmt.Errorf("the policy gates %s, but %s: it is reported, not gated", ms.Name, RunLevelWords))
	}
}

// Limit returns the measure's threshold in its unit: MinEffect times the
// baseline median for length and latency, MinEffect itself for similarity.
func (m *Measure) Limit() float64 {
	if m.Name == MeasureSimilarity {
		return m.Threshold.MinEffect
	}
	return m.Threshold.MinEffect * math.Abs(m.Baseline)
}

// Failed reports whether the measure fails the gate.
func (m *Measure) Failed() bool {
	return m.Gated && (m.Verdict == Regressed || m.Verdict == Changed)
}

// A DriftResult is the share of cases whose output changed between the runs,
// held against the noise floor: how often it changed between two samples of
// the same run.
type DriftResult struct {
	Cases   int     // paired cases
	Changed int     // whose sample-0 output differs between the runs
	Share   float64 // Changed/Cases
	// Measured reports whether the noise floor is known: a second run of the
	// baseline's lock (Options.Floor), or a run with samples ≥ 2; Test is
	// valid only then.
	Measured bool
	// FloorRun says whose outputs set the noise floor: "baseline" or
	// "candidate" (sample 0 against sample 1 of that run), or FloorRerun
	// (sample 0 of the baseline against sample 0 of Options.Floor, run
	// FloorID).
	FloorRun string
	FloorID  int64
	// LowerBound reports a floor measured within one run. Repeats within
	// one server process can stay correlated however they are spread
	// (prefix caches, warm state, co-batching), while the baseline and the
	// candidate always come from different processes, so such a floor
	// understates the disagreement of two runs of one lock: drift judged
	// only against it is reported as such and never fails the gate on its
	// own (GateResult.Unconfirmed; Policy.WithinRunFloor).
	LowerBound bool
	// Test holds the counts, shares and McNemar's exact one-sided p-value;
	// CI and P below are the interval and the test the verdict reads.
	Test stats.Drift
	// CI is Newcombe's interval for the excess at the level that matches P:
	// 1 − 2·alpha/m in the gated family of m metrics (CIBonferroni), 1 − 2·alpha
	// alone.
	CI       stats.Interval
	CIAdjust string
	// P is the one-sided p-value of "no more change than the noise floor"
	// from the test Newcombe's interval inverts (stats.NewcombeP), AdjP after
	// Holm when gated.
	P, AdjP   float64
	Adjust    string
	MaxExcess *float64 // the policy's maximum drift above the noise floor; nil = not gated
	// Resolution is the smallest excess over the noise floor the test would
	// detect with stats.DefaultPower; +Inf when none, NaN when unmeasured.
	Resolution float64
	Gated      bool
	Verdict    Verdict
	Warnings   []error
}

// FloorRerun is DriftResult.FloorRun when the floor is a second run of the
// baseline's lock.
const FloorRerun = "baseline re-run"

// Failed reports whether drift fails the gate: gated, regressed, and against
// a floor between runs.
func (d *DriftResult) Failed() bool { return d.Gated && d.Verdict == Regressed && !d.LowerBound }

// Unconfirmed reports drift that regressed against a within-run floor only:
// a lower bound, so it is a warning (or INCONCLUSIVE), not a failure.
func (d *DriftResult) Unconfirmed() bool { return d.Gated && d.Verdict == Regressed && d.LowerBound }

// A Flip is a case whose overall outcome changed between the runs: its
// verdict, or with averaged samples its pass share.
type Flip struct {
	CaseID string
	Lost   bool // pass→fail (the share fell); false for fail→pass (it rose)
	// BaselinePass and CandidatePass are the case's shares of samples that
	// pass every check: 0 or 1 with one sample or a majority vote.
	BaselinePass, CandidatePass float64
	Tags                        []string
	// Baseline and Candidate are the outputs of sample 0: untrusted text.
	Baseline, Candidate string
	// Failed lists the failing checks ("scorer: detail") of the side that fails.
	Failed []string
}

// Direction says how the case changed: "pass→fail" or "fail→pass" for a
// pass/fail outcome, the pass shares ("100%→50%") when samples are averaged.
func (f *Flip) Direction() string {
	whole := func(x float64) bool { return x == 0 || x == 1 }
	if whole(f.BaselinePass) && whole(f.CandidatePass) {
		if f.Lost {
			return "pass→fail"
		}
		return "fail→pass"
	}
	return fmt.Sprintf("%.0f%%→%.0f%%", 100*f.BaselinePass, 100*f.CandidatePass)
}

// A Comparison is the paired statistical diff of a candidate run against a
// baseline run. Warnings travel with it and with each metric; reports print
// them as footnotes.
type Comparison struct {
	Baseline, Candidate eval.Run
	// BaselineFile and CandidateFile name the baseline file a side was read
	// from, "" for a stored run.
	BaselineFile, CandidateFile string
	LockDiff                    string // the manifest diff in words, or "" when a manifest is unknown
	Policy                      Policy
	Samples                     int // samples per case (the candidate's when the settings differ)
	Aggregation                 string
	Paired                      int // cases compared
	Excluded                    Exclusions
	// PassRates holds the overall pass rate first, then one per scorer by name.
	PassRates []PassRate
	// Tags holds the pass rate per tag by name: an exploratory listing with
	// Benjamini–Hochberg adjustment, except the policy's never-regress tags,
	// which are gated.
	Tags []PassRate
	// GatedFamily is the number of distinct gated metrics that were tested: the
	// size of the Holm family, and the m of the Bonferroni level 1 − 2·alpha/m
	// of their intervals.
	GatedFamily int
	Measures    []Measure // length, latency, similarity
	Drift       DriftResult
	Flips       []Flip // overall flips, by case id
	Gate        GateResult
	Warnings    []error
}

// ErrSettingsDiffer is wrapped by Diff's refusal of runs whose settings
// hashes differ.
var ErrSettingsDiffer = errors.New("runs have different settings")

// pair is one paired case: the indices of its case among each side's
// cases (Results.samples); its id is the baseline's case's (comparer.id).
type pair struct {
	a, b    int32
	tags    []string
	cluster string
}

// Diff pairs candidate with baseline by case id and computes every metric
// of the diff, the verdicts and the gate under the options' policy. It refuses
// runs whose settings hashes differ unless opts.AllowSettingsMismatch. Diff
// does no I/O of its own: the few outputs it reads (of the cases whose
// outputs differ or that flipped) it asks the sides for (Results.Outputs),
// both at once, and an error of theirs is its error; its result refers to
// those outputs without copying them.
func Diff(baseline, candidate Side, opts Options) (*Comparison, error) {
	pol := DefaultPolicy()
	if opts.Policy != nil {
		pol = *opts.Policy
	}
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	c := &Comparison{
		Baseline: baseline.Run, Candidate: candidate.Run, LockDiff: opts.LockDiff,
		BaselineFile: baseline.File, CandidateFile: candidate.File,
		Policy:  pol,
		Samples: max(candidate.Run.Settings.Samples, 1),
	}
	bs, cs := baseline.Run.SettingsHash, candidate.Run.SettingsHash
	if bs == "" {
		bs = baseline.Run.Settings.Hash()
	}
	if cs == "" {
		cs = candidate.Run.Settings.Hash()
	}
	if bs != cs {
		if !opts.AllowSettingsMismatch {
			changes := "settings " + short(bs) + " → " + short(cs)
			if ch := baseline.Run.Settings.Changes(candidate.Run.Settings); len(ch) > 0 {
				changes = strings.Join(ch, ", ")
			}
			return nil, fault.Errorf(fault.Input, "", "%w: %s (baseline %s, candidate %s)",
				ErrSettingsDiffer, changes, sideLabel(baseline.Run), sideLabel(candidate.Run))
		}
		c.Warnings = append(c.Warnings, fmt.Errorf("the runs' settings differ (%s vs %s): differences may come from the settings, not the model", short(bs), short(cs)))
	}
	c.Warnings = append(c.Warnings, opts.Warnings...)
	if baseline.Run.Lock == candidate.Run.Lock {
		c.Warnings = append(c.Warnings, errors.New("both runs are of the same lock: this is an A/A comparison"))
	}
	for _, s := range []struct {
		name string
		run  eval.Run
	}{{"baseline", baseline.Run}, {"candidate", candidate.Run}} {
		if s.run.Status != "" && s.run.Status != eval.RunComplete {
			c.Warnings = append(c.Warnings, fmt.Errorf("the %s run %d is %s, not complete: its missing cases are left out", s.name, s.run.ID, s.run.Status))
		}
	}

	// Pairing: a merge join of the cases of both sides by id.
	ra, rb := baseline.rows(), candidate.rows()
	ga, gb := ra.cases, rb.cases
	pairs := make([]pair, 0, min(len(ga), len(gb)))
	lostKinds := make(map[string]int)
	firstLost := ""
	for i, k := 0, 0; i < len(ga) || k < len(gb); {
		switch {
		case k == len(gb) || i < len(ga) && ga[i].id < gb[k].id:
			c.Excluded.OnlyBaseline++
			i++
			continue
		case i == len(ga) || gb[k].id < ga[i].id:
			c.Excluded.OnlyCandidate++
			k++
			continue
		}
		a, b := &ga[i], &gb[k]
		i, k = i+1, k+1
		switch {
		case a.hash != b.hash:
			c.Excluded.HashChanged++
		case a.kind != 0:
			c.Excluded.BaselineErrored++
		case b.kind != 0:
			c.Excluded.CandidateErrored++
			lostKinds[rb.errKind(b)]++
			if firstLost == "" {
				firstLost = b.id
			}
		default:
			p := pair{a: int32(i - 1), b: int32(k - 1)}
			if opts.Label != nil {
				p.tags, p.cluster, _ = opts.Label(a.id)
			} else if cs, ok := opts.Cases[a.id]; ok {
				p.tags, p.cluster = cs.Tags, cs.Cluster
			}
			pairs = append(pairs, p)
		}
	}
	// The pairs hold their labels: the caller's map of every case (a large
	// suite's is tens of megabytes) is dropped before the metrics allocate.
	opts.Cases, opts.Label = nil, nil
	c.Paired = len(pairs)
	if n := c.Excluded.Total(); n > 0 {
		c.Warnings = append(c.Warnings, fmt.Errorf("%d cases left out: %s", n, c.Excluded))
	}
	if c.Paired < MinPairedCases {
		c.Warnings = append(c.Warnings, fmt.Errorf("only %d paired cases: too few to detect any but large changes (want ≥ %d)", c.Paired, MinPairedCases))
	}

	clusters := make([]string, len(pairs))
	clustered := false
	seen := make(map[string]bool)
	for i, p := range pairs {
		clusters[i] = p.cluster
		if p.cluster != "" {
			if seen[p.cluster] {
				clustered = true
			}
			seen[p.cluster] = true
		}
	}
	if !clustered {
		clusters = nil
	}
	cmpr := comparer{c: c, pol: pol, ra: ra, rb: rb, pairs: pairs, clusters: clusters, level: 1 - pol.Alpha}
	cmpr.mean = pol.Aggregate == AggregateMean && cmpr.maxSamples() >= 2
	cmpr.scale = cmpr.sampleScale()
	c.Aggregation = AggregationMajority
	if cmpr.mean {
		c.Aggregation = AggregationMean
	}

	// The continuous measures and drift are computed beside the pass rates
	// and flips (they write only c.Measures and c.Drift; the measures'
	// warnings are added after the pass rates', as when they came after),
	// once the texts they and the flips read are read.
	overall := cmpr.outcomes(nil, "")
	if err := cmpr.readTexts(overall); err != nil {
		return nil, err
	}
	var measureWarnings []error
	var wg sync.WaitGroup
	wg.Go(func() {
		measureWarnings = cmpr.measures(opts)
		cmpr.drift(opts.Floor)
	})

	// Pass rates: overall, per scorer, per tag.
	c.PassRates = append(c.PassRates, cmpr.passRate(PassOverall, "", overall, pol.overall(), true))
	scorerSet := make(map[string]bool)
	for _, p := range pairs {
		for _, ch := range ra.firstChecks(p.a) {
			scorerSet[ch.Scorer] = true
		}
	}
	for _, s := range sortedKeys(scorerSet) {
		sel := make([]int, 0, len(pairs))
		for i, p := range pairs {
			if hasScorer(ra.firstChecks(p.a), s) && hasScorer(rb.firstChecks(p.b), s) {
				sel = append(sel, i)
			}
		}
		// A scorer is gated by default when it has enough cases to resolve
		// something; one the policy names is gated whatever its size.
		_, named := pol.Scorers[s]
		gated := named || len(sel) >= pol.MinGatedCases
		c.PassRates = append(c.PassRates, cmpr.passRate(PassScorer, s, cmpr.outcomes(sel, s), pol.scorer(s), gated))
	}
	tagSel := make(map[string][]int)
	for i, p := range pairs {
		for _, t := range p.tags {
			tagSel[t] = append(tagSel[t], i)
		}
	}
	for _, t := range sortedKeys(tagSel) {
		gated := slices.Contains(pol.NeverRegress, t)
		c.Tags = append(c.Tags, cmpr.passRate(PassTag, t, overall.subset(tagSel[t]), pol.tag(t), gated))
	}
	for _, t := range pol.NeverRegress {
		if _, ok := tagSel[t]; !ok {
			c.Warnings = append(c.Warnings, fmt.Errorf("the policy's never-regress tag %q has no paired cases", t))
		}
	}
	c.dedupe()

	// Flips of the overall outcome.
	flips := 0
	for i := range pairs {
		if overall.a[i] != overall.b[i] {
			flips++
		}
	}
	if flips > 0 {
		c.Flips = make([]Flip, 0, flips)
	}
	for i, p := range pairs {
		sa, sb := overall.a[i], overall.b[i]
		if sa == sb {
			continue
		}
		f := Flip{CaseID: ra.cases[p.a].id, Lost: sa > sb, BaselinePass: sa, CandidatePass: sb, Tags: p.tags,
			Baseline: cmpr.ta.text(ra.cases[p.a].first), Candidate: cmpr.tb.text(rb.cases[p.b].first)}
		// The failed checks of sample 0 of the side that did worse.
		failing := rb.firstChecks(p.b)
		if !f.Lost {
			failing = ra.firstChecks(p.a)
		}
		for _, ch := range failing {
			if !ch.Pass {
				f.Failed = append(f.Failed, strings.TrimSuffix(ch.Scorer+": "+ch.Detail, ": "))
			}
		}
		c.Flips = append(c.Flips, f)
	}

	wg.Wait()
	c.Warnings = append(c.Warnings, measureWarnings...)
	cmpr.adjustAndJudge()
	c.judgeGate(lostKinds, firstLost)
	return c, nil
}

// comparer holds what the metrics of one comparison share.
type comparer struct {
	c        *Comparison
	pol      Policy
	ra, rb   *Results
	ta, tb   sideTexts // the outputs read of each side (readTexts)
	pairs    []pair
	clusters []string // nil when no two cases share a cluster
	level    float64
	// mean reports whether samples are averaged (Policy.Aggregate is
	// AggregateMean and a case has two or more samples).
	mean bool
	// scale is the least common multiple of the cases' numbers of samples
	// (1 unless samples are averaged): a pass share times it is whole.
	scale int
}

func hasScorer(cs []eval.Check, s string) bool {
	for _, c := range cs {
		if c.Scorer == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// measures computes length, latency and similarity, and returns the
// comparison's warnings about them.
func (m *comparer) measures(opts Options) (warnings []error) {
	resamples, seed := opts.Resamples, opts.Seed
	if resamples == 0 {
		resamples = stats.DefaultResamples
	}
	if seed == 0 {
		seed = stats.DefaultSeed
	}
	n := len(m.pairs)
	lenA, lenB := make([]float64, n), make([]float64, n)
	latA, latB := make([]float64, n), make([]float64, n)
	for i, p := range m.pairs {
		lenA[i], latA[i] = meanLenLat(m.ra.samples(p.a))
		lenB[i], latB[i] = meanLenLat(m.rb.samples(p.b))
	}
	// Latency is only described: its interval would be dropped.
	lat := m.measure(MeasureLatency, "ms", latB, latA, resamples, seed, stats.WilcoxonShift)
	if lat.Gated {
		warnings = append(warnings, fmt.Errorf("the policy gates latency (measures: latency), but %s: latency is reported, not gated", RunLevelWords))
	}
	lat.describe()
	m.c.Measures = append(m.c.Measures, m.measure(MeasureLength, "chars", lenB, lenA, resamples, seed, stats.Wilcoxon), lat)

	// Similarity of each candidate output to its baseline output, held against
	// the similarity of two samples of one run.
	var j jaccard
	between := make([]float64, n)
	var within []float64
	floorA := m.c.Baseline.Settings.Samples >= 2
	floorB := !floorA && m.c.Candidate.Settings.Samples >= 2
	if floorA || floorB {
		within = make([]float64, n)
	}
	for i, p := range m.pairs {
		between[i] = j.rowSimilarity(m.ra.cases[p.a].first, m.rb.cases[p.b].first, m.ra, m.rb, &m.ta, &m.tb)
		if within == nil {
			continue
		}
		rs, ts, k := m.ra, &m.ta, p.a
		if floorB {
			rs, ts, k = m.rb, &m.tb, p.b
		}
		if c := &rs.cases[k]; c.n < 2 {
			within[i] = math.NaN()
		} else {
			within[i] = j.rowSimilarity(c.first, c.first+1, rs, rs, ts, ts)
		}
	}
	if within != nil {
		// Cases with a single stored sample have no floor; leave them out.
		bw, ww := between[:0:0], within[:0:0]
		for i := range between {
			if !math.IsNaN(within[i]) {
				bw, ww = append(bw, between[i]), append(ww, within[i])
			}
		}
		m.c.Measures = append(m.c.Measures, m.measure(MeasureSimilarity, "", bw, ww, resamples, seed, stats.Wilcoxon))
		return warnings
	}
	ms := Measure{Name: MeasureSimilarity, N: n, Baseline: math.NaN(), Candidate: median(between),
		P: math.NaN(), AdjP: math.NaN(), Shift: math.NaN(), CI: stats.Interval{Lo: math.NaN(), Hi: math.NaN(), Level: m.level},
		Threshold: m.pol.measure(MeasureSimilarity), Verdict: NoChange}
	_, ms.Gated = m.pol.Measures[MeasureSimilarity]
	ms.Bootstrap = stats.BootstrapMedian(between, m.level, resamples, seed)
	ms.Warnings = append(ms.Warnings, errors.New("samples = 1: the similarity of repeats (the noise floor) is unmeasured, so similarity is not tested"))
	m.c.Measures = append(m.c.Measures, ms)
	return warnings
}

// id returns the case id of the pair p.
func (m *comparer) id(p pair) string { return m.ra.cases[p.a].id }

// meanLenLat returns the mean output length in runes and the mean latency in
// milliseconds of the samples rows.
func meanLenLat(rows []resultRow) (length, latency float64) {
	for _, r := range rows {
		length += float64(r.runes)
		latency += float64(r.latency) / 1e6
	}
	k := float64(len(rows))
	return length / k, latency / k
}

// measure tests x (candidate) against y (baseline) with test, stats.Wilcoxon
// or, for a measure only described, stats.WilcoxonShift.
func (m *comparer) measure(name, unit string, x, y []float64, resamples int, seed uint64, test func(x, y []float64, alpha float64) stats.SignedRank) Measure {
	ms := Measure{Name: name, Unit: unit, N: len(x), Baseline: median(y), Candidate: median(x),
		Threshold: m.pol.measure(name), Tested: true}
	_, ms.Gated = m.pol.Measures[name]
	ms.x, ms.y = x, y
	ms.Test = test(x, y, m.pol.Alpha) // CI at 1 − alpha; a gated measure's is redone at its family's level
	ms.Shift, ms.CI, ms.P = ms.Test.Shift, ms.Test.CI, ms.Test.P
	d := make([]float64, len(x))
	for i := range x {
		d[i] = x[i] - y[i]
	}
	ms.Bootstrap = stats.BootstrapMedian(d, m.level, resamples, seed)
	ms.Warnings = append(ms.Warnings, ms.Test.Warnings...)
	return ms
}

// median returns the median of x (NaN when empty) without modifying it.
func median(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// drift compares the share of changed outputs with the noise floor: between
// the baseline and floor, a second run of its lock, when given; else within
// a run, as a lower bound.
func (m *comparer) drift(floor *Side) {
	d := &m.c.Drift
	d.Cases = len(m.pairs)
	d.MaxExcess = m.pol.MaxDrift
	d.Gated = d.MaxExcess != nil
	d.Verdict = NoChange
	nan := math.NaN()
	d.P, d.AdjP, d.Resolution = nan, nan, nan
	d.CI = stats.Interval{Lo: nan, Hi: nan, Level: nan}
	between := make([]bool, len(m.pairs))
	for i, p := range m.pairs {
		between[i] = m.ra.first(p.a).output != m.rb.first(p.b).output
		if between[i] {
			d.Changed++
		}
	}
	if d.Cases > 0 {
		d.Share = float64(d.Changed) / float64(d.Cases)
	}
	if floor != nil {
		switch {
		case floor.Run.Lock != m.c.Baseline.Lock:
			d.Warnings = append(d.Warnings, fmt.Errorf("run %d is not of the baseline's lock: it cannot set the noise floor", floor.Run.ID))
		case floor.Run.ID != 0 && floor.Run.ID == m.c.Baseline.ID:
			d.Warnings = append(d.Warnings, fmt.Errorf("run %d is the baseline itself: it cannot set the noise floor", floor.Run.ID))
		default:
			if m.driftBetweenRuns(floor, between) {
				return
			}
		}
	}
	rs, side := m.ra, "baseline"
	useB := m.c.Baseline.Settings.Samples < 2 && m.c.Candidate.Settings.Samples >= 2
	if useB {
		rs, side = m.rb, "candidate"
	}
	if m.c.Baseline.Settings.Samples < 2 && !useB {
		d.Warnings = append(d.Warnings, errors.New("samples = 1: the noise floor is unmeasured; run with samples ≥ 2 to test drift"))
		return
	}
	var bw, ww []bool
	for i, p := range m.pairs {
		k := p.a
		if useB {
			k = p.b
		}
		if s := rs.samples(k); len(s) >= 2 {
			bw = append(bw, between[i])
			ww = append(ww, s[0].output != s[1].output)
		}
	}
	d.Measured, d.FloorRun, d.LowerBound = true, side, true
	d.Test = stats.DriftTest(bw, ww, m.pol.Alpha)
	d.Warnings = append(d.Warnings, d.Test.Warnings...)
	if d.Gated {
		d.Warnings = append(d.Warnings, fmt.Errorf("the noise floor is the disagreement of repeats within the %s run, a lower bound "+
			"(repeats in one server process agree more than two runs do): drift above it never fails the gate on its own; "+
			"run the baseline's lock twice for a floor between runs", side))
	}
}

// driftBetweenRuns tests drift against the disagreement of sample 0 of the
// baseline and of floor, another run of its lock, over the paired cases the
// floor answered with the same case hash; between holds whether each pair's
// outputs differ. It reports false, leaving d untouched, when the floor
// shares no case with the pairs.
func (m *comparer) driftBetweenRuns(floor *Side, between []bool) bool {
	d := &m.c.Drift
	fr := floor.rows()
	var bw, ww []bool
	for i, p := range m.pairs {
		j, ok := slices.BinarySearchFunc(fr.cases, m.id(p), func(c resultCase, id string) int { return strings.Compare(c.id, id) })
		if !ok || fr.first(int32(j)).failed || fr.cases[j].hash != m.ra.cases[p.a].hash {
			continue
		}
		bw = append(bw, between[i])
		ww = append(ww, m.ra.first(p.a).output != fr.first(int32(j)).output)
	}
	if len(bw) == 0 {
		d.Warnings = append(d.Warnings, fmt.Errorf("run %d shares no case with the comparison: it cannot set the noise floor", floor.Run.ID))
		return false
	}
	if len(bw) < len(m.pairs) {
		d.Warnings = append(d.Warnings, fmt.Errorf("the noise floor (run %d) covers %d of the %d paired cases; drift is tested on those", floor.Run.ID, len(bw), len(m.pairs)))
	}
	d.Measured, d.FloorRun, d.FloorID = true, FloorRerun, floor.Run.ID
	d.Test = stats.DriftTest(bw, ww, m.pol.Alpha)
	d.Warnings = append(d.Warnings, d.Test.Warnings...)
	return true
}

// sideLabel names a side's run: "run 12", or "the baseline file".
func sideLabel(r eval.Run) string {
	if r.ID == 0 {
		return "the baseline file"
	}
	return fmt.Sprintf("run %d", r.ID)
}
