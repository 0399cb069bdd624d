// Package compare turns two runs of a suite — a baseline and a candidate —
// into a paired Comparison: pass rates per scorer and tag with intervals and
// exact tests, continuous measures, output drift against a noise floor, the
// flipped cases, and the gate's verdict (PASS, FAIL or INCONCLUSIVE) under a
// Policy. The statistics themselves are in eval/stats; rendering is report's.
package compare

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/stats"
	"github.com/evalpin/evalpin/internal/fault"
)

// A Verdict is a metric's conclusion in the manner of benchstat: a change is
// called only when it is statistically significant (after the metric's
// multiple-comparison adjustment) and beyond the policy's practical threshold.
type Verdict string

// The verdicts of a metric.
const (
	Regressed Verdict = "regressed" // significantly and materially worse
	Improved  Verdict = "improved"  // significantly and materially better
	Changed   Verdict = "changed"   // a material, significant change of a measure without a better direction (output length)
	NoChange  Verdict = "~"         // no detectable change at the suite's resolution
)

// Adjustments name the multiple-comparison adjustment a metric's AdjP comes from.
const (
	AdjustHolm = "holm" // gated metrics: family-wise error control
	AdjustBH   = "bh"   // the exploratory per-tag listing: false discovery rate
	AdjustNone = ""     // not tested (no p-value)
)

