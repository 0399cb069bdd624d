package suites

import (
	"os"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
)

// Open reads a file where one exists or the argument is a path, and a
// bundled suite otherwise: a file named like a bundled suite wins.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	own := "name: mine\nversion: \"1\"\ncases:\n  - id: a\n    messages: [{role: user, content: hi}]\n    scorers: [{kind: number, value: 1}]\n"
	if err := os.WriteFile("testbed.yaml", []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg, name, err string
	}{
		{"testbed.yaml", "mine", ""},     // the file in the working directory wins
		{"arithmetic", "arithmetic", ""}, // bundled
		{"arithmetic.yaml", "arithmetic", ""},
		{"./arithmetic", "", "arithmetic"}, // a path: never the bundled suite
		{"nonesuch", "", "suite nonesuch: no such file, and no bundled suite of that name"},
	}
	for _, tt := range tests {
		s, err := Open(tt.arg)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || fault.KindOf(err) != fault.Input {
				t.Errorf("Open(%q) = %v, want an input error with %q", tt.arg, err, tt.err)
			}
			continue
		}
		if err != nil || s.Name != tt.name {
			if s != nil {
				t.Errorf("Open(%q) = suite %q", tt.arg, s.Name)
			}
			t.Errorf("Open(%q): err %v; want suite %q", tt.arg, err, tt.name)
		}
	}
}
