package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/credentials"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/project"
)

// evalpin.yaml, found upward from the working directory, gives every
// command its defaults, below the command line and EVALPIN_* and above
// OPENAI_BASE_URL (docs/project.md).
func TestProjectFile(t *testing.T) {
	runQuiet(t)
	root := t.TempDir()
	ep := newRunFake(runLockA).start(t)
	suite := runSuiteFile(t, root, 3)
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, "evalpin.yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("endpoints: [" + ep + "]\nsuite: " + filepath.Base(suite) + "\nsamples: 2\ndb: history.db\n")
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	t.Setenv(credentials.EnvBaseURL, "http://127.0.0.1:1/v1") // below the file: never asked

	a, _ := testApp()
	ctx := context.Background()
	code, _, stderr := a.cmd(ctx, "run")
	if code != 0 || !strings.Contains(stderr, "run 1: 3 cases × 2 samples") {
		t.Fatalf("run from a subdirectory: exit %d:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "history.db")); err != nil {
		t.Fatalf("the project's database, relative to the file: %v", err)
	}

	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{"the file's database", nil, []string{"runs"}, 0, "│ 1   │"},
		{"EVALPIN_DB over the file", map[string]string{"EVALPIN_DB": filepath.Join(root, "none.db")}, []string{"runs"}, fault.ExitInput, "no database at " + filepath.Join(root, "none.db")},
		{"the flag over EVALPIN_DB", map[string]string{"EVALPIN_DB": filepath.Join(root, "none.db")}, []string{"runs", "--db", filepath.Join(root, "history.db")}, 0, "│ 1   │"},
		{"EVALPIN_SAMPLES over the file", map[string]string{"EVALPIN_SAMPLES": "1"}, []string{"run"}, 0, "run 2: 3 cases × 1 sample"},
		{"a bad value names its source", map[string]string{"EVALPIN_SAMPLES": "x"}, []string{"run"}, fault.ExitInput, `run: --samples ($EVALPIN_SAMPLES) "x" is not a whole number`},
		{"EVALPIN_PROJECT=none", map[string]string{"EVALPIN_PROJECT": "none"}, []string{"run"}, fault.ExitInput, "run: no suite given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			a, _ := testApp()
			code, stdout, stderr := a.cmd(ctx, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.out) {
				t.Fatalf("evalpin %s: exit %d\n%s%s\nwant exit %d and %q", strings.Join(tt.args, " "), code, stdout, stderr, tt.code, tt.out)
			}
		})
	}

	write("sutie: x\n")
	code, _, stderr = a.cmd(ctx, "runs")
	if code != fault.ExitInput || !strings.Contains(stderr, "evalpin.yaml: line 1: field sutie is not a setting") {
		t.Fatalf("a broken project file: exit %d:\n%s", code, stderr)
	}
}

// init writes a commented evalpin.yaml with what a probe of the endpoint
// found, refuses to overwrite one without --force, and writes the file even
// when the endpoint cannot be probed.
func TestInit(t *testing.T) {
	runQuiet(t)
	t.Chdir(t.TempDir())
	ep := newRunFake(runLockA).start(t)
	ctx := context.Background()
	a, _ := testApp()
	code, _, stderr := a.cmd(ctx, "init", "--endpoint", ep, "--suite", "testbed")
	if code != 0 || !strings.Contains(stderr, "serves lock "+runLockA) {
		t.Fatalf("init: exit %d:\n%s", code, stderr)
	}
	f, err := project.Load("evalpin.yaml")
	if err != nil || len(f.Endpoints) != 1 || f.Endpoints[0] != ep || f.Model == "" || f.Suite != "testbed" {
		t.Fatalf("init wrote %+v, %v", f, err)
	}
	if code, _, stderr = a.cmd(ctx, "init"); code != fault.ExitInput || !strings.Contains(stderr, "init: evalpin.yaml exists") {
		t.Fatalf("init over a file: exit %d:\n%s", code, stderr)
	}
	code, _, stderr = a.cmd(ctx, "init", "--force", "--endpoint", "http://127.0.0.1:1/v1")
	if code != 0 || !strings.Contains(stderr, "warning:") {
		t.Fatalf("init with an endpoint that is down: exit %d:\n%s", code, stderr)
	}
	if f, err := project.Load("evalpin.yaml"); err != nil || f.Model != "" || f.Endpoints[0] != "http://127.0.0.1:1/v1" {
		t.Fatalf("init --force wrote %+v, %v", f, err)
	}
}
