package testbed

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/testbed/gguf"
	"github.com/evalpin/evalpin/suites"
)

// TestDrillChecksums holds the committed weights, recipe and reference
// outputs to testdata/drill/SHA256SUMS, which `make model` writes.
func TestDrillChecksums(t *testing.T) {
	sums, err := os.ReadFile(filepath.Join("testdata", "drill", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", sc.Text())
		}
		b, err := drillFiles.ReadFile("testdata/drill/" + name)
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: sha256 %x, SHA256SUMS says %s", name, got, sum)
		}
		seen++
	}
	if seen != 3 {
		t.Errorf("SHA256SUMS lists %d files, want weights, recipe and expected outputs", seen)
	}
}

// drillTarget is the accuracy every family must reach at F32, greedy.
const drillTarget = 0.95

// TestDrillReference checks the training script's own measure of the
// committed weights (greedy, F32): each reference output's pass flag is
// its answer check, the accuracy per family is the one recipe.json
// records, and every family reaches drillTarget.
func TestDrillReference(t *testing.T) {
	cases, err := DrillCases()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ReadDrillRecipe()
	if err != nil {
		t.Fatal(err)
	}
	n, k := map[string]int{}, map[string]int{}
	for _, c := range cases {
		n[c.Family]++
		if c.Correct(c.Output) != c.Pass {
			t.Errorf("%s: output %q, answer %q, but pass is %v", c.ID, c.Output, c.Answer, c.Pass)
		}
		if c.Pass {
			k[c.Family]++
		}
	}
	if len(n) != len(r.Families) {
		t.Errorf("families %v in the cases, %v in the recipe", n, r.Families)
	}
	for _, f := range r.Families {
		acc := float64(k[f]) / float64(n[f])
		if rec := r.Measured.SuiteAccuracy[f]; math.Abs(rec-acc) > 1e-4 {
			t.Errorf("%s: %d/%d = %.4f in expected.jsonl, %.4f in recipe.json", f, k[f], n[f], acc, rec)
		}
		if acc < drillTarget {
			t.Errorf("%s: %d/%d = %.3f at F32, under the drill model's target of %.2f", f, k[f], n[f], acc, drillTarget)
		}
	}
}

