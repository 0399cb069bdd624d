package lock

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

// vectorCanonical and vectorID are the test vector of docs/lock.md for
// vectorManifest; an independent JSON library produced the same bytes.
const (
	vectorCanonical = `{"files":[{"path":"model.safetensors","role":"weights","sha256":"30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58","size":1048576},{"path":"tokenizer_config.json","role":"tokenizer","sha256":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae","size":118},{"path":"tokenizer_config.json#chat_template","role":"template","sha256":"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb","size":27}],"generation":{"stop":["</s>"],"temperature":0.6,"top_p":1},"serving":{"dtype":"bfloat16","engine":"vllm","engine_args":["--enable-prefix-caching","--seed=0"],"engine_version":"0.6.3","image_digest":"","max_context":4096,"quantization":""},"source":{"repo":"example-org/tiny-chat","revision":"3f2a9c1e"},"version":1}`
	vectorID        = "sha256:c12ddc3814ea86bcd49e9219e0a977e8f179dbfb2b52e8fd69a75b39be1c6170"
)

func TestVector(t *testing.T) {
	m := vectorManifest()
	c, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c); got != vectorCanonical {
		t.Errorf("Canonical =\n%s\nwant\n%s", got, vectorCanonical)
	}
	if id, err := m.ID(); err != nil || id != vectorID {
		t.Errorf("ID = %q, %v; want %q", id, err, vectorID)
	}
	// The specification must carry the same vector.
	doc, err := os.ReadFile("../../docs/lock.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{vectorCanonical, vectorID} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/lock.md does not contain %.60s…", want)
		}
	}
}

func TestCanonical(t *testing.T) {
	base := func() *Manifest { return vectorManifest() }
	want, _ := base().ID()
	for _, tt := range []struct {
		name   string
		change func(m *Manifest)
		same   bool // whether the id stays vectorID
	}{
		{"labels are not identity", func(m *Manifest) { m.Labels = map[string]string{"x": "y"} }, true},
		{"note is not identity", func(m *Manifest) { m.Note = "other" }, true},
		{"created is not identity", func(m *Manifest) { m.Created = time.Time{} }, true},
		{"recorded lock is not identity", func(m *Manifest) { m.Lock = "sha256:00" }, true},
		{"rest hash is derived, not identity", func(m *Manifest) { m.Files[0].RestSHA256 = "" }, true},
		{"file order is not identity", func(m *Manifest) { m.Files[0], m.Files[2] = m.Files[2], m.Files[0] }, true},
		{"engine arg order is not identity", func(m *Manifest) { m.Serving.EngineArgs = []string{"--enable-prefix-caching", "--seed=0"} }, true},
		{"integral float equals integer", func(m *Manifest) { m.Generation["top_p"] = 1 }, true},
		{"file hash is identity", func(m *Manifest) { m.Files[1].SHA256 = strings.Repeat("0", 64) }, false},
		{"file size is identity", func(m *Manifest) { m.Files[1].Size++ }, false},
		{"file role is identity", func(m *Manifest) { m.Files[1].Role = RoleOther }, false},
		{"file path is identity", func(m *Manifest) { m.Files[1].Path = "model2.safetensors" }, false},
		{"dtype is identity", func(m *Manifest) { m.Serving.Dtype = "float16" }, false},
		{"engine args are identity", func(m *Manifest) { m.Serving.EngineArgs = m.Serving.EngineArgs[:1] }, false},
		{"generation is identity", func(m *Manifest) { m.Generation["temperature"] = 0.7 }, false},
		{"source is identity", func(m *Manifest) { m.Source.Revision = "4" }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.change(m)
			got, err := m.ID()
			if err != nil {
				t.Fatal(err)
			}
			if (got == want) != tt.same {
				t.Errorf("ID = %s, base %s, want same=%v", got, want, tt.same)
			}
		})
	}

	// Absent and empty collections canonicalize alike.
	a := &Manifest{Version: 1}
	b := &Manifest{Version: 1, Files: []File{}, Generation: map[string]any{}, Serving: Serving{EngineArgs: []string{}}}
	ca, _ := a.Canonical()
	cb, _ := b.Canonical()
	if string(ca) != string(cb) {
		t.Errorf("nil and empty differ:\n%s\n%s", ca, cb)
	}
	if want := `{"files":[],"generation":{},"serving":{"dtype":"","engine":"","engine_args":[],"engine_version":"","image_digest":"","max_context":0,"quantization":""},"source":{"repo":"","revision":""},"version":1}`; string(ca) != want {
		t.Errorf("empty manifest canonical =\n%s\nwant\n%s", ca, want)
	}
	// Non-ASCII text and HTML characters are written as themselves.
	u := &Manifest{Version: 1, Note: "x", Source: Source{Repo: "ö<&>\u2028"}}
	cu, _ := u.Canonical()
	if !strings.Contains(string(cu), `"repo":"ö<&>`+"\u2028"+`"`) {
		t.Errorf("canonical escapes text: %s", cu)
	}
}

