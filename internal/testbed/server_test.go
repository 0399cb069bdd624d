package testbed

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestOllamaWithoutBinary runs TestServerStop in a child test process with
// EVALPIN_OLLAMA unset: it must skip, or fail when EVALPIN_REQUIRE_TESTBED=1,
// so CI cannot pass by silently skipping the engine.
func TestOllamaWithoutBinary(t *testing.T) {
	tests := []struct {
		require  string
		wantFail bool
		wantOut  string
	}{
		{"", false, "SKIP"},
		{"1", true, "FAIL"},
	}
	for _, tt := range tests {
		cmd := exec.Command(os.Args[0], "-test.run=^TestServerStop$", "-test.v")
		cmd.Env = append(os.Environ(), EnvOllama+"=", EnvRequire+"="+tt.require)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tt.wantFail {
			t.Errorf("%s=%q: failed = %v, want %v\n%s", EnvRequire, tt.require, failed, tt.wantFail, out)
		}
		if !strings.Contains(string(out), tt.wantOut) || !strings.Contains(string(out), "make test") {
			t.Errorf("%s=%q: output lacks %q and the make test hint:\n%s", EnvRequire, tt.require, tt.wantOut, out)
		}
	}
}

func TestStartErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		name string
		bin  string
		want string
	}{
		{"missing binary", "/nonexistent/ollama", "no such file"},
		{"exits at once", "/bin/false", "exited before it was ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.bin); err != nil && tt.bin == "/bin/false" {
				t.Skip("no /bin/false here")
			}
			_, err := Start(ctx, tt.bin, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start(%s) error = %v, want %q", tt.bin, err, tt.want)
			}
		})
	}
}
