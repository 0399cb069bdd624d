package compare

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/evalpin/evalpin/internal/fault"
	"go.yaml.in/yaml/v3"
)

// A Threshold is a metric's practical threshold. MinEffect is the change a
// regression must be shown to exceed: a metric is regressed (or improved)
// only when its interval lies wholly beyond MinEffect, so that a true change
// of at most MinEffect is called one at most alpha of the time (a
// minimum-effect test); a significant change not shown beyond it is
// "significant, within the threshold". For pass rates it is a difference of
// shares (0.02 = 2 percentage points); for length and latency a share of the
// baseline median (0.10 = 10%); for similarity a difference of similarities.
// NonInferiority, when positive, is a margin for a gated pass rate: the gate
// also fails unless the interval's lower end is above −NonInferiority, that is
// unless the suite shows the candidate loses less than the margin.
type Threshold struct {
	MinEffect      float64 `yaml:"min_effect" json:"min_effect"`
	NonInferiority float64 `yaml:"non_inferiority,omitempty" json:"non_inferiority,omitempty"`
}

// A Policy turns a comparison into a gate decision. Its YAML form is
// documented in docs/diff.md; DefaultPolicy gives the defaults.
type Policy struct {
	// Alpha is the family-wise significance level of the gated metrics (Holm)
	// and the false discovery rate of the exploratory tag listing
	// (Benjamini–Hochberg). Intervals are at confidence 1 − Alpha.
	Alpha float64 `yaml:"alpha" json:"alpha"`
	// PassRate is the threshold of every pass rate without one of its own.
	PassRate Threshold `yaml:"pass_rate" json:"pass_rate"`
	// Overall overrides PassRate for the overall pass rate (every check).
	Overall *Threshold `yaml:"overall,omitempty" json:"overall,omitempty"`
	// Scorers override PassRate per scorer name.
	Scorers map[string]Threshold `yaml:"scorers,omitempty" json:"scorers,omitempty"`
	// Tags override PassRate per tag.
	Tags map[string]Threshold `yaml:"tags,omitempty" json:"tags,omitempty"`
	// NeverRegress lists tags whose pass rate is gated: a significant loss
	// beyond their threshold (by default any loss, MinEffect 0) fails the gate.
	NeverRegress []string `yaml:"never_regress,omitempty" json:"never_regress,omitempty"`
	// Measures gate the continuous measures named (length, latency,
	// similarity) at the given thresholds; a measure not listed is reported
	// with its default threshold but not gated.
	Measures map[string]Threshold `yaml:"measures,omitempty" json:"measures,omitempty"`
	// MaxDrift, when set, gates output drift: the gate fails when the share of
	// changed outputs exceeds the noise floor significantly and by more than
	// MaxDrift. Unset, drift is reported but not gated (a new model changes
	// most outputs by design).
	MaxDrift *float64 `yaml:"max_drift,omitempty" json:"max_drift,omitempty"`
	// MinPaired is the least number of paired cases a verdict needs: with
	// fewer, the gate is INCONCLUSIVE, unless a gated metric regressed among
	// the cases that were paired. At least 1, so that nothing compared is
	// never a pass. Default DefaultMinPaired.
	MinPaired int `yaml:"min_paired" json:"min_paired"`
	// MaxLost is the largest share of the cases the baseline answered (of
	// those both runs hold with the same case hash) that the candidate may
	// lose to failed requests: beyond it, the gate is INCONCLUSIVE unless a
	// gated metric regressed. Lost cases are left out of every metric, so
	// had they all failed, the overall pass rate would be lower by up to this
	// share. Default DefaultMaxLost.
	MaxLost float64 `yaml:"max_lost" json:"max_lost"`
	// MinGatedCases is the least number of paired cases a scorer needs to be
	// gated by default: smaller scorers are reported, not gated, so that the
	// gated family stays small and each gated metric keeps its resolution.
	// A scorer listed under Scorers is gated whatever its size, and the
	// overall pass rate always is. Default DefaultMinGatedCases.
	MinGatedCases int `yaml:"min_gated_cases" json:"min_gated_cases"`
	// Aggregate says how the samples of a case make its outcome when a run
	// has several: AggregateMean (the default) averages them, so each case
	// contributes its pass share and the test is a t test of the paired
	// differences of the shares; AggregateMajority counts a case as passing
	// when a strict majority of its samples pass.
	Aggregate string `yaml:"aggregate" json:"aggregate"`
	// Underpowered says what a gate that finds no regression makes of a suite
	// that cannot resolve the policy's thresholds (a gated metric whose
	// smallest detectable change exceeds its min_effect): UnderpoweredPass
	// (the default) passes with the words "PASS, underpowered" and the
	// resolution; UnderpoweredInconclusive makes the gate INCONCLUSIVE.
	Underpowered string `yaml:"underpowered" json:"underpowered"`
	// WithinRunFloor says what the gate makes of gated drift (MaxDrift) that
	// exceeds a noise floor measured only within one run, a lower bound
	// (DriftResult.LowerBound): WithinFloorWarn (the default) passes with a
	// warning; WithinFloorInconclusive makes the gate INCONCLUSIVE. Neither
	// fails it: only a floor between two runs of the baseline's lock can.
	WithinRunFloor string `yaml:"within_run_floor" json:"within_run_floor"`
}

