package compare_test

import (
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
)

func TestParsePolicy(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		err        string // substring of the error; "" for none
		check      func(p *compare.Policy) bool
	}{
		{"empty is the default", "", "", func(p *compare.Policy) bool {
			return p.Alpha == 0.05 && p.PassRate.MinEffect == 0.02 && p.MinPaired == compare.DefaultMinPaired && p.MaxLost == compare.DefaultMaxLost
		}},
		{"evidence", "min_paired: 5\nmax_lost: 0.1\n", "", func(p *compare.Policy) bool { return p.MinPaired == 5 && p.MaxLost == 0.1 }},
		{"evidence defaults stay when unset", "alpha: 0.01\n", "", func(p *compare.Policy) bool {
			return p.MinPaired == compare.DefaultMinPaired && p.MaxLost == compare.DefaultMaxLost
		}},
		{"no loss allowed", "max_lost: 0\n", "", func(p *compare.Policy) bool { return p.MaxLost == 0 }},
		{"min_paired zero", "alpha: 0.05\n\nmin_paired: 0\n", "line 3: min_paired must be at least 1", nil},
		{"min_paired negative", "min_paired: -4\n", "line 1: min_paired must be at least 1", nil},
		{"min_paired fractional", "alpha: 0.05\nmin_paired: 2.5\n", "line 2: min_paired must be a whole number of cases, not 2.5", nil},
		{"min_paired a word", "min_paired: many\n", "line 1: cannot unmarshal", nil},
		{"min_paired empty", "min_paired:\n", "line 1: min_paired must be a whole number of cases, not null", nil},
		{"max_lost above 1", "# c\nmax_lost: 1.5\n", "line 2: max_lost must be a share in [0, 1], not 1.5", nil},
		{"max_lost negative", "max_lost: -0.1\n", "line 1: max_lost must be a share", nil},
		{"max_lost a percentage", "max_lost: 5%\n", "line 1: cannot unmarshal", nil},
		{"full", "alpha: 0.01\npass_rate: {min_effect: 0.05}\noverall: {min_effect: 0.01, non_inferiority: 0.03}\n" +
			"scorers: {json_valid: {min_effect: 0}}\nnever_regress: [safety]\nmeasures: {latency: {min_effect: 0.2}}\nmax_drift: 0.1\n", "",
			func(p *compare.Policy) bool {
				return p.Alpha == 0.01 && p.Overall.NonInferiority == 0.03 && p.Scorers["json_valid"].MinEffect == 0 &&
					p.NeverRegress[0] == "safety" && p.Measures["latency"].MinEffect == 0.2 && *p.MaxDrift == 0.1
			}},
		{"unknown field", "alpha: 0.05\npass_rate:\n  min_efect: 0.02\n", "line 3: field min_efect is not a threshold field (known: min_effect, non_inferiority)", nil},
		{"unknown top-level field", "alpha: 0.05\ngates: 1\n", "line 2: field gates is not a policy field (known: alpha, pass_rate, overall, scorers, tags, never_regress, measures, max_drift, min_paired, max_lost, min_gated_cases, aggregate, underpowered, within_run_floor)", nil},
		{"alpha out of range", "# c\nalpha: 2\n", "line 2: alpha must be in (0, 0.5]", nil},
		{"negative effect", "scorers:\n  regex:\n    min_effect: -1\n", "line 3: scorers.regex.min_effect must be a share", nil},
		{"unknown measure", "measures:\n  speed: {min_effect: 1}\n", `line 2: unknown measure "speed"`, nil},
		{"drift out of range", "max_drift: 1.5\n", "line 1: max_drift must be a share", nil},
		{"wrong type", "alpha: high\n", "line 1: cannot unmarshal", nil},
		{"defaults of the family and the samples", "alpha: 0.01\n", "", func(p *compare.Policy) bool {
			return p.MinGatedCases == compare.DefaultMinGatedCases && p.Aggregate == compare.AggregateMean && p.Underpowered == compare.UnderpoweredPass
		}},
		{"majority and inconclusive", "aggregate: majority\nunderpowered: inconclusive\nmin_gated_cases: 100\n", "", func(p *compare.Policy) bool {
			return p.Aggregate == compare.AggregateMajority && p.Underpowered == compare.UnderpoweredInconclusive && p.MinGatedCases == 100
		}},
		{"aggregate unknown", "# c\naggregate: median\n", `line 2: aggregate must be mean or majority, not "median"`, nil},
		{"underpowered unknown", "underpowered: fail\n", `line 1: underpowered must be pass or inconclusive, not "fail"`, nil},
		{"min_gated_cases zero", "min_gated_cases: 0\n", "line 1: min_gated_cases must be at least 1", nil},
		{"min_gated_cases fractional", "min_gated_cases: 2.5\n", "line 1: min_gated_cases must be a whole number of cases, not 2.5", nil},
		{"not YAML", "alpha: [\n", "policy: yaml", nil},
	} {
		p, err := compare.ParsePolicy([]byte(tt.yaml))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.err)
		case tt.err != "" && fault.KindOf(err) != fault.Input:
			t.Errorf("%s: kind = %v, want an input error", tt.name, fault.KindOf(err))
		case tt.check != nil && !tt.check(p):
			t.Errorf("%s: policy %+v", tt.name, p)
		}
	}
}
