package compare

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// jaccard computes the token Jaccard similarity of two outputs: the number of
// distinct whitespace-separated tokens they share over the number of distinct
// tokens in either, 1 for two empty outputs. Tokens are compared by a 64-bit
// FNV-1a hash, so a comparison costs one pass over each output and a sort of
// its token hashes, and reuses its buffers. It is not safe for concurrent use.
//
// Token Jaccard was chosen over an edit-distance ratio because it is linear in
// the outputs' length (an edit distance is quadratic, too slow for 100,000
// long outputs), and because it measures what a reader notices: words that
// appear or disappear, not their exact positions.
type jaccard struct {
	a, b []uint64
}

// similarity returns the token Jaccard similarity of x and y, in [0, 1].
func (j *jaccard) similarity(x, y string) float64 {
	if x == y {
		return 1
	}
	j.a = tokenHashes(j.a[:0], x)
	j.b = tokenHashes(j.b[:0], y)
	a, b := j.a, j.b
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	inter := 0
	for i, k := 0, 0; i < len(a) && k < len(b); {
		switch {
		case a[i] == b[k]:
			inter++
			i++
			k++
		case a[i] < b[k]:
			i++
		default:
			k++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// tokenHashes appends the sorted, distinct FNV-1a hashes of s's
// whitespace-separated tokens to dst.
func tokenHashes(dst []uint64, s string) []uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h, in := uint64(offset), false
	for i := 0; i < len(s); {
		c := s[i]
		var space bool
		n := 1
		if c < utf8.RuneSelf {
			space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
		} else {
			var r rune
			r, n = utf8.DecodeRuneInString(s[i:])
			space = unicode.IsSpace(r)
		}
		if space {
			if in {
				dst = append(dst, h)
				h, in = offset, false
			}
		} else {
			for k := 0; k < n; k++ {
				h = (h ^ uint64(s[i+k])) * prime
			}
			in = true
		}
		i += n
	}
	if in {
		dst = append(dst, h)
	}
	slices.Sort(dst)
	return slices.Compact(dst)
}

// rowSimilarity returns the similarity of the outputs of row a of x and row
// b of y: 1 when their hashes are equal, else that of their texts, read
// into tx and ty.
func (j *jaccard) rowSimilarity(a, b int32, x, y *Results, tx, ty *sideTexts) float64 {
	if x.rows[a].output == y.rows[b].output {
		return 1
	}
	return j.similarity(tx.text(a), ty.text(b))
}
