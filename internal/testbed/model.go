package testbed

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/evalpin/evalpin/internal/testbed/gguf"
)

// ModelOptions describe a generated model. The zero value of a field means
// its default, listed in DefaultModelOptions.
type ModelOptions struct {
	// Seed drives every weight: the same seed gives a byte-identical file,
	// another seed gives another model ("another version").
	Seed uint64
	// DType is the type of the weight matrices, "f16" or "f32". Norm
	// weights are always F32, as in llama.cpp's conversions.
	DType string
	// Layers is the number of transformer blocks.
	Layers int
	// Width is the embedding width.
	Width int
	// Heads is the number of attention heads; Width must be a multiple.
	Heads int
	// FFN is the feed-forward width.
	FFN int
	// ContextLength is llama.context_length.
	ContextLength int
	// Template names the chat template written to the Modelfile: "chat" or
	// "compact" (see Templates). Models that differ only in template share
	// model.gguf.
	Template string
	// Name is general.name.
	Name string
}

// DefaultModelOptions are the defaults: a 2-layer llama of width 64 with 4
// heads, F16 weights, seed 1, and the "chat" template. Its model.gguf is
// about 0.6 MB.
var DefaultModelOptions = ModelOptions{
	Seed:          1,
	DType:         "f16",
	Layers:        2,
	Width:         64,
	Heads:         4,
	FFN:           128,
	ContextLength: 2048,
	Template:      "chat",
	Name:          "evalpin-tiny",
}

// Templates are the chat templates (Ollama's Go template syntax) a
// generated Modelfile can carry, by name.
var Templates = map[string]string{
	"chat": `{{- if .System }}<|system|>
{{ .System }}
{{ end }}
{{- range .Messages }}<|{{ .Role }}|>
{{ .Content }}
{{ end }}<|assistant|>
`,
	"compact": `{{- if .System }}{{ .System }}

{{ end }}
{{- range .Messages }}{{ .Role }}: {{ .Content }}
{{ end }}assistant:`,
}

func (o ModelOptions) withDefaults() ModelOptions {
	d := DefaultModelOptions
	if o.Seed == 0 {
		o.Seed = d.Seed
	}
	if o.DType == "" {
		o.DType = d.DType
	}
	if o.Layers == 0 {
		o.Layers = d.Layers
	}
	if o.Width == 0 {
		o.Width = d.Width
	}
	if o.Heads == 0 {
		o.Heads = d.Heads
	}
	if o.FFN == 0 {
		o.FFN = d.FFN
	}
	if o.ContextLength == 0 {
		o.ContextLength = d.ContextLength
	}
	if o.Template == "" {
		o.Template = d.Template
	}
	if o.Name == "" {
		o.Name = d.Name
	}
	return o
}

func (o ModelOptions) validate() error {
	if o.DType != "f16" && o.DType != "f32" {
		return fmt.Errorf("dtype %q: want f16 or f32", o.DType)
	}
	if o.Layers < 1 || o.Width < 8 || o.Heads < 1 || o.FFN < 1 || o.ContextLength < 16 {
		return fmt.Errorf("layers %d, width %d, heads %d, ffn %d, context %d: too small",
			o.Layers, o.Width, o.Heads, o.FFN, o.ContextLength)
	}
	if o.Width%o.Heads != 0 || (o.Width/o.Heads)%2 != 0 {
		return fmt.Errorf("width %d must split into %d heads of even size", o.Width, o.Heads)
	}
	if _, ok := Templates[o.Template]; !ok {
		return fmt.Errorf("template %q: want one of chat, compact", o.Template)
	}
	return nil
}

// GenerateModel writes dir/model.gguf and dir/Modelfile, creating dir. The
// Modelfile points at model.gguf, carries the chosen chat template, and sets
// num_thread 1 (on a small machine more threads make this tiny model many
// times slower).
func GenerateModel(dir string, opts ModelOptions) error {
	opts = opts.withDefaults()
	f, err := Model(opts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("generate model: %w", err)
	}
	var buf bytes.Buffer
	if err := gguf.Write(&buf, f); err != nil {
		return fmt.Errorf("generate model: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.gguf"), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("generate model: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Modelfile"), []byte(Modelfile(opts)), 0o644); err != nil {
		return fmt.Errorf("generate model: %w", err)
	}
	return nil
}

// Modelfile returns the Modelfile text for a model.gguf in the same
// directory.
func Modelfile(opts ModelOptions) string {
	opts = opts.withDefaults()
	var b strings.Builder
	b.WriteString("FROM ./model.gguf\n")
	fmt.Fprintf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", Templates[opts.Template])
	b.WriteString("PARAMETER num_thread 1\n")
	return b.String()
}

