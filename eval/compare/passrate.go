package compare

import (
	"math"
	"slices"

	"github.com/evalpin/evalpin/eval/stats"
)

// A PassRate compares the share of paired cases that pass, overall, for one
// scorer or among the cases of one tag.
type PassRate struct {
	Kind string // PassOverall, PassScorer or PassTag
	Key  string // the scorer's or tag's name; "" for overall
	// Counts is the 2×2 table of the cases under baseline (A) and candidate
	// (B). With averaged samples it compares each case's pass share instead:
	// OnlyA counts the cases whose share fell, OnlyB those whose share rose,
	// Both the unchanged ones with a share above 0, Neither those at 0.
	Counts stats.PairCounts
	// Baseline and Candidate are the pass rates with Wilson's intervals at
	// 1 − alpha; with averaged samples, the mean share with the cases as the
	// trials (stats.WilsonShare).
	Baseline, Candidate stats.Proportion
	// Diff is the candidate's pass rate minus the baseline's; CI its interval
	// by Method, at the level that matches the metric's test: CIAdjust says
	// which.
	Diff     float64
	CI       stats.Interval
	CIAdjust string
	// McNemar is McNemar's exact two-sided test on the flips (with averaged
	// samples, the sign test of the cases whose share changed), reported
	// beside the test the verdict reads.
	McNemar stats.McNemar
	Method  string // MethodNewcombe, MethodClustered or MethodMean
	// Cluster is the mean of the paired differences with its cluster-robust
	// standard error, for MethodClustered and MethodMean; nil otherwise.
	Cluster *stats.ClusterMean
	// Clustered reports whether cases share clusters (so Cluster's design
	// effect is the clusters' and not 1).
	Clustered bool
	// The tests of the metric. Each p-value is the larger of two: the exact
	// sign-flip test of no change (stats.SignFlipP; McNemar's exact test for
	// pass/fail cases without clusters), which keeps the gate's false alarms
	// at or below alpha whatever the suite's size, and the test the interval
	// inverts (Newcombe's, or the cluster-robust t test), against the null
	// value, which keeps the words one with the interval. A gated metric is
	// tested one-sided: Loss against a loss and Gain against a gain (null 0),
	// LossBeyond and GainBeyond against a loss or gain beyond the threshold
	// (null ∓MinEffect; an intersection–union test, so a change beyond the
	// threshold is also a significant change), each adjusted by Holm in its
	// family. A reported metric is tested two-sided: Change, adjusted by
	// Benjamini–Hochberg.
	Loss, Gain, LossBeyond, GainBeyond, Change Test
	// P and AdjP are the p-value the reports print, in the direction
	// Alternative: for a gated metric the one-sided test in the direction of
	// Diff (Loss when the rate fell or held, Gain when it rose), for a
	// reported metric Change. Adjust names the adjustment.
	P, AdjP     float64
	Alternative stats.Alternative
	Adjust      string
	// Detectable is the metric's resolution: the smallest change its test
	// detects with stats.DefaultPower at the level it is judged at (for a
	// gated metric, a loss at alpha/m one-sided: Holm's first step), a
	// change adding its own discordant pairs (stats.MinDetectable,
	// stats.MinDetectableMean).
	Detectable stats.Detectable
	Threshold  Threshold // the policy's practical threshold for this metric
	Gated      bool      // whether the gate judges this metric
	// SameAs names an earlier metric with the same cases and the same
	// outcomes (a suite's only scorer and "all checks", a tag that covers
	// every case): this one repeats its numbers and verdict and is not
	// counted again in its family. "" for a metric of its own.
	SameAs  string
	Verdict Verdict
	// NotNonInferior reports that the metric has a non-inferiority margin and
	// the interval's lower end lies below −margin: a loss larger than the margin
	// is not ruled out.
	NotNonInferior bool
	// Lost and Gained are the case ids that did worse and better: flipped
	// pass→fail and fail→pass, or whose pass share fell or rose.
	Lost, Gained []string
	Warnings     []error

	out  outcomes // the per-case data, for dedupe and the tests
	sums []int    // the clusters' sums of differences, in units of 1/scale, for the exact test
}

