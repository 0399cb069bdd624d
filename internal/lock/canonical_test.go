package lock

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// sameCanonical checks that Canonical, which writes the files directly, gives
// the bytes of canonicalSlow, which canonicalizes encoding/json's output with
// jcs.Transform as every lock id was computed before.
func sameCanonical(t *testing.T, m *Manifest) {
	t.Helper()
	fast, err := m.Canonical()
	if err != nil {
		t.Fatalf("Canonical: %v", err)
	}
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	sorted := append([]File(nil), m.Files...)
	slices.SortFunc(sorted, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	slow, err := m.canonicalSlow(sorted)
	if err != nil {
		t.Fatalf("canonicalSlow: %v", err)
	}
	if !bytes.Equal(fast, slow) {
		t.Fatalf("Canonical differs from the jcs reference:\nfast %s\nslow %s", fast, slow)
	}
}

// TestCanonicalDirect checks the direct writing of files against the jcs
// reference on the shapes that differ in JSON: escapes and control
// characters in paths, non-ASCII text, sizes up to 2^53 and beyond, values of
// every JSON kind, both versions, and random manifests.
func TestCanonicalDirect(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	file := func(path string, size int64) File {
		return File{Path: path, Size: size, SHA256: sum, Role: RoleWeights}
	}
	for _, tc := range []struct {
		name  string
		files []File
		v     int
	}{
		{"plain", []File{file("model.safetensors", 12), file("config.json", 3)}, 2},
		{"version 1", []File{file("a.bin", 1), {Path: "b.bin", Size: 2, SHA256: sum, Role: RoleOther}}, 1},
		{"escapes", []File{file("q\"uote", 1), file("tab\tnl\ncr\rbs\bff\f", 2), file("ctl\x01\x1f\x7f", 3)}, 2},
		{"non-ASCII", []File{file("モデル/重み.bin", 1), file("line\u2028sep\u2029", 2), file("<html>&amp;", 3), file("emoji 🙂", 4)}, 2},
		{"no files", nil, 2},
		{"sizes", []File{file("zero", 0), file("2^53", 1<<53), file("2^53+1", 1<<53+1), file("max", 1<<62)}, 2},
		{"invalid UTF-8", []File{file("bad\xffname", 1)}, 2},
		{"rest and values", []File{{
			Path: "config.json", Size: 9, SHA256: sum, Role: RoleConfig, RestSHA256: strings.Repeat("cd", 32),
			Values: map[string]any{"torch_dtype": "bfloat16", "n": 1e21, "f": 0.1, "neg": -3.0, "b": true, "null": nil,
				"list": []any{1.5, "x", map[string]any{"z": 1.0, "a": "\u00e9"}}, "é": "key order by UTF-16", "\U0001F600": 2.0},
		}}, 2},
		{"rest without values", []File{{Path: "tokenizer_config.json", Size: 9, SHA256: sum, Role: RoleTokenizer, RestSHA256: sum}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := vectorManifest()
			m.Version, m.Files = tc.v, tc.files
			sameCanonical(t, m)
		})
	}
	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		alphabet := []string{"a", "/", "\"", "\t", "\n", "\x00", "é", "\u2028", "🙂", "<", ".", "-"}
		for i := range 200 {
			m := vectorManifestV2()
			m.Files = nil
			seen := map[string]bool{}
			for range rng.IntN(20) {
				var sb strings.Builder
				for range 1 + rng.IntN(12) {
					sb.WriteString(alphabet[rng.IntN(len(alphabet))])
				}
				p := "d/" + strings.Trim(strings.ReplaceAll(sb.String(), "/", "x"), ".") + "f"
				if seen[p] {
					continue
				}
				seen[p] = true
				f := File{Path: p, Size: rng.Int64N(1<<53 + 2), SHA256: sum, Role: Roles[rng.IntN(len(Roles))]}
				if rng.IntN(3) == 0 {
					f.RestSHA256 = sum
					f.Values = map[string]any{sb.String(): rng.Float64() * 1e6, "k": sb.String() + "\\"}
				}
				m.Files = append(m.Files, f)
			}
			t.Run(fmt.Sprint(i), func(t *testing.T) { sameCanonical(t, m) })
		}
	})
}
