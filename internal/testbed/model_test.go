package testbed

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/testbed/gguf"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs from %s (go test -update accepts it):\n%s", path, got)
	}
}

func encodeModel(t testing.TB, opts ModelOptions) []byte {
	t.Helper()
	f, err := Model(opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := gguf.Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestModelDeterministic pins the sha256 of a few models: the same options
// give the same bytes in every run and on every Go version, and another
// seed or dtype gives another file.
func TestModelDeterministic(t *testing.T) {
	variants := []struct {
		name string
		opts ModelOptions
	}{
		{"seed1-f16", ModelOptions{Seed: 1}},
		{"seed1-f32", ModelOptions{Seed: 1, DType: "f32"}},
		{"seed2-f16", ModelOptions{Seed: 2}},
		{"seed1-f16-compact", ModelOptions{Seed: 1, Template: "compact"}},
	}
	var out strings.Builder
	seen := map[[32]byte]string{}
	for _, v := range variants {
		b := encodeModel(t, v.opts)
		if again := encodeModel(t, v.opts); !bytes.Equal(b, again) {
			t.Fatalf("%s: two encodings differ", v.name)
		}
		sum := sha256.Sum256(b)
		if prev, ok := seen[sum]; ok && v.opts.Template == "" {
			t.Errorf("%s has the same bytes as %s", v.name, prev)
		}
		seen[sum] = v.name
		fmt.Fprintf(&out, "%x  %s  %d bytes\n", sum, v.name, len(b))
	}
	// The template lives in the Modelfile, not in model.gguf.
	if a, b := encodeModel(t, ModelOptions{Seed: 1}), encodeModel(t, ModelOptions{Seed: 1, Template: "compact"}); !bytes.Equal(a, b) {
		t.Error("the template changed model.gguf")
	}
	golden(t, "model.sha256", []byte(out.String()))
}

// TestModelLayout reads a generated model back and checks it against the
// llama architecture's metadata keys and tensor shapes (ggml order: input
// dimension first).
func TestModelLayout(t *testing.T) {
	for _, dtype := range []string{"f16", "f32"} {
		t.Run(dtype, func(t *testing.T) {
			f, err := gguf.Read(bytes.NewReader(encodeModel(t, ModelOptions{DType: dtype})))
			if err != nil {
				t.Fatal(err)
			}
			d := DefaultModelOptions
			tokens, _ := f.Get("tokenizer.ggml.tokens")
			nVocab := uint64(len(tokens.([]string)))
			wantKV := map[string]any{
				"general.architecture":                   "llama",
				"llama.context_length":                   uint32(d.ContextLength),
				"llama.embedding_length":                 uint32(d.Width),
				"llama.block_count":                      uint32(d.Layers),
				"llama.feed_forward_length":              uint32(d.FFN),
				"llama.attention.head_count":             uint32(d.Heads),
				"llama.attention.head_count_kv":          uint32(d.Heads),
				"llama.rope.dimension_count":             uint32(d.Width / d.Heads),
				"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
				"llama.vocab_size":                       uint32(nVocab),
				"tokenizer.ggml.model":                   "llama",
				"tokenizer.ggml.unknown_token_id":        uint32(0),
				"tokenizer.ggml.bos_token_id":            uint32(1),
				"tokenizer.ggml.eos_token_id":            uint32(2),
			}
			for k, want := range wantKV {
				if got, ok := f.Get(k); !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
			scores, _ := f.Get("tokenizer.ggml.scores")
			types, _ := f.Get("tokenizer.ggml.token_type")
			if len(scores.([]float32)) != int(nVocab) || len(types.([]int32)) != int(nVocab) {
				t.Errorf("scores %d and token types %d, want %d each", len(scores.([]float32)), len(types.([]int32)), nVocab)
			}

			mat := gguf.TensorF16
			if dtype == "f32" {
				mat = gguf.TensorF32
			}
			n, ff := uint64(d.Width), uint64(d.FFN)
			want := []struct {
				name string
				dims []uint64
				typ  gguf.TensorType
			}{{"token_embd.weight", []uint64{n, nVocab}, mat}}
			for l := range d.Layers {
				p := fmt.Sprintf("blk.%d.", l)
				want = append(want, []struct {
					name string
					dims []uint64
					typ  gguf.TensorType
				}{
					{p + "attn_norm.weight", []uint64{n}, gguf.TensorF32},
					{p + "attn_q.weight", []uint64{n, n}, mat},
					{p + "attn_k.weight", []uint64{n, n}, mat},
					{p + "attn_v.weight", []uint64{n, n}, mat},
					{p + "attn_output.weight", []uint64{n, n}, mat},
					{p + "ffn_norm.weight", []uint64{n}, gguf.TensorF32},
					{p + "ffn_gate.weight", []uint64{n, ff}, mat},
					{p + "ffn_up.weight", []uint64{n, ff}, mat},
					{p + "ffn_down.weight", []uint64{ff, n}, mat},
				}...)
			}
			want = append(want, []struct {
				name string
				dims []uint64
				typ  gguf.TensorType
			}{
				{"output_norm.weight", []uint64{n}, gguf.TensorF32},
				{"output.weight", []uint64{n, nVocab}, mat},
			}...)
			if len(f.Tensors) != len(want) {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), len(want))
			}
			for i, w := range want {
				got := f.Tensors[i]
				if got.Name != w.name || !reflect.DeepEqual(got.Dims, w.dims) || got.Type != w.typ {
					t.Errorf("tensor %d = %s %v %v, want %s %v %v", i, got.Name, got.Dims, got.Type, w.name, w.dims, w.typ)
				}
			}
		})
	}
}

// TestVocabulary checks what llama.cpp's SentencePiece tokenizer needs:
// the special tokens at their ids, all 256 byte-fallback tokens, and a few
// hundred words whose prefixes are pieces too.
func TestVocabulary(t *testing.T) {
	v := newVocabulary()
	index := map[string]int{}
	for i, tok := range v.tokens {
		if _, dup := index[tok]; dup {
			t.Fatalf("token %q appears twice", tok)
		}
		index[tok] = i
	}
	for tok, want := range map[string]struct {
		id  int
		typ int32
	}{"<unk>": {unkID, tokenUnknown}, "<s>": {bosID, tokenControl}, "</s>": {eosID, tokenControl}} {
		if i, ok := index[tok]; !ok || i != want.id || v.types[i] != want.typ {
			t.Errorf("%s: id %d type %d, want id %d type %d", tok, i, v.types[i], want.id, want.typ)
		}
	}
	for b := range 256 {
		tok := fmt.Sprintf("<0x%02X>", b)
		if i, ok := index[tok]; !ok || v.types[i] != tokenByte || v.word[i] {
			t.Errorf("byte token %s missing or wrongly typed", tok)
		}
	}
	nWords := 0
	for i, tok := range v.tokens {
		if !v.word[i] {
			continue
		}
		nWords++
		for j := len(spaceMark) + 1; j < len(tok); j++ {
			if _, ok := index[tok[:j]]; !ok {
				t.Errorf("word %q: prefix %q is not a token", tok, tok[:j])
			}
		}
	}
	if nWords < 200 {
		t.Errorf("%d words, want a few hundred", nWords)
	}
}

// TestBiasChannel checks the mechanism that keeps replies to words: the
// constant embedding channel, its isolation from the layers' outputs, and
// the output layer's penalty on non-word tokens.
func TestBiasChannel(t *testing.T) {
	f, err := Model(ModelOptions{DType: "f32"})
	if err != nil {
		t.Fatal(err)
	}
	voc := newVocabulary()
	n := DefaultModelOptions.Width
	embd := f.Tensor("token_embd.weight").Float32s()
	out := f.Tensor("output.weight").Float32s()
	for tok := range voc.tokens {
		if embd[tok*n] != 4 {
			t.Fatalf("token %d: embedding channel = %g, want 4", tok, embd[tok*n])
		}
		if want := map[bool]float32{true: 0, false: -6}[voc.word[tok]]; out[tok*n] != want {
			t.Fatalf("token %q: output channel weight = %g, want %g", voc.tokens[tok], out[tok*n], want)
		}
	}
	for _, name := range []string{"blk.0.attn_output.weight", "blk.1.ffn_down.weight"} {
		tn := f.Tensor(name)
		in := int(tn.Dims[0])
		for i, w := range tn.Float32s()[:in] {
			if w != 0 {
				t.Fatalf("%s writes %g to the channel from input %d", name, w, i)
			}
		}
	}
}

func TestModelOptionsErrors(t *testing.T) {
	tests := []struct {
		opts ModelOptions
		want string
	}{
		{ModelOptions{DType: "q4_0"}, `dtype "q4_0"`},
		{ModelOptions{Template: "nope"}, `template "nope"`},
		{ModelOptions{Width: 60, Heads: 8}, "width 60 must split into 8 heads"},
		{ModelOptions{Layers: -1}, "too small"},
	}
	for _, tt := range tests {
		if _, err := Model(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Model(%+v) error = %v, want %q", tt.opts, err, tt.want)
		}
	}
}

func TestGenerateModel(t *testing.T) {
	for _, tmpl := range []string{"chat", "compact"} {
		t.Run(tmpl, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "new")
			if err := GenerateModel(dir, ModelOptions{Template: tmpl}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "model.gguf"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, encodeModel(t, ModelOptions{})) {
				t.Error("model.gguf differs from Model's encoding")
			}
			if len(b) < 300_000 || len(b) > 800_000 {
				t.Errorf("model.gguf is %d bytes, want about 0.5 MB", len(b))
			}
			mf, err := os.ReadFile(filepath.Join(dir, "Modelfile"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "Modelfile."+tmpl, mf)
		})
	}
}

func BenchmarkGenerateModel(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		if err := GenerateModel(dir, ModelOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
