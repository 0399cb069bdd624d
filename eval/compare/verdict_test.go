package compare_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
)

// verdictRuns builds a baseline and a candidate of n cases each, case i
// passing check "s" on both sides unless edit changes the candidate's (or
// the baseline's) result.
func verdictRuns(n int, edit func(i int, base, cand *eval.Result)) (compare.Side, compare.Side) {
	var base, cand []eval.Result
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		b, c := res(id, 0, "out "+id, "s"), res(id, 0, "out "+id, "s")
		if edit != nil {
			edit(i, &b, &c)
		}
		base, cand = append(base, b), append(cand, c)
	}
	return compare.Side{Run: run(1, lockA, 1), Results: base}, compare.Side{Run: run(2, lockB, 1), Results: cand}
}

// fail makes r a failed request of the error kind.
func fail(r *eval.Result, kind string) {
	r.Output, r.Checks, r.ErrorKind, r.Error = "", nil, kind, "request failed ("+kind+")"
}

// TestGateVerdict checks the three verdicts and their precedence: a
// regression among the paired cases is FAIL even when the evidence is short;
// otherwise short evidence is INCONCLUSIVE, never PASS.
func TestGateVerdict(t *testing.T) {
	withPolicy := func(edit func(*compare.Policy)) *compare.Policy {
		p := compare.DefaultPolicy()
		edit(&p)
		return &p
	}
	for _, tt := range []struct {
		name   string
		n      int
		edit   func(i int, base, cand *eval.Result)
		policy *compare.Policy // nil: the default policy
		// otherSuite gives the candidate other case ids and another suite.
		otherSuite bool
		want       compare.GateVerdict
		excluded   compare.Exclusions
		// reasons are substrings of the gate's reasons, in order, one each.
		reasons []string
		lost    int
	}{
		{
			name: "every candidate request failed: 0 paired",
			n:    20,
			edit: func(i int, _, c *eval.Result) { fail(c, "not_found") },
			want: compare.GateInconclusive, excluded: compare.Exclusions{CandidateErrored: 20}, lost: 20,
			reasons: []string{
				"0 cases paired, the policy needs ≥ 10: 20 errored in candidate (not_found 20)",
				"20 of 20 cases the baseline answered failed in the candidate (100.0%), more than the policy allows (max_lost 2.0%): not_found 20",
			},
		},
		{
			name: "runs of different suites: 0 paired", n: 20, otherSuite: true,
			want: compare.GateInconclusive, excluded: compare.Exclusions{OnlyBaseline: 20, OnlyCandidate: 20},
			reasons: []string{"0 cases paired, the policy needs ≥ 10: 20 only in baseline, 20 only in candidate; the runs are of different suites (t, other)"},
		},
		{
			name: "below the floor", n: 6,
			want:    compare.GateInconclusive,
			reasons: []string{"6 cases paired, the policy needs ≥ 10: the runs have only 6 cases in common"},
		},
		{
			name: "below the floor, hashes changed", n: 20,
			edit: func(i int, _, c *eval.Result) {
				if i >= 5 {
					c.CaseHash = "new"
				}
			},
			want: compare.GateInconclusive, excluded: compare.Exclusions{HashChanged: 15},
			reasons: []string{"5 cases paired, the policy needs ≥ 10: 15 case hash changed"},
		},
		{
			name: "at the floor passes", n: 10, want: compare.GatePass,
		},
		{
			name: "a lower floor in the policy passes", n: 6, want: compare.GatePass,
			policy: withPolicy(func(p *compare.Policy) { p.MinPaired = 6 }),
		},
		{
			name: "lost beyond the allowance", n: 100,
			edit: func(i int, _, c *eval.Result) {
				switch {
				case i < 3:
					fail(c, "timeout")
				case i < 5:
					fail(c, "auth")
				}
			},
			want: compare.GateInconclusive, excluded: compare.Exclusions{CandidateErrored: 5}, lost: 5,
			reasons: []string{"5 of 100 cases the baseline answered failed in the candidate (5.0%), more than the policy allows (max_lost 2.0%): timeout 3, auth 2"},
		},
		{
			name: "lost at the allowance passes", n: 100,
			edit: func(i int, _, c *eval.Result) {
				if i < 2 {
					fail(c, "context_length")
				}
			},
			want: compare.GatePass, excluded: compare.Exclusions{CandidateErrored: 2}, lost: 2,
		},
		{
			name: "a larger allowance in the policy passes", n: 100,
			edit: func(i int, _, c *eval.Result) {
				if i < 5 {
					fail(c, "bad_request")
				}
			},
			policy: withPolicy(func(p *compare.Policy) { p.MaxLost = 0.05 }),
			want:   compare.GatePass, excluded: compare.Exclusions{CandidateErrored: 5}, lost: 5,
		},
		{
			name: "a failure without an error kind", n: 20,
			edit: func(i int, _, c *eval.Result) {
				if i == 0 {
					fail(c, "")
				}
			},
			want: compare.GateInconclusive, excluded: compare.Exclusions{CandidateErrored: 1}, lost: 1,
			reasons: []string{"1 of 20 cases the baseline answered failed in the candidate (5.0%), more than the policy allows (max_lost 2.0%): unknown 1"},
		},
		{
			name: "baseline failures are not lost by the candidate", n: 100,
			edit: func(i int, b, c *eval.Result) {
				if i < 10 {
					fail(b, "server")
				}
				if i < 5 {
					fail(c, "server") // both sides failed: counted in the baseline
				}
			},
			want: compare.GatePass, excluded: compare.Exclusions{BaselineErrored: 10},
		},
		{
			name: "a regression and lost cases fail", n: 100,
			edit: func(i int, _, c *eval.Result) {
				switch {
				case i < 5:
					fail(c, "malformed")
				case i < 25:
					c.Checks[0].Pass = false
				}
			},
			want: compare.GateFail, excluded: compare.Exclusions{CandidateErrored: 5}, lost: 5,
			reasons: []string{
				"pass rate (all checks): 100.0% → 78.9%",
				"pass rate (scorer s): 100.0% → 78.9%",
				"evidence is short too (the regression among the paired cases stands): 5 of 100 cases the baseline answered failed in the candidate (5.0%)",
			},
		},
		{
			name: "a regression below the floor fails", n: 8,
			edit: func(i int, _, c *eval.Result) { c.Checks[0].Pass = false },
			want: compare.GateFail,
			reasons: []string{
				"pass rate (all checks): 100.0% → 0.0%",
				"pass rate (scorer s): 100.0% → 0.0%",
				"evidence is short too (the regression among the paired cases stands): 8 cases paired, the policy needs ≥ 10",
			},
		},
		{
			name: "enough evidence, no regression: pass", n: 40,
			edit: func(i int, _, c *eval.Result) {
				if i == 0 {
					c.Checks[0].Pass = false // one flip is no regression
				}
			},
			want: compare.GatePass,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base, cand := verdictRuns(tt.n, tt.edit)
			if tt.otherSuite {
				cand.Run.Suite = "other"
				for i := range cand.Results {
					cand.Results[i].CaseID = "x-" + cand.Results[i].CaseID
				}
			}
			c, err := compare.Diff(base, cand, compare.Options{Policy: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			g := &c.Gate
			if g.Verdict != tt.want {
				t.Errorf("Verdict = %q, want %q; reasons %q", g.Verdict, tt.want, g.Reasons())
			}
			if g.Failed() != (tt.want == compare.GateFail) {
				t.Errorf("Failed() = %v for verdict %q", g.Failed(), g.Verdict)
			}
			if c.Excluded != tt.excluded {
				t.Errorf("Excluded = %+v, want %+v", c.Excluded, tt.excluded)
			}
			if got := g.Evidence.Lost; got != tt.lost {
				t.Errorf("Evidence.Lost = %d, want %d", got, tt.lost)
			}
			if got, want := g.Evidence.Answered, c.Paired+tt.lost; got != want {
				t.Errorf("Evidence.Answered = %d, want %d (paired + lost)", got, want)
			}
			reasons := g.Reasons()
			if tt.want == compare.GatePass {
				// A pass gives no reasons but the metrics it cannot resolve:
				// these suites are far too small for the default 2 pp.
				if g.Evidence.Short() || len(g.Underpowered) == 0 || len(reasons) != len(g.Underpowered) {
					t.Errorf("a pass with shortfalls %q, reasons %q, underpowered %v", g.Evidence.Shortfalls, reasons, g.Underpowered)
				}
				if !strings.HasPrefix(g.Headline(), "PASS, underpowered: could detect ≥ ") {
					t.Errorf("Headline() = %q, want PASS, underpowered with the resolution", g.Headline())
				}
				return
			}
			if len(reasons) != len(tt.reasons) {
				t.Fatalf("reasons = %q, want %d", reasons, len(tt.reasons))
			}
			for i, want := range tt.reasons {
				if !strings.Contains(reasons[i], want) {
					t.Errorf("reason %d = %q, want it to contain %q", i, reasons[i], want)
				}
			}
		})
	}
}

// TestGateVerdictWords checks the words every printer of a verdict uses.
func TestGateVerdictWords(t *testing.T) {
	for v, want := range map[compare.GateVerdict]string{compare.GatePass: "PASS", compare.GateFail: "FAIL", compare.GateInconclusive: "INCONCLUSIVE"} {
		if got := v.Word(); got != want {
			t.Errorf("%q.Word() = %q, want %q", v, got, want)
		}
	}
}

// TestEvidenceLostCases checks what the evidence says about the lost cases:
// their kinds, most first, and the first lost case by id.
func TestEvidenceLostCases(t *testing.T) {
	base, cand := verdictRuns(30, func(i int, _, c *eval.Result) {
		switch {
		case i == 3 || i == 9:
			fail(c, "auth")
		case i > 25:
			fail(c, "not_found")
		}
	})
	c, err := compare.Diff(base, cand, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := c.Gate.Evidence
	want := []compare.ErrorCount{{Kind: "not_found", Cases: 4}, {Kind: "auth", Cases: 2}}
	if !slices.Equal(e.LostKinds, want) || e.FirstLost != "c003" {
		t.Errorf("LostKinds = %v, FirstLost = %q; want %v, c003", e.LostKinds, e.FirstLost, want)
	}
	if got, want := e.String(), "24 cases paired (the policy needs ≥ 10); 6 of 30 cases the baseline answered lost to failed candidate requests (the policy allows 2.0%): not_found 4, auth 2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// With several samples, one failed candidate sample loses the case: it
	// cannot be paired, and its first failure names the kind.
	base, cand = verdictRuns(0, nil)
	base.Run, cand.Run = run(1, lockA, 2), run(2, lockB, 2)
	for i := range 20 {
		id := fmt.Sprintf("c%03d", i)
		for s := range 2 {
			b, r := res(id, s, "x", "s"), res(id, s, "x", "s")
			if i == 0 && s == 1 {
				fail(&r, "malformed")
			}
			base.Results, cand.Results = append(base.Results, b), append(cand.Results, r)
		}
	}
	if c, err = compare.Diff(base, cand, compare.Options{}); err != nil {
		t.Fatal(err)
	}
	if e := c.Gate.Evidence; e.Lost != 1 || e.Answered != 20 || !slices.Equal(e.LostKinds, []compare.ErrorCount{{Kind: "malformed", Cases: 1}}) {
		t.Errorf("evidence %+v, want 1 of 20 lost to malformed", e)
	}
}
