package baselines

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
)

// update makes TestGoldenFile rewrite testdata/small.jsonl.
var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2025, 4, 1, 9, 0, 0, 123456789, time.UTC)

// sampleBaseline returns a small baseline with two samples per case, one
// failed request and hostile outputs.
func sampleBaseline() *Baseline {
	lock := lockid.ID("sha256:" + strings.Repeat("ab", 32))
	run := eval.Run{
		Lock: lock, Suite: "smoke", SuiteVersion: "2", SuiteHash: strings.Repeat("5e", 32),
		Settings: eval.DefaultSettings(), Version: "v0.1.0", Status: eval.RunComplete,
		Started: t0, Finished: t0.Add(90 * time.Second),
	}
	run.Settings.Samples = 2
	five := 5
	cases := []eval.Case{
		{ID: "b-chat", Messages: []eval.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Capital of France?"}},
			Tags: []string{"geo"}, Cluster: "p1", Hash: "hb"},
		{ID: "a-raw", Prompt: "2+2=", Tags: []string{"math", "safety"}, Overrides: eval.Overrides{MaxTokens: &five}, Hash: "ha",
			Scorers: []eval.Scorer{nameScorer("equals")}},
	}
	var results []eval.Result
	for _, c := range cases {
		for s := range 2 {
			results = append(results, eval.Result{
				CaseID: c.ID, CaseHash: c.Hash, Sample: 1 - s, Output: "out " + c.ID, FinishReason: "stop",
				PromptTokens: 10, CompletionTokens: 3, Latency: 250 * time.Millisecond, Lock: lock,
				Endpoint: "http://10.0.0.1:8000/v1",
				Checks:   []eval.Check{{Scorer: "equals", Pass: s == 0, Detail: "<b>&</b>"}},
			})
		}
	}
	results[0].Output = "line\nNUL\x00 esc\x1b[31mred\x1b[0m \u2028 \"q\" \\ <tag>"
	results[1].Output = "bad utf-8: \xff\xfe end"
	results[2].Output, results[2].Error, results[2].ErrorKind, results[2].FinishReason = "", "HTTP 500: boom", "http", ""
	b := New(run, cases, results)
	b.Header.LockSource = "manifest"
	b.Header.LockManifest = []byte(`{"version": 1, "lock": "` + lock + `"}`)
	return b
}

func encode(t testing.TB, b *Baseline) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	in := sampleBaseline()
	data := encode(t, in)
	out, err := Decode(bytes.NewReader(data), "b.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	// What the file does not keep: endpoints and scorers; the manifest is
	// compacted onto its line.
	want := sampleBaseline()
	for i := range want.Results {
		want.Results[i].Endpoint = ""
	}
	want.Header.LockManifest = []byte(`{"version":1,"lock":"` + want.Header.Lock + `"}`)
	if !reflect.DeepEqual(out.Header, want.Header) {
		t.Errorf("header:\n got %+v\nwant %+v", out.Header, want.Header)
	}
	if !reflect.DeepEqual(out.Cases, want.Cases) {
		t.Errorf("cases:\n got %+v\nwant %+v", out.Cases, want.Cases)
	}
	if !reflect.DeepEqual(out.Results, want.Results) {
		t.Errorf("results:\n got %+v\nwant %+v", out.Results, want.Results)
	}
	if again := encode(t, out); !bytes.Equal(again, data) {
		t.Errorf("re-encoding a decoded baseline changed it:\n%s\nvs\n%s", again, data)
	}
	if got, want := out.Run(), in.Run(); !reflect.DeepEqual(got, want) {
		t.Errorf("Run() = %+v, want %+v", got, want)
	}
}

