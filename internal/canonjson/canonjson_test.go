package canonjson

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// TestAppendStringReads holds AppendString to its two duties: encoding/json
// reads every string back unchanged, and the form is RFC 8785's (its
// escapes, nothing else escaped).
func TestAppendStringReads(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`q"b\s`, `"q\"b\\s"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"\x7f <>& \u2028 日本 😀", "\"\x7f <>& \u2028 日本 😀\""},
	} {
		got := string(AppendString([]byte("x"), tc.in))
		if got != "x"+tc.want {
			t.Errorf("AppendString(%q) = %s, want %s", tc.in, got[1:], tc.want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\x00\n\u2028😀")
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil || back != s {
			t.Fatalf("%q: read back %q, %v", s, back, err)
		}
	})
}
