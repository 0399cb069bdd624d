package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/testbed"
)

// The CI jobs of docs/ci.md run as written, their shell steps against the
// real Ollama test bed: the project file the page shows, a baseline file
// accepted from a run of the same model, and each job's evalpin steps,
// which must pass the gate and write the reports the project names. The
// platforms' own actions (checkout, setup-go, upload-artifact) and images
// cannot run here; `go install …@latest` is replaced by the evalpin this
// test builds, put first on PATH.
func TestCIDocJobs(t *testing.T) {
	runQuiet(t)
	t.Setenv(lock.CacheDirEnv, t.TempDir())
	ol := testbed.Ollama(t)
	ol.Create(t, "tiny-ci", testbed.Generate(t, testbed.ModelOptions{Template: "chat"}))
	doc, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "evalpin"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	project := t.TempDir()
	write := func(name, content string) {
		path := filepath.Join(project, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("evalpin.yaml", codeBlock(t, string(doc), "yaml", 0))
	var suite strings.Builder
	suite.WriteString("name: smoke\nversion: \"1\"\ndefaults: {max_tokens: 12, seed: 42}\ncases:\n")
	for i := range 12 {
		fmt.Fprintf(&suite, "  - id: q%02d\n    messages: [{role: user, content: \"Question %d: what did the baker see?\"}]\n    scorers: [{kind: length, min_chars: 1}]\n", i, i)
	}
	write("suites/smoke.yaml", suite.String())
	write("ci/gate.yaml", "alpha: 0.05\n")
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"EVALPIN_ENDPOINTS="+ol.BaseURL(), "EVALPIN_MODEL=tiny-ci", "EVALPIN_DB=", "OPENAI_BASE_URL=", "OPENAI_API_KEY=")
	sh := func(step string) (string, error) {
		cmd := exec.Command("sh", "-ec", step)
		cmd.Dir, cmd.Env = project, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The baseline the jobs gate against: a run of the same model, accepted.
	for _, step := range []string{"evalpin run --no-progress", "evalpin baseline accept 1", "rm -rf .evalpin"} {
		if out, err := sh(step); err != nil {
			t.Fatalf("%s: %v\n%s", step, err, out)
		}
	}
	jobs := map[string][]string{
		"GitHub Actions": yamlSteps(codeBlock(t, string(doc), "yaml", 1), `(?m)^\s*- run: (.+)$`),
		"GitLab CI":      yamlSteps(codeBlock(t, string(doc), "yaml", 2), `(?m)^    - (.+)$`),
	}
	for name, steps := range jobs {
		if len(steps) < 2 {
			t.Fatalf("%s: %d steps found in docs/ci.md", name, len(steps))
		}
		os.RemoveAll(filepath.Join(project, "reports"))
		os.RemoveAll(filepath.Join(project, ".evalpin")) // a CI job starts with an empty database
		for _, step := range steps {
			if strings.HasPrefix(step, "go install ") {
				continue // the evalpin built above
			}
			out, err := sh(step)
			if err != nil {
				t.Fatalf("%s: %s: %v\n%s\nserver log:\n%s", name, step, err, out, ol.Log())
			}
			if !strings.Contains(out, "PASS") || !strings.Contains(out, "baseline: baseline file "+filepath.Join(project, "baselines", "smoke.jsonl")) {
				t.Errorf("%s: %s did not pass against the accepted baseline:\n%s", name, step, out)
			}
		}
		for _, report := range []string{"reports/gate.md", "reports/junit.xml", "reports/gate.html"} {
			if _, err := os.Stat(filepath.Join(project, report)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// codeBlock returns the n-th (from 0) fenced block of lang in doc.
func codeBlock(t *testing.T, doc, lang string, n int) string {
	t.Helper()
	blocks := regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(doc, -1)
	if n >= len(blocks) {
		t.Fatalf("docs/ci.md has %d %s blocks, want at least %d", len(blocks), lang, n+1)
	}
	return blocks[n][1]
}

// yamlSteps returns the shell steps pattern finds in a CI file.
func yamlSteps(file, pattern string) []string {
	var steps []string
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(file, -1) {
		steps = append(steps, strings.TrimSpace(m[1]))
	}
	return steps
}