// Model builds the GGUF content of a llama-architecture model with seeded
// pseudo-random weights.
//
// The weights are random, but two things make replies readable: the output
// layer only favours whole-word tokens, and the reply runs to max_tokens.
// Both come from a bias channel: dimension 0 of every token embedding holds
// the same constant, and no attention or feed-forward output writes to it,
// so after the final norm it is a positive constant-sign input to the output
// layer. The output row of every token that is not a word (bytes, <unk>,
// <s>, </s>, characters, word prefixes) has a large negative weight there.
// llama's tensors have no biases, hence the channel.
func Model(opts ModelOptions) (*gguf.File, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	voc := newVocabulary()
	nVocab := len(voc.tokens)
	n, ff := opts.Width, opts.FFN
	headDim := n / opts.Heads

	fileType := uint32(1) // LLAMA_FTYPE_MOSTLY_F16
	mat := gguf.TensorF16
	if opts.DType == "f32" {
		fileType, mat = 0, gguf.TensorF32 // LLAMA_FTYPE_ALL_F32
	}

	f := &gguf.File{KV: []gguf.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: opts.Name},
		{Key: "general.file_type", Value: fileType},
		{Key: "general.alignment", Value: uint32(gguf.DefaultAlignment)},
		{Key: "llama.vocab_size", Value: uint32(nVocab)},
		{Key: "llama.context_length", Value: uint32(opts.ContextLength)},
		{Key: "llama.embedding_length", Value: uint32(n)},
		{Key: "llama.block_count", Value: uint32(opts.Layers)},
		{Key: "llama.feed_forward_length", Value: uint32(ff)},
		{Key: "llama.attention.head_count", Value: uint32(opts.Heads)},
		{Key: "llama.attention.head_count_kv", Value: uint32(opts.Heads)},
		{Key: "llama.rope.dimension_count", Value: uint32(headDim)},
		{Key: "llama.rope.freq_base", Value: float32(10000)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(1e-5)},
		{Key: "tokenizer.ggml.model", Value: "llama"},
		{Key: "tokenizer.ggml.tokens", Value: voc.tokens},
		{Key: "tokenizer.ggml.scores", Value: voc.scores},
		{Key: "tokenizer.ggml.token_type", Value: voc.types},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(unkID)},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(bosID)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(eosID)},
		{Key: "tokenizer.ggml.add_bos_token", Value: true},
		{Key: "tokenizer.ggml.add_eos_token", Value: false},
	}}

	// PCG's output is fixed by its specification, so a seed means the same
	// weights on every Go version; the uniform draw below is ours too.
	rng := rand.New(rand.NewPCG(opts.Seed, 0x65766170696e)) // "evalpin"
	uniform := func(count int, std float64) []float32 {
		a := std * math.Sqrt(3) // a uniform on [-a, a] has this std
		out := make([]float32, count)
		for i := range out {
			u := float64(rng.Uint64()>>11) / (1 << 53)
			out[i] = float32((2*u - 1) * a)
		}
		return out
	}
	ones := func(count int) []float32 {
		out := make([]float32, count)
		for i := range out {
			out[i] = 1
		}
		return out
	}
	add := func(name string, dims []uint64, typ gguf.TensorType, v []float32) {
		data := gguf.F32Data(v)
		if typ == gguf.TensorF16 {
			data = gguf.F16Data(v)
		}
		f.Tensors = append(f.Tensors, gguf.Tensor{Name: name, Dims: dims, Type: typ, Data: data})
	}
	// zeroRow0 stops a matrix with n outputs from writing to the bias channel.
	zeroRow0 := func(w []float32, in int) []float32 {
		clear(w[:in])
		return w
	}

	const (
		channel = 4.0  // the bias channel's value in every embedding
		penalty = -6.0 // output weight on the channel for non-word tokens
	)
	embd := uniform(nVocab*n, 1)
	for t := range nVocab {
		embd[t*n] = channel
	}
	add("token_embd.weight", []uint64{uint64(n), uint64(nVocab)}, mat, embd)

	for l := range opts.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		in := 1 / math.Sqrt(float64(n))
		add(p+"attn_norm.weight", []uint64{uint64(n)}, gguf.TensorF32, ones(n))
		add(p+"attn_q.weight", []uint64{uint64(n), uint64(n)}, mat, uniform(n*n, 2*in))
		add(p+"attn_k.weight", []uint64{uint64(n), uint64(n)}, mat, uniform(n*n, 2*in))
		add(p+"attn_v.weight", []uint64{uint64(n), uint64(n)}, mat, uniform(n*n, in))
		add(p+"attn_output.weight", []uint64{uint64(n), uint64(n)}, mat, zeroRow0(uniform(n*n, in), n))
		add(p+"ffn_norm.weight", []uint64{uint64(n)}, gguf.TensorF32, ones(n))
		add(p+"ffn_gate.weight", []uint64{uint64(n), uint64(ff)}, mat, uniform(n*ff, in))
		add(p+"ffn_up.weight", []uint64{uint64(n), uint64(ff)}, mat, uniform(n*ff, in))
		add(p+"ffn_down.weight", []uint64{uint64(ff), uint64(n)}, mat, zeroRow0(uniform(ff*n, 1/math.Sqrt(float64(ff))), ff))
	}

	add("output_norm.weight", []uint64{uint64(n)}, gguf.TensorF32, ones(n))
	out := uniform(nVocab*n, 3/math.Sqrt(float64(n)))
	for t := range nVocab {
		out[t*n] = 0
		if !voc.word[t] {
			out[t*n] = penalty
		}
	}
	add("output.weight", []uint64{uint64(n), uint64(nVocab)}, mat, out)
	return f, nil
}