func TestCanonicalRefusesMalformed(t *testing.T) {
	h := strings.Repeat("a", 64)
	for _, tt := range []struct {
		name  string
		files []File
		want  string
	}{
		{"duplicate path", []File{{Path: "a", SHA256: h, Role: RoleOther}, {Path: "a", SHA256: h, Role: RoleOther}}, "listed twice"},
		{"absolute path", []File{{Path: "/a", SHA256: h, Role: RoleOther}}, "clean relative"},
		{"parent path", []File{{Path: "../a", SHA256: h, Role: RoleOther}}, "clean relative"},
		{"unclean path", []File{{Path: "a//b", SHA256: h, Role: RoleOther}}, "clean relative"},
		{"short hash", []File{{Path: "a", SHA256: "abc", Role: RoleOther}}, "64 lower-case hex"},
		{"upper-case hash", []File{{Path: "a", SHA256: strings.Repeat("A", 64), Role: RoleOther}}, "64 lower-case hex"},
		{"unknown role", []File{{Path: "a", SHA256: h, Role: "model"}}, "unknown role"},
		{"negative size", []File{{Path: "a", SHA256: h, Role: RoleOther, Size: -1}}, "negative size"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&Manifest{Version: 1, Files: tt.files}).Canonical()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	m := vectorManifest()
	if err := m.Seal(); err != nil {
		t.Fatal(err)
	}
	good, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(good)
	if err != nil {
		t.Fatalf("Parse(Marshal(m)): %v", err)
	}
	if got.Lock != vectorID || got.Note != m.Note || !got.Created.Equal(m.Created) || got.Labels["track"] != "tiny" {
		t.Errorf("round trip lost fields: %+v", got)
	}

	for _, tt := range []struct {
		name string
		data string
		want string
	}{
		{"not JSON", "lock: yes\n", "not a lock manifest"},
		{"empty", " \n", "not a lock manifest: the file is empty"},
		{"JSON array", "[1]", "not a lock manifest: a JSON array, not an object"},
		{"no version", `{"lock":"x"}`, `no "version"`},
		{"version not a number", strings.Replace(string(good), `"version": 1`, `"version": "1"`, 1), `"version" is "1", not an integer`},
		{"unknown version", strings.Replace(string(good), `"version": 1`, `"version": 3`, 1), "unknown lock manifest version 3"},
		{"version overridden in another case", strings.Replace(string(good), `"version": 1`, `"version": 1, "VERSION": 3`, 1), "version 3 (this evalpin reads"},
		{"edited by hand", strings.Replace(string(good), `"dtype": "bfloat16"`, `"dtype": "float16"`, 1), "edited by hand"},
		{"file hash edited", strings.Replace(string(good), "30e14955", "30e14956", 1), "edited by hand"},
		{"no lock", strings.Replace(string(good), `"lock": "`+vectorID+`",`, "", 1), `no "lock" field`},
		{"unknown field", strings.Replace(string(good), `"note":`, `"nte": "x", "note":`, 1), "unknown field"},
		{"wrong type", strings.Replace(string(good), `"max_context": 4096`, `"max_context": "4096"`, 1), "max_context"},
		{"trailing data", string(good) + "{}", "after top-level value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if k := fault.KindOf(err); k != fault.Input {
				t.Errorf("kind = %v, want KindInput", k)
			}
			if fault.HintOf(err) == "" {
				t.Error("no hint")
			}
		})
	}

	// "version" is matched as encoding/json matches every other key.
	if got, err := Parse([]byte(strings.Replace(string(good), `"version": 1`, `"Version": 1`, 1))); err != nil || got.Lock != vectorID {
		t.Errorf(`Parse with "Version" = %v, %v; want the manifest of lock %s`, got, err, vectorID)
	}

	// ReadFile names the path.
	p := filepath.Join(t.TempDir(), "bad.lock")
	os.WriteFile(p, []byte("nope"), 0o644)
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("ReadFile error %v does not name %s", err, p)
	}
	if _, err := ReadFile(p + ".missing"); fault.KindOf(err) != fault.Input {
		t.Errorf("ReadFile of a missing file: %v, want an input error", err)
	}
}

