package testbed

import (
	"bytes"
	"embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evalpin/evalpin/internal/testbed/gguf"
)

// The drill model is the test bed's trained model: a 2-block llama of width
// 256 that answers five drills (add, sub, rev, max, lookup) with checkable
// answers. internal/testbed/train/train.py trains it (`make model`) and
// writes its weights, recipe and reference outputs under testdata/drill;
// DrillModel turns them into GGUF. docs/testbed.md has the figures.

//go:embed testdata/drill/weights.safetensors testdata/drill/recipe.json testdata/drill/expected.jsonl
var drillFiles embed.FS

// DrillOptions describe a drill model file and its Modelfile.
type DrillOptions struct {
	// DType is the type of the weight matrices, "f32" (the default, the
	// type the parity test runs) or "f16". Norm weights are always F32.
	DType string
	// Template names the chat template, a key of DrillTemplates; the
	// default is "drill", the template the model was trained on.
	Template string
	// Parameters are Modelfile PARAMETER lines ("repeat_penalty 1.1"),
	// written after the defaults so they override them.
	Parameters []string
	// KeepDefaultPenalty leaves out the default `repeat_penalty 1`, so
	// Ollama's own default (1.1 over the last 64 tokens, prompt included)
	// applies.
	KeepDefaultPenalty bool
}

// DrillTemplates are the chat templates a drill Modelfile can carry. "drill"
// is the one the model was trained on (the recipe's); "drill-nosep" drops
// the </s> that closes a system message, a plausible clean-up that only the
// lookup drill, whose system message names its fact table, sees.
var DrillTemplates = map[string]string{
	"drill":       "", // the recipe's template
	"drill-nosep": `{{- range .Messages }}<|{{ .Role }}|>{{ .Content }}{{ if ne .Role "system" }}</s>{{ end }}{{ end }}<|assistant|>`,
}

// DrillRecipe is the part of testdata/drill/recipe.json the Go side uses.
type DrillRecipe struct {
	Model struct {
		Name     string  `json:"name"`
		Layers   int     `json:"layers"`
		Width    int     `json:"width"`
		Heads    int     `json:"heads"`
		FFN      int     `json:"ffn"`
		Context  int     `json:"context"`
		RopeBase float64 `json:"rope_base"`
		NormEps  float64 `json:"norm_eps"`
	} `json:"model"`
	Template   string   `json:"template"`
	Tokens     []string `json:"tokens"`
	TokenTypes []int32  `json:"token_types"`
	Special    struct {
		UNK int `json:"unk"`
		BOS int `json:"bos"`
		EOS int `json:"eos"`
	} `json:"special"`
	Families []string `json:"families"`
	Measured struct {
		TrainSeconds  float64            `json:"train_seconds"`
		SuiteAccuracy map[string]float64 `json:"suite_accuracy"`
	} `json:"measured"`
}

// ReadDrillRecipe returns the committed recipe.
func ReadDrillRecipe() (*DrillRecipe, error) {
	b, err := drillFiles.ReadFile("testdata/drill/recipe.json")
	if err != nil {
		return nil, err
	}
	var r DrillRecipe
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("drill recipe: %w", err)
	}
	if len(r.Tokens) == 0 || len(r.Tokens) != len(r.TokenTypes) {
		return nil, fmt.Errorf("drill recipe: %d tokens, %d token types", len(r.Tokens), len(r.TokenTypes))
	}
	return &r, nil
}

// A SafeTensor is one F32 tensor of a safetensors file, in PyTorch's layout
// (row-major, Shape outermost first).
type SafeTensor struct {
	Shape []uint64
	Data  []float32
}