// TestHostileOutputs checks that every byte of an output survives the file,
// and that the file stays one record per line.
func TestHostileOutputs(t *testing.T) {
	outputs := []string{
		"",
		"two\nlines\r\n",
		"NUL\x00byte",
		"\x1b[2J\x1b[31mANSI\x1b[0m\a\b",
		"invalid \xff\xfe\xc3 utf-8",
		"\xed\xa0\x80 surrogate half",
		"line sep \u2028 para sep \u2029",
		`{"sha256":"0000"}`,
		"\n{\"case\":\"x\"}\n",
		strings.Repeat("long ", 200000), // longer than the reader's buffer
	}
	b := sampleBaseline()
	b.Results = b.Results[:0]
	for i, o := range outputs {
		b.Results = append(b.Results, eval.Result{CaseID: "a-raw", CaseHash: "ha", Sample: i, Output: o, Lock: b.Header.Lock})
	}
	b.Header.Results = len(b.Results)
	data := encode(t, b)
	if got, want := bytes.Count(data, []byte("\n")), 1+len(b.Cases)+len(outputs)+2; got != want { // the header, the cases, the results, the latencies, the checksum
		t.Fatalf("file has %d lines, want %d", got, want)
	}
	out, err := Decode(bytes.NewReader(data), "b.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range outputs {
		if got := out.Results[i].Output; got != o {
			t.Errorf("output %d = %q, want %q", i, trunc(got), trunc(o))
		}
	}
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// TestGoldenFile pins the format: a change to testdata/small.jsonl is a
// change to every baseline file users keep in git.
func TestGoldenFile(t *testing.T) {
	data := encode(t, sampleBaseline())
	path := filepath.Join("testdata", "small.jsonl")
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("encoding differs from %s:\n%s", path, data)
	}
}

