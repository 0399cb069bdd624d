package outfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/secret"
)

// TestWrite holds -o to its promise: the file is replaced whole or not
// at all, no temporary file is left behind, and secrets are redacted.
func TestWrite(t *testing.T) {
	const key = "sk-output-test-0123456789abcdef"
	secret.Register(key)
	failed := errors.New("renderer failed")
	tests := []struct {
		name    string
		path    string // under the test's directory; "" for stdout
		write   string
		err     error
		want    string // the file's content after
		kind    fault.Kind
		wantErr string
	}{
		{"stdout", "", "report\n", nil, "", 0, ""},
		{"new file", "out.json", "report\n", nil, "report\n", 0, ""},
		{"replaces", "old.json", "new\n", nil, "new\n", 0, ""},
		{"a failed write keeps the old file", "old.json", "half", failed, "old\n", fault.Internal, "renderer failed"},
		{"secrets redacted", "s.txt", "key " + key + "\n", nil, "key ", 0, ""},
		{"missing directory", "no/such/dir/out.json", "x", nil, "", fault.Input, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "old.json"), []byte("old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout strings.Builder
			path := ""
			if tt.path != "" {
				path = filepath.Join(dir, tt.path)
			}
			err := Write(path, &stdout, func(w io.Writer) error {
				io.WriteString(w, tt.write)
				return tt.err
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || fault.KindOf(err) != tt.kind {
					t.Fatalf("err = %v (kind %v), want %q of kind %v", err, fault.KindOf(err), tt.wantErr, tt.kind)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if path == "" {
				if stdout.String() != tt.write {
					t.Fatalf("stdout = %q", stdout.String())
				}
				return
			}
			if tt.want != "" {
				got, err := os.ReadFile(path)
				if err != nil || !strings.HasPrefix(string(got), tt.want) || strings.Contains(string(got), key) {
					t.Fatalf("file = %q, %v; want it to start %q, without the key", got, err, tt.want)
				}
				if fi, _ := os.Stat(path); fi.Mode().Perm()&0o444 != 0o444 {
					t.Errorf("mode %v: the report is not readable by others", fi.Mode())
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

// WriteMakingDir makes the missing directories of the path first.
func TestWriteMakingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reports", "ci", "gate.md")
	if err := WriteMakingDir(path, nil, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "x" {
		t.Fatalf("%q, %v", data, err)
	}
}
