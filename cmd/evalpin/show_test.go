package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/untrusted"
)

func TestShowGolden(t *testing.T) {
	t.Setenv(dbEnv, "")
	db := mustHistoryDB(t)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"show-run", []string{"show", "--db", db, "1"}},
		{"show-run-json", []string{"show", "--db", db, "--format", "json", "1"}},
		{"show-run-flags-after", []string{"show", "1", "--db", db, "--width", "20"}},
		{"show-run-empty", []string{"show", "--db", db, "3"}},
		{"show-case-chat", []string{"show", "--db", db, "1", "capital"}},
		{"show-case-escapes", []string{"show", "--db", db, "1", "colour"}},
		{"show-case-error", []string{"show", "--db", db, "1", "timeout"}},
		{"show-case-multiline", []string{"show", "--db", db, "1", "essay"}},
		{"show-case-json", []string{"show", "--db", db, "--format", "json", "1", "colour"}},
		{"show-case-no-suite", []string{"show", "--db", db, "2", "capital"}},
		{"show-missing-run", []string{"show", "--db", db, "99"}},
		{"show-missing-case", []string{"show", "--db", db, "1", "nope"}},
		{"show-bad-id", []string{"show", "--db", db, "latest"}},
		{"show-no-args", []string{"show", "--db", db}},
		{"show-bad-width", []string{"show", "--db", db, "--width", "3", "1"}},
		{"show-help", []string{"help", "show"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, historyReplace(db), tt.args...)
		})
	}
}

// TestShow_NoTerminalEscapes checks that no model output reaches the terminal
// raw: the fixture's outputs hold "\x1b[31m", a right-to-left override and
// tabs, and no table or case view may print a control byte other than a
// newline, or the override.
func TestShow_NoTerminalEscapes(t *testing.T) {
	db := mustHistoryDB(t)
	for _, args := range [][]string{
		{"show", "--db", db, "1"},
		{"show", "--db", db, "1", "colour"},
		{"show", "--db", db, "1", "essay"},
		{"runs", "--db", db},
		{"show", "--db", db, "--format", "json", "1"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		out := stdout.String()
		for i, r := range out {
			if (r < 0x20 && r != '\n' && !(r == '\t' && len(args) == 5)) || r == 0x7f || r == '\u202e' {
				t.Fatalf("%v: raw %U at byte %d:\n%s", args, r, i, out)
			}
		}
		if len(args) == 5 && args[4] == "colour" && !strings.Contains(out, `\x1b[31mred\x1b[0m\u202e!dlrow`) {
			t.Errorf("%v: the escaped output is missing:\n%s", args, out)
		}
	}
}

func TestHistTruncateAndShortLock(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly ten", 11, "exactly ten"},
		{"日本語のテキストです", 5, "日本語の…"},
		{"abcdefghijkl", 10, "abcdefghi…"},
	} {
		if got := untrusted.Cut(tt.in, tt.n); got != tt.want {
			t.Errorf("untrusted.Cut(%q, %d)=%q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