func TestEncodeOrderAndDigest(t *testing.T) {
	a := sampleBaseline()
	// The same content in another order encodes to the same bytes.
	b := sampleBaseline()
	b.Cases[0], b.Cases[1] = b.Cases[1], b.Cases[0]
	for i, j := 0, len(b.Results)-1; i < j; i, j = i+1, j-1 {
		b.Results[i], b.Results[j] = b.Results[j], b.Results[i]
	}
	if !bytes.Equal(encode(t, a), encode(t, b)) {
		t.Error("the order of cases and results changed the file")
	}
	da, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	db, err := b.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if da != db {
		t.Errorf("digests differ for the same results: %s, %s", da, db)
	}
	// The digest covers results only: a new export time does not change it,
	// a changed output does.
	b.Header.Started = b.Header.Started.Add(time.Hour)
	b.Header.EvalpinVersion = "v9"
	if d, _ := b.Digest(); d != da {
		t.Error("the header changed the digest")
	}
	b.Results[0].Output += "!"
	if d, _ := b.Digest(); d == da {
		t.Error("a changed output kept the digest")
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(b *Baseline)
		want   string
	}{
		{"no lock", func(b *Baseline) { b.Header.Lock = "" }, "encode baseline: no lock id"},
		{"no suite hash", func(b *Baseline) { b.Header.SuiteHash = "" }, "encode baseline: no suite hash"},
		{"bad status", func(b *Baseline) { b.Header.Status = "done" }, `encode baseline: unknown run status "done"`},
		{"duplicate case", func(b *Baseline) { b.Cases = append(b.Cases, b.Cases[0]) }, `encode baseline: duplicate case "a-raw"`},
		{"empty case id", func(b *Baseline) { b.Cases[0].ID = "" }, "encode baseline: a case has an empty id"},
		{"duplicate result", func(b *Baseline) { b.Results = append(b.Results, b.Results[0]) }, `encode baseline: duplicate result "a-raw" sample 0`},
		{"unknown case", func(b *Baseline) { b.Results[0].CaseID = "zz" }, `encode baseline: result of unknown case "zz"`},
		{"case hash", func(b *Baseline) { b.Results[0].CaseHash = "other" },
			`encode baseline: result "a-raw" sample 0 has case hash "other", its case "ha"`},
		{"negative sample", func(b *Baseline) { b.Results[0].Sample = -1 }, `encode baseline: result "a-raw" has negative sample -1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sampleBaseline()
			tc.change(b)
			err := Encode(&bytes.Buffer{}, b)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Encode: %v, want %s", err, tc.want)
			}
		})
	}
}

// reseal replaces the checksum line of a file whose lines were edited, as a
// producer other than Encode would write it.
func reseal(lines []string) []byte {
	body := strings.Join(lines, "\n") + "\n"
	sum := sha256.Sum256([]byte(body))
	return []byte(body + `{"sha256":"` + hex.EncodeToString(sum[:]) + `"}` + "\n")
}

// sampleLines returns the lines of the sample baseline without the checksum
// line.
func sampleLines(t *testing.T) []string {
	lines := strings.Split(strings.TrimSuffix(string(encode(t, sampleBaseline())), "\n"), "\n")
	return lines[:len(lines)-1]
}

func TestDecodeRefuses(t *testing.T) {
	// The sample's lines: 1 header, 2 case a-raw, 3-4 its results, 5 case
	// b-chat, 6-7 its results, 8 checksum.
	for _, tc := range []struct {
		name string
		file func(lines []string) []byte
		want string
		is   error // the sentinel the error matches, if any
	}{
		{"empty file", func([]string) []byte { return nil },
			"b.jsonl: not an evalpin baseline file: the file is empty", ErrNotBaseline},
		{"not a baseline", func([]string) []byte { return []byte("id: q1\nprompt: hi\n") },
			`b.jsonl:1: not an evalpin baseline file: the first line is not a header with "format":"evalpin-baseline"`, ErrNotBaseline},
		{"missing header", func(l []string) []byte { return reseal(l[1:]) },
			`b.jsonl:1: not an evalpin baseline file: the first line is not a header with "format":"evalpin-baseline"`, nil},
		{"unknown version", func(l []string) []byte {
			l[0] = strings.Replace(l[0], `"version":2`, `"version":3`, 1)
			return reseal(l)
		}, "b.jsonl:1: unknown baseline version 3: this evalpin reads versions 1 to 2 (use the evalpin that exported the file, or export it again)", ErrVersion},
		{"unknown header field", func(l []string) []byte {
			l[0] = strings.Replace(l[0], `"lock":`, `"extra":1,"lock":`, 1)
			return reseal(l)
		}, `b.jsonl:1: header: not a baseline line: json: unknown field "extra"`, nil},
		{"no lock", func(l []string) []byte {
			l[0] = strings.Replace(l[0], `"lock":"sha256:`, `"lock":"","x":"`, 1)
			l[0] = strings.Replace(l[0], `,"x":"`+strings.Repeat("ab", 32)+`"`, ``, 1)
			return reseal(l)
		}, "b.jsonl:1: header: no lock id", nil},
		{"bad status", func(l []string) []byte {
			l[0] = strings.Replace(l[0], `"status":"complete"`, `"status":"done"`, 1)
			return reseal(l)
		}, `b.jsonl:1: header: unknown status "done" (want running, interrupted or complete)`, nil},
		{"result of unknown case", func(l []string) []byte {
			l[2] = strings.Replace(l[2], `"result":"a-raw"`, `"result":"a-zzz"`, 1)
			return reseal(l)
		}, `b.jsonl:3: result of unknown case "a-zzz": no case line before it`, nil},
		{"result before its case", func(l []string) []byte {
			return reseal([]string{l[0], l[2], l[1], l[3], l[4], l[5], l[6]})
		}, `b.jsonl:2: result of unknown case "a-raw": no case line before it`, nil},
		{"result after another case", func(l []string) []byte {
			return reseal([]string{l[0], l[1], l[2], l[4], l[3], l[5], l[6]})
		}, `b.jsonl:5: result of case "a-raw" out of order: a case's results follow its case line`, nil},
		{"duplicate result", func(l []string) []byte {
			return reseal([]string{l[0], l[1], l[2], l[2], l[3], l[4], l[5], l[6]})
		}, `b.jsonl:4: duplicate result: case "a-raw" sample 0`, nil},
		{"samples out of order", func(l []string) []byte {
			return reseal([]string{l[0], l[1], l[3], l[2], l[4], l[5], l[6]})
		}, `b.jsonl:4: result of case "a-raw" sample 0 out of order: samples are sorted, and 1 came before it`, nil},
		{"duplicate case", func(l []string) []byte {
			return reseal([]string{l[0], l[1], l[2], l[3], l[1], l[4], l[5], l[6]})
		}, `b.jsonl:5: duplicate case "a-raw"`, nil},
		{"cases out of order", func(l []string) []byte {
			return reseal([]string{l[0], l[4], l[5], l[6], l[1], l[2], l[3]})
		}, `b.jsonl:5: case "a-raw" out of order: cases are sorted by id, and "b-chat" came before it`, nil},
		{"two kinds", func(l []string) []byte {
			l[1] = strings.Replace(l[1], `{"case":"a-raw"`, `{"case":"a-raw","result":"a-raw"`, 1)
			return reseal(l)
		}, `b.jsonl:2: a line must have exactly one of "case", "result" and "sha256"`, nil},
		{"result fields on a case", func(l []string) []byte {
			l[1] = strings.Replace(l[1], `{"case":"a-raw"`, `{"case":"a-raw","output":"x"`, 1)
			return reseal(l)
		}, `b.jsonl:2: case "a-raw" has fields of a result line`, nil},
		{"unknown field", func(l []string) []byte {
			l[2] = strings.Replace(l[2], `"sample":0`, `"sample":0,"score":1`, 1)
			return reseal(l)
		}, `b.jsonl:3: not a baseline line: json: unknown field "score"`, nil},
		{"empty line", func(l []string) []byte {
			return reseal([]string{l[0], l[1], "", l[2], l[3], l[4], l[5], l[6]})
		}, "b.jsonl:3: empty line", nil},
		{"counts", func(l []string) []byte {
			return reseal([]string{l[0], l[1], l[2], l[3], l[4], l[5], `{"latencies_ns":[1,2,3]}`})
		}, "b.jsonl:1: the header counts 2 cases, 4 results and 1 errors, the file holds 2, 3 and 1", nil},
		{"latencies miscounted", func(l []string) []byte {
			return reseal([]string{l[0], l[1], l[2], l[3], l[4], l[5], l[7]})
		}, "b.jsonl:7: the latency line holds 4 latencies for 3 results", nil},
		{"no latency line", func(l []string) []byte {
			return reseal(l[:7])
		}, "b.jsonl:8: no latency line before the checksum: a version-2 file with results has one", nil},
		{"latency in a result line", func(l []string) []byte {
			l[2] = strings.Replace(l[2], `"sample":0,`, `"sample":0,"latency_ns":5,`, 1)
			return reseal(l)
		}, `b.jsonl:3: result of case "a-raw" has latency_ns: version 2 keeps latencies on the latency line`, nil},
		{"negative latency", func(l []string) []byte {
			return reseal(append(l[:7:7], `{"latencies_ns":[1,-2,3,4]}`))
		}, "b.jsonl:8: the latency line holds a negative latency for result 2", nil},
		{"latency with a leading zero", func(l []string) []byte {
			return reseal(append(l[:7:7], `{"latencies_ns":[1,02,3,4]}`))
		}, "b.jsonl:8: not a baseline line: invalid character '2' after array element", nil},
		{"latency line with another field", func(l []string) []byte {
			return reseal(append(l[:7:7], `{"latencies_ns":[1,2,3,4],"case":"x"}`))
		}, `b.jsonl:8: a line must have exactly one of "case", "result", "latencies_ns" and "sha256"`, nil},
		{"two latency lines", func(l []string) []byte {
			return reseal(append(l[:8:8], l[7]))
		}, "b.jsonl:9: a line after the latency line: it comes last, before the checksum", nil},
		{"line after the latencies", func(l []string) []byte {
			return reseal(append(l[:8:8], l[1]))
		}, "b.jsonl:9: a line after the latency line: it comes last, before the checksum", nil},
		{"edited output", func(l []string) []byte {
			sum := strings.Repeat("0", 64)
			return []byte(strings.Join(l, "\n") + "\n" + `{"sha256":"` + sum + `"}` + "\n")
		}, "", ErrChecksum},
		{"edited and broken", func(l []string) []byte {
			data := encode(t, sampleBaseline())
			return bytes.Replace(data, []byte(`"sample":1`), []byte(`"sample":0`), 1)
		}, "", ErrChecksum},
		{"truncated mid-line", func(l []string) []byte {
			data := encode(t, sampleBaseline())
			return data[:len(data)-20]
		}, "b.jsonl:9: the file is truncated: its last line is cut short and the checksum line is missing", ErrChecksum},
		{"truncated at a line end", func(l []string) []byte {
			return []byte(strings.Join(l[:4], "\n") + "\n")
		}, "b.jsonl:4: no checksum line: the file is truncated or was not written by 'evalpin baseline export'", ErrChecksum},
		{"content after checksum", func(l []string) []byte {
			return append(encode(t, sampleBaseline()), l[2]+"\n"...)
		}, "b.jsonl:10: content after the checksum line 9: the file was edited after export", ErrChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.file(sampleLines(t))
			_, err := Decode(bytes.NewReader(data), "b.jsonl")
			if err == nil {
				t.Fatal("Decode accepted the file")
			}
			if _, cerr := Check("b.jsonl", opener(data)); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Check: %v, Decode: %v", cerr, err)
			}
			if tc.want != "" && err.Error() != tc.want {
				t.Errorf("Decode:\n got %s\nwant %s", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Decode: %v does not match %v", err, tc.is)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("Decode: %T is not a *ParseError", err)
			}
		})
	}
}

