package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/testbed"
)

func TestRunErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-ollama", ""}, "-ollama is required"},
		{[]string{"-ollama", "/x", "-runs", "0"}, "-runs must be at least 1"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) error = %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestRunMeasures runs the real sequence when the test bed is built.
func TestRunMeasures(t *testing.T) {
	bin := testbed.Binary(t)
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-ollama", bin}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	steps := []string{"generate", "start", "create", "first completion", "warm completion"}
	if len(lines) != len(steps) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(steps), stdout.String())
	}
	for i, step := range steps {
		if f := strings.Split(lines[i], "\t"); len(f) != 3 || f[1] != step || !strings.HasSuffix(f[2], "s") {
			t.Errorf("line %d = %q, want run 1<TAB>%s<TAB>seconds", i, lines[i], step)
		}
	}
}
