package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/evalpin/evalpin/eval/compare"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"` // the schema's order: skipped, error, failure, system-out
	Error     *junitFailure `xml:"error,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit renders c as JUnit XML: a test suite "gate" with one testcase per
// gated metric, failing when the metric fails the gate and skipped when it is
// underpowered (the suite cannot resolve the policy's threshold: not a
// failure, not a plain pass either), a property "headline" with the verdict
// as every report words it, and a testcase
// "evidence" that is in error when the evidence falls short of the policy (an
// inconclusive gate must not look green to a CI system); and a test suite
// "flips" with one testcase per flipped case (all of them), which passes: a
// flip is evidence, and only what fails the gate is a failure. Every
// testsuite and testcase carries the attributes Jenkins' and GitLab's
// parsers require (name, tests, failures, errors, skipped, time). Untrusted text is escaped by encoding/xml, which also
// replaces characters XML cannot hold (NUL, ESC and other controls) with
// U+FFFD.
func WriteJUnit(w io.Writer, c *compare.Comparison) error {
	gate := junitSuite{Name: "evalpin.gate", Properties: []junitProperty{
		{"baseline_lock", string(c.Baseline.Lock)}, {"candidate_lock", string(c.Candidate.Lock)},
		{"baseline_run", sideName(c.Baseline, c.BaselineFile, "")}, {"candidate_run", sideName(c.Candidate, c.CandidateFile, "")},
		{"lock_diff", c.LockDiff}, {"paired", fmt.Sprint(c.Paired)}, {"excluded", c.Excluded.String()},
		{"alpha", fmt.Sprint(c.Policy.Alpha)}, {"verdict", string(c.Gate.Verdict)}, {"headline", c.Gate.Headline()},
	}}
	for _, list := range [][]compare.PassRate{c.PassRates, c.Tags} {
		for i := range list {
			p := &list[i]
			if !p.Gated {
				continue
			}
			tc := junitCase{Name: "pass rate: " + p.Name(), Classname: "evalpin.gate.pass_rate",
				SystemOut: fmt.Sprintf("%s → %s, %s at %s, p = %s %s (%s): %s%s", compare.Percent(p.Baseline.P), compare.Percent(p.Candidate.P),
					deltaCell(p.Diff, p.CI.Lo, p.CI.Hi), levelCell(p.CI, p.CIAdjust), compare.FormatP(p.AdjP), p.Adjust, p.Alternative,
					p.Words(), warningsText(p.Warnings))}
			switch {
			case p.Failed():
				tc.Failure = &junitFailure{Message: p.Words(), Type: "regression", Text: tc.SystemOut}
			case p.Verdict == compare.Underpowered:
				// Not a failure, and not a plain pass either: the suite
				// cannot resolve the policy's threshold.
				tc.Skipped = &junitSkipped{Message: p.Words()}
			}
			gate.Cases = append(gate.Cases, tc)
		}
	}
	for i := range c.Measures {
		m := &c.Measures[i]
		if !m.Gated {
			continue
		}
		tc := junitCase{Name: "measure: " + m.Name, Classname: "evalpin.gate.measure",
			SystemOut: fmt.Sprintf("median %s → %s, shift %s at %s, p = %s %s: %s%s", compare.FormatValue(m.Baseline, m.Unit),
				compare.FormatValue(m.Candidate, m.Unit), measureDelta(m), levelCell(m.CI, m.CIAdjust), compare.FormatP(m.AdjP), m.Adjust, m.Words(), warningsText(m.Warnings))}
		switch {
		case !m.Tested:
			tc.Skipped = &junitSkipped{Message: "not tested" + warningsText(m.Warnings)}
		case m.Verdict == compare.Underpowered:
			tc.Skipped = &junitSkipped{Message: m.Words()}
		}
		if m.Failed() {
			tc.Failure = &junitFailure{Message: string(m.Verdict), Type: "regression", Text: tc.SystemOut}
		}
		gate.Cases = append(gate.Cases, tc)
	}
	if d := &c.Drift; d.Gated {
		ch, fl, ex, lv, p, v := driftCells(d)
		tc := junitCase{Name: "output drift", Classname: "evalpin.gate.drift",
			SystemOut: fmt.Sprintf("changed %s, noise floor %s, excess %s at %s, p = %s: %s%s", ch, fl, ex, lv, p, v, warningsText(d.Warnings))}
		switch {
		case !d.Measured:
			tc.Skipped = &junitSkipped{Message: "noise floor unmeasured (samples = 1)"}
		case d.Verdict == compare.Underpowered:
			tc.Skipped = &junitSkipped{Message: v}
		}
		if d.Failed() {
			tc.Failure = &junitFailure{Message: "output drift above the noise floor", Type: "regression", Text: tc.SystemOut}
		}
		gate.Cases = append(gate.Cases, tc)
	}

	ev := &c.Gate.Evidence
	tc := junitCase{Name: "evidence", Classname: "evalpin.gate.evidence", SystemOut: ev.String()}
	if ev.Short() {
		tc.Error = &junitFailure{Message: "too little evidence for a verdict: " + ev.Shortfalls[0], Type: "inconclusive",
			Text: strings.Join(ev.Shortfalls, "\n")}
	}
	gate.Cases = append(gate.Cases, tc)

	flips := junitSuite{Name: "evalpin.flips"}
	for _, f := range c.Flips {
		tc := junitCase{Name: f.CaseID, Classname: "evalpin.flips"}
		text := fmt.Sprintf("%s\nbaseline output:\n%s\n\ncandidate output:\n%s\n", f.Direction(), f.Baseline, f.Candidate)
		if len(f.Failed) > 0 {
			text += "\nfailed checks: " + strings.Join(f.Failed, "; ") + "\n"
		}
		// A flip is evidence, not a failure: the gate's metrics fail, or
		// do not, on all of them together.
		tc.SystemOut = text
		flips.Cases = append(flips.Cases, tc)
	}

	// A comparison takes no measurable time: time is "0", which the
	// parsers that require it accept.
	out := junitSuites{Name: "evalpin diff", Time: "0"}
	for _, s := range []*junitSuite{&gate, &flips} {
		s.Tests, s.Time = len(s.Cases), "0"
		for i := range s.Cases {
			tc := &s.Cases[i]
			tc.Time = "0"
			if tc.Failure != nil {
				s.Failures++
			}
			if tc.Error != nil {
				s.Errors++
			}
			if tc.Skipped != nil {
				s.Skipped++
			}
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Suites = append(out.Suites, *s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func warningsText(ws []error) string {
	if len(ws) == 0 {
		return ""
	}
	return " (" + strings.Join(errStrings(ws), "; ") + ")"
}
