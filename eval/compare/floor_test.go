package compare_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
)

// floorRuns draws runs of n cases of one model (2 samples each) whose
// repeats within a run agree more than runs do: each case's output is
// perturbed with probability 0.3, and a run's second sample copies its first
// with probability rho (the correlation of repeats in one server process).
func floorRuns(rng *rand.Rand, n int, rho float64) []eval.Result {
	var rs []eval.Result
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		out0 := "x"
		if rng.Float64() < 0.3 {
			out0 = fmt.Sprintf("y%d", rng.IntN(1000))
		}
		out1 := out0
		if rng.Float64() >= rho {
			out1 = "x"
			if rng.Float64() < 0.3 {
				out1 = fmt.Sprintf("y%d", rng.IntN(1000))
			}
		}
		rs = append(rs, res(id, 0, out0, "s"), res(id, 1, out1, "s"))
	}
	return rs
}

// TestDriftFloor: with repeats correlated within a run (rho 0.7), drift of
// an A/A pair is far above the within-run floor; that floor is a lower bound,
// so the gate warns (or is INCONCLUSIVE by policy) and never fails on it;
// against a second run of the baseline's lock the same pair shows no drift;
// and a true drift against that floor fails.
func TestDriftFloor(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 1))
	const n = 300
	base, rerun, aa := floorRuns(rng, n, 0.7), floorRuns(rng, n, 0.7), floorRuns(rng, n, 0.7)
	drifted := floorRuns(rng, n, 0.7)
	for i := range drifted {
		if i%6 == 0 { // every third case's sample 0: 33% more changed
			drifted[i].Output = "z"
		}
	}
	md := 0.05
	pol := compare.DefaultPolicy()
	pol.MaxDrift = &md
	inconclusive := pol
	inconclusive.WithinRunFloor = compare.WithinFloorInconclusive
	bs := compare.Side{Run: run(1, lockA, 2), Results: base}
	floor := &compare.Side{Run: run(2, lockA, 2), Results: rerun}
	tests := []struct {
		name        string
		cand        []eval.Result
		floor       *compare.Side
		pol         compare.Policy
		lowerBound  bool
		verdict     compare.Verdict
		gate        compare.GateVerdict
		unconfirmed bool
	}{
		{"A/A, within-run floor: warned, not failed", aa, nil, pol, true, compare.Regressed, compare.GatePass, true},
		{"A/A, within-run floor, inconclusive by policy", aa, nil, inconclusive, true, compare.Regressed, compare.GateInconclusive, true},
		{"A/A, floor between runs", aa, floor, pol, false, compare.Underpowered, compare.GatePass, false},
		{"drift, floor between runs: fails", drifted, floor, pol, false, compare.Regressed, compare.GateFail, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.pol
			c, err := compare.Diff(bs, compare.Side{Run: run(3, lockB, 2), Results: tt.cand}, compare.Options{Policy: &p, Floor: tt.floor})
			if err != nil {
				t.Fatal(err)
			}
			d := &c.Drift
			if d.LowerBound != tt.lowerBound || d.Verdict != tt.verdict || c.Gate.Verdict != tt.gate || (len(c.Gate.Unconfirmed) > 0) != tt.unconfirmed {
				t.Errorf("lower bound %v, verdict %s (%s), gate %s, unconfirmed %q; want %v, %s, %s, %v",
					d.LowerBound, d.Verdict, d.Words(), c.Gate.Verdict, c.Gate.Unconfirmed, tt.lowerBound, tt.verdict, tt.gate, tt.unconfirmed)
			}
			if tt.floor != nil && (d.FloorRun != compare.FloorRerun || d.FloorID != 2) {
				t.Errorf("floor %q %d, want the re-run 2", d.FloorRun, d.FloorID)
			}
		})
	}
	// A floor of another lock is refused with a warning.
	other := &compare.Side{Run: run(4, lockB, 2), Results: rerun}
	c, err := compare.Diff(bs, compare.Side{Run: run(3, lockB, 2), Results: aa}, compare.Options{Floor: other})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Drift.LowerBound || !hasWarning(c.Drift.Warnings, "not of the baseline's lock") {
		t.Errorf("a floor of another lock: lower bound %v, warnings %v", c.Drift.LowerBound, c.Drift.Warnings)
	}
}
