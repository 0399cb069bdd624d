package suites

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseYAML and FuzzParseJSONL check that Parse never panics, and that
// a suite it accepts is one it would accept again identically: unique,
// non-empty case ids, and each case's hash equal to the one encoding/json
// computes from the parsed case (referenceCaseHash).
func FuzzParseYAML(f *testing.F) { fuzzParse(f, ".yaml") }

func FuzzParseJSONL(f *testing.F) { fuzzParse(f, ".jsonl") }

func fuzzParse(f *testing.F, ext string) {
	for _, glob := range []string{"testdata/good/*", "testdata/bad/*", "examples/*"} {
		files, _ := filepath.Glob(glob + ext)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz"+ext, data)
		if err != nil {
			return
		}
		ids := map[string]bool{}
		for i := range s.Cases {
			c := &s.Cases[i]
			if c.ID == "" || ids[c.ID] {
				t.Fatalf("case %d: id %q empty or repeated", i, c.ID)
			}
			ids[c.ID] = true
			if got, want := c.Hash, referenceCaseHash(t, c, s.Settings); got != want {
				t.Fatalf("case %q: hash %s, want %s (the reference)", c.ID, got, want)
			}
		}
		again, err := Parse("fuzz"+ext, data)
		if err != nil || again.Hash != s.Hash {
			t.Fatalf("parsed again: %v, hash %v, want %s", err, again, s.Hash)
		}
	})
}
