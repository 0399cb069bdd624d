package untrusted

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLine(t *testing.T) {
	for _, tt := range []struct {
		in, line, block string
	}{
		{"plain text", "plain text", "plain text"},
		{"café 日本 👩‍💻", "café 日本 👩‍💻", "café 日本 👩‍💻"}, // ZWJ emoji kept
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`, `\x1b[31mred\x1b[0m`},
		{"a\nb\tc\r", `a\nb\tc\r`, "a\nb\tc\\r"},
		{"nul\x00 del\x7f", `nul\x00 del\x7f`, `nul\x00 del\x7f`},
		{"c1\u009b", `c1\u009b`, `c1\u009b`},
		{"abc\u202edcba", `abc\u202edcba`, `abc\u202edcba`}, // right-to-left override
		{"sep\u2028x", `sep\u2028x`, `sep\u2028x`},
		{"bell\a over\rwrite", `bell\x07 over\rwrite`, `bell\x07 over\rwrite`},
		{"private\U000f0000 tag\U000e0001", `private\U000f0000 tag\U000e0001`, `private\U000f0000 tag\U000e0001`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`, `bad\xff\xfeutf8`},
		{"soft\u00adhyphen", `soft\u00adhyphen`, `soft\u00adhyphen`}, // invisible format character
		{"\ufffd is a real replacement char", "\ufffd is a real replacement char", "\ufffd is a real replacement char"},
		{"", "", ""},
	} {
		if got := Line(tt.in); got != tt.line {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.line)
		}
		if got := Block(tt.in); got != tt.block {
			t.Errorf("Block(%q) = %q, want %q", tt.in, got, tt.block)
		}
	}
}

func BenchmarkLine(b *testing.B) {
	clean := "The quick brown fox jumps over the lazy dog; the answer is 42. " // the common case
	for b.Loop() {
		Line(clean)
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven chars", 10, "eleven ch…"},
		{"日本語のテキスト", 4, "日本語…"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"abc", 0, "…"},
	}
	for _, tt := range tests {
		if got := Cut(tt.in, tt.n); got != tt.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// WriteJSON escapes what Line would, inside strings, and stays valid JSON
// that decodes to the same value.
func TestWriteJSON(t *testing.T) {
	in := map[string]string{"output": "abc\u202edcba <b>&\u0085 👩\u200d💻 \U000e0001", "plain": "x"}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, in, true); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, bad := range []string{"\u202e", "\u0085", "\U000e0001"} {
		if strings.Contains(got, bad) {
			t.Errorf("JSON %q carries %q raw", got, bad)
		}
	}
	for _, kept := range []string{`\u202e`, `\u003cb\u003e\u0026`, "👩\u200d💻", `\udb40\udc01`} {
		if !strings.Contains(got, kept) {
			t.Errorf("JSON %q lacks %q", got, kept)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back["output"] != in["output"] {
		t.Fatalf("round trip: %q, %v", back["output"], err)
	}
}
