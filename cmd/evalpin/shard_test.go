package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
)

// A suite spread over three machines (run --shard i/3, one database each)
// comes back as three baseline files that import into one complete run of
// the whole suite, which the gate takes as a baseline; the engine answered
// each case exactly once over the three shards. Files that are not the
// shards of one run are refused, naming the files.
func TestShardsMergeAndGate(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	ctx := context.Background()
	const n = 30
	suite := runSuiteFile(t, dir, n)
	fake := newRunFake(runLockA)
	ep := fake.start(t)

	files := make([]string, 3)
	for i := range files {
		db := filepath.Join(dir, fmt.Sprintf("shard%d.db", i+1))
		files[i] = filepath.Join(dir, fmt.Sprintf("shard%d.jsonl", i+1))
		shard := fmt.Sprintf("%d/3", i+1)
		code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", ep, "--db", db, "--shard", shard, "--no-progress")
		if code != 0 || !strings.Contains(stderr, "of 30 cases (shard="+shard+")") {
			t.Fatalf("run --shard %s: exit %d\n%s", shard, code, stderr)
		}
		if code, _, stderr := a.cmd(ctx, "baseline", "export", "1", "--db", db, "-o", files[i]); code != 0 {
			t.Fatalf("export shard %s: exit %d\n%s", shard, code, stderr)
		}
	}
	for _, id := range runCaseIDs(n) {
		if got := fake.requests(id); got != 1 {
			t.Errorf("case %s was requested %d times over the shards, want once", id, got)
		}
	}
	if got := fake.cases.Load(); got != n {
		t.Errorf("the shards requested %d cases, want %d", got, n)
	}

	merged := filepath.Join(dir, "merged.db")
	refusals := []struct {
		files []string
		want  string
	}{
		{files[:2], "merge shards: shard 3/3 missing"},
		{[]string{files[0], files[1], files[1], files[2]}, "are both shard 2/3"},
	}
	for _, tt := range refusals {
		code, stdout, stderr := a.cmd(ctx, append([]string{"baseline", "import", "--db", merged}, tt.files...)...)
		if code != fault.ExitInput || stdout != "" || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "Try: import the files of all the shards") {
			t.Errorf("import %v: exit %d, want %d with %q:\n%s", tt.files, code, fault.ExitInput, tt.want, stderr)
		}
	}

	// In any order.
	code, stdout, stderr := a.cmd(ctx, "baseline", "import", "--db", merged, files[2], files[0], files[1])
	if code != 0 || strings.TrimSpace(stdout) != "1" || !strings.Contains(stderr, "imported 3 shards ("+files[2]) || !strings.Contains(stderr, "complete, 30 cases, 30 results, 0 failed") {
		t.Fatalf("import the shards: exit %d %q\n%s", code, stdout, stderr)
	}
	if code, stdout, stderr := a.cmd(ctx, "baseline", "import", "--db", merged, files[0], files[1], files[2]); code != 0 || strings.TrimSpace(stdout) != "1" || !strings.Contains(stderr, "is already stored as run 1") {
		t.Fatalf("import the shards again: exit %d %q\n%s", code, stdout, stderr)
	}

	// The merged run is the lock's complete run of the whole suite: the same
	// run again requests nothing.
	before := fake.cases.Load()
	if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", ep, "--db", merged, "--no-progress"); code != 0 || !strings.Contains(stderr, "run 1 is complete") {
		t.Fatalf("run of the whole suite on the merged database: exit %d\n%s", code, stderr)
	}
	if got := fake.cases.Load(); got != before {
		t.Errorf("the merged run was not taken for complete: %d more requests", got-before)
	}

	// A candidate of another lock, run whole, passes the gate against it.
	candidate := newRunFake(runLockB)
	if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", candidate.start(t), "--db", merged, "--no-progress"); code != 0 {
		t.Fatalf("candidate run: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = a.cmd(ctx, "gate", "--db", merged, "--baseline", "1", "--candidate", "2")
	if code != 0 || !strings.Contains(stdout+stderr, "PASS") {
		t.Fatalf("gate of the merged baseline: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// More shards than a suite has cases leaves some shards empty: their runs
// request nothing and are complete, and all of them still merge into the
// whole run.
func TestShardsEmpty(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	ctx := context.Background()
	suite := runSuiteFile(t, dir, 3)
	fake := newRunFake(runLockA)
	ep := fake.start(t)
	const n = 8
	var files []string
	for i := 1; i <= n; i++ {
		db := filepath.Join(dir, fmt.Sprintf("shard%d.db", i))
		file := filepath.Join(dir, fmt.Sprintf("shard%d.jsonl", i))
		shard := fmt.Sprintf("%d/%d", i, n)
		if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", ep, "--db", db, "--shard", shard, "--no-progress"); code != 0 {
			t.Fatalf("run --shard %s: exit %d\n%s", shard, code, stderr)
		}
		if code, _, stderr := a.cmd(ctx, "baseline", "export", "1", "--db", db, "-o", file); code != 0 {
			t.Fatalf("export shard %s: exit %d\n%s", shard, code, stderr)
		}
		files = append(files, file)
	}
	if got := fake.cases.Load(); got != 3 {
		t.Errorf("the shards requested %d cases, want 3", got)
	}
	code, stdout, stderr := a.cmd(ctx, append([]string{"baseline", "import", "--db", filepath.Join(dir, "merged.db")}, files...)...)
	if code != 0 || strings.TrimSpace(stdout) != "1" || !strings.Contains(stderr, "complete, 3 cases, 3 results, 0 failed") {
		t.Fatalf("import the shards: exit %d %q\n%s", code, stdout, stderr)
	}
}

// The sharded workflow of docs/ci.md runs as written: its shard job's and
// its gate job's shell steps, each job in a checkout of its own with the
// project file the page shows, the shard jobs against a fake engine of the
// candidate's lock, and the gate job against a baseline file of another
// lock. The platforms' actions cannot run here: the test substitutes the
// matrix value, copies the shard files as upload-artifact and
// download-artifact would, and puts the evalpin it builds first on PATH in
// place of `go install …@latest`.
func TestShardsCIDoc(t *testing.T) {
	a := runQuiet(t)
	ctx := context.Background()
	doc, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	var workflow string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		if strings.Contains(m[1], "--shard") {
			workflow = m[1]
		}
	}
	shardJob, gateJob, ok := strings.Cut(workflow, "\n  gate:\n")
	matrix := regexp.MustCompile(`shard: \[([0-9, ]+)\]`).FindStringSubmatch(shardJob)
	const upload, download = "path: shard-${{ matrix.shard }}.jsonl", "path: shards/"
	if !ok || matrix == nil || !strings.Contains(shardJob, upload) || !strings.Contains(gateJob, download) {
		t.Fatalf("docs/ci.md has no sharded workflow with a shard matrix, a shard job that uploads %q and a gate job that downloads to %q:\n%s", upload, download, workflow)
	}
	steps := func(job string) []string {
		var out []string
		for _, s := range yamlSteps(job, `(?m)^\s*- run: (.+)$`) {
			if !strings.HasPrefix(s, "go install ") { // the evalpin built below
				out = append(out, s)
			}
		}
		return out
	}

	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "evalpin"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const n = 24
	repo := t.TempDir() // what a job checks out
	for name, content := range map[string]string{"evalpin.yaml": codeBlock(t, string(doc), "yaml", 0), "ci/gate.yaml": "alpha: 0.05\n"} {
		os.MkdirAll(filepath.Join(repo, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(repo, "suites"), 0o755)
	os.MkdirAll(filepath.Join(repo, "baselines"), 0o755)
	if err := os.Rename(runSuiteFile(t, t.TempDir(), n), filepath.Join(repo, "suites", "smoke.yaml")); err != nil {
		t.Fatal(err)
	}
	// The baseline file: a run of lock A, accepted.
	baseDB := filepath.Join(t.TempDir(), "base.db")
	for _, args := range [][]string{
		{"run", "--suite", filepath.Join(repo, "suites", "smoke.yaml"), "--endpoint", newRunFake(runLockA).start(t), "--db", baseDB, "--no-progress"},
		{"baseline", "export", "1", "--db", baseDB, "-o", filepath.Join(repo, "baselines", "smoke.jsonl")},
	} {
		if code, _, stderr := a.cmd(ctx, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", args, code, stderr)
		}
	}
	candidate := newRunFake(runLockB)
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"EVALPIN_ENDPOINTS="+candidate.start(t), "EVALPIN_DB=", "EVALPIN_MODEL=", "OPENAI_BASE_URL=", "OPENAI_API_KEY=")
	checkout := func() string {
		dir := filepath.Join(t.TempDir(), "work")
		if err := os.CopyFS(dir, os.DirFS(repo)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	job := func(name, dir string, steps []string, replace *strings.Replacer) string {
		t.Helper()
		var all strings.Builder
		for _, step := range steps {
			step = replace.Replace(step)
			cmd := exec.Command("sh", "-ec", step)
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %s: %v\n%s", name, step, err, out)
			}
			all.Write(out)
		}
		return all.String()
	}

	gateDir := checkout()
	shardSteps := steps(shardJob)
	if len(shardSteps) != 2 {
		t.Fatalf("the shard job has %d steps besides go install, want run and export: %q", len(shardSteps), shardSteps)
	}
	for _, i := range strings.Split(matrix[1], ",") {
		i = strings.TrimSpace(i)
		dir := checkout()
		job("shard "+i, dir, shardSteps, strings.NewReplacer("${{ matrix.shard }}", i))
		file := "shard-" + i + ".jsonl"
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("shard %s uploads %s: %v", i, file, err)
		}
		os.MkdirAll(filepath.Join(gateDir, "shards"), 0o755)
		if err := os.WriteFile(filepath.Join(gateDir, "shards", file), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range runCaseIDs(n) {
		if got := candidate.requests(id); got != 1 {
			t.Errorf("case %s was requested %d times over the shard jobs, want once", id, got)
		}
	}
	out := job("gate", gateDir, steps(gateJob), strings.NewReplacer())
	if !strings.Contains(out, "PASS") || !strings.Contains(out, "imported 3 shards") {
		t.Errorf("the gate job did not import the shards and pass:\n%s", out)
	}
	for _, report := range []string{"reports/gate.md", "reports/junit.xml", "reports/gate.html"} {
		if _, err := os.Stat(filepath.Join(gateDir, report)); err != nil {
			t.Errorf("gate job: %v", err)
		}
	}
}

// A shard that is not I/N, and an import of no file, are usage errors.
func TestShardUsage(t *testing.T) {
	a := runQuiet(t)
	ctx := context.Background()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--suite", "x.yaml", "--endpoint", "http://127.0.0.1:1/v1", "--shard", "4/3"}, `shard "4/3": a shard is i/n, a whole number i from 1 to n`},
		{[]string{"run", "--suite", "x.yaml", "--endpoint", "http://127.0.0.1:1/v1", "--shard", "2"}, `shard "2": a shard is i/n`},
		{[]string{"baseline", "import"}, "baseline import: want one or more arguments, FILE..., got 0"},
	}
	for _, tt := range tests {
		code, stdout, stderr := a.cmd(ctx, tt.args...)
		if code != fault.ExitInput || stdout != "" || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tt.args, code, fault.ExitInput, tt.want, stderr)
		}
	}
}