// TestChecksumNamesFirstProblem checks that an edit that also breaks the
// content is reported as an edit that points at the broken line.
func TestChecksumNamesFirstProblem(t *testing.T) {
	data := encode(t, sampleBaseline())
	data = bytes.Replace(data, []byte(`"sample":1`), []byte(`"sample":0`), 1)
	_, err := Decode(bytes.NewReader(data), "b.jsonl")
	want := `; the first problem is on line 4: duplicate result: case "a-raw" sample 0`
	if err == nil || !strings.HasPrefix(err.Error(), "b.jsonl:9: checksum mismatch: the file was edited or damaged after export") ||
		!strings.HasSuffix(err.Error(), want) {
		t.Fatalf("Decode: %v, want a checksum mismatch on line 9 ending %q", err, want)
	}
}

// bigBaseline returns a baseline of n results: n/4 cases of four samples with
// outputs of a few hundred bytes.
func bigBaseline(n int) *Baseline {
	lock := lockid.ID("sha256:" + strings.Repeat("cd", 32))
	run := eval.Run{Lock: lock, Suite: "big", SuiteVersion: "1", SuiteHash: strings.Repeat("1f", 32),
		Settings: eval.DefaultSettings(), Version: "v0.1.0", Status: eval.RunComplete, Started: t0, Finished: t0.Add(time.Hour)}
	run.Settings.Samples = 4
	var cases []eval.Case
	results := make([]eval.Result, 0, n)
	for i := range n / 4 {
		c := eval.Case{ID: fmt.Sprintf("case-%06d", i), Prompt: fmt.Sprintf("Question number %d: what is %d squared?", i, i),
			Tags: []string{"math"}, Hash: fmt.Sprintf("%064x", i)}
		cases = append(cases, c)
		for s := range 4 {
			results = append(results, eval.Result{CaseID: c.ID, CaseHash: c.Hash, Sample: s,
				Output:       fmt.Sprintf("The square of %d is %d. ", i, i*i) + strings.Repeat("Some explanation follows. ", 8),
				FinishReason: "stop", PromptTokens: 20, CompletionTokens: 60, Latency: time.Duration(200+i%50) * time.Millisecond,
				Lock: lock, Checks: []eval.Check{{Scorer: "number", Pass: true}}})
		}
	}
	return New(run, cases, results)
}

