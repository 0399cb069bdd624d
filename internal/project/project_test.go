package project

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The file is found upward, and its relative paths are the file's
// directory's; a bundled suite's name stays a name.
func TestFind(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "suites", "smoke.yaml"), "name: smoke\n")
	write(t, filepath.Join(root, FileName), `
endpoints: [http://127.0.0.1:8000/v1, http://127.0.0.1:8001/v1]
model: tiny
suite: suites/smoke.yaml
samples: 3
db: .evalpin/history.db
baseline: baselines/smoke.jsonl
reports: [out/report.md, out/junit.xml]
`)
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := Find(sub)
	if err != nil {
		t.Fatal(err)
	}
	want := &File{
		Endpoints: []string{"http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1"}, Model: "tiny",
		Suite: filepath.Join(root, "suites", "smoke.yaml"), Samples: 3, DB: filepath.Join(root, ".evalpin", "history.db"),
		Baseline: filepath.Join(root, "baselines", "smoke.jsonl"),
		Reports:  []string{filepath.Join(root, "out", "report.md"), filepath.Join(root, "out", "junit.xml")},
		Path:     filepath.Join(root, FileName),
	}
	if f.Path != want.Path || f.Suite != want.Suite || f.DB != want.DB || f.Baseline != want.Baseline ||
		!slices.Equal(f.Reports, want.Reports) || !slices.Equal(f.Endpoints, want.Endpoints) || f.Samples != 3 || f.Model != "tiny" {
		t.Fatalf("Find = %+v\nwant %+v", f, want)
	}

	write(t, filepath.Join(root, "bundled", FileName), "suite: testbed\n")
	if f, err := Find(filepath.Join(root, "bundled")); err != nil || f.Suite != "testbed" {
		t.Fatalf("a bundled suite: %+v, %v", f, err)
	}
	if f, err := Find(t.TempDir()); err != nil || f.Path != "" {
		t.Fatalf("no file: %+v, %v", f, err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ text, err string }{
		{"sutie: x\n", "line 1: field sutie is not a setting (known: endpoints, model, suite, samples, policy, db, track, lineage, baseline, reports, api_key_env)"},
		{"samples: many\n", "line 1: cannot unmarshal !!str `many` into int"},
		{"endpoints: http://x/v1\n", "cannot unmarshal !!str `http://...` into []string"},
		{"model: [a\n", "did not find expected"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), FileName)
		write(t, path, tt.text)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tt.err) || fault.KindOf(err) != fault.Input || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%q) = %v, want an input error naming the file with %q", tt.text, err, tt.err)
		}
	}
}

func TestLookup(t *testing.T) {
	f := &File{Endpoints: []string{"a", "b"}, Model: "m", Samples: 2, APIKeyEnv: "K", Reports: []string{"r.md"}}
	tests := []struct {
		flag string
		want []string
		env  string
	}{
		{"endpoint", []string{"a", "b"}, "EVALPIN_ENDPOINTS"},
		{"model", []string{"m"}, "EVALPIN_MODEL"},
		{"samples", []string{"2"}, "EVALPIN_SAMPLES"},
		{"api-key-env", []string{"K"}, "EVALPIN_API_KEY_ENV"},
		{"o", []string{"r.md"}, "EVALPIN_REPORTS"},
		{"suite", nil, "EVALPIN_SUITE"}, // unset
		{"fresh", nil, ""},              // no setting
	}
	for _, tt := range tests {
		got, ok := f.Lookup(tt.flag)
		if !slices.Equal(got, tt.want) || ok != (tt.want != nil) || Env(tt.flag) != tt.env {
			t.Errorf("Lookup(%q) = %q, %v; Env %q; want %q, %q", tt.flag, got, ok, Env(tt.flag), tt.want, tt.env)
		}
	}
	if _, ok := (*File)(nil).Lookup("model"); ok {
		t.Error("a nil file has settings")
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.yaml")
	write(t, path, "model: x\n")
	env := map[string]string{"EVALPIN_PROJECT": path}
	if f, err := Open(func(k string) string { return env[k] }); err != nil || f.Model != "x" {
		t.Fatalf("$EVALPIN_PROJECT: %+v, %v", f, err)
	}
	env["EVALPIN_PROJECT"] = "none"
	if f, err := Open(func(k string) string { return env[k] }); err != nil || f.Path != "" {
		t.Fatalf("none: %+v, %v", f, err)
	}
}

// The template reads back as the settings it was made from, and lists every
// setting.
func TestTemplate(t *testing.T) {
	in := &File{Endpoints: []string{"http://127.0.0.1:8000/v1"}, Model: `tiny "q"`, Samples: 3}
	text := Template(in)
	for _, name := range Settings() {
		if !strings.Contains(string(text), name+": ") {
			t.Errorf("the template lacks %s", name)
		}
	}
	path := filepath.Join(t.TempDir(), FileName)
	write(t, path, string(text))
	out, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Endpoints, in.Endpoints) || out.Model != in.Model || out.Samples != 3 || out.Suite != "" || out.DB != "" {
		t.Fatalf("read back %+v from\n%s", out, text)
	}
}

// The project file docs/ci.md shows is one Load accepts, with every setting
// the gate reads.
func TestCIDocProjectFile(t *testing.T) {
	doc, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/ci.md has no yaml block")
	}
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatalf("docs/ci.md's project file: %v", err)
	}
	for _, flag := range []string{"endpoint", "suite", "policy", "db", "baseline", "lineage", "o"} {
		if _, ok := f.Lookup(flag); !ok {
			t.Errorf("docs/ci.md's project file sets no %s", Setting(flag))
		}
	}
}
