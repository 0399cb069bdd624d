package suites

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with the file at path, or rewrites it with -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./suites -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func mustLoad(t *testing.T, path string) *eval.Suite {
	t.Helper()
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBadSuites loads each suite under testdata/bad and compares the error
// with its golden file, NAME.err.
func TestBadSuites(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".err") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := Load(f)
			if err == nil {
				t.Fatalf("Load(%s) = suite %q, want an error", f, s.Name)
			}
			if k := fault.KindOf(err); k != fault.Input {
				t.Errorf("KindOf = %v, want KindInput (exit 2)", k)
			}
			if fault.HintOf(err) == "" {
				t.Errorf("error has no hint")
			}
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is no *InvalidError", err)
			}
			for _, p := range ie.Problems {
				if p.File != f || p.Msg == "" {
					t.Errorf("problem %+v: want File %s and a message", p, f)
				}
			}
			checkGolden(t, strings.TrimSuffix(f, filepath.Ext(f))+".err", err.Error()+"\n")
		})
	}
	if n < 10 {
		t.Fatalf("only %d bad suites found", n)
	}
}

// TestProblemLimit checks that a suite with many problems lists MaxProblems
// of them and counts the rest.
func TestProblemLimit(t *testing.T) {
	_, err := Load("testdata/bad/too-many.yaml")
	var ie *InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v is no *InvalidError", err)
	}
	if len(ie.Problems) != MaxProblems || ie.More != 60-MaxProblems {
		t.Errorf("%d problems and %d more, want %d and %d", len(ie.Problems), ie.More, MaxProblems, 60-MaxProblems)
	}
	if !strings.Contains(err.Error(), "60 problems") || !strings.Contains(err.Error(), "and 10 more") {
		t.Errorf("error does not count all problems:\n%v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		load func() error
		want string
	}{
		{"missing file", func() error { _, err := Load("testdata/no-such.yaml"); return err }, "no such file"},
		{"unknown extension", func() error { _, err := Parse("suite.json", []byte("{}")); return err }, `unknown format ".json"`},
		{"unknown example", func() error { _, err := LoadExample("nope"); return err }, `no bundled suite "nope"`},
		{"example path", func() error { _, err := LoadExample("../suites.go"); return err }, "no bundled suite"},
	}
	for _, tt := range tests {
		err := tt.load()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
		if fault.KindOf(err) != fault.Input {
			t.Errorf("%s: kind %v, want KindInput", tt.name, fault.KindOf(err))
		}
	}
}

// TestParseSuite checks what a suite file turns into.
func TestParseSuite(t *testing.T) {
	s := mustLoad(t, "testdata/good/base.yaml")
	if s.Name != "hashing" || s.Version != "1" {
		t.Errorf("name %q version %q", s.Name, s.Version)
	}
	want := eval.DefaultSettings()
	want.System, want.MaxTokens, want.Stop = "Be brief.", 32, []string{"\n\n"}
	if s.Settings.Hash() != want.Hash() {
		t.Errorf("Settings = %+v, want %+v", s.Settings, want)
	}
	if len(s.Cases) != 3 {
		t.Fatalf("%d cases, want 3", len(s.Cases))
	}
	chat, raw := s.Cases[0], s.Cases[1]
	if chat.ID != "chat" || len(chat.Messages) != 1 || chat.Messages[0].Role != "user" || chat.Prompt != "" {
		t.Errorf("chat case = %+v", chat)
	}
	if chat.Cluster != "c1" || len(chat.Tags) != 1 || chat.Tags[0] != "math" {
		t.Errorf("chat tags %v cluster %q", chat.Tags, chat.Cluster)
	}
	if raw.Prompt != "The capital of France is" || raw.Messages != nil {
		t.Errorf("raw case = %+v", raw)
	}
	if raw.Overrides.MaxTokens == nil || *raw.Overrides.MaxTokens != 8 {
		t.Errorf("raw overrides = %+v", raw.Overrides)
	}
	if got := []string{chat.Scorers[0].Name(), chat.Scorers[1].Name()}; got[0] != "number" || got[1] != "has-four" {
		t.Errorf("scorer names %v, want [number has-four]", got)
	}
	// The loaded scorers work.
	for _, tt := range []struct {
		s    eval.Scorer
		out  string
		pass bool
	}{
		{chat.Scorers[0], "It is 4.4", true},
		{chat.Scorers[0], "It is 5", false},
		{chat.Scorers[1], "4", true},
		{raw.Scorers[0], `{"a": 1.2}`, true},
		{raw.Scorers[0], `{"a": 2}`, false},
		{s.Cases[2].Scorers[0], strings.Repeat("word ", 11), false},
	} {
		if c := tt.s.Score(tt.out); c.Pass != tt.pass {
			t.Errorf("%s.Score(%q) = %+v, want pass %v", tt.s.Name(), tt.out, c, tt.pass)
		}
	}
	for _, c := range s.Cases {
		if len(c.Hash) != 64 {
			t.Errorf("case %s hash %q", c.ID, c.Hash)
		}
	}
}