func TestRoleOf(t *testing.T) {
	for _, tt := range []struct {
		path string
		want Role
	}{
		{"model.safetensors", RoleWeights},
		{"model-00001-of-00002.safetensors", RoleWeights},
		{"model.safetensors.index.json", RoleWeights},
		{"pytorch_model.bin", RoleWeights},
		{"llama-3-8b.Q4_K_M.gguf", RoleWeights},
		{"consolidated.00.pth", RoleWeights},
		{"model.ckpt", RoleWeights},
		{"tf_model.h5", RoleWeights},
		{"flax_model.msgpack", RoleWeights},
		{"onnx/model.onnx", RoleWeights},
		{"model.pt", RoleWeights},
		{"tokenizer.json", RoleTokenizer},
		{"tokenizer.model", RoleTokenizer},
		{"vocab.json", RoleTokenizer},
		{"vocab.txt", RoleTokenizer},
		{"merges.txt", RoleTokenizer},
		{"special_tokens_map.json", RoleTokenizer},
		{"added_tokens.json", RoleTokenizer},
		{"tokenizer_config.json", RoleTokenizer},
		{"sub/Tokenizer.JSON", RoleTokenizer},
		{"chat_template.jinja", RoleTemplate},
		{"chat_template.json", RoleTemplate},
		{"additional_chat_templates/tool_use.jinja", RoleTemplate},
		{"config.json", RoleConfig},
		{"generation_config.json", RoleConfig},
		{"quantize_config.json", RoleConfig},
		{"quant_config.json", RoleConfig},
		{"Modelfile", RoleConfig},
		{"llama.modelfile", RoleConfig},
		{"notes.txt", RoleOther},
		{"configuration_custom.py", RoleOther},
	} {
		if got := RoleOf(tt.path); got != tt.want {
			t.Errorf("RoleOf(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
}

func TestExcluded(t *testing.T) {
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"README.md", true},
		{"README", true},
		{"readme.txt", true},
		{"LICENSE", true},
		{"LICENSE.txt", true},
		{"USE_POLICY.md", true},
		{"docs/notes.MD", true},
		{".gitattributes", true},
		{".git/config", true},
		{".cache/huggingface/download/x.metadata", true},
		{"sub/.hidden", true},
		{"evalpin.lock", true},
		{"config.json", false},
		{"model.safetensors", false},
		{"original/params.json", false},
	} {
		if got := Excluded(tt.path); got != tt.want {
			t.Errorf("Excluded(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestParseModelfile(t *testing.T) {
	mf := `# a comment
FROM ./tiny.gguf
ADAPTER ./lora.gguf
TEMPLATE """{{ if .System }}<|system|>
{{ .System }}{{ end }}<|user|>
{{ .Prompt }}"""
PARAMETER temperature 0.6
parameter stop "<|user|>"
SYSTEM You are terse.
LICENSE """MIT"""
`
	ins, err := parseModelfile([]byte(mf))
	if err != nil {
		t.Fatal(err)
	}
	want := []instruction{
		{"FROM", "./tiny.gguf"},
		{"ADAPTER", "./lora.gguf"},
		{"TEMPLATE", "{{ if .System }}<|system|>\n{{ .System }}{{ end }}<|user|>\n{{ .Prompt }}"},
		{"PARAMETER", "temperature 0.6"},
		{"PARAMETER", "stop <|user|>"},
		{"SYSTEM", "You are terse."},
		{"LICENSE", "MIT"},
	}
	if len(ins) != len(want) {
		t.Fatalf("got %d instructions %+v, want %d", len(ins), ins, len(want))
	}
	for i := range want {
		if ins[i] != want[i] {
			t.Errorf("instruction %d = %+v, want %+v", i, ins[i], want[i])
		}
	}
	a, err := analyzeModelfile([]byte(mf))
	if err != nil {
		t.Fatal(err)
	}
	var suffixes []string
	for _, p := range a.Parts {
		suffixes = append(suffixes, p.Suffix+"="+string(p.Role))
	}
	if got := strings.Join(suffixes, " "); got != "#template=template #parameters=config #system=config" {
		t.Errorf("parts = %s", got)
	}
	if got := strings.Join(a.Refs, " "); got != "./tiny.gguf ./lora.gguf" {
		t.Errorf("refs = %s", got)
	}
	if _, err := parseModelfile([]byte("TEMPLATE \"\"\"never closed\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("unclosed block: err = %v", err)
	}
}

func TestAnalyzeTemplateJSON(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		parts      string // suffixes
		rest       bool
	}{
		{"string template", `{"bos_token":"<s>","chat_template":"{{ messages }}"}`, "#chat_template", true},
		{"named templates", `{"chat_template":[{"name":"default","template":"a"},{"name":"tool_use","template":"b"}]}`, "#chat_template.default #chat_template.tool_use", true},
		{"odd value kept as JSON", `{"chat_template":{"x":1}}`, "#chat_template", true},
		{"duplicate names kept as JSON", `{"chat_template":[{"name":"a","template":"a"},{"name":"a","template":"b"}]}`, "#chat_template", true},
		{"no template", `{"bos_token":"<s>"}`, "", true},
		{"null template", `{"chat_template":null}`, "", true},
		{"not JSON", `{`, "", false},
		{"JSON but not an object", `null`, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := analyzeTemplateJSON([]byte(tt.data))
			var s []string
			for _, p := range a.Parts {
				s = append(s, p.Suffix)
			}
			if got := strings.Join(s, " "); got != tt.parts {
				t.Errorf("parts = %q, want %q", got, tt.parts)
			}
			if (a.Rest != "") != tt.rest {
				t.Errorf("rest = %q, want set=%v", a.Rest, tt.rest)
			}
		})
	}
	// The rest ignores the template and whitespace, and sees other keys.
	r1 := analyzeTemplateJSON([]byte(`{"a":1,"chat_template":"x"}`)).Rest
	r2 := analyzeTemplateJSON([]byte("{\n  \"chat_template\": \"y\",\n  \"a\": 1\n}")).Rest
	r3 := analyzeTemplateJSON([]byte(`{"a":2,"chat_template":"x"}`)).Rest
	if r1 != r2 || r1 == r3 {
		t.Errorf("rest hashes %s %s %s: want first two equal, third different", r1, r2, r3)
	}
	// Without a template, or with a null one, the rest is the same: adding or
	// removing the template changes nothing else.
	r4 := analyzeTemplateJSON([]byte(`{"a":1}`)).Rest
	r5 := analyzeTemplateJSON([]byte(`{"a":1,"chat_template":null}`)).Rest
	if r4 != r1 || r5 != r1 {
		t.Errorf("rest hashes %s %s, want %s as with a template", r4, r5, r1)
	}
}

// writeTree writes files (path → content) under dir and dates them an hour
// back, outside the cache's racy window.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// hfModel is a small Hugging Face style model directory.
func hfModel() map[string]string {
	return map[string]string{
		"config.json":             `{"architectures":["LlamaForCausalLM"],"hidden_size":64}`,
		"generation_config.json":  `{"temperature":0.6,"top_p":0.9}`,
		"model.safetensors":       strings.Repeat("\x01\x02\x03\x04", 4096),
		"tokenizer.json":          `{"model":{"type":"BPE","vocab":{"a":0,"b":1}}}`,
		"tokenizer_config.json":   `{"bos_token":"<s>","chat_template":"{% for m in messages %}{{ m.content }}{% endfor %}"}`,
		"special_tokens_map.json": `{"bos_token":"<s>"}`,
		"README.md":               "# tiny\n",
		".gitattributes":          "*.safetensors filter=lfs\n",
	}
}

// ollamaModel is a small GGUF + Modelfile directory.
func ollamaModel() map[string]string {
	return map[string]string{
		"tiny.bin":  "GGUF" + strings.Repeat("\x00", 1000),
		"Modelfile": "FROM ./tiny.bin\nTEMPLATE \"\"\"{{ .Prompt }}\"\"\"\nPARAMETER temperature 0.6\nSYSTEM be brief\n",
	}
}

func testCache(t testing.TB) *HashCache {
	c := OpenCache(t.TempDir())
	c.Now = func() time.Time { return time.Now().Add(time.Hour) }
	return c
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, hfModel())
	m, err := Create(context.Background(), dir, Options{
		Serving:    Serving{Engine: "vllm", Dtype: "bfloat16", EngineArgs: []string{"--b", "--a", "--b"}},
		Generation: map[string]any{"temperature": 0.6, "max": 3},
		Labels:     map[string]string{"k": "v"},
		Now:        func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range m.Files {
		got = append(got, f.Path+"="+string(f.Role))
	}
	want := "config.json=config generation_config.json=config model.safetensors=weights special_tokens_map.json=tokenizer " +
		"tokenizer.json=tokenizer tokenizer_config.json=tokenizer tokenizer_config.json#chat_template=template"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("files =\n%s\nwant\n%s", g, want)
	}
	tpl := "{% for m in messages %}{{ m.content }}{% endfor %}"
	if f := m.Files[6]; f.Size != int64(len(tpl)) || f.SHA256 != hexSum([]byte(tpl)) {
		t.Errorf("template entry = %+v, want the template text's size and hash", f)
	}
	if m.Files[5].RestSHA256 == "" {
		t.Error("tokenizer_config.json has no rest hash")
	}
	if m.Files[2].SHA256 != hexSum([]byte(hfModel()["model.safetensors"])) {
		t.Error("weights hash is wrong")
	}
	if strings.Join(m.Serving.EngineArgs, " ") != "--a --b" {
		t.Errorf("engine args not sorted and deduplicated: %v", m.Serving.EngineArgs)
	}
	if id, _ := m.ID(); id != m.Lock || id.Kind() != lockid.Manifest {
		t.Errorf("Lock %s, ID %s", m.Lock, id)
	}
	if m.Created.Nanosecond() != 0 {
		t.Errorf("created keeps sub-second time: %v", m.Created)
	}
	// The lock file reads back to the same manifest.
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse of a created lock: %v", err)
	}
	if d := Diff(m, back); !d.Same() || back.Lock != m.Lock {
		t.Errorf("round trip differs: %s", d.Words())
	}
}

func TestCreateOllama(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, ollamaModel())
	m, err := Create(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range m.Files {
		got = append(got, f.Path+"="+string(f.Role))
	}
	want := "Modelfile=config Modelfile#parameters=config Modelfile#system=config Modelfile#template=template tiny.bin=weights"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("files =\n%s\nwant\n%s", g, want)
	}
	// FROM outside the directory, or a missing file, is refused.
	for _, tt := range []struct{ from, want string }{
		{"../elsewhere.gguf", "outside the model directory"},
		{"./missing.gguf", "not in the model directory"},
	} {
		d := t.TempDir()
		writeTree(t, d, map[string]string{"Modelfile": "FROM " + tt.from + "\n"})
		_, err := Create(context.Background(), d, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) || fault.KindOf(err) != fault.Input {
			t.Errorf("FROM %s: err = %v, want an input error containing %q", tt.from, err, tt.want)
		}
	}
	// FROM a registry model name is no file.
	d := t.TempDir()
	writeTree(t, d, map[string]string{"Modelfile": "FROM llama3.2:1b\nTEMPLATE {{ .Prompt }}\n"})
	if _, err := Create(context.Background(), d, Options{}); err != nil {
		t.Errorf("FROM a model name: %v", err)
	}
}

func TestHuggingFaceSnapshot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "models--example-org--tiny-chat")
	rev := "3f2a9c1e0b"
	snap := filepath.Join(root, "snapshots", rev)
	blobs := filepath.Join(root, "blobs")
	writeTree(t, blobs, map[string]string{"b1": `{"hidden_size":64}`, "b2": "weights!"})
	for link, blob := range map[string]string{"config.json": "b1", "model.safetensors": "b2"} {
		os.MkdirAll(snap, 0o755)
		if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(snap, link)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := Create(context.Background(), snap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != (Source{Repo: "example-org/tiny-chat", Revision: rev}) {
		t.Errorf("source = %+v", m.Source)
	}
	if len(m.Files) != 2 || m.Files[0].Path != "config.json" || m.Files[1].Path != "model.safetensors" ||
		m.Files[1].SHA256 != hexSum([]byte("weights!")) || m.Files[1].Size != 8 {
		t.Errorf("files = %+v", m.Files)
	}
	// Flags override the inferred source.
	m, err = Create(context.Background(), snap, Options{Source: Source{Revision: "main"}})
	if err != nil || m.Source != (Source{Repo: "example-org/tiny-chat", Revision: "main"}) {
		t.Errorf("source = %+v, %v", m.Source, err)
	}
	// A dangling link is an input error naming it.
	os.Remove(filepath.Join(blobs, "b2"))
	_, err = Create(context.Background(), snap, Options{})
	if err == nil || !strings.Contains(err.Error(), "model.safetensors is a dangling symlink") || fault.KindOf(err) != fault.Input {
		t.Errorf("dangling symlink: err = %v", err)
	}
}

func TestCreateBadInput(t *testing.T) {
	empty := t.TempDir()
	onlyDocs := t.TempDir()
	writeTree(t, onlyDocs, map[string]string{"README.md": "x", "LICENSE": "y", ".git/HEAD": "z"})
	file := filepath.Join(t.TempDir(), "model.gguf")
	os.WriteFile(file, []byte("x"), 0o644)
	linkDir := t.TempDir()
	os.Symlink(t.TempDir(), filepath.Join(linkDir, "sub"))
	writeTree(t, linkDir, map[string]string{"config.json": "{}"})
	badMF := t.TempDir()
	writeTree(t, badMF, map[string]string{"Modelfile": "FROM x\nTEMPLATE \"\"\"open\n"})
	hashName := t.TempDir()
	writeTree(t, hashName, map[string]string{"config.json": "{}", "tokenizer_config.json": `{"chat_template":"x"}`, "tokenizer_config.json#chat_template": "y"})
	backslash := t.TempDir()
	writeTree(t, backslash, map[string]string{`sub\model.bin`: "x"})
	notUTF8 := t.TempDir()
	writeTree(t, notUTF8, map[string]string{"\xff.bin": "x"})
	escape := t.TempDir()
	os.Symlink("gone", filepath.Join(escape, "\x1b[2Jmodel.bin"))
	for _, tt := range []struct{ name, dir, want string }{
		{"missing directory", filepath.Join(empty, "nope"), "does not exist"},
		{"empty directory", empty, "has no behaviour-relevant files"},
		{"only excluded files", onlyDocs, "has no behaviour-relevant files"},
		{"a file, not a directory", file, "is not a directory"},
		{"symlink to a directory", linkDir, "symlink to a directory"},
		{"file name with #", hashName, `tokenizer_config.json#chat_template: the name holds "#"`},
		{"file name with a backslash", backslash, `model.bin: the name holds "\"`},
		{"file name not UTF-8", notUTF8, `"` + notUTF8 + `/\xff.bin": the name is not valid UTF-8`},
		{"file name with a terminal escape is quoted", escape, `"` + escape + `/\x1b[2Jmodel.bin" is a dangling symlink`},
		{"bad Modelfile", badMF, filepath.Join(badMF, "Modelfile") + `: line 2: """ block is never closed`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Create(context.Background(), tt.dir, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if fault.KindOf(err) != fault.Input || fault.HintOf(err) == "" {
				t.Errorf("err = %v: kind %v, hint %q; want an input error with a hint", err, fault.KindOf(err), fault.HintOf(err))
			}
		})
	}
}

func TestUnreadableFile(t *testing.T) {
	// The mapping holds whoever runs the test.
	err := fileError("dir/model.bin", &fs.PathError{Op: "open", Path: "dir/model.bin", Err: fs.ErrPermission})
	if !strings.Contains(err.Error(), "cannot read dir/model.bin: permission denied") || fault.KindOf(err) != fault.Input {
		t.Errorf("fileError = %v", err)
	}
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"model.bin": "x", "config.json": "{}"})
	os.Chmod(filepath.Join(dir, "model.bin"), 0)
	_, err = Create(context.Background(), dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "model.bin: permission denied") {
		t.Errorf("err = %v", err)
	}
}

