package store

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/evalpin/evalpin/eval"
)

func TestDecodeChecks(t *testing.T) {
	for _, tt := range []struct {
		name   string
		checks []eval.Check
		fast   bool // decoded without encoding/json
	}{
		{"none", nil, true},
		{"one", []eval.Check{{Scorer: "equals", Pass: true}}, true},
		{"detail", []eval.Check{{Scorer: "regex", Detail: "no match"}, {Scorer: "contains", Pass: true}}, true},
		{"empty", []eval.Check{{}}, true},
		{"escaped", []eval.Check{{Scorer: "x", Detail: `"quoted" \ <tag>`}}, false},
		{"unicode", []eval.Check{{Scorer: "länge", Detail: "日本語"}}, true},
		{"control", []eval.Check{{Scorer: "x", Detail: "line\nbreak"}}, false},
		{"detail that looks like checks", []eval.Check{{Scorer: "x", Detail: `},{"scorer":"y","pass":true}`}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.checks)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.checks) == 0 {
				data = []byte("[]") // as putResults stores it
			}
			rd := newResultReader("", nil)
			got, err := rd.decodeChecks(string(data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.checks) {
				t.Fatalf("decodeChecks(%s)=%+v, want %+v", data, got, tt.checks)
			}
			if len(tt.checks) > 0 {
				cs := make([]eval.Check, len(tt.checks))
				if fast := rd.parseChecks(string(data), cs); fast != tt.fast {
					t.Fatalf("parseChecks(%s) = %v, want %v", data, fast, tt.fast)
				}
			}
		})
	}
	for _, bad := range []string{`[{"scorer":`, `{}`, `[{"scorer":"x","pass":maybe}]`, `not json`} {
		if _, err := newResultReader("", nil).decodeChecks(bad); err == nil {
			t.Errorf("decodeChecks(%s) succeeded", bad)
		}
	}
}

// FuzzDecodeChecks checks that whatever checks encoding/json writes are
// decoded back as they were, by hand or by encoding/json.
func FuzzDecodeChecks(f *testing.F) {
	f.Add("equals", true, "", "regex", false, "no match")
	f.Add(`"`, false, `\`, "}", true, `{"scorer":"x","pass":true}`)
	f.Fuzz(func(t *testing.T, s1 string, p1 bool, d1, s2 string, p2 bool, d2 string) {
		want := []eval.Check{{Scorer: s1, Pass: p1, Detail: d1}, {Scorer: s2, Pass: p2, Detail: d2}}
		data, err := json.Marshal(want)
		if err != nil {
			t.Skip()
		}
		// What encoding/json itself decodes (invalid UTF-8 becomes U+FFFD).
		var back []eval.Check
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		got, err := newResultReader("", nil).decodeChecks(string(data))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, back) {
			t.Fatalf("decodeChecks(%s)=%+v, want %+v", data, got, back)
		}
	})
}