// TestHashInvariance checks that formatting, comments, key order, case order,
// spelled-out defaults and the file format leave the hashes alone.
func TestHashInvariance(t *testing.T) {
	base := mustLoad(t, "testdata/good/base.yaml")
	byID := func(s *eval.Suite) map[string]string {
		m := map[string]string{}
		for _, c := range s.Cases {
			m[c.ID] = c.Hash
		}
		return m
	}
	want := byID(base)
	for _, f := range []string{"testdata/good/reformatted.yaml", "testdata/good/base.jsonl"} {
		s := mustLoad(t, f)
		if s.Hash != base.Hash {
			t.Errorf("%s: suite hash %s, want %s", f, s.Hash, base.Hash)
		}
		for id, h := range byID(s) {
			if h != want[id] {
				t.Errorf("%s: case %s hash %s, want %s", f, id, h, want[id])
			}
		}
	}
}

// TestHashSensitivity changes base.yaml one way at a time and checks which
// hashes change: whatever changes a request or a check changes the case hash;
// tags, cluster, samples, name and version do not.
func TestHashSensitivity(t *testing.T) {
	src, err := os.ReadFile("testdata/good/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := mustLoad(t, "testdata/good/base.yaml")
	tests := []struct {
		name      string
		old, new  string
		caseID    string // the case whose hash is checked
		caseMoves bool   // whether its hash should change
		suiteMove bool   // whether the suite hash should change
	}{
		{"content", `content: "What is 2+2?"`, `content: "What is 2+3?"`, "chat", true, true},
		{"prompt", `"The capital of France is"`, `"The capital of Spain is"`, "raw", true, true},
		{"id", "id: chat", "id: chat2", "", false, true},
		{"scorer value", "value: 4, abs", "value: 5, abs", "chat", true, true},
		{"scorer tolerance", "abs: 0.5", "abs: 0.25", "chat", true, true},
		{"scorer name", "name: has-four", "name: has-4", "chat", true, true},
		{"scorer option", `value: "4", name`, `value: "4", ignore_case: true, name`, "chat", true, true},
		{"schema", "maximum: 1.5", "maximum: 2", "raw", true, true},
		{"override", "max_tokens: 8", "max_tokens: 9", "raw", true, true},
		{"default max_tokens", "max_tokens: 32", "max_tokens: 33", "chat", true, true},
		{"system for chat", "system: Be brief.", "system: Be briefer.", "chat", true, true},
		{"system for raw prompt", "system: Be brief.", "system: Be briefer.", "raw", false, true},
		{"system for own system", "system: Be brief.", "system: Be briefer.", "own-system", false, true},
		{"stop", `stop: ["\n\n"]`, `stop: ["\n"]`, "chat", true, true},
		{"samples", "max_tokens: 32", "max_tokens: 32\n  samples: 5", "chat", false, true},
		{"tags", "tags: [math]", "tags: [arithmetic, easy]", "chat", false, false},
		{"cluster", "cluster: c1", "cluster: c2", "chat", false, false},
		{"name", "name: hashing", "name: renamed", "chat", false, false},
		{"version", `version: "1"`, `version: "2"`, "chat", false, false},
		{"comment", "cases:", "# cases follow\ncases:", "chat", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Contains(src, []byte(tt.old)) {
				t.Fatalf("base.yaml has no %q", tt.old)
			}
			changed := bytes.Replace(src, []byte(tt.old), []byte(tt.new), 1)
			s, err := Parse("changed.yaml", changed)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Hash != base.Hash; got != tt.suiteMove {
				t.Errorf("suite hash changed = %v, want %v", got, tt.suiteMove)
			}
			if tt.caseID == "" {
				return
			}
			var before, after string
			for i, c := range base.Cases {
				if c.ID == tt.caseID {
					before, after = c.Hash, s.Cases[i].Hash
				}
			}
			if got := before != after; got != tt.caseMoves {
				t.Errorf("case %s hash changed = %v, want %v", tt.caseID, got, tt.caseMoves)
			}
		})
	}
}