func TestVerify(t *testing.T) {
	for _, tt := range []struct {
		name   string
		model  func() map[string]string
		change func(t *testing.T, dir string)
		want   []string // "change role path"
		words  string
	}{
		{
			name:   "unchanged",
			model:  hfModel,
			change: func(t *testing.T, dir string) {},
			words:  "weights same; tokenizer same; template same; config same",
		},
		{
			name:  "content change of the same size",
			model: hfModel,
			change: func(t *testing.T, dir string) {
				rewrite(t, dir, "model.safetensors", func(s string) string { return "\xff" + s[1:] })
			},
			want:  []string{"changed weights model.safetensors"},
			words: "weights changed; tokenizer same; template same; config same",
		},
		{
			name:  "size change",
			model: hfModel,
			change: func(t *testing.T, dir string) {
				rewrite(t, dir, "config.json", func(s string) string { return s + "\n" })
			},
			want:  []string{"changed config config.json"},
			words: "config changed (layout only); weights same; tokenizer same; template same",
		},
		{
			name:   "missing file",
			model:  hfModel,
			change: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "tokenizer.json")) },
			want:   []string{"missing tokenizer tokenizer.json"},
			words:  "tokenizer changed; weights same; template same; config same",
		},
		{
			name:  "extra file",
			model: hfModel,
			change: func(t *testing.T, dir string) {
				writeTree(t, dir, map[string]string{"added_tokens.json": "{}", "NOTES.md": "ignored"})
			},
			want:  []string{"extra tokenizer added_tokens.json"},
			words: "tokenizer changed; weights same; template same; config same",
		},
		{
			name:  "template-only change inside tokenizer_config.json",
			model: hfModel,
			change: func(t *testing.T, dir string) {
				rewrite(t, dir, "tokenizer_config.json", func(s string) string { return strings.Replace(s, "m.content", "m.content|trim", 1) })
			},
			want: []string{
				"changed tokenizer tokenizer_config.json (parts only)",
				"changed template tokenizer_config.json#chat_template",
			},
			words: "template changed; weights same; tokenizer same; config same",
		},
		{
			name:  "template removed from tokenizer_config.json",
			model: hfModel,
			change: func(t *testing.T, dir string) {
				rewrite(t, dir, "tokenizer_config.json", func(string) string { return `{"bos_token": "<s>"}` })
			},
			want: []string{
				"changed tokenizer tokenizer_config.json (parts only)",
				"missing template tokenizer_config.json#chat_template",
			},
			words: "template removed; weights same; tokenizer same; config same",
		},
		{
			name: "TEMPLATE added to a Modelfile",
			model: func() map[string]string {
				return map[string]string{"tiny.bin": "GGUF", "Modelfile": "FROM ./tiny.bin\n"}
			},
			change: func(t *testing.T, dir string) {
				rewrite(t, dir, "Modelfile", func(s string) string { return s + "TEMPLATE {{ .Prompt }}\n" })
			},
			want: []string{
				"changed config Modelfile (parts only)",
				"extra template Modelfile#template",
			},
			words: "template added; weights same; config same",
		},
		{
			name:  "tokenizer change inside tokenizer_config.json",
			model: hfModel,
			change: func(t *testing.T, dir string) {
				rewrite(t, dir, "tokenizer_config.json", func(s string) string { return strings.Replace(s, "<s>", "<bos>", 1) })
			},
			want:  []string{"changed tokenizer tokenizer_config.json"},
			words: "tokenizer changed; weights same; template same; config same",
		},
		{
			name:  "Modelfile TEMPLATE change",
			model: ollamaModel,
			change: func(t *testing.T, dir string) {
				rewrite(t, dir, "Modelfile", func(s string) string { return strings.Replace(s, "{{ .Prompt }}", "{{ .Prompt }}\n", 1) })
			},
			want: []string{
				"changed config Modelfile (parts only)",
				"changed template Modelfile#template",
			},
			words: "template changed; weights same; config same",
		},
		{
			name:  "Modelfile PARAMETER change",
			model: ollamaModel,
			change: func(t *testing.T, dir string) {
				rewrite(t, dir, "Modelfile", func(s string) string { return strings.Replace(s, "0.6", "0.7", 1) })
			},
			want: []string{
				"changed config Modelfile (parts only)",
				"changed config Modelfile#parameters",
			},
			words: "config changed; weights same; template same",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tt.model())
			ctx := context.Background()
			cache := testCache(t)
			m, err := Create(ctx, dir, Options{Cache: cache})
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, dir)
			r, err := Verify(ctx, dir, m, Options{Cache: cache})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range r.Changes {
				s := c.Change + " " + string(c.Role) + " " + c.Path
				if c.PartsOnly {
					s += " (parts only)"
				}
				got = append(got, s)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("changes =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if w := r.Words(); w != tt.words {
				t.Errorf("words = %q, want %q", w, tt.words)
			}
			if r.OK() != (len(tt.want) == 0) {
				t.Errorf("OK = %v", r.OK())
			}
			err = r.Err()
			if r.OK() {
				if err != nil || r.Actual != m.Lock {
					t.Errorf("matching directory: err %v, actual %s, lock %s", err, r.Actual, m.Lock)
				}
				return
			}
			if fault.KindOf(err) != fault.LockRefused || !strings.Contains(err.Error(), strings.Fields(tt.want[0])[2]) {
				t.Errorf("Err = %v, want a lock-refused error naming the file", err)
			}
			if r.Actual == m.Lock {
				t.Error("a changed directory has the lock's id")
			}
			// Without a cache the answer is the same.
			r2, err := Verify(ctx, dir, m, Options{})
			if err != nil || len(r2.Changes) != len(r.Changes) || r2.Actual != r.Actual {
				t.Errorf("uncached verify differs: %+v, %v", r2, err)
			}
		})
	}
}

