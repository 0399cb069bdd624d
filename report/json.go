package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/eval/stats"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// SchemaVersion is the version of the JSON report's schema (docs/diff.md). It
// changes only when a field is removed or changes meaning; new fields may be
// added within a version.
const SchemaVersion = 1

// number is a float64 that encodes NaN and ±Inf (not tested, not computable)
// as null.
type number float64

func (x number) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

type jsonReport struct {
	SchemaVersion int            `json:"schema_version"`
	Lock          jsonLock       `json:"lock"`
	Baseline      jsonRun        `json:"baseline"`
	Candidate     jsonRun        `json:"candidate"`
	Policy        compare.Policy `json:"policy"`
	Aggregation   string         `json:"aggregation"`
	Samples       int            `json:"samples"`
	Paired        int            `json:"paired"`
	// GatedFamily is the number of distinct gated metrics tested: the Holm
	// family, and the m of the intervals' Bonferroni level 1 − 2·alpha/m.
	GatedFamily int `json:"gated_family"`
	// ResolutionPower is the power every resolution is stated at.
	ResolutionPower number         `json:"resolution_power"`
	Excluded        jsonExcluded   `json:"excluded"`
	PassRates       []jsonPassRate `json:"pass_rates"`
	Tags            []jsonPassRate `json:"tags"`
	Measures        []jsonMeasure  `json:"measures"`
	Drift           jsonDrift      `json:"drift"`
	Flips           []jsonFlip     `json:"flips"`
	Gate            jsonGate       `json:"gate"`
	Warnings        []string       `json:"warnings"`
}

type jsonLock struct {
	Baseline  lockid.ID `json:"baseline"`
	Candidate lockid.ID `json:"candidate"`
	Diff      string    `json:"diff"` // "" when a manifest is unknown
}

type jsonRun struct {
	ID           int64     `json:"id"`             // 0 for a baseline file
	File         string    `json:"file,omitempty"` // the baseline file the side was read from
	Lock         lockid.ID `json:"lock"`
	Suite        string    `json:"suite"`
	SuiteVersion string    `json:"suite_version"`
	SuiteHash    string    `json:"suite_hash"`
	SettingsHash string    `json:"settings_hash"`
	Samples      int       `json:"samples"`
	Status       string    `json:"status"`
}

type jsonExcluded struct {
	OnlyBaseline     int `json:"only_baseline"`
	OnlyCandidate    int `json:"only_candidate"`
	HashChanged      int `json:"hash_changed"`
	Errored          int `json:"errored"` // baseline_errored + candidate_errored
	BaselineErrored  int `json:"baseline_errored"`
	CandidateErrored int `json:"candidate_errored"`
	Total            int `json:"total"`
}

type jsonCounts struct {
	Both          int `json:"both"`
	OnlyBaseline  int `json:"only_baseline"`
	OnlyCandidate int `json:"only_candidate"`
	Neither       int `json:"neither"`
}

type jsonInterval struct {
	Lo    number `json:"lo"`
	Hi    number `json:"hi"`
	Level number `json:"level"`
}

type jsonRate struct {
	Rate number       `json:"rate"`
	CI   jsonInterval `json:"ci"`
}

type jsonPassRate struct {
	Kind           string            `json:"kind"`
	Key            string            `json:"key"`
	Name           string            `json:"name"`
	N              int               `json:"n"`
	Counts         jsonCounts        `json:"counts"`
	Baseline       jsonRate          `json:"baseline"`
	Candidate      jsonRate          `json:"candidate"`
	Diff           number            `json:"diff"`
	CI             jsonInterval      `json:"ci"`
	CIAdjustment   string            `json:"ci_adjustment"`
	Method         string            `json:"method"`
	Alternative    string            `json:"alternative"`
	P              number            `json:"p"`
	PAdjusted      number            `json:"p_adjusted"`
	Adjustment     string            `json:"adjustment"`
	Tests          jsonTests         `json:"tests"`
	McNemarP       number            `json:"mcnemar_p"`
	Clusters       *int              `json:"clusters,omitempty"`
	DesignEffect   *number           `json:"design_effect,omitempty"`
	Detectable     number            `json:"detectable_effect"`
	Gated          bool              `json:"gated"`
	SameAs         string            `json:"same_as"`
	Threshold      compare.Threshold `json:"threshold"`
	Verdict        string            `json:"verdict"`
	NotNonInferior bool              `json:"not_non_inferior"`
	Words          string            `json:"words"`
	Lost           []string          `json:"lost"`
	Gained         []string          `json:"gained"`
	Warnings       []string          `json:"warnings"`
}