// TestDrillSuite checks that suites/drill/drill.yaml, the bundled suite,
// is the training script's: the same cases in the same order, each with
// its cluster and family tag, and one scorer whose value is the answer.
func TestDrillSuite(t *testing.T) {
	cases, err := DrillCases()
	if err != nil {
		t.Fatal(err)
	}
	s, err := suites.Load(filepath.Join("..", "..", "suites", "drill", "drill.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cases) != len(cases) {
		t.Fatalf("suite has %d cases, expected.jsonl %d", len(s.Cases), len(cases))
	}
	for i, sc := range s.Cases {
		c := cases[i]
		if sc.ID != c.ID || sc.Cluster == "" || len(sc.Tags) == 0 || sc.Tags[0] != c.Family {
			t.Errorf("case %d: suite %s cluster %q tags %v; expected.jsonl %s family %s", i, sc.ID, sc.Cluster, sc.Tags, c.ID, c.Family)
		}
		if len(sc.Messages) != len(c.Messages) {
			t.Errorf("%s: %d messages in the suite, %d in expected.jsonl", c.ID, len(sc.Messages), len(c.Messages))
			continue
		}
		for j, m := range sc.Messages {
			if m.Role != c.Messages[j].Role || m.Content != c.Messages[j].Content {
				t.Errorf("%s: message %d is %s %q in the suite, %s %q in expected.jsonl", c.ID, j, m.Role, m.Content, c.Messages[j].Role, c.Messages[j].Content)
			}
		}
	}
}

// TestDrillModelLayout checks the GGUF the writer makes of the weights:
// llama metadata from the recipe, no space prefix, the tensors in ggml's
// dimension order with PyTorch's bytes, F16 matrices and F32 norms.
func TestDrillModelLayout(t *testing.T) {
	r, err := ReadDrillRecipe()
	if err != nil {
		t.Fatal(err)
	}
	b, err := drillFiles.ReadFile("testdata/drill/weights.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	w, err := ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, dtype := range []string{"f32", "f16"} {
		f, err := DrillModel(DrillOptions{DType: dtype})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := gguf.Write(&buf, f); err != nil {
			t.Fatal(err)
		}
		g, err := gguf.Read(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]any{
			"general.architecture":                   "llama",
			"llama.embedding_length":                 uint32(r.Model.Width),
			"llama.feed_forward_length":              uint32(r.Model.FFN),
			"llama.block_count":                      uint32(r.Model.Layers),
			"llama.rope.dimension_count":             uint32(r.Model.Width / r.Model.Heads),
			"llama.attention.layer_norm_rms_epsilon": float32(r.Model.NormEps),
			"tokenizer.ggml.add_space_prefix":        false,
			"tokenizer.ggml.add_bos_token":           true,
		} {
			if got, ok := g.Get(key); !ok || got != want {
				t.Errorf("%s: %s = %v, want %v", dtype, key, got, want)
			}
		}
		if r.Model.Width%256 != 0 || r.Model.FFN%256 != 0 {
			t.Errorf("width %d, ffn %d: Ollama quantizes to Q4_K only rows that are multiples of 256", r.Model.Width, r.Model.FFN)
		}
		for _, tn := range g.Tensors {
			st := w[tn.Name]
			if len(st.Shape) != len(tn.Dims) || st.Shape[0] != tn.Dims[len(tn.Dims)-1] {
				t.Errorf("%s %s: dims %v, torch shape %v", dtype, tn.Name, tn.Dims, st.Shape)
			}
			want := gguf.TensorF32
			if dtype == "f16" && len(tn.Dims) == 2 {
				want = gguf.TensorF16
			}
			if tn.Type != want {
				t.Errorf("%s %s: type %v, want %v", dtype, tn.Name, tn.Type, want)
			}
			got := tn.Float32s()
			for _, i := range []int{0, 1, len(got) / 2, len(got) - 1} {
				v := st.Data[i]
				if want == gguf.TensorF16 {
					v = gguf.Float16To32(gguf.Float16(v))
				}
				if got[i] != v {
					t.Errorf("%s %s[%d] = %v, want %v", dtype, tn.Name, i, got[i], v)
				}
			}
		}
	}
}

func TestDrillModelfile(t *testing.T) {
	r, err := ReadDrillRecipe()
	if err != nil {
		t.Fatal(err)
	}
	mf, err := DrillModelfile(DrillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM ./model.gguf\n", `TEMPLATE """` + r.Template + `"""`, "PARAMETER repeat_penalty 1\n", "PARAMETER num_thread 1\n"} {
		if !strings.Contains(mf, want) {
			t.Errorf("Modelfile lacks %q:\n%s", want, mf)
		}
	}
	mf, err = DrillModelfile(DrillOptions{Template: "drill-nosep", KeepDefaultPenalty: true, Parameters: []string{`stop "7"`}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mf, "repeat_penalty") || !strings.Contains(mf, `if ne .Role "system"`) || !strings.HasSuffix(mf, "PARAMETER stop \"7\"\n") {
		t.Errorf("variant Modelfile:\n%s", mf)
	}
	if _, err := DrillModelfile(DrillOptions{Template: "nope"}); err == nil {
		t.Error("unknown template: no error")
	}
	if _, err := DrillModel(DrillOptions{DType: "q4"}); err == nil {
		t.Error("dtype q4: no error")
	}
}

func TestReadSafetensorsErrors(t *testing.T) {
	header := func(h string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
		return append(b, h...)
	}
	for name, b := range map[string][]byte{
		"short":       {1, 2},
		"header size": binary.LittleEndian.AppendUint64(nil, 99),
		"not json":    header("{"),
		"dtype":       header(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`),
		"offsets":     append(header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`), 0, 0, 0, 0),
	} {
		if _, err := ReadSafetensors(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	b := append(header(`{"__metadata__":{},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`), 0, 0, 0x80, 0x3f)
	got, err := ReadSafetensors(b)
	if err != nil || len(got) != 1 || got["a"].Data[0] != 1 {
		t.Errorf("one tensor: %v, %v", got, err)
	}
}