// A Test is one p-value of a metric and the same after the adjustment for
// the multiple comparisons of its family (NaN when it is not in one).
type Test struct {
	P, AdjP float64
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

// outcomes are a metric's per-case results on each side.
type outcomes struct {
	sel  []int     // indices of the metric's cases among the pairs; nil: every pair
	a, b []float64 // pass shares per case, baseline and candidate: 0 or 1 unless samples are averaged
	// passed and samples count the samples that pass and all samples, per
	// side (cases, when each case is one outcome).
	passed, samples [2]int
}

// outcomes returns the cases sel's outcomes for the checks of scorer (every
// check when scorer is ""): pass shares when samples are averaged, else 0 or
// 1 by a strict majority of the samples.
func (m *comparer) outcomes(sel []int, scorer string) outcomes {
	n := len(m.pairs)
	if sel != nil {
		n = len(sel)
	}
	o := outcomes{sel: sel, a: make([]float64, n), b: make([]float64, n)}
	for j := range n {
		i := j
		if sel != nil {
			i = sel[j]
		}
		p := m.pairs[i]
		for side, cs := range []struct {
			rs  *Results
			k   int32
			out []float64
		}{{m.ra, p.a, o.a}, {m.rb, p.b, o.b}} {
			rows := cs.rs.samples(cs.k)
			pass := cs.rs.passing(rows, scorer)
			if m.mean {
				cs.out[j] = float64(pass) / float64(len(rows))
				o.passed[side] += pass
				o.samples[side] += len(rows)
				continue
			}
			if 2*pass > len(rows) {
				cs.out[j] = 1
				o.passed[side]++
			}
			o.samples[side]++
		}
	}
	return o
}

// subset returns the outcomes of the cases sel among o's (o has every pair).
func (o outcomes) subset(sel []int) outcomes {
	s := outcomes{sel: sel, a: make([]float64, len(sel)), b: make([]float64, len(sel))}
	whole := o.samples[0] == len(o.a) && o.samples[1] == len(o.b) // one outcome per case
	for j, i := range sel {
		s.a[j], s.b[j] = o.a[i], o.b[i]
	}
	for side, x := range [][]float64{s.a, s.b} {
		if whole {
			s.samples[side] = len(x)
			for _, v := range x {
				s.passed[side] += int(v)
			}
			continue
		}
		// Averaged samples: the counts are recounted from the shares, whose
		// denominators the subset does not keep; the rate is the mean share.
		s.samples[side], s.passed[side] = len(x), 0
	}
	return s
}

// passing counts the samples rows (of x) that pass every check of scorer
// (every check at all when scorer is "").
func (x *Results) passing(rows []resultRow, scorer string) int {
	pass := 0
	for _, r := range rows {
		ok := !r.failed
		for _, ch := range x.checks[r.checks] {
			if ok && (scorer == "" || ch.Scorer == scorer) && !ch.Pass {
				ok = false
			}
		}
		if ok {
			pass++
		}
	}
	return pass
}

// maxSamples returns the most samples any paired case has on either side.
func (m *comparer) maxSamples() int {
	k := int32(0)
	for _, p := range m.pairs {
		k = max(k, m.ra.cases[p.a].n, m.rb.cases[p.b].n)
	}
	return int(k)
}

// passRate builds the metric of the outcomes o: its counts, rates,
// difference and the statistic its tests and interval come from. The tests,
// interval and verdict depend on the family the metric is judged in, and
// adjustAndJudge sets them.
func (m *comparer) passRate(kind, key string, o outcomes, th Threshold, gated bool) PassRate {
	pr := PassRate{Kind: kind, Key: key, Threshold: th, Gated: gated, Method: MethodNewcombe, out: o}
	n := len(o.a)
	sumA, sumB := 0.0, 0.0
	for j := range o.a {
		a, b := o.a[j], o.b[j]
		sumA, sumB = sumA+a, sumB+b
		switch {
		case a > b:
			pr.Counts.OnlyA++
		case b > a:
			pr.Counts.OnlyB++
		case a > 0:
			pr.Counts.Both++
		default:
			pr.Counts.Neither++
		}
	}
	pr.McNemar = stats.McNemarTest(pr.Counts, m.pol.Alpha)
	nan := math.NaN()
	pr.Diff = nan
	if n > 0 {
		pr.Diff = (sumB - sumA) / float64(n)
	}
	labels := m.labels(o.sel, n)
	pr.Clustered = labels != nil
	pr.sums = clusterSums(o, labels, m.scale)
	switch {
	case m.mean:
		pr.Method = MethodMean
		if labels == nil {
			labels = make([]string, n) // every case its own cluster: the paired t test
		}
		pr.Baseline = meanRate(o.a, o.passed[0], o.samples[0], m.level)
		pr.Candidate = meanRate(o.b, o.passed[1], o.samples[1], m.level)
	default:
		pr.Baseline = stats.Wilson(pr.Counts.Both+pr.Counts.OnlyA, n, m.level)
		pr.Candidate = stats.Wilson(pr.Counts.Both+pr.Counts.OnlyB, n, m.level)
		pr.Warnings = append(pr.Warnings, stats.DiffPaired(pr.Counts, m.level).Warnings...)
		if labels != nil {
			pr.Method = MethodClustered
		}
	}
	if pr.Method != MethodNewcombe && n > 0 {
		d := make([]float64, n)
		for j := range d {
			d[j] = o.b[j] - o.a[j]
		}
		cm := stats.ClusteredMean(d, labels, m.level)
		pr.Cluster = &cm
		pr.Warnings = append(pr.Warnings, cm.Warnings...)
	}
	for j := range o.a {
		if o.a[j] == o.b[j] {
			continue
		}
		i := j
		if o.sel != nil {
			i = o.sel[j]
		}
		if o.a[j] > o.b[j] {
			pr.Lost = append(pr.Lost, m.id(m.pairs[i]))
		} else {
			pr.Gained = append(pr.Gained, m.id(m.pairs[i]))
		}
	}
	return pr
}

// clusterSums returns the sums of the differences b − a of each cluster
// (each case alone when labels is nil), as integers in units of 1/scale:
// scale is a multiple of every case's number of samples, so a pass share
// times scale is whole.
func clusterSums(o outcomes, labels []string, scale int) []int {
	ids := make(map[string]int)
	var sums []int
	for j := range o.a {
		e := int(math.Round(float64(scale) * (o.b[j] - o.a[j])))
		if labels == nil || labels[j] == "" {
			sums = append(sums, e)
			continue
		}
		k, ok := ids[labels[j]]
		if !ok {
			k = len(sums)
			ids[labels[j]] = k
			sums = append(sums, 0)
		}
		sums[k] += e
	}
	return sums
}

// sampleScale returns the least common multiple of the numbers of samples of
// the paired cases (1 unless samples are averaged).
func (m *comparer) sampleScale() int {
	if !m.mean {
		return 1
	}
	l := 1
	for _, p := range m.pairs {
		for _, k := range []int{int(m.ra.cases[p.a].n), int(m.rb.cases[p.b].n)} {
			l = l / gcd(l, k) * k
		}
	}
	return l
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// labels returns the cluster labels of the cases sel (n of them), or nil
// when no two paired cases share a cluster.
func (m *comparer) labels(sel []int, n int) []string {
	if m.clusters == nil {
		return nil
	}
	if sel == nil {
		return m.clusters // every pair: shared, read only
	}
	cl := make([]string, n)
	for j := range cl {
		i := j
		if sel != nil {
			i = sel[j]
		}
		cl[j] = m.clusters[i]
	}
	return cl
}

// meanRate is a side's pass rate with averaged samples: the mean of the
// cases' pass shares, with Wilson's interval taking the cases as the trials
// (stats.WilsonShare). passed and samples count the samples (0 when only
// shares are known).
func meanRate(shares []float64, passed, samples int, level float64) stats.Proportion {
	p := stats.Proportion{K: passed, N: samples, P: math.NaN()}
	if len(shares) > 0 {
		sum := 0.0
		for _, s := range shares {
			sum += s
		}
		p.P = sum / float64(len(shares))
	}
	p.CI = stats.WilsonShare(p.P, len(shares), level)
	return p
}

// pValue is the p-value of the metric's test against the null value null of
// the difference, in the direction alt: the larger of the exact test of no
// change and the test its interval inverts (see PassRate's tests).
func (p *PassRate) pValue(null float64, alt stats.Alternative) float64 {
	if p.Counts.N() == 0 {
		return math.NaN()
	}
	approx := 0.0
	if p.Cluster != nil {
		approx = p.Cluster.P(null, alt)
	} else {
		approx = stats.NewcombeP(p.Counts, null, alt)
	}
	return math.Max(p.exactP(alt), approx)
}

// exactP is the exact sign-flip test of no change in the direction alt.
func (p *PassRate) exactP(alt stats.Alternative) float64 {
	return stats.SignFlipP(p.sums, alt)
}

// widen extends the interval iv to 0 when it excludes 0 but the exact test
// does not reject no change at its level (tail is the one-sided level of
// each end), so that the interval shown is the set of changes the metric's
// tests do not reject: with few flips Newcombe's interval, an approximation,
// can exclude 0 where McNemar's exact test does not. It returns whether it
// did.
func (p *PassRate) widen(iv *stats.Interval, tail float64) bool {
	switch {
	case iv.Hi < 0 && p.exactP(stats.Less) > tail:
		iv.Hi = 0
	case iv.Lo > 0 && p.exactP(stats.Greater) > tail:
		iv.Lo = 0
	default:
		return false
	}
	return true
}

// interval is the metric's interval for the difference at level: Newcombe's,
// or the t interval of Cluster cut to [−1, 1] (a difference of pass rates
// lies there; with few clusters the t interval reaches beyond, which says
// nothing more).
func (p *PassRate) interval(level float64) stats.Interval {
	if p.Counts.N() == 0 {
		return stats.Interval{Lo: math.NaN(), Hi: math.NaN(), Level: level}
	}
	if p.Cluster != nil && p.Cluster.SE > 0 {
		iv := p.Cluster.At(level)
		iv.Lo, iv.Hi = math.Max(iv.Lo, -1), math.Min(iv.Hi, 1)
		return iv
	}
	// Every difference the same (no case changed): the t interval collapses
	// to a point, which would claim a certainty the cases do not give;
	// Newcombe's interval of the cases that fell and rose reflects their
	// number.
	return stats.DiffPaired(p.Counts, level).CI
}

// resolution is the smallest change the metric's test detects at level alpha
// in the direction alt, computed for stats.PlannedPower so that it holds with
// stats.DefaultPower.
func (p *PassRate) resolution(alpha float64, alt stats.Alternative) stats.Detectable {
	n := p.Counts.N()
	m2 := 0.0 // the mean squared difference: for pass/fail outcomes, the discordance
	for j := range p.out.a {
		d := p.out.b[j] - p.out.a[j]
		m2 += d * d
	}
	if n > 0 {
		m2 /= float64(n)
	}
	if p.Cluster == nil {
		return stats.MinDetectable(n, m2, alpha, stats.PlannedPower, alt)
	}
	return stats.MinDetectableMean(n, m2, p.Cluster.DesignEffect, p.Cluster.DF, alpha, stats.PlannedPower, alt)
}

// dedupe marks every pass-rate metric whose cases and outcomes are those of
// an earlier one (overall first, then scorers, then tags) as the same metric:
// it is counted once in its family. The earlier one, the representative, is
// gated when either is, at the stricter threshold of the two.
func (c *Comparison) dedupe() {
	var all []*PassRate
	for i := range c.PassRates {
		all = append(all, &c.PassRates[i])
	}
	for i := range c.Tags {
		all = append(all, &c.Tags[i])
	}
	for j, p := range all {
		for _, q := range all[:j] {
			if q.SameAs != "" || !sameOutcomes(q.out, p.out) {
				continue
			}
			p.SameAs = q.Name()
			if p.Gated {
				if q.Gated {
					q.Threshold.MinEffect = math.Min(q.Threshold.MinEffect, p.Threshold.MinEffect)
					q.Threshold.NonInferiority = math.Max(q.Threshold.NonInferiority, p.Threshold.NonInferiority)
				} else {
					q.Threshold = p.Threshold
				}
				q.Gated, p.Gated = true, false
			}
			break
		}
	}
}

// sameOutcomes reports whether two metrics have the same cases and the same
// outcomes on both sides.
func sameOutcomes(x, y outcomes) bool {
	if len(x.a) != len(y.a) || len(x.a) == 0 {
		return false
	}
	if (x.sel == nil) != (y.sel == nil) {
		// nil stands for every pair, in order.
		sel := x.sel
		if sel == nil {
			sel = y.sel
		}
		for j, i := range sel {
			if i != j {
				return false
			}
		}
	} else if !slices.Equal(x.sel, y.sel) {
		return false
	}
	return slices.Equal(x.a, y.a) && slices.Equal(x.b, y.b)
}
