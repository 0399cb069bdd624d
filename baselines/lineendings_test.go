package baselines

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A file whose line endings were converted, or that was given a byte order
// mark, is refused on line 1 with the cause, not on the checksum line.
func TestDecodeRefusesCRLFAndBOM(t *testing.T) {
	good := encode(t, sampleBaseline())
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"CRLF", bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), `b.jsonl:1: the line ends in CRLF`},
		{"CRLF on the first line only", bytes.Replace(good, []byte("\n"), []byte("\r\n"), 1), `b.jsonl:1: the line ends in CRLF`},
		{"BOM", append([]byte("\ufeff"), good...), "b.jsonl:1: the file starts with a byte order mark"},
	} {
		_, err := Decode(bytes.NewReader(tt.data), "b.jsonl")
		if pe := (*ParseError)(nil); err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &pe) || pe.Line != 1 {
			t.Errorf("%s: %v, want a *ParseError on line 1 with %q", tt.name, err, tt.want)
		}
	}
}
