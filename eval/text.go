package eval

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable makes untrusted text (a model's output, a file name from a
// manifest, a value an endpoint sent) safe to print on one line of a terminal:
// control characters (the ESC of terminal escape sequences included), line
// breaks and tabs, C1 controls, bidirectional controls that could reorder what
// the reader sees, line and paragraph separators, and invalid UTF-8 become
// visible Go-style escapes such as \x1b, \n or \u202e. Text without such
// characters is returned unchanged.
func Printable(s string) string { return escape(s, false) }

// PrintableBlock is Printable for text shown in full over several lines: it
// keeps line breaks and tabs.
func PrintableBlock(s string) string { return escape(s, true) }

func escape(s string, keepLines bool) string {
	if strings.IndexFunc(s, func(r rune) bool { return !safeRune(r) }) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepLines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && !safeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case !safeRune(r) && r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		case !safeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// SafeRune reports whether r may be printed as it is; Printable escapes the
// others.
func SafeRune(r rune) bool { return safeRune(r) }

// safeRune reports whether r may be printed as it is: a graphic character
// (letters, marks, numbers, punctuation, symbols, spaces) that is not an
// invisible format character, such as a bidirectional override; the zero-width
// joiner of emoji sequences is kept.
func safeRune(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7f:
		return false
	case r < 0x7f:
		return true
	case r == 0x200d:
		return true
	}
	return unicode.IsGraphic(r) && !unicode.Is(unicode.Cf, r)
}