// TestExamples loads every bundled suite and pins its hashes: a change to a
// bundled suite, or to how hashes are computed, shows up here (go test
// ./suites -update rewrites testdata/examples.hashes after a deliberate one).
func TestExamples(t *testing.T) {
	names := ExampleNames()
	if len(names) < 4 {
		t.Fatalf("ExampleNames() = %v, want at least 4", names)
	}
	var b strings.Builder
	for _, n := range names {
		s, err := LoadExample(n)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != n {
			t.Errorf("%s.yaml names itself %q", n, s.Name)
		}
		if n != "testbed" && (len(s.Cases) < 10 || len(s.Cases) > 30) {
			t.Errorf("%s has %d cases, want 10-30", n, len(s.Cases))
		}
		tags, clusters := map[string]bool{}, map[string]bool{}
		for _, c := range s.Cases {
			if len(c.Scorers) == 0 {
				t.Errorf("%s: case %s has no scorers", n, c.ID)
			}
			for _, tag := range c.Tags {
				tags[tag] = true
			}
			if c.Cluster != "" {
				clusters[c.Cluster] = true
			}
		}
		if n == "testbed" && (len(tags) < 3 || len(clusters) < 2) {
			t.Errorf("testbed has %d tags and %d clusters, want several of each", len(tags), len(clusters))
		}
		fmt.Fprintf(&b, "%s %s\n", n, s.Hash)
		for _, c := range s.Cases {
			fmt.Fprintf(&b, "  %s %s\n", c.ID, c.Hash)
		}
	}
	checkGolden(t, "testdata/examples.hashes", b.String())
}

// TestScorersApplyToExamples runs each bundled suite's scorers on a few
// outputs, so that a suite whose scorers can never pass, or never fail, is
// noticed.
func TestTestbedScorersSplit(t *testing.T) {
	s, err := LoadExample("testbed")
	if err != nil {
		t.Fatal(err)
	}
	// Outputs in the style of the test bed's tiny model: vocabulary words.
	outputs := []string{
		"the river was near the old garden and the water was blue",
		"people say it is time to go home",
		"one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen",
		"",
	}
	pass, fail := map[string]int{}, map[string]int{}
	for _, c := range s.Cases {
		for _, sc := range c.Scorers {
			for _, out := range outputs {
				if sc.Score(out).Pass {
					pass[sc.Name()]++
				} else {
					fail[sc.Name()]++
				}
			}
		}
	}
	mixed := 0
	for name := range pass {
		if fail[name] > 0 {
			mixed++
		}
	}
	if mixed < 5 {
		t.Errorf("only %d scorer names both pass and fail on word outputs (pass %v, fail %v)", mixed, pass, fail)
	}
}

func TestExampleFile(t *testing.T) {
	for _, name := range []string{"testbed", "testbed.yaml"} {
		if f, err := ExampleFile(name); err != nil || f != "testbed.yaml" {
			t.Errorf("ExampleFile(%q) = %q, %v", name, f, err)
		}
	}
}