// The values of Policy.Aggregate and Policy.Underpowered.
const (
	AggregateMean            = "mean"
	AggregateMajority        = "majority"
	UnderpoweredPass         = "pass"
	UnderpoweredInconclusive = "inconclusive"
	WithinFloorWarn          = "warn"
	WithinFloorInconclusive  = "inconclusive"
)

// The defaults of the evidence a verdict needs; docs/diff.md gives the
// reasons.
const (
	// DefaultMinPaired is the default Policy.MinPaired. Below about 10 paired
	// cases even a collapse of every case can hardly reach significance:
	// McNemar's exact test on n flips has p ≥ 2·0.5ⁿ, 0.031 for 6 cases, more
	// than alpha 0.05 once Holm shares it between two gated metrics. It stays
	// below the 20 cases of the bundled testbed suite.
	DefaultMinPaired = 10
	// DefaultMaxLost is the default Policy.MaxLost, the default practical
	// threshold of a pass rate: losses that, had they all been failures, could
	// hide a loss of pass rate larger than the gate tolerates make a pass
	// untrustworthy.
	DefaultMaxLost = 0.02
	// DefaultMinGatedCases is the default Policy.MinGatedCases, the size
	// below which a comparison warns that it can detect only large changes
	// (MinPairedCases).
	DefaultMinGatedCases = MinPairedCases
)

// The default practical thresholds of the continuous measures when a policy
// does not gate them: 10% of the median length, 20% of the median latency,
// 0.05 of similarity.
var defaultMeasureThresholds = map[string]float64{
	MeasureLength:     0.10,
	MeasureLatency:    0.20,
	MeasureSimilarity: 0.05,
}

// DefaultPolicy returns the policy used without a policy file: alpha 0.05;
// the overall pass rate and the pass rate of each scorer with at least
// DefaultMinGatedCases cases gated at a practical threshold of 2 percentage
// points; tags and smaller scorers reported but not gated; length, latency,
// similarity and drift reported but not gated; samples averaged per case; an
// underpowered suite passes as "PASS, underpowered"; a verdict needs
// DefaultMinPaired paired cases and at most DefaultMaxLost of the cases lost
// to failed requests.
func DefaultPolicy() Policy {
	return Policy{Alpha: 0.05, PassRate: Threshold{MinEffect: 0.02}, MinPaired: DefaultMinPaired, MaxLost: DefaultMaxLost,
		MinGatedCases: DefaultMinGatedCases, Aggregate: AggregateMean, Underpowered: UnderpoweredPass,
		WithinRunFloor: WithinFloorWarn}
}

// ErrPolicyFile marks ReadPolicy's error for a file it cannot read.
var ErrPolicyFile = errors.New("policy file cannot be read")

