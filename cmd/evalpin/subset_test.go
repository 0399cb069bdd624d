package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
)

// A part of a suite (--cases, --tags, --limit) is a run of its own: resumed
// by the same command, never taken for the lock's complete run of the
// suite, and paired with a whole run case by case.
func TestRunSubset(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	suite := filepath.Join(dir, "tagged.yaml")
	text := "name: tagged\nversion: \"1\"\ndefaults: {max_tokens: 8, seed: 7}\ncases:\n"
	for i, id := range runCaseIDs(6) {
		tag := []string{"even", "odd"}[i%2]
		text += "  - id: " + id + "\n    tags: [" + tag + "]\n    messages: [{role: user, content: \"" + runPrompt(id) + "\"}]\n    scorers: [{kind: contains, value: echo}]\n"
	}
	if err := os.WriteFile(suite, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ep := newRunFake(runLockA).start(t)
	db := filepath.Join(dir, "evalpin.db")
	ctx := context.Background()
	a, _ := testApp()
	run := func(extra ...string) (int, eval.RunSummary, string) {
		t.Helper()
		code, stdout, stderr := a.cmd(ctx, append([]string{"run", "--suite", suite, "--endpoint", ep, "--db", db, "--format", "json"}, extra...)...)
		var s eval.RunSummary
		if code == 0 {
			if err := json.Unmarshal([]byte(stdout), &s); err != nil {
				t.Fatalf("%v: %s", err, stdout)
			}
		}
		return code, s, stderr
	}
	ids := runCaseIDs(6)

	code, s, stderr := run("--tags", "odd", "--limit", "2")
	if code != 0 || s.Run != 1 || s.Selection != "tags=odd limit=2" || s.Cases != 2 || s.Requested != 2 || s.Status != eval.RunComplete {
		t.Fatalf("a part: exit %d %+v\n%s", code, s, stderr)
	}
	if !strings.Contains(stderr, "run 1: 2 of 6 cases (tags=odd limit=2)") {
		t.Errorf("the run does not say what part it replays:\n%s", stderr)
	}
	if code, s, _ = run("--limit", "2", "--tags", "odd"); code != 0 || s.Run != 1 || s.Requested != 0 {
		t.Fatalf("the same part again is the same, complete run: exit %d %+v", code, s)
	}
	if code, s, _ = run(); code != 0 || s.Run != 2 || s.Requested != 6 || s.Selection != "" {
		t.Fatalf("the whole suite is a run of its own: exit %d %+v", code, s)
	}
	if code, s, _ = run("--cases", ids[0]+","+ids[2]); code != 0 || s.Run != 3 || s.Cases != 2 {
		t.Fatalf("--cases: exit %d %+v", code, s)
	}
	if code, _, stderr = run("--cases", "nope"); code != fault.ExitInput || !strings.Contains(stderr, `no case "nope" in the suite`) {
		t.Fatalf("an unknown case: exit %d\n%s", code, stderr)
	}

	code, out, stderr := a.cmd(ctx, "runs", "--db", db)
	if code != 0 || !strings.Contains(out, "tagged 1 [tags=odd limit=2]") || !strings.Contains(out, "tagged 1 [cases="+ids[0]+","+ids[2]+"]") {
		t.Fatalf("runs does not show the parts: exit %d\n%s%s", code, out, stderr)
	}
	// A lock's complete run of the suite is its whole run, not the newer part.
	file := filepath.Join(dir, "b.jsonl")
	if code, _, stderr = a.cmd(ctx, "baseline", "export", runLockA, "--db", db, "-o", file); code != 0 || !strings.Contains(stderr, "exported run 2 ") {
		t.Fatalf("export of the lock: exit %d\n%s", code, stderr)
	}
	if code, _, stderr = a.cmd(ctx, "baseline", "export", runLockA, "--suite", "other", "--db", db); code != fault.ExitInput || !strings.Contains(stderr, "no complete run of suite other of lock") {
		t.Fatalf("export --suite other: exit %d\n%s", code, stderr)
	}
	// The part pairs with the whole run on its cases.
	code, out, stderr = a.cmd(ctx, "diff", "--baseline", "2", "--candidate", "1", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("diff of a part with the whole: exit %d\n%s", code, stderr)
	}
	var c struct {
		Paired int `json:"paired"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Paired != 2 {
		t.Fatalf("paired %d, want 2 (%v):\n%.600s", c.Paired, err, out)
	}
}