// jsonlSuite returns a JSONL suite of n cases in the style of a generated one.
func jsonlSuite(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"suite": {"name": "big", "version": "1", "defaults": {"max_tokens": 32, "system": "Answer with a number."}}}` + "\n")
	for i := range n {
		fmt.Fprintf(&b, `{"id": "case-%06d", "messages": [{"role": "user", "content": "What is %d plus %d? Answer with the number only."}], "tags": ["arith", "t%d"], "cluster": "c%d", "scorers": [{"kind": "number", "value": %d}, {"kind": "length", "max_words": 5}]}`+"\n",
			i, i, i+1, i%7, i/10, 2*i+1)
	}
	return b.Bytes()
}

func TestJSONLMatchesOrder(t *testing.T) {
	s, err := Parse("big.jsonl", jsonlSuite(1000))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cases) != 1000 {
		t.Fatalf("%d cases, want 1000", len(s.Cases))
	}
	for i, c := range s.Cases {
		if want := fmt.Sprintf("case-%06d", i); c.ID != want {
			t.Fatalf("case %d has id %s, want %s", i, c.ID, want)
		}
	}
	again, err := Parse("big.jsonl", jsonlSuite(1000))
	if err != nil || again.Hash != s.Hash {
		t.Errorf("parsing again gives hash %s (%v), want %s", again.Hash, err, s.Hash)
	}
}

// BenchmarkLoadJSONL parses a 100,000-case JSONL suite.
func BenchmarkLoadJSONL(b *testing.B) {
	data := jsonlSuite(100_000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s, err := Parse("big.jsonl", data)
		if err != nil || len(s.Cases) != 100_000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadYAML parses the largest bundled suite.
func BenchmarkLoadYAML(b *testing.B) {
	for b.Loop() {
		if _, err := LoadExample("json-format"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCanonicalJSON checks appendCanonical against encoding/json: encoding v,
// decoding it generically and encoding it again (which sorts keys) must give
// the same bytes. The case documents, with their scorers, are checked by
// TestCaseHashReference.
func TestCanonicalJSON(t *testing.T) {
	topK, minP, rep := 40, 0.05, 1.1
	values := []any{
		nil, true, "", "plain", "quote \" backslash \\ newline \n tab \t bell \a nul \x00 del \x7f",
		"html <b>&amp;</b>", "unicode é 日本 🎉", 0.0, -1.5, 1e-7, 1e21, 123456789012.0, 0.1, 1e20, 5e-324,
		json.Number("1.50"), json.Number("15e-1"),
		[]any{1.0, "a", nil, map[string]any{"b": 1.0, "a": []any{}}},
		map[string]any{"z": 1.0, "a": map[string]any{"é": true, "e": false, "E": nil}},
		eval.Settings{TopP: 1, TopK: &topK, MinP: &minP, MaxTokens: 32, Stop: []string{"\n\n"}, System: "Be brief."},
		eval.Settings{Temperature: 0.7, TopP: 0.9, RepetitionPenalty: &rep, PresencePenalty: -2, FrequencyPenalty: 1e-7,
			Seed: -1 << 60, MaxTokens: 1, Stop: []string{}, Logprobs: true, Samples: 5},
		eval.DefaultSettings(),
		&eval.Message{Role: "user", Content: "<é>"}, []eval.Message{{}}, []eval.Message(nil), (*eval.Settings)(nil),
		map[string]string{"b": "x", "a": "y"},
		struct {
			Z  float64        `json:"z,omitempty"`
			Y  []string       `json:"y,omitempty"`
			X  *int           `json:"x,omitempty"`
			W  any            `json:"w,omitempty"`
			V  map[string]int `json:"v,omitempty"`
			U  uint8          `json:"u,omitempty"`
			T  string         `json:"-"`
			S  bool           `json:"s,omitempty"`
			N  any            `json:"n"`
			NS []string       `json:"ns"`
			M  map[string]any `json:"m"`
			K  int            `json:"k"`
			No string
			no string
		}{Y: []string{}, K: -3, no: "x"},
	}
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		_, isSettings := v.(eval.Settings)
		d := json.NewDecoder(bytes.NewReader(b))
		if isSettings {
			d.UseNumber() // keeps a seed beyond 2^53 as written
		}
		var g any
		if err := d.Decode(&g); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(g); err != nil {
			t.Fatal(err)
		}
		if got := appendCanonical(nil, v); string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("canonical JSON of %#v\n = %s\nwant %s", v, got, want.String())
		}
	}
}

// TestStrictDecoderReused: one strictDecoder, given lines one after another,
// accepts and refuses each as decodeJSONStrict does and decodes the same
// case, whatever the lines before it (a refused line drops the decoder).
func TestStrictDecoderReused(t *testing.T) {
	lines := []string{
		`{"id": "a", "prompt": "p", "scorers": [{"kind": "equals", "value": 12345678901234567890123}]}`,
		`{"id": "b", "prompt": "p"} {"id": "c", "prompt": "p"}`,
		`{"id": "d", "prompt": "p"}`,
		`123`,
		`{"id": "e", "prompt": "p"}x`,
		`{"id": "f", "prompt": "p", "extra": 1}`,
		`{"id": "g", "prompt": "p"}   `,
		`{"id": "h", "prompt": "p"`,
		`[1]`,
		`{"id": "i", "messages": [{"role": "user", "content": "q"}], "tags": ["t"]}`,
		`{"id": 1}`,
		`{"id": "j", "prompt": "p"}`,
	}
	var d strictDecoder
	for i, line := range lines {
		var want, got rawCase
		wantErr := decodeJSONStrict([]byte(line), &want)
		gotErr := d.decode([]byte(line), &got)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("line %d %s: error %v, want %v", i, line, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("line %d %s: decoded %+v, want %+v", i, line, got, want)
		}
	}
}