// ReadPolicy reads the YAML policy file path (ParsePolicy); its errors name
// the file.
func ReadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Mark(fault.Errorf(fault.Input, "", "policy: %w", err), ErrPolicyFile)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy parses a YAML policy. Fields it does not set keep their
// DefaultPolicy values. Unknown fields, wrong types and out-of-range values
// are input errors naming the line.
func ParsePolicy(data []byte) (*Policy, error) {
	p := DefaultPolicy()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, policyError("%v", err)
	}
	// The decoder drops a null key (~:) and a null list entry silently; a
	// threshold or tag the user wrote must not vanish.
	if line := nullAt(&doc); line > 0 {
		return nil, policyError("line %d: a name or list entry is null (~); write the name, or delete the line", line)
	}
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = unknownFieldWords.Replace(m)
			}
			return nil, policyError("%s", strings.Join(msgs, "; "))
		}
		return nil, policyError("%v", err)
	}
	// The decoder truncates a float into an int field; a count of cases is
	// whole, so min_paired: 2.5 is refused rather than read as 2.
	for _, field := range []string{"min_paired", "min_gated_cases"} {
		if _, v := lookup(&doc, []string{field}); v != nil && v.ShortTag() != "!!int" {
			return nil, policyError("%s%s must be a whole number of cases, not %s", lineOf(&doc, []string{field}), field, cmp.Or(v.Value, "null"))
		}
	}
	if err := p.validate(func(path ...string) string { return lineOf(&doc, path) }); err != nil {
		return nil, err
	}
	return &p, nil
}

// nullAt returns the line of the first null mapping key or sequence entry
// under n, or 0.
func nullAt(n *yaml.Node) int {
	for i, c := range n.Content {
		if c.ShortTag() == "!!null" && (n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode && i%2 == 0) {
			return c.Line
		}
		if line := nullAt(c); line > 0 {
			return line
		}
	}
	return 0
}

// unknownFieldWords turns the YAML decoder's "not found in type compare.Policy"
// into the fields a user may write there.
var unknownFieldWords = strings.NewReplacer(
	" not found in type compare.Policy", " is not a policy field (known: "+yamlFields(Policy{})+")",
	" not found in type compare.Threshold", " is not a threshold field (known: "+yamlFields(Threshold{})+")",
)

