package lock

import (
	"reflect"
	"strings"
	"testing"
)

// TestCacheEncoding checks that a cache file's body reads back as the entries
// written, whatever their paths hold, and that a malformed line makes the
// whole body unreadable (the cache is then ignored and rebuilt).
func TestCacheEncoding(t *testing.T) {
	sum := strings.Repeat("0f", 32)
	entries := map[string]cacheEntry{
		"/m/model.safetensors":    {Dev: 2049, Ino: 1 << 40, Size: 1 << 33, Mtime: 1_700_000_000_123_456_789, Ctime: 1_700_000_001_000_000_000, SHA256: sum},
		"/m/with space\nand\"q\\": {Dev: 1, Ino: 2, Size: 0, Mtime: -5, SHA256: sum},
		"/m/モデル 🙂":                {SHA256: sum},
		"/m/bad\xffutf8\x00":      {Dev: 3, SHA256: sum},
		"/m/tokenizer_config.json": {Dev: 1, Ino: 3, Size: 99, Mtime: 7, Ctime: 8, SHA256: sum, Analysis: &analysis{
			Parts: []part{{Suffix: "#chat_template", Role: RoleTemplate, Size: 27, SHA256: sum}}, Rest: sum,
			V2: &analysisV2{Parts: []part{{Suffix: "#q", Role: RoleWeights, Size: 1, SHA256: sum, Values: map[string]any{"type": "Q4_K_M", "n": 2.0}}}}}},
	}
	body, err := encodeCache(entries)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeCache(body)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, body)
	}
	if !reflect.DeepEqual(got, entries) {
		t.Errorf("round trip:\ngot  %+v\nwant %+v", got, entries)
	}
	if again, _ := encodeCache(got); string(again) != string(body) {
		t.Errorf("encoding is not deterministic:\n%s\n%s", body, again)
	}
	line := strings.SplitN(string(body), "\n", 2)[0]
	fields := strings.SplitN(line, " ", 3) // the hash, the device, the rest
	for name, bad := range map[string]string{
		"short hash":          line[1:],
		"upper-case hash":     strings.ToUpper(line[:64]) + line[64:],
		"missing field":       strings.Join(strings.Fields(line)[:5], " "),
		"unquoted path":       strings.Replace(line, `"`, "", 2),
		"not a number":        fields[0] + " x " + fields[2],
		"junk after the path": line + "x",
		"bad analysis":        line + " {",
	} {
		if e, err := decodeCache([]byte(bad + "\n")); err == nil {
			t.Errorf("%s: %q decoded as %+v, want an error", name, bad, e)
		}
	}
}
