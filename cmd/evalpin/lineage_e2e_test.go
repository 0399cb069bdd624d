package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/testbed"
)

// The upgrade story on the real Ollama test bed: a version is run twice and
// promoted, an upgrade is served under the same name, and `evalpin gate`
// alone (a project file, no ids) picks the promoted lock's run as the
// baseline, runs the upgrade at its settings and fails it on drift against
// the floor between the two runs; `evalpin locks` shows the track.
func TestGatePreviousOllamaEndToEnd(t *testing.T) {
	runQuiet(t)
	t.Setenv(dbEnv, "")
	t.Setenv(lock.CacheDirEnv, t.TempDir())
	ol := testbed.Ollama(t)
	ol.Create(t, "tiny", testbed.Generate(t, testbed.ModelOptions{Template: "chat"}))
	ctx := context.Background()
	work := t.TempDir()
	prompts := make([]string, 12)
	for i := range prompts {
		prompts[i] = fmt.Sprintf("Question %d: what did the sailor see on the hill?", i)
	}
	suite := writeGateSuite(t, work, "upgrade", prompts, func(int) string { return "{kind: length, min_chars: 1}" })
	project := fmt.Sprintf("endpoints: [%q]\nmodel: tiny\nsuite: %q\ndb: .evalpin/history.db\nlineage: baselines/lineage.jsonl\npolicy: repackaged.yaml\nreports: [reports/gate.md]\n",
		ol.BaseURL(), suite)
	for name, content := range map[string]string{"evalpin.yaml": project, "repackaged.yaml": "alpha: 0.05\nmax_drift: 0.05\n"} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(work)
	evalpin := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCmd(ctx, args...)
		if code != want {
			t.Fatalf("evalpin %s: exit %d, want %d\n%s%s\nserver log:\n%s", strings.Join(args, " "), code, want, stdout, stderr, ol.Log())
		}
		return stdout + stderr
	}
	evalpin(fault.ExitOK, "run", "--no-progress")
	evalpin(fault.ExitOK, "run", "--fresh", "--no-progress")
	evalpin(fault.ExitOK, "promote", "1", "--note", "accepted")
	ol.Create(t, "tiny", testbed.Generate(t, testbed.ModelOptions{Template: "compact"})) // the upgrade, same name
	out := evalpin(fault.ExitGateFailed, "gate", "--no-progress")
	for _, want := range []string{"baseline: run 2 of lock ", "on track main", "lock: template changed; weights same",
		"gate: FAIL", "baseline re-run 1", "shown above the allowed 5.0 pp"} {
		if !strings.Contains(out, want) {
			t.Errorf("gate lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "reports", "gate.md")); err != nil {
		t.Error(err)
	}
	if out := evalpin(fault.ExitOK, "locks", "--track", "main"); !strings.Contains(out, "1 current") {
		t.Errorf("locks --track main:\n%s", out)
	}
}
