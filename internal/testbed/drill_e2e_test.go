package testbed

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// These tests run the drill model on the real Ollama from `make testbed`;
// under plain go test without EVALPIN_OLLAMA they skip.

// drillAnswers asks the model every case at temperature 0 with the suite's
// seed and max_tokens, as evalpin's run does, and returns the outputs.
func drillAnswers(t *testing.T, s *Server, model string, cases []DrillCase) []string {
	t.Helper()
	seed := 42
	out := make([]string, len(cases))
	for i, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		content, _, err := s.Chat(ctx, ChatRequest{
			Model:       model,
			Messages:    c.Messages,
			Temperature: 0,
			Seed:        &seed,
			MaxTokens:   DrillMaxTokens,
		})
		cancel()
		if err != nil {
			t.Fatalf("%s %s: %v", model, c.ID, err)
		}
		out[i] = content
	}
	return out
}

func drillCreate(t *testing.T, s *Server, name string, opts DrillOptions, quant string) {
	t.Helper()
	dir := t.TempDir()
	if err := GenerateDrill(dir, opts); err != nil {
		t.Fatal(err)
	}
	if quant == "" {
		s.Create(t, name, dir)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	if err := s.CreateQuantized(ctx, name, dir, quant); err != nil {
		t.Fatal(err)
	}
}

// TestDrillParity is the drill model's parity check: Ollama serving the F32
// GGUF gives, on every case of the suite, exactly the greedy output of the
// training script (testdata/drill/expected.jsonl). It holds the rotary
// embedding and Q/K layout, the norm epsilon, the activation, the
// tokenizer's pieces, BOS and space handling, and the template together.
func TestDrillParity(t *testing.T) {
	cases, err := DrillCases()
	if err != nil {
		t.Fatal(err)
	}
	s := Ollama(t)
	drillCreate(t, s, "drill-f32", DrillOptions{DType: "f32"}, "")
	got := drillAnswers(t, s, "drill-f32", cases)
	diff := 0
	for i, c := range cases {
		if got[i] != c.Output {
			diff++
			if diff <= 10 {
				t.Errorf("%s: ollama %q, training script %q (margin %.4f)", c.ID, got[i], c.Output, c.Margin)
			}
		}
	}
	if diff > 0 {
		t.Errorf("%d of %d outputs differ from the training script's", diff, len(cases))
	}
}

// drillVariant is a served variant of the drill model.
type drillVariant struct {
	name  string
	opts  DrillOptions
	quant string
}

var drillVariants = []drillVariant{
	{"drill-f16", DrillOptions{DType: "f16"}, ""}, // the reference of the diffs: first
	{"drill-f32", DrillOptions{DType: "f32"}, ""},
	{"drill-q8_0", DrillOptions{DType: "f16"}, "q8_0"},
	{"drill-q4_k_m", DrillOptions{DType: "f16"}, "q4_K_M"},
	{"drill-nosep", DrillOptions{DType: "f16", Template: "drill-nosep"}, ""},
	{"drill-penalty", DrillOptions{DType: "f16", KeepDefaultPenalty: true}, ""},
	{"drill-stop", DrillOptions{DType: "f16", Parameters: []string{`stop "0"`}}, ""},
}

// TestDrillQuantizedTypes checks what Ollama actually stored for each
// quantization, not the name asked for: every matrix of a block in Q8_0,
// or in Q4_K (Q6_K where Q4_K_M gives attn_v and ffn_down more bits), and
// no silent fallback to Q5_0, Q5_1 or F16, which Ollama takes when a row
// length is not a multiple of 256.
func TestDrillQuantizedTypes(t *testing.T) {
	s := Ollama(t)
	want := map[string]func(name string) []string{
		"q8_0": func(name string) []string { return []string{"Q8_0"} },
		"q4_K_M": func(name string) []string {
			switch {
			case name == "output.weight":
				return []string{"Q6_K"}
			case strings.Contains(name, "attn_v") || strings.Contains(name, "ffn_down"):
				return []string{"Q4_K", "Q6_K"}
			}
			return []string{"Q4_K"}
		},
	}
	for _, quant := range []string{"q8_0", "q4_K_M"} {
		name := "drill-" + strings.ToLower(quant)
		drillCreate(t, s, name, DrillOptions{DType: "f16"}, quant)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		types, err := s.ServedTensorTypes(ctx, name)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if len(types) == 0 {
			t.Fatalf("%s: /api/show lists no tensors", name)
		}
		for tensor, typ := range types {
			ok := []string{"F32"}
			if !strings.HasSuffix(tensor, "norm.weight") {
				ok = want[quant](tensor)
			}
			if !contains(ok, typ) {
				t.Errorf("%s: tensor %s is %s, want %s", name, tensor, typ, strings.Join(ok, " or "))
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDrillMeasure measures each variant's accuracy per family on the
// real engine and how many outputs differ from F16's. It only reports (the
// figures in docs/testbed.md come from it); set EVALPIN_DRILL_MEASURE=1 to
// run it, and EVALPIN_DRILL_REPORT to a file to get the table there too.
func TestDrillMeasure(t *testing.T) {
	if os.Getenv("EVALPIN_DRILL_MEASURE") != "1" {
		t.Skip("set EVALPIN_DRILL_MEASURE=1 to measure the drill variants")
	}
	cases, err := DrillCases()
	if err != nil {
		t.Fatal(err)
	}
	s := Ollama(t)
	var families []string
	for _, c := range cases {
		if !contains(families, c.Family) {
			families = append(families, c.Family)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| variant | %s | all | outputs ≠ F16 | right→wrong | wrong→right |\n", strings.Join(families, " | "))
	fmt.Fprintf(&b, "|---|%s---|---|---|---|\n", strings.Repeat("---|", len(families)))
	var f16 []string
	for _, v := range drillVariants {
		drillCreate(t, s, v.name, v.opts, v.quant)
		got := drillAnswers(t, s, v.name, cases)
		if v.name == "drill-f16" {
			f16 = got
		}
		n, k := map[string]int{}, map[string]int{}
		total := 0
		for i, c := range cases {
			n[c.Family]++
			if c.Correct(got[i]) {
				k[c.Family]++
				total++
			}
		}
		fmt.Fprintf(&b, "| %s |", v.name)
		for _, f := range families {
			fmt.Fprintf(&b, " %d/%d (%.1f%%) |", k[f], n[f], 100*float64(k[f])/float64(n[f]))
		}
		fmt.Fprintf(&b, " %.1f%% |", 100*float64(total)/float64(len(cases)))
		if f16 == nil {
			b.WriteString(" – | – | – |\n")
			continue
		}
		changed, lost, won := 0, 0, 0
		for i, c := range cases {
			if got[i] != f16[i] {
				changed++
			}
			a, z := c.Correct(f16[i]), c.Correct(got[i])
			if a && !z {
				lost++
			}
			if !a && z {
				won++
			}
		}
		fmt.Fprintf(&b, " %d | %d | %d |\n", changed, lost, won)
	}
	t.Log("\n" + b.String())
	if path := os.Getenv("EVALPIN_DRILL_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
