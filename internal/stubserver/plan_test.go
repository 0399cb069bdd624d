package stubserver

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestPlanted checks the planted model against its plan on 20,000 cases:
// the pass rate and discordance of two processes, both kinds of planted
// loss, and the correlations of repeats.
func TestPlanted(t *testing.T) {
	const n = 20000
	base := Planted{Seed: 1, Cases: n, StablePass: 0.7, StableFail: 0.1, Unstable: 0.3, Vary: 0.5}
	// outcomes answers every case once in process seed, twice when twice.
	type stat struct{ pass, discord, changed, repeatChanged float64 }
	measure := func(a, b Planted, twice bool) stat {
		pa, pb := a.Process(1), b.Process(2)
		var s stat
		for i := range n {
			prompt := fmt.Sprintf("case %d", i)
			x := pa.Begin(prompt)
			pa.End(prompt)
			y := pb.Begin(prompt)
			pb.End(prompt)
			if strings.HasPrefix(y, "PASS") {
				s.pass++
			}
			if strings.HasPrefix(x, "PASS") != strings.HasPrefix(y, "PASS") {
				s.discord++
			}
			if x != y {
				s.changed++
			}
			if twice {
				x2 := pa.Begin(prompt)
				pa.End(prompt)
				if x2 != x {
					s.repeatChanged++
				}
			}
		}
		s.pass, s.discord, s.changed, s.repeatChanged = s.pass/n, s.discord/n, s.changed/n, s.repeatChanged/n
		return s
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 0.012 {
			t.Errorf("%s = %.4f, want %.4f", name, got, want)
		}
	}
	aa := measure(base, base, true)
	near("A/A pass rate", aa.pass, 0.8)
	near("A/A discordance", aa.discord, 0.1)
	// Text changes: a pass/fail flip, or an unstable case's variation
	// (either answer varies, 1 − ½·½), on cases that do not flip.
	near("A/A changed", aa.changed, 0.1+0.9*0.3*0.75)
	near("repeat changed, independent", aa.repeatChanged, aa.changed)

	extra, prop := base, base
	extra.Loss, prop.Loss, prop.Proportional = 0.05, 0.05, true
	near("extra failures: pass rate", measure(base, extra, false).pass, 0.75)
	near("proportional loss: pass rate", measure(base, prop, false).pass, 0.75)

	persistent := base
	persistent.Persistent = 1
	ps := measure(persistent, persistent, true)
	near("persistent: repeats in one process change only by flips", ps.repeatChanged, 0.1)
	near("persistent: two processes as independent", ps.changed, aa.changed)

	drift := base
	drift.Drift = 0.1
	near("drift: changed", measure(base, drift, false).changed, aa.changed+0.1*(1-aa.changed))

	// Co-batching: a request that arrives while one of its prompt is in
	// flight copies its answer (CoBatch 1); once that one ended, it does not.
	cb := base
	cb.CoBatch = 1
	pr := cb.Process(3)
	copies := 0
	for i := range 2000 {
		prompt := fmt.Sprintf("case %d", i)
		a := pr.Begin(prompt)
		if b := pr.Begin(prompt); b == a {
			copies++
		}
		pr.End(prompt)
		pr.End(prompt)
	}
	if copies != 2000 || pr.CoBatched() != 2000 {
		t.Errorf("co-batched: %d of 2000 copied (%d counted), want all", copies, pr.CoBatched())
	}
	c := cb.Process(4)
	a := c.Begin("case 7")
	c.End("case 7")
	c.Begin("case 7")
	c.End("case 7")
	if c.CoBatched() != 0 {
		t.Errorf("requests one after the other co-batched %d times, want 0 (%s)", c.CoBatched(), a)
	}
}
