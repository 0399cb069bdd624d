package lockid

import (
	"strings"
	"testing"
)

func TestIsPrefix(t *testing.T) {
	for s, want := range map[string]bool{
		"e80e61":               true,
		"e80e6":                false, // too short to be told from a run id
		"123456":               true,
		"12":                   false,
		"sha256:e8":            true,
		"ollama:sha256:e80e":   true,
		"E80E61":               false,
		"e80e61x":              false,
		"latest":               false,
		"sha256:":              false,
		"vllm-x:sha256:abcdef": true,
	} {
		if got := IsPrefix(s); got != want {
			t.Errorf("IsPrefix(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestHasPrefix(t *testing.T) {
	id := ID("ollama:sha256:e80e61" + strings.Repeat("0", 58))
	for prefix, want := range map[string]bool{
		"e80e61":             true,
		"ollama:sha256:e80e": true,
		"ollama:":            true,
		"sha256:e80e61":      false, // the kind written is another one
		"e80e62":             false,
		"":                   false,
	} {
		if got := id.HasPrefix(prefix); got != want {
			t.Errorf("HasPrefix(%q) = %v, want %v", prefix, got, want)
		}
	}
}

func TestAbbrev(t *testing.T) {
	hex := func(p string) string { return p + strings.Repeat("0", 64-len(p)) }
	a := ID("sha256:" + hex("e80e61aa"))
	b := ID("sha256:" + hex("e80e61ab"))
	c := ID("ollama:sha256:" + hex("1234"))
	d := ID("sha256:" + hex("ffff"))
	got := Abbrev([]ID{a, b, c, d})
	want := map[ID]string{a: "e80e61aa", b: "e80e61ab", c: "123400", d: "ffff00"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("Abbrev(%s) = %q, want %q", id, got[id], w)
		}
	}
	for id, p := range got {
		n := 0
		for other := range got {
			if other.HasPrefix(p) {
				n++
			}
		}
		if n != 1 || !id.HasPrefix(p) {
			t.Errorf("%q names %d locks", p, n)
		}
	}
}
