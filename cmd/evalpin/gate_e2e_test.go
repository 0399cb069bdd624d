package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/testbed"
)

// "evalpin gate" on the real Ollama test bed, the upgrade it exists for.
// Version A of a model and version B, the same weights with another chat
// template (a mirror that synced the weights but not the template), are each
// served behind "evalpin serve" with a lock of their directory, so the stored
// locks carry manifests. A snapshot suite holds A's recorded answers as the
// expected outputs, as a team accepts a known-good version's answers: run
// again, A passes the gate (A/A), and B fails it with exit 1, in words that
// name the template change, the regressed pass rate and the drift above the
// noise floor.
func TestGateOllamaEndToEnd(t *testing.T) {
	runQuiet(t)
	t.Setenv(dbEnv, "")
	t.Setenv(lock.CacheDirEnv, t.TempDir())
	ol := testbed.Ollama(t)
	dirA := testbed.Generate(t, testbed.ModelOptions{Template: "chat"})
	dirB := testbed.Generate(t, testbed.ModelOptions{Template: "compact"})
	ol.Create(t, "tiny-a", dirA)
	ol.Create(t, "tiny-b", dirB)
	epA, epB := gateSidecar(t, ol, dirA, "tiny-a"), gateSidecar(t, ol, dirB, "tiny-b")

	ctx := context.Background()
	work := t.TempDir()
	dbPath := filepath.Join(work, "gate.db")
	policy, err := filepath.Abs(filepath.Join("testdata", "gate", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	evalpin := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCmd(ctx, args...)
		if code != want {
			t.Fatalf("evalpin %s: exit %d, want %d\n%s%s\nserver log:\n%s", strings.Join(args, " "), code, want, stdout, stderr, ol.Log())
		}
		return stdout
	}
	run := func(suite, ep, model string, extra ...string) eval.RunSummary {
		t.Helper()
		out := evalpin(fault.ExitOK, append([]string{"run", "--suite", suite, "--endpoint", ep, "--model", model,
			"--db", dbPath, "--format", "json", "--no-progress"}, extra...)...)
		var s eval.RunSummary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("summary: %v\n%s", err, out)
		}
		return s
	}

	// Record A's answers with a suite that accepts any answer.
	const cases = 30
	prompts := make([]string, cases)
	for i := range prompts {
		prompts[i] = fmt.Sprintf("Question %d: what did the %s see on the %s?", i,
			[]string{"farmer", "sailor", "child", "teacher", "baker"}[i%5], []string{"road", "hill", "river", "market", "roof", "field"}[i%6])
	}
	record := writeGateSuite(t, work, "record", prompts, func(int) string { return "{kind: length, min_chars: 1}" })
	recorded := run(record, epA, "tiny-a")
	db := runOpen(t, dbPath)
	rs, err := db.Results(ctx, recorded.Run)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	answers := make([]string, cases)
	for _, r := range rs {
		var i int
		if _, err := fmt.Sscanf(r.CaseID, "q%02d", &i); err != nil || r.Output == "" || r.Error != "" {
			t.Fatalf("recorded %s: output %q, error %q", r.CaseID, r.Output, r.Error)
		}
		answers[i] = strings.TrimSpace(r.Output) // equals trims the output
	}
	snapshot := writeGateSuite(t, work, "snapshot", prompts, func(i int) string {
		value, _ := json.Marshal(answers[i]) // a JSON string is a YAML double-quoted scalar
		return "{kind: equals, value: " + string(value) + ", name: matches-accepted}"
	})

	// Two samples per case measure the noise floor of drift.
	a1 := run(snapshot, epA, "tiny-a", "--samples", "2")
	a2 := run(snapshot, epA, "tiny-a", "--samples", "2", "--fresh")
	b := run(snapshot, epB, "tiny-b", "--samples", "2")
	if a1.Lock != recorded.Lock || a2.Lock != a1.Lock || b.Lock == a1.Lock || !strings.HasPrefix(string(a1.Lock), "sha256:") {
		t.Fatalf("locks %s, %s, %s, %s: want A's sidecar lock three times, then B's", recorded.Lock, a1.Lock, a2.Lock, b.Lock)
	}

	// A/A: the same lock run twice passes.
	out := evalpin(fault.ExitOK, "gate", "--db", dbPath, "--baseline", fmt.Sprint(a1.Run), "--candidate", fmt.Sprint(a2.Run), "--policy", policy)
	for _, want := range []string{"gate: PASS", "pass rate (all checks): 100.0% → 100.0%, no significant change",
		"output drift: 0.0% of outputs changed against a noise floor of 0.0%, no significant excess"} {
		if !strings.Contains(out, want) {
			t.Errorf("A/A gate output lacks %q:\n%s", want, out)
		}
	}

	// A → B, by lock ids as CI names them: the template change fails the gate.
	out = evalpin(fault.ExitGateFailed, "gate", "--db", dbPath, "--baseline", string(a1.Lock), "--candidate", string(b.Lock), "--policy", policy)
	t.Logf("gate A → B:\n%s", out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^lock: template changed; weights same`),
		regexp.MustCompile(fmt.Sprintf(`(?m)^runs: %d \(baseline\) vs %d \(candidate\); %d cases paired, 0 left out`, a2.Run, b.Run, cases)),
		regexp.MustCompile(`(?m)^gate: FAIL at alpha 0\.05$`),
		regexp.MustCompile(`(?m)^  - pass rate \(all checks\): 100\.0% → \d+\.\d% \(−\d+\.\d pp, 95% CI [^)]*\) regressed: p < 0\.0001 \(holm\)`),
		regexp.MustCompile(`(?m)^  - pass rate \(scorer matches-accepted\): 100\.0% → [^\n]* regressed`),
		regexp.MustCompile(`(?m)^  - output drift: \d+\.\d% of outputs changed against a noise floor of 0\.0%`),
	} {
		if !want.MatchString(out) {
			t.Errorf("gate A → B output does not match %s:\n%s", want, out)
		}
	}

	// The report names the lost cases and shows both outputs.
	md := evalpin(fault.ExitOK, "diff", "--db", dbPath, "--baseline", string(a1.Lock), "--candidate", string(b.Lock), "--format", "md")
	if !strings.Contains(md, "template changed") || !strings.Contains(md, "regressed") || !strings.Contains(md, answers[0][:10]) {
		t.Errorf("diff --format md lacks the lock diff, the verdict or a baseline output:\n%s", md)
	}
}

// gateSidecar starts "evalpin serve" in front of the test bed's Ollama with a
// lock of dir, vouching for model, and returns its OpenAI base URL.
func gateSidecar(t *testing.T, ol *testbed.Server, dir, model string) string {
	t.Helper()
	version, err := ol.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, err := lock.Create(context.Background(), dir, lock.Options{Serving: lock.Serving{Engine: "ollama", EngineVersion: version}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(t.TempDir(), "model.lock")
	if err := os.WriteFile(lockFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &serveTestLog{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--lock", lockFile, "--model-dir", dir, "--upstream", ol.URL(),
			"--listen", "127.0.0.1:0", "--model", model}, io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	addr := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			return m[1] + "/v1"
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start; stderr:\n%s", stderr)
		}
	}
}

// writeGateSuite writes a suite named name of one case per prompt, with the
// scorer scorer(i) (a YAML flow mapping), and returns its path.
func writeGateSuite(t *testing.T, dir, name string, prompts []string, scorer func(i int) string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nversion: \"1\"\ndefaults:\n  max_tokens: 24\n  temperature: 0\n  seed: 42\ncases:\n", name)
	for i, p := range prompts {
		fmt.Fprintf(&b, "  - id: q%02d\n    tags: [%s]\n    messages: [{role: user, content: %q}]\n    scorers:\n      - %s\n",
			i, []string{"people", "places"}[i%2], p, scorer(i))
	}
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