// ReadSafetensors parses a safetensors file holding F32 tensors only.
func ReadSafetensors(b []byte) (map[string]SafeTensor, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("safetensors: %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("safetensors: header of %d bytes in a file of %d", n, len(b))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		return nil, fmt.Errorf("safetensors header: %w", err)
	}
	data := b[8+n:]
	out := make(map[string]SafeTensor, len(header))
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var h struct {
			DType   string   `json:"dtype"`
			Shape   []uint64 `json:"shape"`
			Offsets [2]int   `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, fmt.Errorf("safetensors %s: %w", name, err)
		}
		if h.DType != "F32" {
			return nil, fmt.Errorf("safetensors %s: dtype %s, want F32", name, h.DType)
		}
		count := uint64(1)
		for _, d := range h.Shape {
			count *= d
		}
		a, z := h.Offsets[0], h.Offsets[1]
		if a < 0 || z < a || z > len(data) || uint64(z-a) != 4*count {
			return nil, fmt.Errorf("safetensors %s: offsets %d..%d for %d values in %d bytes", name, a, z, count, len(data))
		}
		v := make([]float32, count)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[a+4*i:]))
		}
		out[name] = SafeTensor{Shape: h.Shape, Data: v}
	}
	return out, nil
}

// DrillModel builds the GGUF content of the drill model from the committed
// weights and recipe.
//
// The tensors keep PyTorch's bytes: a linear weight [out, in] is ggml's
// tensor with dims {in, out}, so only the dims are reversed. The training
// script rotates adjacent pairs of each head (llama.cpp's rope type NORM,
// the llama architecture's), so Q and K need none of the row permutation
// llama.cpp's converter applies to Hugging Face checkpoints.
func DrillModel(opts DrillOptions) (*gguf.File, error) {
	if opts.DType == "" {
		opts.DType = "f32"
	}
	if opts.DType != "f16" && opts.DType != "f32" {
		return nil, fmt.Errorf("drill model: dtype %q: want f16 or f32", opts.DType)
	}
	r, err := ReadDrillRecipe()
	if err != nil {
		return nil, err
	}
	b, err := drillFiles.ReadFile("testdata/drill/weights.safetensors")
	if err != nil {
		return nil, err
	}
	weights, err := ReadSafetensors(b)
	if err != nil {
		return nil, err
	}
	m := r.Model
	fileType, mat := uint32(0), gguf.TensorF32 // LLAMA_FTYPE_ALL_F32
	if opts.DType == "f16" {
		fileType, mat = 1, gguf.TensorF16 // LLAMA_FTYPE_MOSTLY_F16
	}
	scores := make([]float32, len(r.Tokens))
	f := &gguf.File{KV: []gguf.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: m.Name},
		{Key: "general.file_type", Value: fileType},
		{Key: "general.alignment", Value: uint32(gguf.DefaultAlignment)},
		{Key: "llama.vocab_size", Value: uint32(len(r.Tokens))},
		{Key: "llama.context_length", Value: uint32(m.Context)},
		{Key: "llama.embedding_length", Value: uint32(m.Width)},
		{Key: "llama.block_count", Value: uint32(m.Layers)},
		{Key: "llama.feed_forward_length", Value: uint32(m.FFN)},
		{Key: "llama.attention.head_count", Value: uint32(m.Heads)},
		{Key: "llama.attention.head_count_kv", Value: uint32(m.Heads)},
		{Key: "llama.rope.dimension_count", Value: uint32(m.Width / m.Heads)},
		{Key: "llama.rope.freq_base", Value: float32(m.RopeBase)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(m.NormEps)},
		{Key: "tokenizer.ggml.model", Value: "llama"},
		{Key: "tokenizer.ggml.tokens", Value: r.Tokens},
		{Key: "tokenizer.ggml.scores", Value: scores},
		{Key: "tokenizer.ggml.token_type", Value: r.TokenTypes},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(r.Special.UNK)},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(r.Special.BOS)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(r.Special.EOS)},
		{Key: "tokenizer.ggml.add_bos_token", Value: true},
		{Key: "tokenizer.ggml.add_eos_token", Value: false},
		// llama.cpp's SentencePiece tokenizer would otherwise put a space
		// before the text after every special token.
		{Key: "tokenizer.ggml.add_space_prefix", Value: false},
	}}
	names := []string{"token_embd.weight"}
	for l := range m.Layers {
		for _, t := range []string{"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"} {
			names = append(names, fmt.Sprintf("blk.%d.%s.weight", l, t))
		}
	}
	names = append(names, "output_norm.weight", "output.weight")
	if len(names) != len(weights) {
		return nil, fmt.Errorf("drill model: %d tensors in the weights, want %d", len(weights), len(names))
	}
	for _, name := range names {
		w, ok := weights[name]
		if !ok {
			return nil, fmt.Errorf("drill model: no tensor %s in the weights", name)
		}
		dims := make([]uint64, len(w.Shape))
		for i, d := range w.Shape {
			dims[len(dims)-1-i] = d
		}
		t := gguf.Tensor{Name: name, Dims: dims, Type: gguf.TensorF32, Data: gguf.F32Data(w.Data)}
		if len(dims) > 1 && mat == gguf.TensorF16 {
			t.Type, t.Data = gguf.TensorF16, gguf.F16Data(w.Data)
		}
		f.Tensors = append(f.Tensors, t)
	}
	return f, nil
}

// DrillModelfile returns the Modelfile of a drill model.gguf in the same
// directory. Besides the template it sets num_thread 1, num_ctx to the
// trained context, and repeat_penalty 1: Ollama's default of 1.1 applies
// to greedy decoding too and counts the prompt's tokens, so without it the
// served model would not decode as it was trained to.
func DrillModelfile(opts DrillOptions) (string, error) {
	r, err := ReadDrillRecipe()
	if err != nil {
		return "", err
	}
	name := opts.Template
	if name == "" {
		name = "drill"
	}
	tmpl, ok := DrillTemplates[name]
	if !ok {
		keys := make([]string, 0, len(DrillTemplates))
		for k := range DrillTemplates {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "", fmt.Errorf("drill template %q: want one of %s", name, strings.Join(keys, ", "))
	}
	if tmpl == "" {
		tmpl = r.Template
	}
	var b strings.Builder
	b.WriteString("FROM ./model.gguf\n")
	fmt.Fprintf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", tmpl)
	b.WriteString("PARAMETER num_thread 1\n")
	fmt.Fprintf(&b, "PARAMETER num_ctx %d\n", r.Model.Context)
	if !opts.KeepDefaultPenalty {
		b.WriteString("PARAMETER repeat_penalty 1\n")
	}
	for _, p := range opts.Parameters {
		fmt.Fprintf(&b, "PARAMETER %s\n", p)
	}
	return b.String(), nil
}

// GenerateDrill writes dir/model.gguf and dir/Modelfile for the drill
// model, creating dir.
func GenerateDrill(dir string, opts DrillOptions) error {
	f, err := DrillModel(opts)
	if err != nil {
		return err
	}
	mf, err := DrillModelfile(opts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("generate drill: %w", err)
	}
	var buf bytes.Buffer
	if err := gguf.Write(&buf, f); err != nil {
		return fmt.Errorf("generate drill: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.gguf"), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("generate drill: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Modelfile"), []byte(mf), 0o644); err != nil {
		return fmt.Errorf("generate drill: %w", err)
	}
	return nil
}

// A DrillCase is one case of the drill suite with the training script's
// greedy output on it (testdata/drill/expected.jsonl).
type DrillCase struct {
	ID       string        `json:"id"`
	Family   string        `json:"family"`
	Messages []ChatMessage `json:"messages"`
	Answer   string        `json:"answer"`
	// Output is the training script's greedy output at F32, Tokens its ids,
	// and Margin the smallest gap between the chosen logit and the next.
	Output string  `json:"output"`
	Tokens []int   `json:"tokens"`
	Margin float64 `json:"margin"`
	Pass   bool    `json:"pass"`
}

// Correct reports whether output answers the case: the answer, with
// surrounding white space ignored (the suite's scorers do the same).
func (c DrillCase) Correct(output string) bool {
	return strings.TrimSpace(output) == c.Answer
}

// DrillCases returns the committed drill cases in suite order.
func DrillCases() ([]DrillCase, error) {
	b, err := drillFiles.ReadFile("testdata/drill/expected.jsonl")
	if err != nil {
		return nil, err
	}
	var out []DrillCase
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var c DrillCase
		if err := json.Unmarshal(line, &c); err != nil {
			return nil, fmt.Errorf("expected.jsonl line %d: %w", i+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// DrillMaxTokens is the suite's max_tokens: every answer is shorter.
const DrillMaxTokens = 8