// The pass-rate tests: McNemar's exact test on the flips, or, when cases share
// clusters, a t test on the CR1 cluster-robust standard error.
const (
	MethodMcNemar   = "mcnemar"
	MethodClustered = "clustered"
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

// Aggregation states in words how the samples of a case are combined; reports
// print it and docs/diff.md explains it.
const Aggregation = "a case passes a check on one side when a strict majority of its samples pass it " +
	"(one sample: that sample); length and latency are the mean over samples; " +
	"similarity and drift compare sample 0 of each side, the noise floor samples 0 and 1 of one side"

// A Side is one run of a comparison with its stored results.
type Side struct {
	Run     eval.Run
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

// A PassRate compares the share of paired cases that pass, overall, for one
// scorer or among the cases of one tag.
type PassRate struct {
	Kind string // PassOverall, PassScorer or PassTag
	Key  string // the scorer's or tag's name; "" for overall
	// Counts is the 2×2 table of the cases under baseline (A) and candidate (B).
	Counts              stats.PairCounts
	Baseline, Candidate stats.Proportion // Wilson intervals
	// Diff is the candidate's pass rate minus the baseline's; CI its interval:
	// Newcombe's paired interval, or the cluster-robust one when Method is
	// MethodClustered.
	Diff    float64
	CI      stats.Interval
	McNemar stats.McNemar
	Method  string // MethodMcNemar or MethodClustered
	Cluster *stats.ClusterMean
	P       float64 // the raw two-sided p-value of Method
	AdjP    float64 // P after Adjust; NaN when not tested
	Adjust  string  // AdjustHolm for gated metrics, AdjustBH for the other tags
	// Detectable is the smallest change the test could have detected with 80%
	// power at the alpha the metric is judged at (alpha over the number of
	// gated metrics for a gated one: Holm's first step).
	Detectable stats.Detectable
	Threshold  Threshold // the policy's practical threshold for this metric
	Gated      bool      // whether the gate judges this metric
	Verdict    Verdict
	// NotNonInferior reports that the metric has a non-inferiority margin and
	// the interval's lower end lies below −margin: a loss larger than the margin
	// is not ruled out.
	NotNonInferior bool
	// Lost and Gained are the case ids that flipped pass→fail and fail→pass.
	Lost, Gained []string
	Warnings     []error
}

// Name returns the metric's label: "all checks", "scorer NAME" or "tag NAME".
func (p *PassRate) Name() string {
	switch p.Kind {
	case PassScorer:
		return "scorer " + p.Key
	case PassTag:
		return "tag " + p.Key
	}
	return "all checks"
}

// Failed reports whether the metric fails the gate.
func (p *PassRate) Failed() bool { return p.Gated && (p.Verdict == Regressed || p.NotNonInferior) }

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
	P, AdjP   float64 // NaN when not tested
	Adjust    string
	Threshold Threshold // MinEffect is relative to the baseline median for length and latency
	Gated     bool
	Verdict   Verdict
	Warnings  []error
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
	// Measured reports whether a run had samples ≥ 2, so that the noise floor
	// is known; Test is valid only then.
	Measured  bool
	FloorRun  string // "baseline" or "candidate": whose repeats set the noise floor
	Test      stats.Drift
	AdjP      float64
	Adjust    string
	MaxExcess *float64 // the policy's maximum drift above the noise floor; nil = not gated
	Gated     bool
	Verdict   Verdict
	Warnings  []error
}

// Failed reports whether drift fails the gate.
func (d *DriftResult) Failed() bool { return d.Gated && d.Verdict == Regressed }

// A Flip is a case whose overall verdict changed between the runs.
type Flip struct {
	CaseID string
	Lost   bool // pass→fail; false for fail→pass
	Tags   []string
	// Baseline and Candidate are the outputs of sample 0: untrusted text.
	Baseline, Candidate string
	// Failed lists the failing checks ("scorer: detail") of the side that fails.
	Failed []string
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
	Tags     []PassRate
	Measures []Measure // length, latency, similarity
	Drift    DriftResult
	Flips    []Flip // overall flips, by case id
	Gate     GateResult
	Warnings []error
}

// ErrSettingsDiffer is wrapped by Diff's refusal of runs whose settings
// hashes differ.
var ErrSettingsDiffer = errors.New("runs have different settings")

// caseSide is one case's results on one side: indices into Side.Results in
// sample order.
type caseSide struct {
	id      string
	idx     []int32
	errored bool
	errKind string // the error kind of the first failed sample, when errored
}

// group splits results into cases, ordered by case id, samples in order. The
// store returns results in that order already; other input is sorted first.
func group(rs []eval.Result) []caseSide {
	perm := make([]int32, len(rs))
	for i := range perm {
		perm[i] = int32(i)
	}
	less := func(a, b int32) int {
		if c := strings.Compare(rs[a].CaseID, rs[b].CaseID); c != 0 {
			return c
		}
		return cmp.Compare(rs[a].Sample, rs[b].Sample)
	}
	if !slices.IsSortedFunc(perm, less) {
		slices.SortStableFunc(perm, less)
	}
	cases := 0
	for i := range perm {
		if i == 0 || rs[perm[i]].CaseID != rs[perm[i-1]].CaseID {
			cases++
		}
	}
	out := make([]caseSide, 0, cases)
	for lo := 0; lo < len(perm); {
		id := rs[perm[lo]].CaseID
		hi := lo
		cs := caseSide{id: id}
		for hi < len(perm) && rs[perm[hi]].CaseID == id {
			if r := &rs[perm[hi]]; r.Error != "" && !cs.errored {
				cs.errored, cs.errKind = true, cmp.Or(r.ErrorKind, UnknownErrorKind)
			}
			hi++
		}
		cs.idx = perm[lo:hi:hi]
		out = append(out, cs)
		lo = hi
	}
	return out
}

// pair is one paired case.
type pair struct {
	id      string
	a, b    *caseSide
	tags    []string
	cluster string
}

// Diff pairs candidate with baseline by case id and computes every metric
// of the diff, the verdicts and the gate under the options' policy. It refuses
// runs whose settings hashes differ unless opts.AllowSettingsMismatch. Diff
// does no I/O; its result refers to the sides' outputs without copying them.
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
		Policy: pol, Aggregation: Aggregation,
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
			return nil, fault.Errorf(fault.Input, "",
				"%w: baseline run %d has settings %s, candidate run %d has %s",
				ErrSettingsDiffer, baseline.Run.ID, short(bs), candidate.Run.ID, short(cs))
		}
		c.Warnings = append(c.Warnings, fmt.Errorf("the runs' settings differ (%s vs %s): differences may come from the settings, not the model", short(bs), short(cs)))
	}
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
	ga, gb := group(baseline.Results), group(candidate.Results)
	ra, rb := baseline.Results, candidate.Results
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
		case ra[a.idx[0]].CaseHash != rb[b.idx[0]].CaseHash:
			c.Excluded.HashChanged++
		case a.errored:
			c.Excluded.BaselineErrored++
		case b.errored:
			c.Excluded.CandidateErrored++
			lostKinds[b.errKind]++
			if firstLost == "" {
				firstLost = b.id
			}
		default:
			p := pair{id: a.id, a: a, b: b}
			if cs, ok := opts.Cases[a.id]; ok {
				p.tags, p.cluster = cs.Tags, cs.Cluster
			}
			pairs = append(pairs, p)
		}
	}
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

	// Pass rates: overall, per scorer, per tag.
	overallA := make([]bool, len(pairs))
	overallB := make([]bool, len(pairs))
	for i, p := range pairs {
		overallA[i] = majority(ra, p.a.idx, "")
		overallB[i] = majority(rb, p.b.idx, "")
	}
	c.PassRates = append(c.PassRates, cmpr.passRate(PassOverall, "", nil, overallA, overallB, pol.overall()))
	scorerSet := make(map[string]bool)
	for _, p := range pairs {
		for _, ch := range ra[p.a.idx[0]].Checks {
			scorerSet[ch.Scorer] = true
		}
	}
	for _, s := range sortedKeys(scorerSet) {
		sel := make([]int, 0, len(pairs))
		xa, xb := make([]bool, 0, len(pairs)), make([]bool, 0, len(pairs))
		for i, p := range pairs {
			if !hasScorer(ra[p.a.idx[0]].Checks, s) || !hasScorer(rb[p.b.idx[0]].Checks, s) {
				continue
			}
			sel = append(sel, i)
			xa = append(xa, majority(ra, p.a.idx, s))
			xb = append(xb, majority(rb, p.b.idx, s))
		}
		c.PassRates = append(c.PassRates, cmpr.passRate(PassScorer, s, sel, xa, xb, pol.scorer(s)))
	}
	tagSel := make(map[string][]int)
	for i, p := range pairs {
		for _, t := range p.tags {
			tagSel[t] = append(tagSel[t], i)
		}
	}
	for _, t := range sortedKeys(tagSel) {
		sel := tagSel[t]
		xa := make([]bool, len(sel))
		xb := make([]bool, len(sel))
		for j, i := range sel {
			xa[j], xb[j] = overallA[i], overallB[i]
		}
		pr := cmpr.passRate(PassTag, t, sel, xa, xb, pol.tag(t))
		pr.Gated = slices.Contains(pol.NeverRegress, t)
		c.Tags = append(c.Tags, pr)
	}
	for _, t := range pol.NeverRegress {
		if _, ok := tagSel[t]; !ok {
			c.Warnings = append(c.Warnings, fmt.Errorf("the policy's never-regress tag %q has no paired cases", t))
		}
	}

	// Continuous measures and drift.
	cmpr.measures(opts)
	cmpr.drift()

	// Flips of the overall verdict.
	for i, p := range pairs {
		if overallA[i] == overallB[i] {
			continue
		}
		f := Flip{CaseID: p.id, Lost: overallA[i], Tags: p.tags,
			Baseline: ra[p.a.idx[0]].Output, Candidate: rb[p.b.idx[0]].Output}
		failing := rb[p.b.idx[0]]
		if !f.Lost {
			failing = ra[p.a.idx[0]]
		}
		for _, ch := range failing.Checks {
			if !ch.Pass {
				f.Failed = append(f.Failed, strings.TrimSuffix(ch.Scorer+": "+ch.Detail, ": "))
			}
		}
		c.Flips = append(c.Flips, f)
	}

	cmpr.adjustAndJudge()
	c.judgeGate(lostKinds, firstLost)
	return c, nil
}