func TestBigRoundTrip(t *testing.T) {
	b := bigBaseline(4000)
	data := encode(t, b)
	out, err := Decode(bytes.NewReader(data), "big.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Results, b.Results) {
		t.Error("results changed in the round trip")
	}
}

// BenchmarkEncodeDecode100k encodes and decodes a baseline of 100,000
// results, reporting the time per result and the file's size.
func BenchmarkEncodeDecode100k(b *testing.B) {
	const n = 100_000
	base := bigBaseline(n)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Encode(&buf, base); err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(bytes.NewReader(buf.Bytes()), "big.jsonl"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/result")
	b.ReportMetric(float64(buf.Len()), "file-bytes")
	b.ReportMetric(float64(buf.Len())/n, "file-bytes/result")
}

// nameScorer is a scorer that only has a name.
type nameScorer string

func (s nameScorer) Name() string            { return string(s) }
func (s nameScorer) Score(string) eval.Check { return eval.Check{Scorer: string(s)} }

// FuzzDecode checks that Decode never panics, and that what it accepts
// encodes to a file it decodes to the same baseline.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	if err := Encode(&buf, sampleBaseline()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(reseal(strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")[:2]))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(bytes.NewReader(data), "f")
		if err != nil {
			return
		}
		var again bytes.Buffer
		if err := Encode(&again, b); err != nil {
			t.Fatalf("Encode of a decoded baseline: %v", err)
		}
		c, err := Decode(bytes.NewReader(again.Bytes()), "f")
		if err != nil {
			t.Fatalf("Decode of a re-encoded baseline: %v", err)
		}
		if !reflect.DeepEqual(b.Cases, c.Cases) || !reflect.DeepEqual(b.Results, c.Results) {
			t.Fatal("re-encoding changed the baseline")
		}
	})
}

