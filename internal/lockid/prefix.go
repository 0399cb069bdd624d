package lockid

import (
	"regexp"
	"strings"
	"sync"
)

// MinPrefix is the fewest hex digits a lock id is abbreviated to, and the
// fewest a bare hex prefix must have to name a lock: six digits tell apart
// the locks of any history a person reads, and no run id of fewer digits is
// taken for a lock.
const MinPrefix = 6

// prefixPattern is a lock id prefix as a user types it: hex digits, after
// the id's kind or not ("e80e61", "sha256:e80e61", "ollama:sha256:e80e").
var prefixPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:(?:[a-z0-9][a-z0-9-]*:)*sha256:)?[0-9a-f]+$`)
})

// IsPrefix reports whether s is written like a prefix of a lock id: hex
// digits, at least MinPrefix of them unless the id's kind is written too.
func IsPrefix(s string) bool {
	if !prefixPattern().MatchString(s) {
		return false
	}
	return strings.Contains(s, ":") || len(s) >= MinPrefix
}

// HasPrefix reports whether id is named by prefix: a prefix of the whole id,
// or of its hex digits.
func (id ID) HasPrefix(prefix string) bool {
	if prefix == "" {
		return false
	}
	return strings.HasPrefix(string(id), prefix) || strings.HasPrefix(id.Hex(), prefix)
}

// Abbrev returns, for each of ids, the shortest prefix of its hex digits, at
// least MinPrefix long, that no other of ids shares: what a listing prints
// and a command reads back.
func Abbrev(ids []ID) map[ID]string {
	out := make(map[ID]string, len(ids))
	for _, id := range ids {
		hex := id.Hex()
		n := min(MinPrefix, len(hex))
		for _, other := range ids {
			if other == id {
				continue
			}
			o := other.Hex()
			common := 0
			for common < len(hex) && common < len(o) && hex[common] == o[common] {
				common++
			}
			n = max(n, min(common+1, len(hex)))
		}
		out[id] = hex[:n]
	}
	return out
}
