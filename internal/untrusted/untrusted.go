// Package untrusted makes text evalpin did not write — a model's output, a
// server's message, a value from a manifest — safe to show: one policy for the
// characters that could deceive a reader (control codes, terminal escapes,
// bidirectional overrides, invalid UTF-8), one way to shorten such text, and
// one JSON encoding that applies the policy inside strings. Each format's own
// escaping (Markdown, HTML, XML) is applied on top by its renderer.
//
// It is a leaf: it imports only the standard library.
package untrusted

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Line makes untrusted text (a model's output, a file name from a
// manifest, a value an endpoint sent) safe to print on one line of a terminal:
// control characters (the ESC of terminal escape sequences included), line
// breaks and tabs, C1 controls, bidirectional controls that could reorder what
// the reader sees, line and paragraph separators, and invalid UTF-8 become
// visible Go-style escapes such as \x1b, \n or \u202e. Text without such
// characters is returned unchanged.
func Line(s string) string { return escape(s, false) }

// Block is Line for text shown in full over several lines: it
// keeps line breaks and tabs.
func Block(s string) string { return escape(s, true) }

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

// Cut shortens s to at most n runes, the last of them "…" when it was cut,
// and replaces invalid UTF-8 with U+FFFD. n < 1 is taken as 1.
func Cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	n = max(n, 1)
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	i, k := 0, 0
	for k < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		k++
	}
	return s[:i] + "…"
}

// Clip is Line of Cut: s shortened to at most n runes and made safe to show
// on one line, as messages quote what a server sent.
func Clip(s string, n int) string { return Line(Cut(s, n)) }

// WriteJSON writes v as JSON and a newline, indented by two spaces when
// indent is set, as MarshalIndent encodes it.
func WriteJSON(w io.Writer, v any, indent bool) error {
	step := ""
	if indent {
		step = "  "
	}
	data, err := MarshalIndent(v, "", step)
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// MarshalIndent is json.MarshalIndent under evalpin's one policy for
// untrusted text in JSON: besides what encoding/json escapes in strings
// (control characters, U+2028 and U+2029), every character Line would escape
// (bidirectional and C1 controls, format characters) is written as a \u
// escape, so that JSON printed to a terminal shows untrusted text as it is;
// and, as encoding/json does by default, <, > and & are escaped too, so that
// the JSON is safe inside HTML. With indent "" the output is compact.
func MarshalIndent(v any, prefix, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if prefix != "" || indent != "" {
		enc.SetIndent(prefix, indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return EscapeJSON(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// EscapeJSON returns the JSON text data with every character Line would
// escape written as a \u escape. Outside strings JSON is ASCII, so every such
// character is inside one; one beyond the BMP is written as its UTF-16
// surrogate pair. data is returned as it is when it has none.
func EscapeJSON(data []byte) []byte {
	clean := true
	for _, r := range string(data) {
		if r >= 0x80 && !safeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return data
	}
	var b bytes.Buffer
	b.Grow(len(data) + 16)
	for _, r := range string(data) {
		if r < 0x80 || safeRune(r) {
			b.WriteRune(r)
			continue
		}
		if r1, r2 := utf16.EncodeRune(r); r1 != unicode.ReplacementChar {
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.Bytes()
}
