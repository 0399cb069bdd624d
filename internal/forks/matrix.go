package forks

import (
	"fmt"
	"math"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/eval/stats"
)

// Build sets forks side by side from pairs, where pairs[i-1] compares
// forks[i] with forks[0] (compare.Diff): one row per metric any pair holds,
// with each fork's value and each pair's test, and the p-values adjusted
// across the whole matrix (Adjust).
func Build(forks []compare.Fork, pairs []*compare.Comparison) *compare.Matrix {
	m := &compare.Matrix{Forks: forks, Pairs: pairs, Alpha: stats.DefaultAlpha}
	if len(forks) > 0 {
		m.Suite, m.Settings = forks[0].Run.Suite, forks[0].Run.Settings
	}
	if len(pairs) > 0 {
		m.Alpha = pairs[0].Policy.Alpha
	}
	rows := map[string]int{} // kind/key → index in m.Metrics
	row := func(name, kind, key, unit string) *compare.MatrixMetric {
		id := kind + "\x00" + key
		if i, ok := rows[id]; ok {
			return &m.Metrics[i]
		}
		rows[id] = len(m.Metrics)
		mm := compare.MatrixMetric{Name: name, Kind: kind, Key: key, Unit: unit,
			Cells: make([]compare.MatrixCell, len(forks)), Tests: make([]compare.MatrixTest, len(pairs))}
		for i := range mm.Cells {
			mm.Cells[i] = unknownCell()
		}
		for i := range mm.Tests {
			mm.Tests[i] = untested()
		}
		m.Metrics = append(m.Metrics, mm)
		return &m.Metrics[len(m.Metrics)-1]
	}
	// The rows in order: pass rates, tags, then the measures and drift.
	for pass := range 3 {
		for i, c := range pairs {
			switch pass {
			case 0:
				for j := range c.PassRates {
					addPassRate(row, &c.PassRates[j], i)
				}
			case 1:
				for j := range c.Tags {
					addPassRate(row, &c.Tags[j], i)
				}
			case 2:
				for j := range c.Measures {
					if ms := &c.Measures[j]; ms.Name != compare.MeasureLatency {
						addMeasure(row, ms, i)
					}
				}
			}
		}
	}
	for i, c := range pairs {
		addDrift(row, &c.Drift, i)
		for _, w := range c.Warnings {
			m.Warnings = append(m.Warnings, fmt.Errorf("%s against %s: %w", forkName(forks, i+1), forkName(forks, 0), w))
		}
	}
	Adjust(m)
	return m
}

// forkName names fork i in a message: its selector and run.
func forkName(forks []compare.Fork, i int) string {
	if i >= len(forks) {
		return fmt.Sprintf("fork %d", i+1)
	}
	return fmt.Sprintf("%s (run %d)", forks[i].Selector, forks[i].Run.ID)
}

func unknownCell() compare.MatrixCell {
	return compare.MatrixCell{Value: math.NaN(), CI: stats.Interval{Lo: math.NaN(), Hi: math.NaN()}}
}

func untested() compare.MatrixTest {
	return compare.MatrixTest{Diff: math.NaN(), CI: stats.Interval{Lo: math.NaN(), Hi: math.NaN()}, P: math.NaN(), AdjP: math.NaN(), PairAdjP: math.NaN()}
}

type rowFunc func(name, kind, key, unit string) *compare.MatrixMetric

// addPassRate adds pair i's pass rate p: the first fork's rate, fork i+1's
// and their test.
func addPassRate(row rowFunc, p *compare.PassRate, i int) {
	r := row(p.Name(), p.Kind, p.Key, "%")
	r.Gated = r.Gated || p.Gated
	if math.IsNaN(r.Cells[0].Value) {
		r.Cells[0] = compare.MatrixCell{Value: p.Baseline.P, CI: p.Baseline.CI, N: p.Baseline.N}
	}
	r.Cells[i+1] = compare.MatrixCell{Value: p.Candidate.P, CI: p.Candidate.CI, N: p.Candidate.N}
	r.Tests[i] = compare.MatrixTest{Tested: !math.IsNaN(p.P), Diff: p.Diff, CI: p.CI, CIAdjust: p.CIAdjust,
		P: p.P, AdjP: math.NaN(), PairAdjP: p.AdjP, SameAs: p.SameAs, Verdict: p.Verdict}
}