// comparer holds what the metrics of one comparison share.
type comparer struct {
	c        *Comparison
	pol      Policy
	ra, rb   []eval.Result
	pairs    []pair
	clusters []string // nil when no two cases share a cluster
	level    float64
}

// majority reports whether a strict majority of the samples idx pass every
// check of scorer (every check at all when scorer is "").
func majority(rs []eval.Result, idx []int32, scorer string) bool {
	pass := 0
	for _, i := range idx {
		ok := true
		for _, ch := range rs[i].Checks {
			if (scorer == "" || ch.Scorer == scorer) && !ch.Pass {
				ok = false
				break
			}
		}
		if ok && rs[i].Error == "" {
			pass++
		}
	}
	return 2*pass > len(idx)
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

// passRate compares the paired outcomes a (baseline) and b (candidate) of the
// cases sel (indices into pairs; nil means all).
func (m *comparer) passRate(kind, key string, sel []int, a, b []bool, th Threshold) PassRate {
	pr := PassRate{Kind: kind, Key: key, Threshold: th, Gated: kind != PassTag, Method: MethodMcNemar}
	pr.Counts = stats.CountPairs(a, b)
	n := pr.Counts.N()
	pr.Baseline = stats.Wilson(pr.Counts.Both+pr.Counts.OnlyA, n, m.level)
	pr.Candidate = stats.Wilson(pr.Counts.Both+pr.Counts.OnlyB, n, m.level)
	d := stats.DiffPaired(pr.Counts, m.level)
	pr.Diff, pr.CI = d.Diff, d.CI
	pr.McNemar = stats.McNemarTest(pr.Counts, m.pol.Alpha)
	pr.P = pr.McNemar.P
	pr.Warnings = append(pr.Warnings, d.Warnings...)
	pr.Warnings = append(pr.Warnings, pr.McNemar.Warnings...)
	if m.clusters != nil && n > 0 {
		diffs := make([]float64, n)
		cl := make([]string, n)
		for j := range a {
			i := j
			if sel != nil {
				i = sel[j]
			}
			diffs[j] = b2f(b[j]) - b2f(a[j])
			cl[j] = m.clusters[i]
		}
		cm := stats.ClusteredMean(diffs, cl, m.level)
		pr.Cluster = &cm
		pr.Method = MethodClustered
		// A difference of pass rates lies in [−1, 1]; with few clusters the
		// t interval reaches beyond, which says nothing more.
		pr.CI = cm.CI
		pr.CI.Lo, pr.CI.Hi = math.Max(pr.CI.Lo, -1), math.Min(pr.CI.Hi, 1)
		pr.P = clusteredP(cm)
		pr.Warnings = append(pr.Warnings, cm.Warnings...)
	}
	for j := range a {
		if a[j] == b[j] {
			continue
		}
		i := j
		if sel != nil {
			i = sel[j]
		}
		if a[j] {
			pr.Lost = append(pr.Lost, m.pairs[i].id)
		} else {
			pr.Gained = append(pr.Gained, m.pairs[i].id)
		}
	}
	return pr
}

// clusteredP is the two-sided p-value of the cluster-robust t statistic
// Mean/SE on G−1 degrees of freedom: 1 when nothing changed, NaN when it
// cannot be computed (one cluster).
func clusteredP(cm stats.ClusterMean) float64 {
	if cm.Mean == 0 {
		return 1
	}
	if cm.DF < 1 || !(cm.SE > 0) {
		return math.NaN()
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: cm.DF}
	return math.Min(1, 2*t.Survival(math.Abs(cm.Mean/cm.SE)))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// measures computes length, latency and similarity.
func (m *comparer) measures(opts Options) {
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
		lenA[i], latA[i] = meanLenLat(m.ra, p.a.idx)
		lenB[i], latB[i] = meanLenLat(m.rb, p.b.idx)
	}
	m.c.Measures = append(m.c.Measures,
		m.measure(MeasureLength, "chars", lenB, lenA, resamples, seed),
		m.measure(MeasureLatency, "ms", latB, latA, resamples, seed))

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
		a0 := m.ra[p.a.idx[0]].Output
		between[i] = j.similarity(a0, m.rb[p.b.idx[0]].Output)
		if within == nil {
			continue
		}
		rs, idx := m.ra, p.a.idx
		if floorB {
			rs, idx = m.rb, p.b.idx
		}
		if len(idx) < 2 {
			within[i] = math.NaN()
			continue
		}
		within[i] = j.similarity(rs[idx[0]].Output, rs[idx[1]].Output)
	}
	if within != nil {
		// Cases with a single stored sample have no floor; leave them out.
		bw, ww := between[:0:0], within[:0:0]
		for i := range between {
			if !math.IsNaN(within[i]) {
				bw, ww = append(bw, between[i]), append(ww, within[i])
			}
		}
		m.c.Measures = append(m.c.Measures, m.measure(MeasureSimilarity, "", bw, ww, resamples, seed))
		return
	}
	ms := Measure{Name: MeasureSimilarity, N: n, Baseline: math.NaN(), Candidate: median(between),
		P: math.NaN(), AdjP: math.NaN(), Shift: math.NaN(), CI: stats.Interval{Lo: math.NaN(), Hi: math.NaN(), Level: m.level},
		Threshold: m.pol.measure(MeasureSimilarity), Verdict: NoChange}
	_, ms.Gated = m.pol.Measures[MeasureSimilarity]
	ms.Bootstrap = stats.BootstrapMedian(between, m.level, resamples, seed)
	ms.Warnings = append(ms.Warnings, errors.New("samples = 1: the similarity of repeats (the noise floor) is unmeasured, so similarity is not tested"))
	m.c.Measures = append(m.c.Measures, ms)
}