// yamlFields lists the YAML names of v's fields.
func yamlFields(v any) string {
	t := reflect.TypeOf(v)
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

func policyError(format string, args ...any) error {
	return fault.Errorf(fault.Input, "fix the policy file; docs/diff.md lists its fields", "policy: "+format, args...)
}

// lineOf returns "line N: " for the key at path in the document, or "" when
// the document has no such key: the line of the deepest key of path it has.
func lineOf(doc *yaml.Node, path []string) string {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, key := range path {
		k, v := child(n, key)
		if k == nil {
			break
		}
		line, n = k.Line, v
	}
	if line == 0 {
		return ""
	}
	return fmt.Sprintf("line %d: ", line)
}

// lookup returns the key and value nodes at path in the document, or nils.
func lookup(doc *yaml.Node, path []string) (key, value *yaml.Node) {
	value = doc
	if value.Kind == yaml.DocumentNode && len(value.Content) > 0 {
		value = value.Content[0]
	}
	for _, name := range path {
		if key, value = child(value, name); key == nil {
			return nil, nil
		}
	}
	return key, value
}

// child returns the key and value nodes of the entry name of the mapping n,
// or nils.
func child(n *yaml.Node, name string) (key, value *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// Validate checks the policy's ranges.
func (p *Policy) Validate() error {
	return p.validate(func(...string) string { return "" })
}

func (p *Policy) validate(at func(path ...string) string) error {
	if !(p.Alpha > 0 && p.Alpha <= 0.5) {
		return policyError("%salpha must be in (0, 0.5], not %g", at("alpha"), p.Alpha)
	}
	check := func(t Threshold, share bool, path ...string) error {
		if !(t.MinEffect >= 0) || math.IsInf(t.MinEffect, 0) || share && t.MinEffect > 1 {
			return policyError("%s%s.min_effect must be a share in [0, 1], not %g", at(append(path, "min_effect")...), strings.Join(path, "."), t.MinEffect)
		}
		if !(t.NonInferiority >= 0 && t.NonInferiority <= 1) {
			return policyError("%s%s.non_inferiority must be a share in [0, 1], not %g", at(append(path, "non_inferiority")...), strings.Join(path, "."), t.NonInferiority)
		}
		return nil
	}
	if err := check(p.PassRate, true, "pass_rate"); err != nil {
		return err
	}
	if p.Overall != nil {
		if err := check(*p.Overall, true, "overall"); err != nil {
			return err
		}
	}
	for _, group := range []struct {
		name string
		m    map[string]Threshold
	}{{"scorers", p.Scorers}, {"tags", p.Tags}, {"measures", p.Measures}} {
		keys := make([]string, 0, len(group.m))
		for k := range group.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.TrimSpace(k) == "" {
				return policyError("%s%s has an empty name", at(group.name), group.name)
			}
			if group.name == "measures" {
				if _, ok := defaultMeasureThresholds[k]; !ok {
					return policyError("%sunknown measure %q (want length, latency or similarity)", at("measures", k), k)
				}
			}
			if err := check(group.m[k], group.name != "measures" || k == MeasureSimilarity, group.name, k); err != nil {
				return err
			}
		}
	}
	if p.MaxDrift != nil && !(*p.MaxDrift >= 0 && *p.MaxDrift <= 1) {
		return policyError("%smax_drift must be a share in [0, 1], not %g", at("max_drift"), *p.MaxDrift)
	}
	if p.MinPaired < 1 {
		return policyError("%smin_paired must be at least 1 (a verdict needs a paired case), not %d", at("min_paired"), p.MinPaired)
	}
	if !(p.MaxLost >= 0 && p.MaxLost <= 1) {
		return policyError("%smax_lost must be a share in [0, 1], not %g", at("max_lost"), p.MaxLost)
	}
	if p.MinGatedCases < 1 {
		return policyError("%smin_gated_cases must be at least 1, not %d", at("min_gated_cases"), p.MinGatedCases)
	}
	if p.Aggregate != AggregateMean && p.Aggregate != AggregateMajority {
		return policyError("%saggregate must be %s or %s, not %q", at("aggregate"), AggregateMean, AggregateMajority, p.Aggregate)
	}
	if p.Underpowered != UnderpoweredPass && p.Underpowered != UnderpoweredInconclusive {
		return policyError("%sunderpowered must be %s or %s, not %q", at("underpowered"), UnderpoweredPass, UnderpoweredInconclusive, p.Underpowered)
	}
	if p.WithinRunFloor != "" && p.WithinRunFloor != WithinFloorWarn && p.WithinRunFloor != WithinFloorInconclusive {
		return policyError("%swithin_run_floor must be %s or %s, not %q", at("within_run_floor"), WithinFloorWarn, WithinFloorInconclusive, p.WithinRunFloor)
	}
	for i, t := range p.NeverRegress {
		if strings.TrimSpace(t) == "" {
			return policyError("%snever_regress[%d] is empty", at("never_regress"), i)
		}
	}
	return nil
}

func (p *Policy) overall() Threshold {
	if p.Overall != nil {
		return *p.Overall
	}
	return p.PassRate
}

func (p *Policy) scorer(name string) Threshold {
	if t, ok := p.Scorers[name]; ok {
		return t
	}
	return p.PassRate
}

func (p *Policy) tag(name string) Threshold {
	if t, ok := p.Tags[name]; ok {
		return t
	}
	for _, t := range p.NeverRegress {
		if t == name {
			return Threshold{}
		}
	}
	return p.PassRate
}

func (p *Policy) measure(name string) Threshold {
	if t, ok := p.Measures[name]; ok {
		return t
	}
	return Threshold{MinEffect: defaultMeasureThresholds[name]}
}
