package stats

import (
	"math"
	"slices"
)

// Holm returns Holm's step-down adjustment of the p-values, which controls the
// family-wise error rate; R's p.adjust(p, "holm"). NaN entries stay NaN and do
// not count towards the number of tests, as R's NA do.
func Holm(p []float64) []float64 {
	idx, out := adjustOrder(p, false)
	m := float64(len(idx))
	run := 0.0
	for i, k := range idx {
		run = math.Max(run, (m-float64(i))*p[k])
		out[k] = math.Min(1, run)
	}
	return out
}

// BenjaminiHochberg returns the Benjamini–Hochberg adjustment of the p-values,
// which controls the false discovery rate; R's p.adjust(p, "BH"). NaN entries
// stay NaN and do not count towards the number of tests.
func BenjaminiHochberg(p []float64) []float64 {
	idx, out := adjustOrder(p, true)
	m := float64(len(idx))
	run := math.Inf(1)
	for i, k := range idx {
		rank := m - float64(i) // position in increasing order, 1-based
		run = math.Min(run, m/rank*p[k])
		out[k] = math.Min(1, run)
	}
	return out
}

// adjustOrder returns the indices of the non-NaN p-values sorted increasing (or
// decreasing), stably as R's order does, and an output slice filled with NaN.
func adjustOrder(p []float64, decreasing bool) ([]int, []float64) {
	out := make([]float64, len(p))
	idx := make([]int, 0, len(p))
	for i, v := range p {
		out[i] = math.NaN()
		if !math.IsNaN(v) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if decreasing {
			a, b = b, a
		}
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	return idx, out
}
