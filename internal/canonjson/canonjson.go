// Package canonjson writes JSON strings in their canonical form (RFC 8785,
// the JSON Canonicalization Scheme): the one writer behind the content
// hashes of suites and the ids of lock manifests, which must never drift
// apart from encoding/json's reading of the same text.
package canonjson

// AppendString appends s, which must be valid UTF-8, to b as a canonical
// JSON string: quotes and backslashes escaped, \b \f \n \r \t for those
// controls, \u00xx (lower-case hex) for the other controls below 0x20, and
// every other byte as it is. Callers replace or refuse invalid UTF-8 first.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