// jsonTests are a pass rate's tests: one-sided ones for a gated metric
// (loss, gain, and each beyond the threshold), the two-sided one for a
// reported metric; a test not made is null.
type jsonTests struct {
	Loss       *jsonTest `json:"loss"`
	Gain       *jsonTest `json:"gain"`
	LossBeyond *jsonTest `json:"loss_beyond"`
	GainBeyond *jsonTest `json:"gain_beyond"`
	Change     *jsonTest `json:"change"`
}

type jsonTest struct {
	P         number `json:"p"`
	PAdjusted number `json:"p_adjusted"`
}

// newJSONTest returns t, or nil when it was not made (the zero Test).
func newJSONTest(t compare.Test) *jsonTest {
	if t == (compare.Test{}) {
		return nil
	}
	return &jsonTest{P: number(t.P), PAdjusted: number(t.AdjP)}
}

type jsonMeasure struct {
	Name            string       `json:"name"`
	Unit            string       `json:"unit"`
	N               int          `json:"n"`
	BaselineMedian  number       `json:"baseline_median"`
	CandidateMedian number       `json:"candidate_median"`
	Tested          bool         `json:"tested"`
	Shift           number       `json:"shift"`
	CI              jsonInterval `json:"ci"`
	CIAdjustment    string       `json:"ci_adjustment"`
	Resolution      number       `json:"resolution"`
	MedianDiff      number       `json:"median_diff"`
	MedianDiffCI    jsonInterval `json:"median_diff_ci"`
	P               number       `json:"p"`
	PAdjusted       number       `json:"p_adjusted"`
	Adjustment      string       `json:"adjustment"`
	Ties            int          `json:"ties"`
	Zeros           int          `json:"zeros"`
	Gated           bool         `json:"gated"`
	MinEffect       number       `json:"min_effect"`
	Verdict         string       `json:"verdict"`
	Words           string       `json:"words"`
	Warnings        []string     `json:"warnings"`
}

type jsonDrift struct {
	Cases        int          `json:"cases"`
	Changed      int          `json:"changed"`
	Share        number       `json:"share"`
	Measured     bool         `json:"measured"`
	FloorRun     string       `json:"floor_run"`
	FloorRunID   int64        `json:"floor_run_id,omitempty"`
	LowerBound   bool         `json:"floor_lower_bound"`
	NoiseFloor   number       `json:"noise_floor"`
	Excess       number       `json:"excess"`
	CI           jsonInterval `json:"ci"`
	CIAdjustment string       `json:"ci_adjustment"`
	P            number       `json:"p"`
	PAdjusted    number       `json:"p_adjusted"`
	Adjustment   string       `json:"adjustment"`
	ExactP       number       `json:"exact_p"`
	Resolution   number       `json:"resolution"`
	MaxExcess    *number      `json:"max_excess"`
	Gated        bool         `json:"gated"`
	Verdict      string       `json:"verdict"`
	Words        string       `json:"words"`
	Warnings     []string     `json:"warnings"`
}

type jsonFlip struct {
	CaseID          string   `json:"case_id"`
	Direction       string   `json:"direction"` // "pass_to_fail" or "fail_to_pass" (the pass share fell or rose)
	BaselinePass    number   `json:"baseline_pass"`
	CandidatePass   number   `json:"candidate_pass"`
	Tags            []string `json:"tags"`
	FailedChecks    []string `json:"failed_checks"`
	BaselineOutput  string   `json:"baseline_output"`
	CandidateOutput string   `json:"candidate_output"`
}

