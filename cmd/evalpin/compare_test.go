package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const runLockC = "sha256:c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"

// Forks side by side: three locks' runs of one suite, each named by a
// label, a lock prefix or a run id, compared with the first; what cannot be
// compared is refused, naming why.
func TestCompareForks(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 40)
	db := filepath.Join(dir, "e.db")
	ctx := context.Background()
	fakes := map[string]*runFake{"a": newRunFake(runLockA), "b": newRunFake(runLockB), "c": newRunFake(runLockC)}
	for _, id := range runCaseIDs(15) {
		fakes["c"].answers.Store(runPrompt(id), "wrong")
	}
	for _, name := range []string{"a", "b", "c"} {
		ep := fakes[name].start(t)
		if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", ep, "--db", db, "--label", "fork="+name); code != 0 {
			t.Fatalf("run %s: exit %d: %s", name, code, stderr)
		}
	}
	ep := fakes["b"].start(t)
	if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", ep, "--db", db, "--samples", "2", "--label", "fork=b2"); code != 0 {
		t.Fatalf("run b2: exit %d: %s", code, stderr)
	}
	html, js := filepath.Join(dir, "forks.html"), filepath.Join(dir, "forks.json")
	cmp := func(args ...string) []string {
		return append([]string{"compare", "--suite", "fake", "--db", db}, args...)
	}
	tests := []struct {
		name           string
		args           []string
		code           int
		stderr, stdout string
	}{
		{"labels", cmp("fork=a", "fork=b", "fork=c"), 0, "fork C, fork=c (a label): run 3 of lock " + runLockC, "regressed"},
		{"lock-prefixes", cmp("a1a1a1", "b2b2b2"), 0, "fork B, b2b2b2 (a lock): run 2", "all checks"},
		{"run-ids-files", cmp("1", "#2", "3", "-o", html, "-o", js), 0, "fork A, 1 (a run): run 1", ""},
		{"markdown", cmp("fork=a", "fork=c", "--format", "md"), 0, "", "### all checks"},
		{"settings-refused", cmp("fork=a", "fork=b2"), 2, "samples 1 → 2", ""},
		{"unknown", cmp("fork=a", "fork=zzz"), 2, "no complete run labelled fork=zzz of suite fake", ""},
		{"unknown-model", cmp("fork=a", "nous-hermes"), 2, "no complete run of the model nous-hermes", ""},
		{"same-run", cmp("1", "fork=a"), 2, "both name run 1", ""},
		{"one-fork", cmp("fork=a"), 2, "at least 2 runs", ""},
		{"no-suite", []string{"compare", "fork=a", "fork=b", "--db", db}, 2, "needs the suite", ""},
		{"other-suite", []string{"compare", "fork=a", "fork=b", "--db", db, "--suite", "smoke"}, 2, "of suite smoke", ""},
	}
	for _, tt := range tests {
		code, stdout, stderr := a.cmd(ctx, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) || !strings.Contains(stdout, tt.stdout) {
			t.Fatalf("%s: %s: exit %d, want %d with %q in stderr and %q in stdout\nstdout:\n%s\nstderr:\n%s", tt.name, tt.args, code, tt.code, tt.stderr, tt.stdout, stdout, stderr)
		}
		if tt.name == "labels" {
			for _, line := range strings.Split(stdout, "\n") {
				if n := len([]rune(line)); n > 120 {
					t.Errorf("a line of %d columns, more than 120: %q", n, line)
				}
			}
		}
	}
	data, err := os.ReadFile(js)
	var m struct {
		Forks []struct {
			Run    int64             `json:"run"`
			Labels map[string]string `json:"labels"`
		} `json:"forks"`
		Metrics []struct {
			Name  string `json:"name"`
			Tests []struct {
				Verdict string `json:"verdict"`
			} `json:"tests"`
		} `json:"metrics"`
	}
	if err != nil || json.Unmarshal(data, &m) != nil || len(m.Forks) != 3 || m.Forks[2].Labels["fork"] != "c" {
		t.Fatalf("%s: %v\n%s", js, err, data)
	}
	if got := m.Metrics[0].Tests; m.Metrics[0].Name != "all checks" || len(got) != 2 || got[0].Verdict == "regressed" || got[1].Verdict != "regressed" {
		t.Errorf("all checks: %+v, want B not regressed and C regressed", m.Metrics[0])
	}
	if page, err := os.ReadFile(html); err != nil || !strings.Contains(string(page), "<svg") {
		t.Errorf("%s: %v, want a page with a forest plot", html, err)
	}
}
