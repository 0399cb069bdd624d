package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/eval/stats"
)

// pEq formats "p = 0.003" or "p < 0.0001".
func pEq(p float64) string {
	f := FormatP(p)
	if strings.HasPrefix(f, "<") {
		return "p < " + f[1:]
	}
	return "p = " + f
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

// UnitPP is the unit of a Resolution of shares: pass rates and drift, in
// percentage points.
const UnitPP = "pp"

// FormatIn formats x in unit: percentage points for UnitPP ("2.0 pp"), else
// as FormatValue does ("12.5 ms", "0.050").
func FormatIn(x float64, unit string) string {
	switch {
	case math.IsInf(x, 1):
		return "∞"
	case unit == UnitPP:
		return PPAbs(x)
	}
	return FormatValue(x, unit)
}

// LevelPercent formats a confidence level as a percentage without trailing
// zeros: "95%", "97.5%", "99.17%".
func LevelPercent(level float64) string {
	return strconv.FormatFloat(math.Round(level*10000)/100, 'f', -1, 64) + "%"
}

// resolutionWords says what a metric could have detected: "resolution ≥ 7.6
// pp", or that it could detect nothing.
func resolutionWords(effect float64, unit string) string {
	switch {
	case math.IsInf(effect, 1):
		return "too few cases to detect any"
	case math.IsNaN(effect):
		return "resolution unknown"
	}
	return "resolution ≥ " + FormatIn(effect, unit)
}

// underpoweredWords says that a metric's resolution is coarser than the
// policy's threshold: "could detect ≥ 7.6 pp, the policy asks 2.0 pp".
func underpoweredWords(effect, threshold float64, unit, asks string) string {
	if math.IsInf(effect, 1) || math.IsNaN(effect) {
		return fmt.Sprintf("cannot resolve any change (too few cases or clusters), the policy %s %s", asks, FormatIn(threshold, unit))
	}
	return fmt.Sprintf("could detect ≥ %s, the policy %s %s", FormatIn(effect, unit), asks, FormatIn(threshold, unit))
}

// withinWords says that a significant change was not shown beyond the
// threshold lim: "within the 2.0 pp threshold" when its interval lies
// inside ±lim, "not shown beyond the 2.0 pp threshold" when it reaches past.
func withinWords(ci stats.Interval, lim float64, limit string) string {
	if ci.Lo > -lim && ci.Hi < lim {
		return "within the " + limit + " threshold"
	}
	return "not shown beyond the " + limit + " threshold"
}

// Words says a pass rate's verdict in words that match its numbers:
// "regressed", "improved", "significant loss within the 2.0 pp threshold",
// "no significant change (resolution ≥ 2.2 pp)", "no significant change;
// underpowered: could detect ≥ 7.6 pp, the policy asks 2.0 pp"; a metric
// that repeats another says so.
func (p *PassRate) Words() string {
	w := p.verdictWords()
	if p.SameAs != "" {
		w += " (same cases and outcomes as " + p.SameAs + ")"
	}
	return w
}

func (p *PassRate) verdictWords() string {
	th := p.Threshold.MinEffect
	switch {
	case p.NotNonInferior && p.Verdict != Regressed:
		return fmt.Sprintf("not shown non-inferior (margin %s)", PP(p.Threshold.NonInferiority))
	case p.Verdict == Regressed || p.Verdict == Improved:
		return string(p.Verdict)
	case p.Verdict == Within:
		dir := "loss"
		if p.Diff > 0 {
			dir = "gain"
		}
		return fmt.Sprintf("significant %s, %s", dir, withinWords(p.CI, th, PPAbs(th)))
	case p.Verdict == Underpowered && p.fewUnits():
		return fmt.Sprintf("no significant change; underpowered: %s, the policy asks %s", p.unitsWords(), PPAbs(th))
	case p.Verdict == Underpowered:
		return "no significant change; underpowered: " + underpoweredWords(p.Detectable.Effect, th, UnitPP, "asks")
	case p.fewUnits():
		return "no significant change (" + p.unitsWords() + ")"
	}
	return "no significant change (" + resolutionWords(p.Detectable.Effect, UnitPP) + ")"
}

// unitsWords says that a metric has too few independent units for a
// resolution: "16 cases: too few to state a resolution".
func (p *PassRate) unitsWords() string {
	unit := "cases"
	if p.Clustered {
		unit = "clusters"
	}
	return fmt.Sprintf("%d %s: too few to state a resolution", p.Cluster.Clusters, unit)
}

// fewUnits reports whether a metric tested by its t test has fewer
// independent units (clusters, or cases each its own) than a resolution
// needs (stats.MinPowerClusters), but more than one.
func (p *PassRate) fewUnits() bool {
	return p.Cluster != nil && p.Cluster.Clusters >= 2 && p.Cluster.Clusters < stats.MinPowerClusters
}

// limitWords says a measure's threshold: "10% of the baseline median
// (12.1 ms)", or "0.050" for similarity.
func (m *Measure) limitWords() string {
	if m.Name == MeasureSimilarity {
		return fmt.Sprintf("%.3f", m.Threshold.MinEffect)
	}
	return fmt.Sprintf("%.0f%% of the baseline median (%s)", 100*m.Threshold.MinEffect, FormatValue(m.Limit(), m.Unit))
}

// Words says a measure's verdict in words that match its numbers.
func (m *Measure) Words() string {
	switch m.Verdict {
	case Regressed, Improved, Changed:
		return string(m.Verdict)
	case Within:
		return "significant shift, " + withinWords(m.CI, m.Limit(), m.limitWords())
	case Underpowered:
		return "no significant shift; underpowered: " + underpoweredWords(m.Resolution, m.Limit(), m.Unit, "asks")
	}
	switch {
	case m.Descriptive:
		return "descriptive only: one pair of runs is one replicate"
	case !m.Tested:
		return "not tested"
	case m.Test.N == 0:
		return "no significant shift (no pair differs)"
	case math.IsNaN(m.Resolution):
		return fmt.Sprintf("no significant shift (%d differing pairs: too few to state a resolution)", m.Test.N)
	}
	return "no significant shift (" + resolutionWords(m.Resolution, m.Unit) + ")"
}

// FloorWords says what set the noise floor: "baseline re-run 7",
// "baseline repeats, a lower bound".
func (d *DriftResult) FloorWords() string {
	if d.FloorRun == FloorRerun {
		return fmt.Sprintf("%s %d", FloorRerun, d.FloorID)
	}
	return d.FloorRun + " repeats, a lower bound"
}

// Words says the drift verdict in words that match its numbers.
func (d *DriftResult) Words() string {
	limit := d.limit()
	floor := "the noise floor"
	if d.LowerBound {
		floor = "the within-run floor (a lower bound)"
	}
	switch {
	case !d.Measured:
		return "not tested"
	case d.Verdict == Regressed && limit > 0:
		return "above " + floor + " by more than the allowed " + PPAbs(limit)
	case d.Verdict == Regressed:
		return "above " + floor
	case d.Verdict == Within:
		return "above " + floor + ", " + withinWords(d.CI, limit, "allowed "+PPAbs(limit))
	case d.Verdict == Underpowered:
		return "no significant excess; underpowered: " + underpoweredWords(d.Resolution, limit, UnitPP, "allows")
	}
	return "no significant excess over " + floor + " (" + resolutionWords(d.Resolution, UnitPP) + ")"
}

// reason says why a pass rate fails the gate.
func (p *PassRate) reason(alpha float64) string {
	head := fmt.Sprintf("pass rate (%s): %s → %s (%s, %s CI %s to %s)",
		p.Name(), Percent(p.Baseline.P), Percent(p.Candidate.P), PP(p.Diff),
		LevelPercent(p.CI.Level), PP(p.CI.Lo), PP(p.CI.Hi))
	if p.Verdict == Regressed {
		beyond := ""
		if th := p.Threshold.MinEffect; th > 0 {
			beyond = fmt.Sprintf(", and the loss is shown beyond the %s threshold (%s, %s)", PPAbs(th), pEq(p.LossBeyond.AdjP), p.Adjust)
		}
		return fmt.Sprintf("%s regressed: %s (%s) ≤ %g, one-sided%s; %d lost, %d gained",
			head, pEq(p.Loss.AdjP), p.Adjust, alpha, beyond, len(p.Lost), len(p.Gained))
	}
	return fmt.Sprintf("%s: a loss larger than the non-inferiority margin of %s is not ruled out",
		head, PP(p.Threshold.NonInferiority))
}

// reason says why a measure fails the gate.
func (m *Measure) reason() string {
	return fmt.Sprintf("%s %s: median %s → %s, shift %s (%s CI %s to %s; %s, %s), shown beyond the threshold of %s",
		m.Name, m.Verdict, FormatValue(m.Baseline, m.Unit), FormatValue(m.Candidate, m.Unit),
		FormatValue(m.Shift, m.Unit), LevelPercent(m.CI.Level), FormatValue(m.CI.Lo, m.Unit), FormatValue(m.CI.Hi, m.Unit),
		pEq(m.AdjP), m.Adjust, m.limitWords())
}

// reason says why drift fails the gate.
func (d *DriftResult) reason() string {
	return fmt.Sprintf("output drift: %s of outputs changed against a noise floor of %s (%s; excess %s, %s CI %s to %s; %s, %s), shown above the allowed %s",
		Percent(d.Test.Between), Percent(d.Test.Within), d.FloorWords(), PP(d.Test.Excess), LevelPercent(d.CI.Level), PP(d.CI.Lo), PP(d.CI.Hi),
		pEq(d.AdjP), d.Adjust, PPAbs(d.limit()))
}