type jsonGate struct {
	// Failed is true for the verdict "fail" only, as before the verdict
	// existed: an inconclusive gate has failed false but is not a pass.
	Failed   bool     `json:"failed"`
	Verdict  string   `json:"verdict"` // "pass", "fail" or "inconclusive"
	Headline string   `json:"headline"`
	Reasons  []string `json:"reasons"`
	// Underpowered lists the gated metrics whose resolution is coarser than
	// their threshold; Repeats the metrics that repeat a failed one.
	Underpowered []jsonResolution `json:"underpowered"`
	Repeats      []string         `json:"repeats"`
	// Unconfirmed lists gated drift shown only above a within-run floor.
	Unconfirmed []string     `json:"unconfirmed"`
	Evidence    jsonEvidence `json:"evidence"`
}

type jsonResolution struct {
	Metric    string `json:"metric"`
	Effect    number `json:"effect"` // null: no change could be detected
	Threshold number `json:"threshold"`
	Unit      string `json:"unit"`
}

type jsonEvidence struct {
	Paired     int            `json:"paired"`
	MinPaired  int            `json:"min_paired"`
	Answered   int            `json:"answered"`
	Lost       int            `json:"lost"`
	LostShare  number         `json:"lost_share"`
	MaxLost    number         `json:"max_lost"`
	LostKinds  map[string]int `json:"lost_kinds"`
	FirstLost  string         `json:"first_lost"`
	Shortfalls []string       `json:"shortfalls"`
}

func newJSONGate(g *compare.GateResult) jsonGate {
	e := &g.Evidence
	j := jsonGate{Failed: g.Failed(), Verdict: string(g.Verdict), Headline: g.Headline(), Reasons: nonNil(g.Reasons()),
		Underpowered: []jsonResolution{}, Repeats: nonNil(g.Repeats), Unconfirmed: nonNil(g.Unconfirmed), Evidence: jsonEvidence{
			Paired: e.Paired, MinPaired: e.MinPaired, Answered: e.Answered, Lost: e.Lost,
			LostShare: number(e.LostShare()), MaxLost: number(e.MaxLost), LostKinds: make(map[string]int, len(e.LostKinds)),
			FirstLost: e.FirstLost, Shortfalls: nonNil(e.Shortfalls),
		}}
	for _, k := range e.LostKinds {
		j.Evidence.LostKinds[k.Kind] = k.Cases
	}
	for _, u := range g.Underpowered {
		j.Underpowered = append(j.Underpowered, jsonResolution{Metric: u.Metric, Effect: number(u.Effect), Threshold: number(u.Threshold), Unit: u.Unit})
	}
	return j
}

