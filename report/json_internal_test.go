package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// TestJSONStreamingIsMarshal holds writeJSONStreaming, which encodes the
// flips one at a time with one reused encoder, byte for byte equal to
// encoding the whole report at once, on outputs carrying what the untrusted
// policy escapes.
func TestJSONStreamingIsMarshal(t *testing.T) {
	texts := []string{"", "plain", "<b>&amp;</b>", "line\nbreak\ttab", "bidi \u202eevil\u202c", "sep \u2028 \u2029",
		"c1 \u0085 \u009b", "zero\u200bwidth", "astral 😀 \U000E0041", "\x00nul", `quote " back \ slash`}
	for _, n := range []int{0, 1, 3, 40} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var flips []compare.Flip
			want := jsonReport{Flips: []jsonFlip{}}
			for i := range n {
				f := compare.Flip{CaseID: fmt.Sprintf("c%d %s", i, texts[i%len(texts)]), Lost: i%2 == 0,
					BaselinePass: 1, CandidatePass: 0.5, Tags: []string{texts[(i+1)%len(texts)]},
					Baseline: texts[(i+2)%len(texts)], Candidate: texts[(i+3)%len(texts)]}
				if i%3 == 0 {
					f.Failed = []string{texts[(i+4)%len(texts)]}
				}
				flips = append(flips, f)
				dir := "fail_to_pass"
				if f.Lost {
					dir = "pass_to_fail"
				}
				want.Flips = append(want.Flips, jsonFlip{CaseID: f.CaseID, Direction: dir, BaselinePass: number(f.BaselinePass),
					CandidatePass: number(f.CandidatePass), Tags: nonNil(f.Tags), FailedChecks: nonNil(f.Failed),
					BaselineOutput: f.Baseline, CandidateOutput: f.Candidate})
			}
			var got bytes.Buffer
			if err := writeJSONStreaming(&got, jsonReport{Flips: []jsonFlip{}}, flips); err != nil {
				t.Fatal(err)
			}
			whole, err := untrusted.MarshalIndent(want, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if whole = append(whole, '\n'); !bytes.Equal(got.Bytes(), whole) {
				t.Errorf("streamed:\n%s\nwhole:\n%s", got.Bytes(), whole)
			}
		})
	}
}

// FuzzAppendFlip holds appendFlip equal, byte for byte, to a json.Encoder
// with writeJSONStreaming's indent, on flips of any texts and shares.
func FuzzAppendFlip(f *testing.F) {
	f.Add("case-1", "<b>&amp;</b>", "line\nbreak\ttab", "bidi \u202eevil", "\x00nul \xff", 1.0, 0.5, uint8(3))
	f.Add("", "", "", "", "", 0.0, 1.0, uint8(0))
	f.Add("astral 😀", `quote " back \ slash`, "sep \u2028 \u2029", "c1 \u0085", "zero\u200bwidth", 0.25, 1e-7, uint8(0xff))
	f.Fuzz(func(t *testing.T, id, tag, failed, baseline, candidate string, bp, cp float64, shape uint8) {
		fl := jsonFlip{CaseID: id, Direction: "pass_to_fail", BaselinePass: number(bp), CandidatePass: number(cp),
			Tags: []string{}, FailedChecks: []string{}, BaselineOutput: baseline, CandidateOutput: candidate}
		for i := range int(shape % 4) {
			fl.Tags = append(fl.Tags, fmt.Sprint(tag, i))
		}
		for i := range int(shape / 4 % 3) {
			fl.FailedChecks = append(fl.FailedChecks, fmt.Sprint(failed, i))
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("    ", "  ")
		if err := enc.Encode(fl); err != nil {
			t.Fatal(err)
		}
		got, err := appendFlip(nil, &fl)
		if err != nil {
			t.Fatal(err)
		}
		if want := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
			t.Fatalf("appendFlip\n%s\nencoder\n%s", got, want)
		}
	})
}
