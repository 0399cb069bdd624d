package report

import (
	"unicode"
	"unicode/utf8"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// A Chunk is a piece of a word-level diff: text equal on both sides, only in
// the baseline (deleted) or only in the candidate (inserted).
type Chunk struct {
	Op   int8 // 0 equal, −1 only in the baseline, +1 only in the candidate
	Text string
}

// WordDiff returns the word-level diff of a (baseline) and b (candidate):
// the texts are split into runs of spaces and runs of non-spaces, each
// distinct token is mapped to one rune, and the rune sequences are diffed with
// diffmatchpatch (Myers' algorithm with its semantic clean-up), so that a
// change is shown as whole words.
func WordDiff(a, b string) []Chunk {
	index := make(map[string]rune)
	var tokens []string
	encode := func(s string) ([]rune, bool) {
		var out []rune
		for _, t := range splitWords(s) {
			r, ok := index[t]
			if !ok {
				// Private-use and higher planes, never a surrogate.
				r = rune(0xE000 + len(tokens))
				if r > unicode.MaxRune {
					return nil, false
				}
				index[t] = r
				tokens = append(tokens, t)
			}
			out = append(out, r)
		}
		return out, true
	}
	ra, okA := encode(a)
	rb, okB := encode(b)
	if !okA || !okB {
		return []Chunk{{Op: -1, Text: a}, {Op: 1, Text: b}}
	}
	dmp := diffmatchpatch.New()
	diffs := dmp.DiffMainRunes(ra, rb, false)
	diffs = dmp.DiffCleanupSemantic(diffs)
	out := make([]Chunk, 0, len(diffs))
	for _, d := range diffs {
		var text []byte
		for _, r := range d.Text {
			text = append(text, tokens[r-0xE000]...)
		}
		op := int8(0)
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			op = -1
		case diffmatchpatch.DiffInsert:
			op = 1
		}
		out = append(out, Chunk{Op: op, Text: string(text)})
	}
	return out
}

// splitWords splits s into alternating runs of space and non-space
// characters; their concatenation is s (invalid UTF-8 bytes are kept as they
// are).
func splitWords(s string) []string {
	var out []string
	start := 0
	prev := -1
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		sp := 0
		if unicode.IsSpace(r) {
			sp = 1
		}
		if prev >= 0 && sp != prev {
			out = append(out, s[start:i])
			start = i
		}
		prev = sp
		i += n
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