// WriteJSON renders c as one JSON document of the schema docs/diff.md
// describes (schema_version 1). Untested values are null; lists are never
// null. Strings are escaped by encoding/json, which also escapes <, > and &
// so that the document is safe to embed in HTML.
func WriteJSON(w io.Writer, c *compare.Comparison) error {
	r := jsonReport{
		SchemaVersion:   SchemaVersion,
		Lock:            jsonLock{Baseline: c.Baseline.Lock, Candidate: c.Candidate.Lock, Diff: c.LockDiff},
		Baseline:        newJSONRun(c.Baseline, c.BaselineFile),
		Candidate:       newJSONRun(c.Candidate, c.CandidateFile),
		Policy:          c.Policy,
		Aggregation:     c.Aggregation,
		Samples:         c.Samples,
		Paired:          c.Paired,
		GatedFamily:     c.GatedFamily,
		ResolutionPower: number(stats.DefaultPower),
		Excluded: jsonExcluded{OnlyBaseline: c.Excluded.OnlyBaseline, OnlyCandidate: c.Excluded.OnlyCandidate,
			HashChanged: c.Excluded.HashChanged, Errored: c.Excluded.Errored(), BaselineErrored: c.Excluded.BaselineErrored,
			CandidateErrored: c.Excluded.CandidateErrored, Total: c.Excluded.Total()},
		PassRates: []jsonPassRate{},
		Tags:      []jsonPassRate{},
		Measures:  []jsonMeasure{},
		Flips:     []jsonFlip{},
		Gate:      newJSONGate(&c.Gate),
		Warnings:  errStrings(c.Warnings),
	}
	for i := range c.PassRates {
		r.PassRates = append(r.PassRates, newJSONPassRate(&c.PassRates[i]))
	}
	for i := range c.Tags {
		r.Tags = append(r.Tags, newJSONPassRate(&c.Tags[i]))
	}
	for i := range c.Measures {
		m := &c.Measures[i]
		r.Measures = append(r.Measures, jsonMeasure{
			Name: m.Name, Unit: m.Unit, N: m.N, BaselineMedian: number(m.Baseline), CandidateMedian: number(m.Candidate),
			Tested: m.Tested, Shift: number(m.Shift), CI: newJSONInterval(m.CI), CIAdjustment: m.CIAdjust, Resolution: number(m.Resolution),
			MedianDiff: number(m.Bootstrap.Median), MedianDiffCI: newJSONInterval(m.Bootstrap.CI),
			P: number(m.P), PAdjusted: number(m.AdjP), Adjustment: m.Adjust, Ties: m.Test.Ties, Zeros: m.Test.Zeros,
			Gated: m.Gated, MinEffect: number(m.Threshold.MinEffect), Verdict: string(m.Verdict), Words: m.Words(), Warnings: errStrings(m.Warnings),
		})
	}
	d := &c.Drift
	r.Drift = jsonDrift{Cases: d.Cases, Changed: d.Changed, Share: number(d.Share), Measured: d.Measured, FloorRun: d.FloorRun,
		FloorRunID: d.FloorID, LowerBound: d.LowerBound,
		NoiseFloor: number(math.NaN()), Excess: number(math.NaN()), P: number(d.P), PAdjusted: number(d.AdjP), ExactP: number(math.NaN()),
		CI: newJSONInterval(d.CI), CIAdjustment: d.CIAdjust, Resolution: number(d.Resolution),
		Adjustment: d.Adjust, Gated: d.Gated, Verdict: string(d.Verdict), Words: d.Words(), Warnings: errStrings(d.Warnings)}
	if d.Measured {
		r.Drift.NoiseFloor, r.Drift.Excess, r.Drift.ExactP = number(d.Test.Within), number(d.Test.Excess), number(d.Test.P)
	}
	if d.MaxExcess != nil {
		x := number(*d.MaxExcess)
		r.Drift.MaxExcess = &x
	}
	return writeJSONStreaming(w, r, c.Flips)
}

// writeJSONStreaming writes r with the flips encoded one at a time into its
// "flips" list, byte for byte as json.Encoder with a two-space indent would
// write r with them: the flips carry two outputs each and are most of a large
// diff's report, so they are never held encoded all at once.
func writeJSONStreaming(w io.Writer, r jsonReport, flips []compare.Flip) error {
	head, err := untrusted.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	// A quote inside a JSON string is escaped, so only the key can match.
	const key = `"flips": [`
	i := bytes.Index(head, []byte(key+"]"))
	if i < 0 {
		return errors.New("report: no flips field in the JSON report")
	}
	i += len(key)
	bw := bufio.NewWriter(w)
	bw.Write(head[:i])
	// One buffer and encoder for every flip: a large diff has tens of
	// thousands.
	var buf []byte
	enc := newFlipEncoder()
	for k, f := range flips {
		dir := "fail_to_pass"
		if f.Lost {
			dir = "pass_to_fail"
		}
		buf, err = enc.appendFlip(buf[:0], &jsonFlip{CaseID: f.CaseID, Direction: dir, BaselinePass: number(f.BaselinePass),
			CandidatePass: number(f.CandidatePass), Tags: nonNil(f.Tags),
			FailedChecks: nonNil(f.Failed), BaselineOutput: f.Baseline, CandidateOutput: f.Candidate})
		if err != nil {
			return err
		}
		item := untrusted.EscapeJSON(buf)
		if k > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(item)
	}
	if len(flips) > 0 {
		bw.WriteString("\n  ")
	}
	bw.Write(head[i:])
	bw.WriteByte('\n')
	return bw.Flush()
}

// A flipEncoder writes flips as a json.Encoder indented by "    " and "  "
// writes them (appendFlip), its values encoded alone by one unindented
// encoder and laid out here, which spares the indenting encoder's second
// pass over the outputs: on BenchmarkDiffCommand100k's flips that pass was
// most of the report's time. FuzzAppendFlip holds it equal to the indenting
// encoder, BenchmarkFastFlipJSON measures it against it.
type flipEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// newFlipEncoder returns a flipEncoder.
func newFlipEncoder() *flipEncoder {
	e := &flipEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}

