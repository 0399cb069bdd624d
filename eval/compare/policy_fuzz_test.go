package compare_test

import (
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
	"go.yaml.in/yaml/v3"
)

// FuzzParsePolicy checks that ParsePolicy never panics, refuses with an
// input error, and that a policy it accepts round-trips through the YAML
// library's own encoding: yaml.Marshal of it parses to the same policy.
func FuzzParsePolicy(f *testing.F) {
	for _, seed := range []string{
		"",
		"alpha: 0.01\npass_rate: {min_effect: 0.05}\noverall: {min_effect: 0.01, non_inferiority: 0.03}\n" +
			"scorers: {json_valid: {min_effect: 0}}\nnever_regress: [safety]\nmeasures: {latency: {min_effect: 0.2}}\nmax_drift: 0.1\n",
		"aggregate: majority\nunderpowered: inconclusive\nmin_gated_cases: 100\nmin_paired: 5\nmax_lost: 0.1\n",
		"alpha: .nan\n", "max_drift: .inf\n", "min_paired: 2.5\n", "tags: {a: {min_effect: 1e400}}\n",
		"alpha: [\n", "- 1\n", "alpha: 0.05\n---\nalpha: 0.4\n", "&a alpha: *a\n", "scorers: {~: {min_effect: 0}}\n",
		"tags: {\"\": {min_effect: 0.3}}\n", "never_regress: [~]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := compare.ParsePolicy(data)
		if err != nil {
			if fault.KindOf(err) != fault.Input {
				t.Fatalf("refused without an input error: %v", err)
			}
			return
		}
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatalf("yaml.Marshal of an accepted policy: %v", err)
		}
		q, err := compare.ParsePolicy(out)
		if err != nil {
			t.Fatalf("the accepted policy, encoded, is refused: %v\n%s", err, out)
		}
		again, err := yaml.Marshal(q)
		if err != nil || string(again) != string(out) {
			t.Fatalf("the round trip changed the policy:\n%s\n%s", out, again)
		}
	})
}

// What FuzzParsePolicy found: names the decoder dropped or kept empty.
func TestParsePolicyRefusesEmptyNames(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"alpha: 0.05\nscorers: {~: {min_effect: 0}}\n", "line 2: a name or list entry is null"},
		{"never_regress: [safety, ~]\n", "line 1: a name or list entry is null"},
		{"tags: {\"\": {min_effect: 0.3}}\n", "line 1: tags has an empty name"},
	} {
		_, err := compare.ParsePolicy([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.yaml, err, tt.want)
		}
	}
}
