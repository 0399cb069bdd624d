package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"default", []string{"-o", filepath.Join(dir, "a")}, ""},
		{"f32 seed 2 compact", []string{"-o", filepath.Join(dir, "b"), "-seed", "2", "-dtype", "f32", "-template", "compact"}, ""},
		{"no -o", nil, "-o is required"},
		{"positional", []string{"-o", dir, "extra"}, `unexpected argument "extra"`},
		{"bad dtype", []string{"-o", filepath.Join(dir, "c"), "-dtype", "q8"}, `dtype "q8"`},
		{"bad template", []string{"-o", filepath.Join(dir, "d"), "-template", "x"}, `template "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("run(%q) error = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			path := strings.TrimSpace(stdout.String())
			if path != filepath.Join(tt.args[1], "model.gguf") {
				t.Fatalf("stdout = %q, want the model.gguf path", stdout.String())
			}
			for _, f := range []string{path, filepath.Join(tt.args[1], "Modelfile")} {
				if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
		})
	}
}
