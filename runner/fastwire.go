package runner

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/evalpin/evalpin/eval"
)

// decodeChatFast decodes a chat completion body as json.Unmarshal does into a
// chatResponse, without reflection, for the bodies engines send: it reports
// false, and the caller decodes the body with json.Unmarshal, for any body
// it does not take exactly as json.Unmarshal would: invalid JSON, a key
// that is escaped, not ASCII or matches a field only case-insensitively, a
// field repeated, a null or a value of another type where a field's is
// expected, a number that is no plain integer. FuzzDecodeChatFast holds it
// equal to json.Unmarshal; BenchmarkDecode measures both.
func decodeChatFast(body []byte) (r chatResponse, ok bool) {
	if !json.Valid(body) {
		return r, false
	}
	d := fastDecoder{b: body}
	ok = d.fields(func(i int) bool {
		switch i {
		case 0:
			return d.str(&r.Model)
		case 1:
			return d.str(&r.SystemFingerprint)
		case 2:
			return d.usage(&r.Usage)
		}
		return d.choices(&r)
	}, "model", "system_fingerprint", "usage", "choices")
	return r, ok
}

// fieldIndex returns the index of key among names; -1 when it matches none,
// -2 when it matches one only case-insensitively, or is escaped or not
// ASCII, which json.Unmarshal could take for a field.
func fieldIndex(key []byte, names ...string) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	for _, c := range key {
		if c == '\\' || c >= utf8.RuneSelf {
			return -2
		}
	}
	for _, n := range names {
		if len(key) == len(n) && asciiEqualFold(key, n) {
			return -2
		}
	}
	return -1
}

// asciiEqualFold reports whether the ASCII key equals name but for case.
func asciiEqualFold(key []byte, name string) bool {
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		n := name[i]
		if 'A' <= n && n <= 'Z' {
			n += 'a' - 'A'
		}
		if c != n {
			return false
		}
	}
	return true
}

// A fastDecoder reads a body that json.Valid accepted.
type fastDecoder struct {
	b []byte
	i int
}

// ws skips white space and returns the next byte (0 at the end).
func (d *fastDecoder) ws() byte {
	for d.i < len(d.b) {
		switch c := d.b[d.i]; c {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return c
		}
	}
	return 0
}

// object reads an object, calling field for each key with the decoder at
// its value, which field must read; false from field stops it.
func (d *fastDecoder) object(field func(key []byte) bool) bool {
	if d.ws() != '{' {
		return false
	}
	d.i++
	if d.ws() == '}' {
		d.i++
		return true
	}
	for {
		d.ws()
		start := d.i
		d.skipString()
		key := d.b[start+1 : d.i-1]
		d.ws()
		d.i++ // ':'
		if !field(key) {
			return false
		}
		c := d.ws()
		d.i++
		if c == '}' {
			return true
		}
	}
}

// str reads a string into s; false for any other value.
func (d *fastDecoder) str(s *string) bool {
	if d.ws() != '"' {
		return false
	}
	start := d.i
	d.skipString()
	raw := d.b[start+1 : d.i-1]
	if bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
		// Escapes and invalid UTF-8 (which json.Unmarshal replaces) are
		// left to json.Unmarshal, on this string alone.
		return json.Unmarshal(d.b[start:d.i], s) == nil
	}
	*s = string(raw)
	return true
}

// integer reads a number that is a plain integer into n.
func (d *fastDecoder) integer(n *int) bool {
	d.ws()
	start := d.i
	for d.i < len(d.b) && (d.b[d.i] == '-' || '0' <= d.b[d.i] && d.b[d.i] <= '9') {
		d.i++
	}
	if d.i-start > 18 || d.i == start {
		return false // or a fraction, an exponent or another value follows: not taken
	}
	v, err := strconv.Atoi(string(d.b[start:d.i]))
	if err != nil {
		return false
	}
	switch c := d.ws(); c {
	case ',', '}', ']':
	default:
		return false
	}
	*n = v
	return true
}

// fields reads an object whose fields of interest are names (at most 4):
// read reads the value of names[i]; other keys are skipped. A key it cannot
// take as json.Unmarshal would (fieldIndex's -2) or a field repeated stops
// it, false.
func (d *fastDecoder) fields(read func(i int) bool, names ...string) bool {
	var seen [4]bool
	return d.object(func(key []byte) bool {
		i := fieldIndex(key, names...)
		switch {
		case i < 0:
			return i == -1 && d.skip()
		case seen[i]:
			return false
		}
		seen[i] = true
		return read(i)
	})
}