// appendFlip appends f to b, without the newline after it.
func (e *flipEncoder) appendFlip(b []byte, f *jsonFlip) ([]byte, error) {
	fields := [...]struct {
		key   string
		value any
	}{{"case_id", f.CaseID}, {"direction", f.Direction}, {"baseline_pass", f.BaselinePass}, {"candidate_pass", f.CandidatePass},
		{"tags", f.Tags}, {"failed_checks", f.FailedChecks}, {"baseline_output", f.BaselineOutput}, {"candidate_output", f.CandidateOutput}}
	b = append(b, '{')
	for i, fd := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n      \""...)
		b = append(b, fd.key...)
		b = append(b, "\": "...)
		var err error
		if list, ok := fd.value.([]string); ok {
			b, err = e.appendList(b, list)
		} else {
			b, err = e.appendValue(b, fd.value)
		}
		if err != nil {
			return nil, err
		}
	}
	return append(b, "\n    }"...), nil
}

// appendList appends the list of strings of a flip's field as appendFlip
// lays it out.
func (e *flipEncoder) appendList(b []byte, list []string) ([]byte, error) {
	if len(list) == 0 {
		return append(b, "[]"...), nil
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n        "...)
		var err error
		if b, err = e.appendValue(b, s); err != nil {
			return nil, err
		}
	}
	return append(b, "\n      ]"...), nil
}

// appendValue appends v as encoding/json encodes it.
func (e *flipEncoder) appendValue(b []byte, v any) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimSuffix(e.buf.Bytes(), []byte("\n"))...), nil
}

func newJSONRun(r eval.Run, file string) jsonRun {
	return jsonRun{ID: r.ID, File: file, Lock: r.Lock, Suite: r.Suite, SuiteVersion: r.SuiteVersion, SuiteHash: r.SuiteHash,
		SettingsHash: r.SettingsHash, Samples: r.Settings.Samples, Status: string(r.Status)}
}

func newJSONInterval(iv stats.Interval) jsonInterval {
	return jsonInterval{Lo: number(iv.Lo), Hi: number(iv.Hi), Level: number(iv.Level)}
}

func newJSONPassRate(p *compare.PassRate) jsonPassRate {
	j := jsonPassRate{
		Kind: p.Kind, Key: p.Key, Name: p.Name(), N: p.Counts.N(),
		Counts:    jsonCounts{Both: p.Counts.Both, OnlyBaseline: p.Counts.OnlyA, OnlyCandidate: p.Counts.OnlyB, Neither: p.Counts.Neither},
		Baseline:  jsonRate{Rate: number(p.Baseline.P), CI: newJSONInterval(p.Baseline.CI)},
		Candidate: jsonRate{Rate: number(p.Candidate.P), CI: newJSONInterval(p.Candidate.CI)},
		Diff:      number(p.Diff), CI: newJSONInterval(p.CI), CIAdjustment: p.CIAdjust, Method: p.Method,
		Alternative: p.Alternative.String(), P: number(p.P), PAdjusted: number(p.AdjP), Adjustment: p.Adjust,
		Tests: jsonTests{Loss: newJSONTest(p.Loss), Gain: newJSONTest(p.Gain), LossBeyond: newJSONTest(p.LossBeyond),
			GainBeyond: newJSONTest(p.GainBeyond), Change: newJSONTest(p.Change)},
		McNemarP: number(p.McNemar.P), Detectable: number(p.Detectable.Effect), Gated: p.Gated, SameAs: p.SameAs, Threshold: p.Threshold,
		Verdict: string(p.Verdict), NotNonInferior: p.NotNonInferior, Words: p.Words(),
		Lost: nonNil(p.Lost), Gained: nonNil(p.Gained), Warnings: errStrings(p.Warnings),
	}
	if p.Clustered && p.Cluster != nil {
		g, de := p.Cluster.Clusters, number(p.Cluster.DesignEffect)
		j.Clusters, j.DesignEffect = &g, &de
	}
	return j
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func errStrings(ws []error) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Error()
	}
	return out
}
