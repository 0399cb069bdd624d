package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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

// FuzzAppendFlip holds flipEncoder.appendFlip equal, byte for byte, to a
// json.Encoder with writeJSONStreaming's indent, on flips of any texts and
// shares.
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
		want, err := plainFlip()(&fl)
		if err != nil {
			t.Fatal(err)
		}
		got, err := newFlipEncoder().appendFlip(nil, &fl)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("appendFlip\n%s\nencoder\n%s", got, want)
		}
	})
}

// plainFlip is flipEncoder's plain version, as writeJSONStreaming wrote the
// flips before it: each flip encoded by one json.Encoder, reused, with the
// report's indent. flip returns the encoding of f without the newline
// after it, valid until its next call.
func plainFlip() (flip func(f *jsonFlip) ([]byte, error)) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("    ", "  ")
	return func(f *jsonFlip) ([]byte, error) {
		buf.Reset()
		err := enc.Encode(f)
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
	}
}

// BenchmarkFastFlipJSON encodes 10,000 flips with outputs of about 200
// bytes, as BenchmarkDiffCommand100k's report does: impl=fast is
// flipEncoder.appendFlip, impl=plain the indenting encoder (plainFlip).
func BenchmarkFastFlipJSON(b *testing.B) {
	out := strings.Repeat("the quick brown fox jumps over a lazy dog ", 5)
	flips := make([]jsonFlip, 10_000)
	for i := range flips {
		flips[i] = jsonFlip{CaseID: fmt.Sprintf("case-%06d", i), Direction: "pass_to_fail", BaselinePass: 1,
			Tags: []string{"t1"}, FailedChecks: []string{"fact"}, BaselineOutput: out + fmt.Sprint(i), CandidateOutput: fmt.Sprint(i) + out}
	}
	for _, impl := range []string{"fast", "plain"} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			fast, plain := newFlipEncoder(), plainFlip()
			for b.Loop() {
				for k := range flips {
					var err error
					if impl == "fast" {
						buf, err = fast.appendFlip(buf[:0], &flips[k])
					} else {
						buf, err = plain(&flips[k])
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
