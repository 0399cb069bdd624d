package lock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/testbed/gguf"
)

// A ggufModel describes a tiny GGUF file for the tests: the knobs a fork
// turns.
type ggufModel struct {
	typ      gguf.TensorType // of the matrices; norms stay F32
	fileType *uint32         // general.file_type, or none
	tokens   []string
	template string
	name     string // general.name
	context  uint32 // llama.context_length
}

func baseGGUF() ggufModel {
	ft := uint32(0)
	return ggufModel{typ: gguf.TensorF32, fileType: &ft, tokens: []string{"<s>", "</s>", "a", "b"},
		template: "{{ .Prompt }}", name: "tiny", context: 256}
}

// bytes encodes m with the test bed's GGUF writer.
func (m ggufModel) bytes(t testing.TB) []byte {
	t.Helper()
	values := make([]float32, 4*len(m.tokens))
	for i := range values {
		values[i] = float32(i%7) / 8 // exact in F16 too
	}
	data := gguf.F32Data(values)
	if m.typ == gguf.TensorF16 {
		data = gguf.F16Data(values)
	}
	f := &gguf.File{
		KV: []gguf.KV{
			{Key: "general.architecture", Value: "llama"},
			{Key: "general.name", Value: m.name},
			{Key: "llama.context_length", Value: m.context},
			{Key: "tokenizer.ggml.model", Value: "gpt2"},
			{Key: "tokenizer.ggml.tokens", Value: m.tokens},
			{Key: "tokenizer.chat_template", Value: m.template},
		},
		Tensors: []gguf.Tensor{
			{Name: "token_embd.weight", Dims: []uint64{4, uint64(len(m.tokens))}, Type: m.typ, Data: data},
			{Name: "output_norm.weight", Dims: []uint64{4}, Type: gguf.TensorF32, Data: gguf.F32Data([]float32{1, 1, 1, 1})},
		},
	}
	if m.fileType != nil {
		f.KV = append(f.KV, gguf.KV{Key: "general.file_type", Value: *m.fileType})
	}
	var b bytes.Buffer
	if err := gguf.Write(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const ggufModelfile = "# a tiny model\nFROM ./model.gguf\nPARAMETER temperature 0.6\n"

// ggufDir writes a GGUF + Modelfile directory.
func ggufDir(t *testing.T, m ggufModel, modelfile string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string][]byte{"model.gguf": m.bytes(t), "Modelfile": []byte(modelfile)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func createIn(t *testing.T, dir string, version int) *Manifest {
	t.Helper()
	m, err := Create(context.Background(), dir, Options{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fileOf(m *Manifest, path string) *File {
	for i := range m.Files {
		if m.Files[i].Path == path {
			return &m.Files[i]
		}
	}
	return nil
}

func TestGGUFParts(t *testing.T) {
	m := createIn(t, ggufDir(t, baseGGUF(), ggufModelfile), 0)
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, f.Path+" "+string(f.Role))
	}
	want := "Modelfile config, Modelfile#parameters config, model.gguf weights, model.gguf#chat_template template, model.gguf#metadata config, model.gguf#tensors weights, model.gguf#tokenizer tokenizer"
	if got := strings.Join(paths, ", "); got != want {
		t.Fatalf("files = %s\nwant %s", got, want)
	}
	if got, want := fileOf(m, "model.gguf#chat_template").SHA256, hexSum([]byte("{{ .Prompt }}")); got != want {
		t.Errorf("template part sha256 = %s, want the template text's %s", got, want)
	}
	tv := fileOf(m, "model.gguf#tensors").Values
	if tv["quantization"] != "F32" || jsonValue(tv, "tensor_types") != `{"F32":2}` {
		t.Errorf("tensor values = %v", tv)
	}
	// The whole file's hash is its bytes', as Ollama's blob digest.
	sum := sha256.Sum256(baseGGUF().bytes(t))
	if got := fileOf(m, "model.gguf").SHA256; got != hex.EncodeToString(sum[:]) {
		t.Errorf("model.gguf sha256 = %s, want the bytes' hash", got)
	}
	// A version 1 manifest of the same directory has no parts.
	if v1 := createIn(t, ggufDir(t, baseGGUF(), ggufModelfile), 1); fileOf(v1, "model.gguf#tensors") != nil || fileOf(v1, "model.gguf").RestSHA256 != "" {
		t.Errorf("version 1 records GGUF parts: %+v", v1.Files)
	}
}

// TestForkWords holds the words of lock diff for the forks issue 12 names.
func TestForkWords(t *testing.T) {
	f16, q := uint32(1), uint32(7)
	for _, tt := range []struct {
		name      string
		change    func(m *ggufModel)
		modelfile string
		want      string
	}{
		{"re-quantized F32 → F16", func(m *ggufModel) { m.typ, m.fileType = gguf.TensorF16, &f16 }, "",
			"quantization F32 → F16; tensors re-encoded; tokenizer same; template same; config same; serving same"},
		{"file type label only", func(m *ggufModel) { m.fileType = &q }, "",
			"quantization F32 → Q8_0; tensors re-encoded; tokenizer same; template same; config same; serving same"},
		{"re-quantized, no file type", func(m *ggufModel) { m.typ, m.fileType = gguf.TensorF16, nil }, "",
			"quantization F32 → F16; tensors re-encoded; tokenizer same; template same; config same; serving same"},
		{"vocabulary changed, same tensors", func(m *ggufModel) { m.tokens = []string{"<s>", "</s>", "a", "c"} }, "",
			"tokenizer changed (inside model.gguf); tensors same; template same; config same; serving same"},
		{"vocabulary grown", func(m *ggufModel) { m.tokens = append(m.tokens, "d") }, "",
			"weights changed; tokenizer changed (inside model.gguf); template same; config same; serving same"},
		{"template inside the GGUF", func(m *ggufModel) { m.template = "{{ .System }}{{ .Prompt }}" }, "",
			"template changed (inside model.gguf); tensors same; tokenizer same; config same; serving same"},
		{"context length", func(m *ggufModel) { m.context = 512 }, "",
			"config changed (inside model.gguf); tensors same; tokenizer same; template same; serving same"},
		{"renamed", func(m *ggufModel) { m.name = "tiny-v2" }, "",
			"descriptive metadata changed (inside model.gguf); tensors same; tokenizer same; template same; config same; serving same"},
		{"re-quantized and renamed", func(m *ggufModel) { m.typ, m.fileType, m.name = gguf.TensorF16, &f16, "tiny-f16" }, "",
			"descriptive metadata changed (inside model.gguf); quantization F32 → F16; tensors re-encoded; tokenizer same; template same; config same; serving same"},
		{"Modelfile parameter", func(*ggufModel) {}, "FROM ./model.gguf\nPARAMETER temperature 0.7\n",
			"config changed; weights same; tokenizer same; template same; serving same"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := createIn(t, ggufDir(t, baseGGUF(), ggufModelfile), 0)
			m := baseGGUF()
			tt.change(&m)
			b := createIn(t, ggufDir(t, m, cmpOr(tt.modelfile, ggufModelfile)), 0)
			if got := Diff(a, b).Words(); got != tt.want {
				t.Errorf("words = %q\nwant    %q", got, tt.want)
			}
		})
	}
	// Issue 12's example: an F16 GGUF re-quantized to Q8_0. The test bed
	// writes F16 and F32 tensors only, so the Q8_0 file keeps F16 data and
	// says Q8_0 in general.file_type, as far as the words go the same.
	from, to := baseGGUF(), baseGGUF()
	from.typ, from.fileType = gguf.TensorF16, &f16
	to.typ, to.fileType = gguf.TensorF16, &q
	a, b := createIn(t, ggufDir(t, from, ggufModelfile), 0), createIn(t, ggufDir(t, to, ggufModelfile), 0)
	want := "quantization F16 → Q8_0; tensors re-encoded; tokenizer same; template same; config same; serving same"
	if got := Diff(a, b).Words(); got != want {
		t.Errorf("F16 → Q8_0: words = %q\nwant    %q", got, want)
	}
	// Verify speaks the same words of a directory against a lock.
	r, err := Verify(context.Background(), ggufDir(t, to, ggufModelfile), a, Options{})
	if err != nil || r.Words() != "quantization F16 → Q8_0; tensors re-encoded; tokenizer same; template same; config same" {
		t.Errorf("verify words = %q, %v", r.Words(), err)
	}
	var text bytes.Buffer
	if err := Diff(a, b).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"changed  weights  model.gguf          only its embedded parts changed (listed with #)",
		"changed  weights  model.gguf#tensors  quantization F16 → Q8_0, sha256 "} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("WriteText lacks %q:\n%s", line, text.String())
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestModelfileComment: a comment, blank lines and quoting are no part of
// what Ollama makes of a Modelfile, so a version 2 lock does not change; a
// version 1 lock, which hashes the bytes, does.
func TestModelfileComment(t *testing.T) {
	edited := "# a tiny model, re-commented\n\nFROM \"./model.gguf\"\n\n# sampling\nPARAMETER temperature 0.6\n"
	for _, tt := range []struct {
		version int
		same    bool
	}{{1, false}, {2, true}} {
		a := createIn(t, ggufDir(t, baseGGUF(), ggufModelfile), tt.version)
		b := createIn(t, ggufDir(t, baseGGUF(), edited), tt.version)
		if same := a.Lock == b.Lock; same != tt.same {
			t.Errorf("version %d: same lock = %v, want %v (%s)", tt.version, same, tt.same, Diff(a, b).Words())
		}
	}
	// What the lock covers of the Modelfile is still held: ReadModelfile
	// accepts the edited file against the lock of the original.
	dir := ggufDir(t, baseGGUF(), edited)
	a := createIn(t, ggufDir(t, baseGGUF(), ggufModelfile), 0)
	if _, err := ReadModelfile(dir, a); err != nil {
		t.Errorf("ReadModelfile of a re-commented Modelfile: %v", err)
	}
}

func TestConfigValueWords(t *testing.T) {
	write := func(config string) *Manifest {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("weights"), 0o644)
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644)
		return createIn(t, dir, 0)
	}
	a := write(`{"architectures": ["LlamaForCausalLM"], "torch_dtype": "bfloat16", "hidden_size": 64, "initializer_range": 0.02}`)
	for _, tt := range []struct{ config, want string }{
		{`{"architectures": ["LlamaForCausalLM"], "torch_dtype": "float16", "hidden_size": 64, "initializer_range": 0.02}`,
			"config: torch_dtype bfloat16 → float16; weights same; serving same"},
		{`{"architectures": ["LlamaForCausalLM"], "torch_dtype": "bfloat16", "hidden_size": 64, "initializer_range": 0.02, "rope_scaling": {"type": "linear", "factor": 2}}`,
			`config: rope_scaling (none) → {"factor":2,"type":"linear"}; weights same; serving same`},
		{`{"architectures": ["LlamaForCausalLM"], "torch_dtype": "float16", "hidden_size": 64, "initializer_range": 0.03}`,
			"config changed: torch_dtype bfloat16 → float16 and more; weights same; serving same"},
		{"{\"architectures\": [\"LlamaForCausalLM\"],\n \"torch_dtype\": \"bfloat16\", \"hidden_size\": 64, \"initializer_range\": 0.02}\n",
			"config changed (layout only); weights same; serving same"},
	} {
		if got := Diff(a, write(tt.config)).Words(); got != tt.want {
			t.Errorf("words = %q\nwant    %q", got, tt.want)
		}
	}
}

// TestVersionsCompared: a version 1 and a version 2 lock of one directory
// differ by format, not content; both verify it.
func TestVersionsCompared(t *testing.T) {
	hf := t.TempDir()
	writeTree(t, hf, hfModel())
	for _, dir := range []string{ggufDir(t, baseGGUF(), ggufModelfile), hf} {
		v1, v2 := createIn(t, dir, 1), createIn(t, dir, 2)
		if v1.Lock == v2.Lock {
			t.Fatalf("version 1 and 2 share the id %s", v1.Lock)
		}
		d := Diff(v1, v2)
		if len(d.Files) != 0 || d.Same() || !strings.HasPrefix(d.Words(), "manifest version 1 → 2 (ids differ by format") ||
			strings.Contains(d.Words(), "changed") {
			t.Errorf("diff of v1 and v2 = %q, %d files", d.Words(), len(d.Files))
		}
		for _, m := range []*Manifest{v1, v2} {
			data, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(data)
			if err != nil {
				t.Fatalf("version %d: %v", m.Version, err)
			}
			r, err := Verify(context.Background(), dir, back, Options{})
			if err != nil || !r.OK() {
				t.Errorf("version %d: verify = %+v, %v", m.Version, r, err)
			}
		}
	}
}

// TestGGUFMalformed: a file with the GGUF magic but a header that does not
// parse is hashed whole and gets no parts.
func TestGGUFMalformed(t *testing.T) {
	good := baseGGUF().bytes(t)
	for name, data := range map[string][]byte{
		"truncated header": good[:40],
		"version 1":        append([]byte("GGUF\x01\x00\x00\x00"), good[8:]...),
		"huge count":       append(append([]byte("GGUF\x03\x00\x00\x00"), bytes.Repeat([]byte{0xff}, 16)...), good[24:]...),
	} {
		sum, a, err := hashGGUF(context.Background(), bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := hexSum(data); sum != want || a != nil {
			t.Errorf("%s: sum %s, analysis %+v; want %s and none", name, sum, a, want)
		}
	}
}

// FuzzReadGGUF: whatever the bytes, the reader neither panics nor changes
// the whole file's hash, and parts come only with a full read.
func FuzzReadGGUF(f *testing.F) {
	good := baseGGUF().bytes(f)
	f.Add(good)
	f.Add(good[:100])
	m := baseGGUF()
	m.typ = gguf.TensorF16
	f.Add(m.bytes(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		sum, a, err := hashGGUF(context.Background(), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if sum != hexSum(data) {
			t.Fatalf("sum %s, want %s", sum, hexSum(data))
		}
		// What the test bed's full reader accepts (a subset of GGUF), the
		// header reader takes apart too. (That reader allocates by the
		// declared counts: only plausible ones are passed to it.)
		if plausibleCounts(data) {
			if _, err := gguf.Read(bytes.NewReader(data)); err == nil && a == nil {
				t.Fatalf("gguf.Read accepts the file but the lock's reader finds no parts")
			}
		}
		if a != nil {
			for _, p := range a.V2.Parts {
				if p.Size < 0 || p.Size > int64(len(data)) || !validSHA256(p.SHA256) {
					t.Fatalf("part %+v", p)
				}
			}
		}
	})
}

// vectorV2Canonical and vectorV2ID are the version 2 test vector of
// docs/lock.md for vectorManifestV2; Python's json.dumps produced the same
// bytes.
const (
	vectorV2Canonical = `{"files":[{"path":"Modelfile","rest_sha256":"b5d1b1d0b7f2d2f0a3c1e6d0a0e4f6a1b2c3d4e5f60718293a4b5c6d7e8f9012","role":"config","sha256":"cd0aa9856147b6c5b4ff2b7dfee5da20aa38253099ef1b4a64aced233c9afe29","size":22},{"path":"config.json","rest_sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","role":"config","sha256":"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb","size":85,"values":{"rope_scaling":{"factor":2,"type":"linear"},"torch_dtype":"bfloat16"}},{"path":"model.gguf","rest_sha256":"2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6","role":"weights","sha256":"3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d","size":4096},{"path":"model.gguf#tensors","role":"weights","sha256":"18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4","size":3904,"values":{"quantization":"Q8_0","shapes":"3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea","tensor_types":{"F32":1,"Q8_0":1}}},{"path":"model.gguf#tokenizer","role":"tokenizer","sha256":"252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111","size":121}],"generation":{"temperature":0.6},"serving":{"dtype":"","engine":"ollama","engine_args":[],"engine_version":"0.5.7","image_digest":"","max_context":0,"quantization":"Q8_0"},"source":{"repo":"example-org/tiny-chat-gguf","revision":""},"version":2}`
	vectorV2ID        = "sha256:be6afc88359be3af5e55b1d44fff262fe93d854ae3b1f758f901fec1185606f2"
)

func TestVectorV2(t *testing.T) {
	m := vectorManifestV2()
	c, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c); got != vectorV2Canonical {
		t.Errorf("Canonical =\n%s\nwant\n%s", got, vectorV2Canonical)
	}
	if id, err := m.ID(); err != nil || id != vectorV2ID {
		t.Errorf("ID = %q, %v; want %q", id, err, vectorV2ID)
	}
	// A lock file of it reads back with the same id.
	if err := m.Seal(); err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if back, err := Parse(data); err != nil || back.Lock != vectorV2ID {
		t.Errorf("Parse = %v, %v", back, err)
	}
	// Values and the rest hash are identity in version 2.
	for name, edit := range map[string]func(m *Manifest){
		"values": func(m *Manifest) { m.Files[3].Values["torch_dtype"] = "float16" },
		"rest":   func(m *Manifest) { m.Files[0].RestSHA256 = strings.Repeat("0", 64) },
	} {
		e := vectorManifestV2()
		edit(e)
		if id, _ := e.ID(); id == vectorV2ID {
			t.Errorf("editing the %s keeps the id", name)
		}
	}
	// The GGUF parts of the page's tiny.gguf, which the test bed's writer
	// still writes byte for byte.
	tiny, err := os.ReadFile("testdata/gguf/tiny.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tiny, baseGGUF().bytes(t)) {
		t.Errorf("testdata/gguf/tiny.gguf is no longer what baseGGUF writes")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.gguf"), tiny, 0o644); err != nil {
		t.Fatal(err)
	}
	var wants []string
	for _, f := range createIn(t, dir, 0).Files {
		wants = append(wants, fmt.Sprintf("| `%s` | %d | `%s`", f.Path, f.Size, f.SHA256))
		if f.RestSHA256 != "" {
			wants = append(wants, "rest `"+f.RestSHA256+"`")
		}
		if f.Values != nil {
			wants = append(wants, "`"+jsonValue(map[string]any{"v": f.Values}, "v")+"`")
		}
	}
	doc, err := os.ReadFile("../../docs/lock.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(wants, vectorV2Canonical, vectorV2ID) {
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/lock.md does not contain %.80s…", want)
		}
	}
}

// TestGGUFCached: the parts of a GGUF come from the stat cache as they were
// read, so a cached verify is the same manifest.
func TestGGUFCached(t *testing.T) {
	dir := ggufDir(t, baseGGUF(), ggufModelfile)
	c := testCache(t)
	a, err := Create(context.Background(), dir, Options{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c2 := OpenCache(filepath.Dir(c.path))
	c2.Now = c.Now
	b, err := Create(context.Background(), dir, Options{Cache: c2})
	if err != nil {
		t.Fatal(err)
	}
	if s := c2.Stats(); a.Lock != b.Lock || s.Hits != 2 {
		t.Errorf("cached lock %s, want %s (%+v)", b.Lock, a.Lock, s)
	}
}

// plausibleCounts reports whether a GGUF header's tensor and metadata counts
// are no more than its bytes.
func plausibleCounts(data []byte) bool {
	if len(data) < 24 {
		return true
	}
	n := binary.LittleEndian.Uint64(data[8:16])
	k := binary.LittleEndian.Uint64(data[16:24])
	return n <= uint64(len(data)) && k <= uint64(len(data))
}
