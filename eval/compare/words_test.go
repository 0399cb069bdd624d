package compare_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
)

// countRuns builds runs of n cases with the checks named in scorers: the
// first onlyA cases pass on the baseline only, the next onlyB on the
// candidate only, the next both on both, the rest fail on both.
func countRuns(n, onlyA, onlyB, both int, scorers ...string) (compare.Side, compare.Side) {
	if len(scorers) == 0 {
		scorers = []string{"s"}
	}
	var base, cand []eval.Result
	for i := range n {
		id := fmt.Sprintf("c%05d", i)
		a := i < onlyA || i >= onlyA+onlyB && i < onlyA+onlyB+both
		b := i >= onlyA && i < onlyA+onlyB+both
		ca, cb := make([]string, len(scorers)), make([]string, len(scorers))
		for k, s := range scorers {
			ca[k], cb[k] = s, s
			if !a {
				ca[k] = "!" + s
			}
			if !b {
				cb[k] = "!" + s
			}
		}
		base, cand = append(base, res(id, 0, "out", ca...)), append(cand, res(id, 0, "out", cb...))
	}
	return compare.Side{Run: run(1, lockA, 1), Results: base}, compare.Side{Run: run(2, lockB, 1), Results: cand}
}

// TestVerdictWords checks that each kind of verdict has the words of its
// numbers, and the gate's headline with them.
func TestVerdictWords(t *testing.T) {
	inconclusive := compare.DefaultPolicy()
	inconclusive.Underpowered = compare.UnderpoweredInconclusive
	for _, tt := range []struct {
		name               string
		n, onlyA, onlyB    int
		policy             *compare.Policy
		verdict            compare.Verdict
		words              string // a prefix of the overall pass rate's words
		gate               compare.GateVerdict
		headline           string // a prefix of the gate's headline
		underpowered, fail bool
	}{
		{
			name: "a 1.8 pp loss on 2,000 cases is significant, not beyond 2 pp", n: 2000, onlyA: 86, onlyB: 50,
			verdict: compare.Within, words: "significant loss, not shown beyond the 2.0 pp threshold",
			gate: compare.GatePass, headline: "PASS",
		},
		{
			name: "a 1.2 pp loss on 5,000 cases lies within 2 pp", n: 5000, onlyA: 120, onlyB: 60,
			verdict: compare.Within, words: "significant loss, within the 2.0 pp threshold",
			gate: compare.GatePass, headline: "PASS",
		},
		{
			name: "a 7.5 pp loss regressed", n: 2000, onlyA: 200, onlyB: 50,
			verdict: compare.Regressed, words: "regressed", gate: compare.GateFail, headline: "FAIL", fail: true,
		},
		{
			name: "a 6 pp gain improved", n: 5000, onlyA: 100, onlyB: 400,
			verdict: compare.Improved, words: "improved", gate: compare.GatePass, headline: "PASS",
		},
		{
			name: "no change on 5,000 cases states its resolution", n: 5000, onlyA: 100, onlyB: 100,
			verdict: compare.NoChange, words: "no significant change (resolution ≥ 0.9 pp)", gate: compare.GatePass, headline: "PASS",
		},
		{
			name: "no change on 100 cases is underpowered for 2 pp", n: 100, onlyA: 3, onlyB: 3,
			verdict: compare.Underpowered, words: "no significant change; underpowered: could detect ≥ ",
			gate: compare.GatePass, headline: "PASS, underpowered: could detect ≥ ", underpowered: true,
		},
		{
			name: "the policy can make it inconclusive", n: 100, onlyA: 3, onlyB: 3, policy: &inconclusive,
			verdict: compare.Underpowered, words: "no significant change; underpowered: could detect ≥ ",
			gate: compare.GateInconclusive, headline: "INCONCLUSIVE", underpowered: true,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base, cand := countRuns(tt.n, tt.onlyA, tt.onlyB, tt.n*7/10)
			c, err := compare.Diff(base, cand, compare.Options{Policy: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			pr := &c.PassRates[0]
			if pr.Verdict != tt.verdict || !strings.HasPrefix(pr.Words(), tt.words) {
				t.Errorf("verdict %q, words %q; want %q, %q (Δ %g, CI %+v, p %g)", pr.Verdict, pr.Words(), tt.verdict, tt.words, pr.Diff, pr.CI, pr.AdjP)
			}
			checkWords(t, pr)
			g := &c.Gate
			if g.Verdict != tt.gate || !strings.HasPrefix(g.Headline(), tt.headline) || (len(g.Underpowered) > 0) != tt.underpowered || g.Failed() != tt.fail {
				t.Errorf("gate %q, headline %q, underpowered %v; want %q, %q, %v", g.Verdict, g.Headline(), g.Underpowered, tt.gate, tt.headline, tt.underpowered)
			}
			if tt.headline == "PASS" && g.Headline() != "PASS" {
				t.Errorf("headline %q, want a plain PASS", g.Headline())
			}
			if tt.gate == compare.GateInconclusive && !strings.Contains(strings.Join(g.Reasons(), "\n"), "cannot resolve the policy's threshold") {
				t.Errorf("reasons %q, want the threshold the suite cannot resolve", g.Reasons())
			}
			// The one scorer is the same metric as all checks, counted once.
			if s := &c.PassRates[1]; s.SameAs != "all checks" || s.Gated || c.GatedFamily != 1 || s.Verdict != pr.Verdict {
				t.Errorf("the only scorer: SameAs %q, gated %v, verdict %q; family of %d; want a repeat of all checks in a family of 1", s.SameAs, s.Gated, s.Verdict, c.GatedFamily)
			}
		})
	}
}

// TestGatedFamily checks which metrics the default policy gates and how they
// are counted: all checks always, a scorer with enough cases, a smaller one
// only when the policy names it, tags only when never-regress; a metric with
// the same cases and outcomes as another once.
func TestGatedFamily(t *testing.T) {
	base, cand := countRuns(100, 5, 5, 70, "big", "other")
	// "small" is checked on 10 cases only.
	for i := range 10 {
		base.Results[i].Checks = append(base.Results[i].Checks, eval.Check{Scorer: "small", Pass: true})
		cand.Results[i].Checks = append(cand.Results[i].Checks, eval.Check{Scorer: "small", Pass: i%2 == 0})
	}
	for _, tt := range []struct {
		name  string
		edit  func(*compare.Policy)
		gated map[string]bool // by metric name
		m     int
	}{
		{"default", nil, map[string]bool{"all checks": true, "scorer big": true, "scorer other": false, "scorer small": false}, 2},
		{"a named small scorer", func(p *compare.Policy) { p.Scorers = map[string]compare.Threshold{"small": {}} },
			map[string]bool{"all checks": true, "scorer big": true, "scorer small": true}, 3},
		{"a lower floor", func(p *compare.Policy) { p.MinGatedCases = 10 },
			map[string]bool{"all checks": true, "scorer big": true, "scorer small": true}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pol := compare.DefaultPolicy()
			if tt.edit != nil {
				tt.edit(&pol)
			}
			c, err := compare.Diff(base, cand, compare.Options{Policy: &pol})
			if err != nil {
				t.Fatal(err)
			}
			for i := range c.PassRates {
				pr := &c.PassRates[i]
				if want, ok := tt.gated[pr.Name()]; ok && pr.Gated != want {
					t.Errorf("%s: gated %v, want %v", pr.Name(), pr.Gated, want)
				}
				if pr.Name() == "scorer other" && pr.SameAs != "scorer big" {
					t.Errorf("scorer other: SameAs %q, want scorer big (the same cases and outcomes)", pr.SameAs)
				}
				if !pr.Gated && pr.SameAs == "" && pr.Adjust != compare.AdjustBH {
					t.Errorf("%s: reported with adjustment %q, want bh", pr.Name(), pr.Adjust)
				}
			}
			if c.GatedFamily != tt.m {
				t.Errorf("family of %d, want %d", c.GatedFamily, tt.m)
			}
			// Gated intervals are at the Bonferroni level 1 − 2·alpha/m.
			if want := 1 - 2*pol.Alpha/float64(tt.m); c.PassRates[0].CI.Level != want {
				t.Errorf("all checks: interval at %g, want %g", c.PassRates[0].CI.Level, want)
			}
		})
	}
}