// meanLenLat returns the mean output length in runes and the mean latency in
// milliseconds of the samples idx.
func meanLenLat(rs []eval.Result, idx []int32) (length, latency float64) {
	for _, i := range idx {
		length += float64(utf8.RuneCountInString(rs[i].Output))
		latency += float64(rs[i].Latency) / 1e6
	}
	k := float64(len(idx))
	return length / k, latency / k
}

// measure tests x (candidate) against y (baseline).
func (m *comparer) measure(name, unit string, x, y []float64, resamples int, seed uint64) Measure {
	ms := Measure{Name: name, Unit: unit, N: len(x), Baseline: median(y), Candidate: median(x),
		Threshold: m.pol.measure(name), Tested: true}
	_, ms.Gated = m.pol.Measures[name]
	ms.Test = stats.Wilcoxon(x, y, m.pol.Alpha) // CI at 1 − alpha, the report's level
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

// drift compares the share of changed outputs with the noise floor.
func (m *comparer) drift() {
	d := &m.c.Drift
	d.Cases = len(m.pairs)
	d.MaxExcess = m.pol.MaxDrift
	d.Gated = d.MaxExcess != nil
	d.Verdict = NoChange
	d.AdjP = math.NaN()
	between := make([]bool, len(m.pairs))
	for i, p := range m.pairs {
		between[i] = m.ra[p.a.idx[0]].Output != m.rb[p.b.idx[0]].Output
		if between[i] {
			d.Changed++
		}
	}
	if d.Cases > 0 {
		d.Share = float64(d.Changed) / float64(d.Cases)
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
		idx := p.a.idx
		if useB {
			idx = p.b.idx
		}
		if len(idx) < 2 {
			continue
		}
		bw = append(bw, between[i])
		ww = append(ww, rs[idx[0]].Output != rs[idx[1]].Output)
	}
	d.Measured, d.FloorRun = true, side
	d.Test = stats.DriftTest(bw, ww, m.pol.Alpha)
	d.Warnings = append(d.Warnings, d.Test.Warnings...)
}

// adjustAndJudge applies Holm to the gated metrics and Benjamini–Hochberg to
// the exploratory tags, then sets every verdict, the detectable effects and
// the gate's regressions.
func (m *comparer) adjustAndJudge() {
	c := m.c
	alpha := m.pol.Alpha
	// The Holm family: every gated metric with a p-value.
	var ps []float64
	var sets []func(float64)
	add := func(p float64, gated bool, set func(float64)) {
		if gated {
			ps = append(ps, p)
			sets = append(sets, set)
		}
	}
	for i := range c.PassRates {
		pr := &c.PassRates[i]
		add(pr.P, pr.Gated, func(q float64) { pr.AdjP, pr.Adjust = q, AdjustHolm })
	}
	for i := range c.Tags {
		pr := &c.Tags[i]
		add(pr.P, pr.Gated, func(q float64) { pr.AdjP, pr.Adjust = q, AdjustHolm })
	}
	for i := range c.Measures {
		ms := &c.Measures[i]
		ms.AdjP = math.NaN()
		if ms.Tested {
			add(ms.P, ms.Gated, func(q float64) { ms.AdjP, ms.Adjust = q, AdjustHolm })
		}
	}
	if c.Drift.Measured {
		add(c.Drift.Test.P, c.Drift.Gated, func(q float64) { c.Drift.AdjP, c.Drift.Adjust = q, AdjustHolm })
	}
	holm := stats.Holm(ps)
	family := 0
	for i, q := range holm {
		sets[i](q)
		if !math.IsNaN(ps[i]) {
			family++
		}
	}
	// Exploratory tags: Benjamini–Hochberg over the tags that are not gated.
	var tp []float64
	var ti []int
	for i := range c.Tags {
		if !c.Tags[i].Gated {
			tp = append(tp, c.Tags[i].P)
			ti = append(ti, i)
		}
	}
	for k, q := range stats.BenjaminiHochberg(tp) {
		c.Tags[ti[k]].AdjP, c.Tags[ti[k]].Adjust = q, AdjustBH
	}

	gatedAlpha := alpha / float64(max(family, 1))
	judge := func(pr *PassRate) {
		a := alpha
		if pr.Gated {
			a = gatedAlpha
		}
		n := pr.Counts.N()
		psi := 0.0
		if n > 0 {
			psi = float64(pr.Counts.Discordant()) / float64(n)
		}
		neff := n
		if pr.Cluster != nil && pr.Cluster.DesignEffect > 1 {
			neff = int(float64(n) / pr.Cluster.DesignEffect)
		}
		pr.Detectable = stats.MinDetectable(neff, psi, a, stats.DefaultPower, stats.TwoSided)
		pr.Warnings = append(pr.Warnings, pr.Detectable.Warnings...)
		pr.Verdict = verdict(pr.AdjP, pr.Diff, math.Abs(pr.Diff) > pr.Threshold.MinEffect, alpha, true)
		if pr.Threshold.NonInferiority > 0 && pr.CI.Lo < -pr.Threshold.NonInferiority {
			pr.NotNonInferior = true
		}
	}
	for i := range c.PassRates {
		judge(&c.PassRates[i])
	}
	for i := range c.Tags {
		judge(&c.Tags[i])
	}
	for i := range c.Measures {
		ms := &c.Measures[i]
		if !ms.Tested {
			continue
		}
		if ms.Adjust == "" {
			ms.AdjP = ms.P
		}
		beyond := math.Abs(ms.Shift) > ms.Threshold.MinEffect
		better := -1.0 // latency: lower is better
		switch ms.Name {
		case MeasureLength:
			beyond = math.Abs(ms.Shift) > ms.Threshold.MinEffect*math.Abs(ms.Baseline)
			better = 0
		case MeasureLatency:
			beyond = math.Abs(ms.Shift) > ms.Threshold.MinEffect*math.Abs(ms.Baseline)
		case MeasureSimilarity:
			better = 1 // closer to the baseline than its own repeats is not worse
		}
		switch {
		case !(ms.AdjP <= alpha) || !beyond:
			ms.Verdict = NoChange
		case better == 0:
			ms.Verdict = Changed
		case ms.Shift*better > 0:
			ms.Verdict = Improved
		default:
			ms.Verdict = Regressed
		}
	}
	if d := &c.Drift; d.Measured {
		if d.Adjust == "" {
			d.AdjP = d.Test.P
		}
		limit := 0.0
		if d.MaxExcess != nil {
			limit = *d.MaxExcess
		}
		if d.AdjP <= alpha && d.Test.Excess > limit {
			d.Verdict = Regressed
		}
	}

	// The gate's regressions.
	for _, list := range [][]PassRate{c.PassRates, c.Tags} {
		for i := range list {
			pr := &list[i]
			if !pr.Failed() {
				continue
			}
			c.Gate.Regressions = append(c.Gate.Regressions, pr.reason(alpha))
		}
	}
	for i := range c.Measures {
		ms := &c.Measures[i]
		if ms.Failed() {
			c.Gate.Regressions = append(c.Gate.Regressions, ms.reason())
		}
	}
	if d := &c.Drift; d.Failed() {
		c.Gate.Regressions = append(c.Gate.Regressions, fmt.Sprintf(
			"output drift: %s of outputs changed against a noise floor of %s (excess %s, %s, holm), above the allowed %s",
			Percent(d.Test.Between), Percent(d.Test.Within), PP(d.Test.Excess), pEq(d.AdjP), PPAbs(*d.MaxExcess)))
	}
}

// verdict decides a directional verdict from an adjusted p-value, the signed
// change and whether it is beyond the practical threshold.
func verdict(adjP, change float64, beyond bool, alpha float64, higherBetter bool) Verdict {
	if !(adjP <= alpha) || !beyond || change == 0 {
		return NoChange
	}
	if (change > 0) == higherBetter {
		return Improved
	}
	return Regressed
}

// reason says why a pass rate fails the gate.
func (p *PassRate) reason(alpha float64) string {
	head := fmt.Sprintf("pass rate (%s): %s → %s (%s, %d%% CI %s to %s)",
		p.Name(), Percent(p.Baseline.P), Percent(p.Candidate.P), PP(p.Diff),
		int(math.Round(p.CI.Level*100)), PP(p.CI.Lo), PP(p.CI.Hi))
	if p.Verdict == Regressed {
		return fmt.Sprintf("%s regressed: %s (%s) ≤ %g and beyond the %s threshold; %d lost, %d gained",
			head, pEq(p.AdjP), p.Adjust, alpha, PPAbs(p.Threshold.MinEffect), len(p.Lost), len(p.Gained))
	}
	return fmt.Sprintf("%s: a loss larger than the non-inferiority margin of %s is not ruled out",
		head, PP(p.Threshold.NonInferiority))
}

// reason says why a measure fails the gate.
func (m *Measure) reason() string {
	limit := fmt.Sprintf("%.0f%% of the baseline median", 100*m.Threshold.MinEffect)
	if m.Name == MeasureSimilarity {
		limit = fmt.Sprintf("%.3f", m.Threshold.MinEffect)
	}
	return fmt.Sprintf("%s %s: median %s → %s, shift %s (%s, %s), beyond the threshold of %s",
		m.Name, m.Verdict, FormatValue(m.Baseline, m.Unit), FormatValue(m.Candidate, m.Unit),
		FormatValue(m.Shift, m.Unit), pEq(m.AdjP), m.Adjust, limit)
}

// pEq formats "p = 0.003" or "p < 0.0001".
func pEq(p float64) string {
	f := FormatP(p)
	if strings.HasPrefix(f, "<") {
		return "p < " + f[1:]
	}
	return "p = " + f
}

// Words says a pass rate's verdict in words for reports: "regressed",
// "improved" or "no detectable change (could have detected ≥ 2.2 pp)".
func (p *PassRate) Words() string {
	switch {
	case p.NotNonInferior && p.Verdict != Regressed:
		return fmt.Sprintf("not shown non-inferior (margin %s)", PP(p.Threshold.NonInferiority))
	case p.Verdict != NoChange:
		return string(p.Verdict)
	case math.IsInf(p.Detectable.Effect, 1) || math.IsNaN(p.Detectable.Effect):
		return "no detectable change (too few cases to detect any)"
	}
	return fmt.Sprintf("no detectable change (could have detected ≥ %s)", PPAbs(p.Detectable.Effect))
}

// short shortens a hash for messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Percent formats a share as a percentage with one decimal: "91.3%".
func Percent(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

// PP formats a signed difference of shares in percentage points: "−2.1 pp".
func PP(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	s := fmt.Sprintf("%+.1f pp", 100*x)
	if s == "-0.0 pp" || s == "+0.0 pp" {
		return "0.0 pp"
	}
	return strings.Replace(s, "-", "−", 1)
}

// PPAbs formats a share in percentage points without a sign: "2.2 pp".
func PPAbs(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "—"
	}
	return fmt.Sprintf("%.1f pp", 100*x)
}

// FormatP formats a p-value: "0.003", "<0.0001", "—" when untested.
func FormatP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "—"
	case p < 0.0001:
		return "<0.0001"
	case p < 0.001:
		return fmt.Sprintf("%.4f", p)
	}
	return fmt.Sprintf("%.3f", p)
}

// FormatValue formats a measure's value with its unit: "412 chars",
// "1234.5 ms", "0.873".
func FormatValue(x float64, unit string) string {
	switch {
	case math.IsNaN(x):
		return "—"
	case unit == "":
		return fmt.Sprintf("%.3f", x)
	case unit == "chars":
		return fmt.Sprintf("%.1f %s", x, unit)
	}
	return fmt.Sprintf("%.1f %s", x, unit)
}