// rewrite changes the file at p under dir and moves its mtime on.
func rewrite(t *testing.T, dir, p string, f func(string) string) {
	t.Helper()
	full := filepath.Join(dir, p)
	b, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(f(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(-30 * time.Minute)
	os.Chtimes(full, later, later)
}

func TestDiffWords(t *testing.T) {
	a := vectorManifest()
	b := vectorManifest()
	b.Files[2].SHA256 = strings.Repeat("b", 64)
	b.Files[0].SHA256 = strings.Repeat("c", 64) // same rest: only the template changed
	b.Serving.Dtype = "float16"
	b.Serving.EngineArgs = append(b.Serving.EngineArgs, "--max-num-seqs=8")
	b.Generation["temperature"] = 0.7
	delete(b.Generation, "stop")
	b.Source.Revision = "4"
	b.Labels = map[string]string{"other": "label"}
	a.Seal()
	b.Seal()
	d := Diff(a, b)
	want := "template changed; weights same; tokenizer same; source: revision 3f2a9c1e → 4; " +
		"serving: dtype bfloat16 → float16, engine_args --enable-prefix-caching --seed=0 → --enable-prefix-caching --max-num-seqs=8 --seed=0; " +
		"generation: stop [\"</s>\"] → (none), temperature 0.6 → 0.7"
	if got := d.Words(); got != want {
		t.Errorf("Words =\n%s\nwant\n%s", got, want)
	}
	if d.Same() {
		t.Error("Same = true")
	}
	if s := Diff(a, a); !s.Same() || s.Words() != "weights same; tokenizer same; template same; serving same" {
		t.Errorf("self diff: %v %q", s.Same(), s.Words())
	}
	// Roles only on one side.
	c := vectorManifest()
	c.Files = append(c.Files, File{Path: "extra.txt", SHA256: strings.Repeat("d", 64), Role: RoleOther})
	c.Files = c.Files[1:]
	if got := Diff(a, c).Words(); got != "tokenizer removed; other added; weights same; template same; serving same" {
		t.Errorf("one-sided roles: %q", got)
	}
	// The files' order does not matter: the same paths in another order
	// give the same changes as in the same order.
	r := vectorManifest()
	r.Files[2].SHA256 = strings.Repeat("b", 64)
	rev := vectorManifest()
	rev.Files = slices.Clone(r.Files)
	slices.Reverse(rev.Files)
	if same, reversed := Diff(a, r).Files, Diff(a, rev).Files; len(same) != 1 || !reflect.DeepEqual(same, reversed) {
		t.Errorf("changes in the same order %+v, reversed %+v; want one, the same", same, reversed)
	}
	// Untrusted text is quoted.
	e := vectorManifest()
	e.Serving.Dtype = "\x1b[31mred"
	if got := Diff(a, e).Words(); !strings.Contains(got, `"\x1b[31mred"`) {
		t.Errorf("escape not quoted: %q", got)
	}
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeTree(t, dir, hfModel())
	cacheDir := t.TempDir()
	open := func() *HashCache {
		c := OpenCache(cacheDir)
		c.Now = func() time.Time { return time.Now().Add(time.Hour) }
		return c
	}
	n := len(hfModel()) - 2 // README.md and .gitattributes are excluded

	c := open()
	m, err := Create(ctx, dir, Options{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Hits != 0 || s.Misses != n || s.Stored != n {
		t.Errorf("first create: %+v, want %d misses and stores", s, n)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}

	t.Run("hit", func(t *testing.T) {
		c := open()
		if c.Err != nil || c.Len() != n {
			t.Fatalf("reopened cache: %d entries, err %v", c.Len(), c.Err)
		}
		r, err := Verify(ctx, dir, m, Options{Cache: c})
		if err != nil || !r.OK() {
			t.Fatalf("verify: %v %+v", err, r)
		}
		if s := c.Stats(); s.Hits != n || s.Misses != 0 {
			t.Errorf("stats %+v, want %d hits", s, n)
		}
	})
	t.Run("hit from another working directory, by a relative path", func(t *testing.T) {
		t.Chdir(filepath.Dir(dir))
		c := open()
		r, err := Verify(ctx, filepath.Base(dir), m, Options{Cache: c})
		if err != nil || !r.OK() {
			t.Fatalf("verify: %v %+v", err, r)
		}
		if s := c.Stats(); s.Hits != n || s.Misses != 0 {
			t.Errorf("stats %+v, want %d hits", s, n)
		}
	})
	t.Run("rehash", func(t *testing.T) {
		c := open()
		if _, err := Verify(ctx, dir, m, Options{Cache: c, Rehash: true}); err != nil {
			t.Fatal(err)
		}
		if s := c.Stats(); s.Hits != 0 || s.Stored != n {
			t.Errorf("stats %+v, want every file hashed and stored", s)
		}
	})
	t.Run("miss on a change of the same size", func(t *testing.T) {
		c := open()
		p := filepath.Join(dir, "config.json")
		b, _ := os.ReadFile(p)
		b[0] = '['
		os.WriteFile(p, b, 0o644)
		t1 := time.Now().Add(-20 * time.Minute)
		os.Chtimes(p, t1, t1)
		r, err := Verify(ctx, dir, m, Options{Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		if s := c.Stats(); s.Hits != n-1 || s.Misses != 1 {
			t.Errorf("stats %+v, want one miss", s)
		}
		if len(r.Changes) != 1 || r.Changes[0].Path != "config.json" {
			t.Errorf("changes %+v", r.Changes)
		}
		b[0] = '{'
		os.WriteFile(p, b, 0o644)
		t2 := time.Now().Add(-10 * time.Minute)
		os.Chtimes(p, t2, t2)
	})
	t.Run("miss on a rewrite that restores the mtime", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("the change time is compared on Linux only")
		}
		c := open()
		p := filepath.Join(dir, "tokenizer.json")
		fi, _ := os.Stat(p)
		b, _ := os.ReadFile(p)
		b[len(b)-1] = ' '
		os.WriteFile(p, b, 0o644)
		os.Chtimes(p, fi.ModTime(), fi.ModTime())
		r, err := Verify(ctx, dir, m, Options{Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Changes) != 1 || r.Changes[0].Path != "tokenizer.json" {
			t.Errorf("changes %+v, want tokenizer.json changed", r.Changes)
		}
		os.WriteFile(p, []byte(hfModel()["tokenizer.json"]), 0o644)
		os.Chtimes(p, fi.ModTime(), fi.ModTime())
	})
	t.Run("racy window", func(t *testing.T) {
		c := OpenCache(t.TempDir())
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, "config.json"), []byte("{}"), 0o644) // mtime: now
		if _, err := Create(ctx, d, Options{Cache: c}); err != nil {
			t.Fatal(err)
		}
		if s := c.Stats(); s.Stored != 0 || c.Len() != 0 {
			t.Errorf("a file changed just now was cached: %+v", s)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		path := open().Path()
		good, _ := os.ReadFile(path)
		for name, bad := range map[string][]byte{
			"garbage":       []byte("not a cache"),
			"truncated":     good[:len(good)/2],
			"flipped bit":   append(append([]byte{}, good[:len(good)-3]...), good[len(good)-3]^1, good[len(good)-2], good[len(good)-1]),
			"bad json body": []byte(cacheMagic + hexSum([]byte("{")) + "\n{"),
		} {
			os.WriteFile(path, bad, 0o644)
			c := open()
			if c.Err == nil || c.Len() != 0 {
				t.Errorf("%s: Err %v, %d entries; want the file ignored", name, c.Err, c.Len())
			}
			r, err := Verify(ctx, dir, m, Options{Cache: c})
			if err != nil || !r.OK() {
				t.Fatalf("%s: verify with a corrupt cache: %v", name, err)
			}
			if err := c.Save(); err != nil {
				t.Fatal(err)
			}
			if c2 := open(); c2.Err != nil || c2.Len() != n {
				t.Errorf("%s: rebuilt cache: %d entries, %v", name, c2.Len(), c2.Err)
			}
		}
	})
	t.Run("save merges and leaves no temp files", func(t *testing.T) {
		c1, c2 := open(), open()
		d1, d2 := t.TempDir(), t.TempDir()
		writeTree(t, d1, map[string]string{"a.bin": "1"})
		writeTree(t, d2, map[string]string{"b.bin": "2"})
		Create(ctx, d1, Options{Cache: c1})
		Create(ctx, d2, Options{Cache: c2})
		if err := c1.Save(); err != nil {
			t.Fatal(err)
		}
		if err := c2.Save(); err != nil {
			t.Fatal(err)
		}
		if got := open().Len(); got != n+2 {
			t.Errorf("merged cache has %d entries, want %d", got, n+2)
		}
		names, _ := filepath.Glob(filepath.Join(cacheDir, "*"))
		if len(names) != 1 {
			t.Errorf("cache dir holds %v, want one file", names)
		}
		// Entries of deleted files are dropped at the next save.
		os.Remove(filepath.Join(d1, "a.bin"))
		c3 := open()
		d3 := t.TempDir()
		writeTree(t, d3, map[string]string{"c.bin": "3"})
		Create(ctx, d3, Options{Cache: c3})
		if err := c3.Save(); err != nil {
			t.Fatal(err)
		}
		if got := open().Len(); got != n+2 {
			t.Errorf("pruned cache has %d entries, want %d", got, n+2)
		}
	})
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv(CacheDirEnv, "/tmp/x")
	if d, err := DefaultCacheDir(); err != nil || d != "/tmp/x" {
		t.Errorf("DefaultCacheDir = %q, %v", d, err)
	}
	t.Setenv(CacheDirEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	if d, err := DefaultCacheDir(); err != nil || d != filepath.Join("/tmp/xdg", "evalpin") {
		t.Errorf("DefaultCacheDir = %q, %v", d, err)
	}
}

func TestHashFiles(t *testing.T) {
	dir := t.TempDir()
	var paths, want []string
	for i, s := range []string{"", "a", strings.Repeat("xyz", bufSize)} {
		p := filepath.Join(dir, string(rune('a'+i)))
		os.WriteFile(p, []byte(s), 0o644)
		paths = append(paths, p)
		want = append(want, hexSum([]byte(s)))
	}
	got, err := HashFiles(context.Background(), paths, 2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("HashFiles = %v, want %v", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := HashFiles(ctx, paths, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestReadServing(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "serving.yaml")
	os.WriteFile(good, []byte("engine: vllm\nengine_version: 0.6.3\ndtype: bfloat16\nmax_context: 8192\nengine_args: [--seed=0]\ngeneration:\n  temperature: 0.6\n  stop: [\"</s>\"]\n"), 0o644)
	sf, err := ReadServing(good)
	if err != nil {
		t.Fatal(err)
	}
	if sf.Engine != "vllm" || sf.MaxContext != 8192 || sf.EngineArgs[0] != "--seed=0" || sf.Generation["temperature"] != 0.6 {
		t.Errorf("ReadServing = %+v", sf)
	}
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("engine: vllm\ndtyp: bfloat16\n"), 0o644)
	if _, err := ReadServing(typo); err == nil || !strings.Contains(err.Error(), "line 2") || fault.KindOf(err) != fault.Input {
		t.Errorf("typo: err = %v", err)
	}
	for name, body := range map[string]string{
		"negative max_context": "max_context: -1\n",
		"64-bit seed":          "generation:\n  seed: 18446744073709551615\n",
		"seed in a list":       "generation:\n  seeds: [1, 9007199254740993]\n",
	} {
		p := filepath.Join(dir, "bad.yaml")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := ReadServing(p); err == nil || fault.KindOf(err) != fault.Input {
			t.Errorf("%s: err = %v, want an input error", name, err)
		}
	}
	exact := filepath.Join(dir, "exact.yaml")
	os.WriteFile(exact, []byte("generation:\n  seed: 9007199254740992\n  temperature: 0.1\n"), 0o644)
	if _, err := ReadServing(exact); err != nil {
		t.Errorf("2^53 and 0.1: %v", err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, nil, 0o644)
	if _, err := ReadServing(empty); err != nil {
		t.Errorf("empty: %v", err)
	}
}