// addMeasure adds pair i's measure ms (length, similarity): medians, and the
// Hodges–Lehmann shift with its interval.
func addMeasure(row rowFunc, ms *compare.Measure, i int) {
	r := row(ms.Name, ms.Name, "", ms.Unit)
	r.Gated = r.Gated || ms.Gated
	if math.IsNaN(r.Cells[0].Value) {
		c := unknownCell()
		c.Value, c.N = ms.Baseline, ms.N
		r.Cells[0] = c
	}
	c := unknownCell()
	c.Value, c.N = ms.Candidate, ms.N
	r.Cells[i+1] = c
	t := untested()
	if ms.Tested && !math.IsNaN(ms.P) {
		t = compare.MatrixTest{Tested: true, Diff: ms.Shift, CI: ms.CI, CIAdjust: ms.CIAdjust, P: ms.P, AdjP: math.NaN(), PairAdjP: ms.AdjP, Verdict: ms.Verdict}
	}
	r.Tests[i] = t
}

// addDrift adds pair i's drift: the share of outputs that differ from the
// first's, and its excess over the noise floor with its test where the
// repeats measured one.
func addDrift(row rowFunc, d *compare.DriftResult, i int) {
	r := row("output drift", compare.RowDrift, "", "%")
	r.Gated = r.Gated || d.Gated
	if d.Measured && d.FloorRun == "baseline" && math.IsNaN(r.Cells[0].Value) {
		r.Cells[0] = compare.MatrixCell{Value: d.Test.Within, CI: stats.Interval{Lo: math.NaN(), Hi: math.NaN()}, N: d.Cases}
	}
	c := unknownCell()
	c.Value, c.N = d.Share, d.Cases
	r.Cells[i+1] = c
	t := untested()
	if d.Measured && !math.IsNaN(d.P) {
		t = compare.MatrixTest{Tested: true, Diff: d.Test.Excess, CI: d.CI, CIAdjust: d.CIAdjust, P: d.P, AdjP: math.NaN(), PairAdjP: d.AdjP, Verdict: d.Verdict}
	}
	r.Tests[i] = t
}

// Adjust adjusts the p-values of m across the whole matrix: Holm over the
// tests of the gated metrics of every pair (each counted once: a metric that
// repeats another, SameAs, takes its adjusted p-value), Benjamini–Hochberg
// over the tests of the other metrics. A pair's verdict is kept where the
// matrix's adjusted p-value is at most m.Alpha; else the change is not
// significant across the matrix, and the verdict is compare.NoChange (or
// compare.Underpowered where the pair said so).
func Adjust(m *compare.Matrix) {
	var gated, explore []*compare.MatrixTest
	for i := range m.Metrics {
		mm := &m.Metrics[i]
		for j := range mm.Tests {
			t := &mm.Tests[j]
			if !t.Tested || t.SameAs != "" {
				continue
			}
			t.Adjust = compare.AdjustBH
			if mm.Gated {
				t.Adjust = compare.AdjustHolm
				gated = append(gated, t)
			} else {
				explore = append(explore, t)
			}
		}
	}
	m.GatedFamily, m.ExploratoryFamily = len(gated), len(explore)
	apply(gated, stats.Holm)
	apply(explore, stats.BenjaminiHochberg)
	byName := map[string]int{}
	for i := range m.Metrics {
		byName[m.Metrics[i].Name] = i
	}
	for i := range m.Metrics {
		for j := range m.Metrics[i].Tests {
			t := &m.Metrics[i].Tests[j]
			if t.Tested && t.SameAs != "" {
				if k, ok := byName[t.SameAs]; ok {
					rep := m.Metrics[k].Tests[j]
					t.AdjP, t.Adjust = rep.AdjP, rep.Adjust
				}
			}
			if t.Tested && !(t.AdjP <= m.Alpha) {
				switch t.Verdict {
				case compare.Regressed, compare.Improved, compare.Changed, compare.Within:
					t.Verdict = compare.NoChange
				}
			}
		}
	}
}

// apply sets the AdjP of ts to adjust of their P.
func apply(ts []*compare.MatrixTest, adjust func([]float64) []float64) {
	if len(ts) == 0 {
		return
	}
	ps := make([]float64, len(ts))
	for i, t := range ts {
		ps[i] = t.P
	}
	for i, q := range adjust(ps) {
		ts[i].AdjP = q
	}
}