// usage reads the usage object.
func (d *fastDecoder) usage(u *usage) bool {
	return d.fields(func(i int) bool {
		if i == 0 {
			return d.integer(&u.PromptTokens)
		}
		return d.integer(&u.CompletionTokens)
	}, "prompt_tokens", "completion_tokens")
}

// choices reads the choices array into r.Choices.
func (d *fastDecoder) choices(r *chatResponse) bool {
	if d.ws() != '[' {
		return false
	}
	d.i++
	r.Choices = make([]chatChoice, 0, 1) // not nil, as json.Unmarshal's
	if d.ws() == ']' {
		d.i++
		return true
	}
	for {
		r.Choices = append(r.Choices, chatChoice{})
		c := &r.Choices[len(r.Choices)-1]
		ok := d.fields(func(i int) bool {
			if i == 1 {
				return d.str(&c.FinishReason)
			}
			return d.fields(func(int) bool {
				if d.ws() == 'n' { // null: no output
					d.i += len("null")
					return true
				}
				c.Message.Content = new(string)
				return d.str(c.Message.Content)
			}, "content")
		}, "message", "finish_reason")
		if !ok {
			return false
		}
		next := d.ws()
		d.i++
		if next == ']' {
			return true
		}
	}
}

// skipString moves past the string at d.i.
func (d *fastDecoder) skipString() {
	d.i++
	for d.b[d.i] != '"' {
		if d.b[d.i] == '\\' {
			d.i++
		}
		d.i++
	}
	d.i++
}

// skip moves past the value at d.i.
func (d *fastDecoder) skip() bool {
	switch d.ws() {
	case '"':
		d.skipString()
	case '{', '[':
		depth := 0
		for {
			switch d.b[d.i] {
			case '"':
				d.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			d.i++
			if depth == 0 {
				return true
			}
		}
	default: // a number, true, false or null
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return true
			}
			d.i++
		}
	}
	return true
}

// A tailCache keeps the end of a chat request body, the sampling parameters
// after the messages, for the last settings a request was encoded with: the
// jobs of a suite without overrides share one pointer to them.
type tailCache struct{ last atomic.Pointer[encodedTail] }

type encodedTail struct {
	settings *eval.Settings
	tail     []byte
}

// tailPrefix is how json.Marshal begins a chatRequest with neither model nor
// messages; the tail is what follows it.
const tailPrefix = `{"model":"","messages":null`

// encodeChatFast returns the body json.Marshal makes of t's chat request
// (encodeTask), from the cached tail of its settings, the model and the
// messages, each string encoded as json.Marshal encodes it (FuzzEncodeChatFast).
func encodeChatFast(model string, t *task, tails *tailCache) ([]byte, error) {
	s := t.jobs[0].settings
	e := tails.last.Load()
	if e == nil || e.settings != s {
		b, err := json.Marshal(chatRequest{samplingParams: params(*s), Logprobs: s.Logprobs})
		if err != nil {
			return nil, err
		}
		tail, ok := bytes.CutPrefix(b, []byte(tailPrefix))
		if !ok { // chatRequest changed its first fields: the plain path
			_, body, err := encodeTask(model, t)
			return body, err
		}
		e = &encodedTail{settings: s, tail: tail}
		tails.last.Store(e)
	}
	msgs := chatMessages(t.jobs[0].c, *s)
	n := len(model) + len(e.tail) + 32
	for _, m := range msgs {
		n += len(m.Role) + len(m.Content) + 24
	}
	body := make([]byte, 0, n)
	body = append(body, `{"model":`...)
	body = appendJSONString(body, model)
	body = append(body, `,"messages":`...)
	if msgs == nil {
		body = append(body, "null"...)
	} else {
		body = append(body, '[')
		for i, m := range msgs {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, `{"role":`...)
			body = appendJSONString(body, m.Role)
			body = append(body, `,"content":`...)
			body = appendJSONString(body, m.Content)
			body = append(body, '}')
		}
		body = append(body, ']')
	}
	return append(body, e.tail...), nil
}

// appendJSONString appends s as json.Marshal encodes it: printable ASCII that
// needs no escape as it is, anything else by json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