// A version-1 file, whose result lines carry their latency, is still read:
// testdata/small-v1.jsonl is the golden file of version 1, written by the
// evalpin of that format.
func TestDecodeVersion1(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "small-v1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(bytes.NewReader(data), "small-v1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := sampleBaseline()
	if b.Header.Version != 1 || len(b.Results) != len(want.Results) {
		t.Fatalf("version %d, %d results; want version 1, %d", b.Header.Version, len(b.Results), len(want.Results))
	}
	for i, r := range b.Results {
		if r.Latency != want.Results[i].Latency || r.Output != want.Results[i].Output {
			t.Errorf("result %d: latency %v output %q, want %v %q", i, r.Latency, r.Output, want.Results[i].Latency, want.Results[i].Output)
		}
	}
	// Encoded again, it is a version-2 file of the same run.
	again, err := Decode(bytes.NewReader(encode(t, b)), "again.jsonl")
	if err != nil || again.Header.Version != Version {
		t.Fatalf("re-encoded: %v, version %d", err, again.Header.Version)
	}
	if d1, _ := b.Digest(); d1 != mustDigest(t, again) {
		t.Error("the re-encoded file's digest differs")
	}
}

func mustDigest(t *testing.T, b *Baseline) string {
	t.Helper()
	d, err := b.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Version 2 leaves out a result's lock when it is the header's, and keeps
// one that differs or is empty (a failed request that carried none).
func TestResultLocksRoundTrip(t *testing.T) {
	b := sampleBaseline()
	b.Results[1].Lock = ""
	b.Results[2].Lock = lockid.ID("sha256:" + strings.Repeat("cd", 32))
	got, err := Decode(bytes.NewReader(encode(t, b)), "b.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got.Results {
		if want := b.Results[i].Lock; r.Lock != want {
			t.Errorf("result %d: lock %q, want %q", i, r.Lock, want)
		}
	}
}
