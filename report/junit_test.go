package report_test

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strconv"
	"testing"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/report"
)

// An XML element, generically: its name, attributes and children.
type xmlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []xmlNode  `xml:",any"`
}

func (n xmlNode) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// The JUnit file meets the rules of Jenkins' junit-10.xsd (xunit-plugin) and
// GitLab's parser: testsuites and each testsuite carry name, tests,
// failures, errors and time (a testsuite skipped too), whose counts match
// its testcases; each testcase carries name, classname and time, and its
// children come in the schema's order (skipped, error, failure, system-out,
// system-err), at most one of the first three; a property has name and
// value. And it fails only for what failed the gate: one failure per gated
// regression, an error only for an inconclusive gate.
func TestJUnitSchemaRules(t *testing.T) {
	for name, fx := range map[string]func(testing.TB) *compare.Comparison{
		"diff": fixture, "inconclusive": inconclusiveFixture,
		"alpha20": func(t testing.TB) *compare.Comparison { return fixtureAt(t, 0.2) },
	} {
		t.Run(name, func(t *testing.T) {
			c := fx(t)
			var buf bytes.Buffer
			if err := report.WriteJUnit(&buf, c); err != nil {
				t.Fatal(err)
			}
			var root xmlNode
			if err := xml.Unmarshal(buf.Bytes(), &root); err != nil {
				t.Fatal(err)
			}
			if root.XMLName.Local != "testsuites" {
				t.Fatalf("root %s, want testsuites", root.XMLName.Local)
			}
			need := func(n xmlNode, names ...string) map[string]int {
				counts := map[string]int{}
				for _, a := range names {
					v, ok := n.attr(a)
					if !ok {
						t.Errorf("%s lacks %s", n.XMLName.Local, a)
						continue
					}
					if a != "name" && a != "classname" {
						if _, err := strconv.ParseFloat(v, 64); err != nil {
							t.Errorf("%s %s=%q is not a number", n.XMLName.Local, a, v)
						}
						counts[a], _ = strconv.Atoi(v)
					}
				}
				return counts
			}
			total := need(root, "name", "tests", "failures", "errors", "time")
			var sum map[string]int = map[string]int{}
			order := []string{"skipped", "error", "failure", "system-out", "system-err"}
			for _, s := range root.Children {
				if s.XMLName.Local != "testsuite" {
					t.Fatalf("testsuites holds a %s", s.XMLName.Local)
				}
				got := need(s, "name", "tests", "failures", "errors", "skipped", "time")
				have := map[string]int{}
				for _, tc := range s.Children {
					switch tc.XMLName.Local {
					case "properties":
						for _, p := range tc.Children {
							need(p, "name")
							if _, ok := p.attr("value"); !ok {
								t.Error("a property lacks value")
							}
						}
						continue
					case "testcase":
					default:
						t.Fatalf("testsuite holds a %s", tc.XMLName.Local)
					}
					have["tests"]++
					need(tc, "name", "classname", "time")
					last, outcomes := -1, 0
					for _, ch := range tc.Children {
						i := slices.Index(order, ch.XMLName.Local)
						if i < last {
							t.Errorf("testcase child %s out of the schema's order", ch.XMLName.Local)
						}
						last = i
						switch ch.XMLName.Local {
						case "skipped", "error", "failure":
							outcomes++
							have[map[string]string{"skipped": "skipped", "error": "errors", "failure": "failures"}[ch.XMLName.Local]]++
						}
					}
					if outcomes > 1 {
						t.Error("a testcase with more than one of skipped, error and failure")
					}
				}
				for _, k := range []string{"tests", "failures", "errors", "skipped"} {
					if got[k] != have[k] {
						t.Errorf("testsuite %s says %s=%d, holds %d", name, k, got[k], have[k])
					}
					sum[k] += have[k]
				}
			}
			for _, k := range []string{"tests", "failures", "errors"} {
				if total[k] != sum[k] {
					t.Errorf("testsuites says %s=%d, its suites hold %d", k, total[k], sum[k])
				}
			}
			if want := len(c.Gate.Regressions); sum["failures"] != want {
				t.Errorf("%d failures, want one per gated regression (%d)", sum["failures"], want)
			}
			if inconclusive := c.Gate.Verdict == compare.GateInconclusive || c.Gate.Evidence.Short(); (sum["errors"] > 0) != inconclusive {
				t.Errorf("%d errors for a gate whose evidence short is %v", sum["errors"], inconclusive)
			}
		})
	}
}
