package eval_test

import (
	"testing"

	"github.com/evalpin/evalpin/eval"
)

func TestPrintable(t *testing.T) {
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
		if got := eval.Printable(tt.in); got != tt.line {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.line)
		}
		if got := eval.PrintableBlock(tt.in); got != tt.block {
			t.Errorf("PrintableBlock(%q) = %q, want %q", tt.in, got, tt.block)
		}
	}
}

func BenchmarkPrintable(b *testing.B) {
	clean := "The quick brown fox jumps over the lazy dog; the answer is 42. " // the common case
	for b.Loop() {
		eval.Printable(clean)
	}
}
