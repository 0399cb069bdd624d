package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// naiveRedact is the plain implementation scan must equal: at every position,
// try every secret, replace the longest match, and move on.
func naiveRedact(secrets []string, t string) string {
	var b strings.Builder
	for i := 0; i < len(t); {
		n := 0
		for _, s := range secrets {
			if len(s) < MinLen {
				continue
			}
			r := t[i:]
			l := 0
			for l < len(r) && l < len(s) && r[l] == s[l] {
				l++
			}
			switch {
			case l == len(s):
				n = max(n, l)
			case l < MinLen:
			case l == len(r), strings.HasPrefix(r[l:], cutMark):
				n = max(n, l)
			}
		}
		if n == 0 {
			b.WriteByte(t[i])
			i++
			continue
		}
		b.WriteString(Marker)
		i += n
	}
	return b.String()
}

// set returns a Set holding exactly values (no escaped forms).
func set(values ...string) *Set {
	s := new(Set)
	s.add(values...)
	return s
}

func TestRegister(t *testing.T) {
	tests := []struct {
		v    string
		ok   bool
		also []string // forms that are redacted too
	}{
		{"sk-test-0123456789", true, nil},
		{"1234567", false, nil},  // one byte short of MinLen
		{"12345678", true, nil},  // exactly MinLen
		{"redacted", false, nil}, // part of the marker
		{"", false, nil},
		{`pa"ss<w>rd&`, true, []string{`pa\"ss\u003cw\u003erd\u0026`, `pa\"ss<w>rd&`}},
		{"tab\there-long", true, []string{`tab\there-long`}},
	}
	for _, tt := range tests {
		s := new(Set)
		if got := s.Register(tt.v); got != tt.ok {
			t.Errorf("Register(%q)=%v, want %v", tt.v, got, tt.ok)
		}
		if !tt.ok {
			if got := s.Redact("x" + tt.v + "x"); got != "x"+tt.v+"x" {
				t.Errorf("after Register(%q) refused it: Redact=%q", tt.v, got)
			}
			continue
		}
		for _, f := range append([]string{tt.v}, tt.also...) {
			if got, want := s.Redact("<"+f+">"), "<"+Marker+">"; got != want {
				t.Errorf("Register(%q): Redact(%q)=%q, want %q", tt.v, "<"+f+">", got, want)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	const key = "sk-abcdefghijklmnop"
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"none registered", nil, "Bearer " + key, "Bearer " + key},
		{"no secret in text", []string{key}, "hello world", "hello world"},
		{"whole", []string{key}, "Bearer " + key, "Bearer " + Marker},
		{"twice", []string{key}, key + " and " + key + "!", Marker + " and " + Marker + "!"},
		{"adjacent", []string{key}, key + key, Marker + Marker},
		{"cut off at the end", []string{key}, "key: sk-abcdefgh", "key: " + Marker},
		{"cut off and marked", []string{key}, "key: sk-abcdefghij… (401)", "key: " + Marker + "… (401)"},
		{"cut off shorter than MinLen", []string{key}, "key: sk-abcd", "key: sk-abcd"},
		{"prefix in the middle", []string{key}, "sk-abcdefghij then more", "sk-abcdefghij then more"},
		{"longest wins", []string{"password1234", "user:password1234"}, "u=user:password1234", "u=" + Marker},
		{"leftmost wins", []string{"abcdefgh12", "gh12345678"}, "abcdefgh12345678", Marker + "345678"},
		{"secret inside a secret", []string{"0123456789", "xx0123456789yy"}, "a0123456789b", "a" + Marker + "b"},
		{"multibyte", []string{"ключ-секрет"}, "«ключ-секрет»", "«" + Marker + "»"},
	}
	for _, tt := range tests {
		s := set(tt.secrets...)
		if got := s.Redact(tt.in); got != tt.want {
			t.Errorf("%s: Redact(%q)=%q, want %q", tt.name, tt.in, got, tt.want)
		}
		if got := string(s.RedactBytes([]byte(tt.in))); got != tt.want {
			t.Errorf("%s: RedactBytes(%q)=%q, want %q", tt.name, tt.in, got, tt.want)
		}
		if got := naiveRedact(tt.secrets, tt.in); got != tt.want {
			t.Errorf("%s: the reference gives %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Redact costs no allocation when nothing is registered, nor when the text
// holds no secret.
func TestRedactNoAllocs(t *testing.T) {
	text := strings.Repeat("an ordinary model output. ", 40)
	for _, s := range []*Set{new(Set), set("sk-abcdefghijklmnop")} {
		if n := testing.AllocsPerRun(100, func() { _ = s.Redact(text) }); n != 0 {
			t.Errorf("Redact allocates %v times per call, want 0", n)
		}
	}
}

func TestRegisterURL(t *testing.T) {
	tests := []struct {
		url     string
		ok      bool
		secrets []string // each is redacted
		kept    []string // each is not
	}{
		{"http://127.0.0.1:8000/v1", true, nil, []string{"127.0.0.1"}},
		{"https://alice:s3cr%40t-pass@api.example.com/v1", true,
			[]string{"s3cr@t-pass", "s3cr%40t-pass", "alice:s3cr%40t-pass", base64.StdEncoding.EncodeToString([]byte("alice:s3cr@t-pass"))},
			[]string{"alice ", "api.example.com"}},
		{"https://alice:pw@api.example.com/v1", false, nil, []string{"pw"}},
		{"https://tok-0123456789@api.example.com/v1", true,
			[]string{"tok-0123456789", base64.StdEncoding.EncodeToString([]byte("tok-0123456789:"))}, nil},
		{"not a url", true, nil, []string{"not a url"}},
	}
	for _, tt := range tests {
		s := new(Set)
		if got := s.RegisterURL(tt.url); got != tt.ok {
			t.Errorf("RegisterURL(%q)=%v, want %v", tt.url, got, tt.ok)
		}
		for _, v := range tt.secrets {
			if got := s.Redact("(" + v + ")"); got != "("+Marker+")" {
				t.Errorf("RegisterURL(%q): Redact(%q)=%q, want it redacted", tt.url, v, got)
			}
		}
		for _, v := range tt.kept {
			if got := s.Redact(v); got != v {
				t.Errorf("RegisterURL(%q): Redact(%q)=%q, want it kept", tt.url, v, got)
			}
		}
	}
}

func TestStripUserinfo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"},
		{"https://user:pass@host:8443/v1", "https://host:8443/v1"},
		{"https://user:p@ss@host/v1", "https://host/v1"},                   // the last @ ends the userinfo
		{"https://token@host", "https://host"},                             // no path
		{"http://host/path@not-userinfo", "http://host/path@not-userinfo"}, // @ in the path
		{"http://host?q=a@b", "http://host?q=a@b"},
		{"http://u:p%zz@host/v1", "http://host/v1"}, // not a valid URL, stripped all the same
		{"user@host", "user@host"},                  // no scheme: not a URL
		{"", ""},
	}
	for _, tt := range tests {
		if got := StripUserinfo(tt.in); got != tt.want {
			t.Errorf("StripUserinfo(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}

// writeAll writes each chunk through a Writer of s and returns what reached
// the underlying writer after Close.
func writeAll(t testing.TB, s *Set, chunks []string) string {
	var out bytes.Buffer
	w := s.NewWriter(&out)
	for _, c := range chunks {
		if n, err := w.Write([]byte(c)); n != len(c) || err != nil {
			t.Fatalf("Write(%q)=%d, %v", c, n, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestWriter(t *testing.T) {
	const key = "sk-abcdefghijklmnop"
	s := set(key)
	tests := []struct {
		name   string
		chunks []string
		want   string
	}{
		{"in one write", []string{"Bearer " + key + "\n"}, "Bearer " + Marker + "\n"},
		{"split in two", []string{"Bearer sk-abcdefg", "hijklmnop\n"}, "Bearer " + Marker + "\n"},
		{"split byte by byte", strings.Split("x"+key+"y", ""), "x" + Marker + "y"},
		{"at the end, no newline", []string{"Bearer ", key}, "Bearer " + Marker},
		{"cut off at the end of the stream", []string{"key: sk-abcd", "efghij"}, "key: " + Marker},
		{"cut mark split", []string{"key: sk-abcdefghij\xe2\x80", "\xa6 (401)"}, "key: " + Marker + "… (401)"},
		{"a prefix that is not the secret", []string{"sk-abcdefg", "XYZ\n"}, "sk-abcdefgXYZ\n"},
		{"nothing to redact", []string{"hello ", "world\n"}, "hello world\n"},
	}
	for _, tt := range tests {
		if got := writeAll(t, s, tt.chunks); got != tt.want {
			t.Errorf("%s: wrote %q, want %q", tt.name, got, tt.want)
		}
	}
}

// A Writer holds back only an end that may begin a secret.
func TestWriterHoldsBackOnlyAPrefix(t *testing.T) {
	s := set("sk-abcdefghijklmnop")
	var out bytes.Buffer
	w := s.NewWriter(&out)
	tests := []struct {
		write string
		out   string // the underlying writer's content after the write
	}{
		{"line one\n", "line one\n"},
		{"key sk-abc", "line one\nkey "},
		{"defg", "line one\nkey "},
		{"!\n", "line one\nkey sk-abcdefg!\n"},
		{"no ss", "line one\nkey sk-abcdefg!\nno s"}, // "s" may begin the key
	}
	for _, tt := range tests {
		w.Write([]byte(tt.write))
		if got := out.String(); got != tt.out {
			t.Errorf("after Write(%q): %q, want %q", tt.write, got, tt.out)
		}
	}
	w.Flush()
	if got, want := out.String(), "line one\nkey sk-abcdefg!\nno ss"; got != want {
		t.Errorf("after Flush: %q, want %q", got, want)
	}
}

// A Writer redacts secrets registered after it was made.
func TestWriterLateRegistration(t *testing.T) {
	s := new(Set)
	var out bytes.Buffer
	w := s.NewWriter(&out)
	fmt.Fprint(w, "before ")
	s.Register("sk-registered-late")
	fmt.Fprint(w, "sk-registered-late after")
	w.Flush()
	if got, want := out.String(), "before "+Marker+" after"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if s.NewWriter(w) != w {
		t.Error("NewWriter wraps a Writer of the same Set again")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterError(t *testing.T) {
	w := set("sk-abcdefghijklmnop").NewWriter(failWriter{})
	if _, err := w.Write([]byte("hello\n")); err == nil {
		t.Error("Write returned no error from a failing writer")
	}
}

// Registering, redacting and writing may happen at once.
func TestConcurrent(t *testing.T) {
	s := new(Set)
	var out bytes.Buffer
	var mu sync.Mutex
	w := s.NewWriter(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) }))
	var wg sync.WaitGroup
	for i := range 8 {
		key := fmt.Sprintf("sk-concurrent-%02d", i)
		wg.Go(func() {
			s.Register(key)
			for range 100 {
				if got := s.Redact("k=" + key); got != "k="+Marker {
					t.Errorf("Redact: %q", got)
					return
				}
				fmt.Fprintf(w, "k=%s\n", key)
			}
		})
	}
	wg.Wait()
	w.Flush()
	if strings.Contains(out.String(), "sk-concurrent-") {
		t.Error("a key was written")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// FuzzRedact holds the scan equal to the plain implementation.
func FuzzRedact(f *testing.F) {
	f.Add("abcdefgh", "abcdefghij", "xxabcdefghyyabcdefghij…abcdefgh")
	f.Add("sk-0123456789", "0123456789ab", "sk-0123456789ab")
	f.Fuzz(func(t *testing.T, s1, s2, text string) {
		s := set(s1, s2)
		want := naiveRedact([]string{s1, s2}, text)
		if got := s.Redact(text); got != want {
			t.Errorf("Redact(%q) with %q, %q = %q; the reference gives %q", text, s1, s2, got, want)
		}
	})
}

// FuzzWriter holds a Writer, whatever the split of its writes, equal to
// Redact of everything written.
func FuzzWriter(f *testing.F) {
	f.Add("sk-abcdefgh", "abcdefgh12", "Bearer sk-abcdefgh… and abcdefgh12345", []byte{3, 9, 1, 20})
	f.Add("12345678", "23456789", "0123456789", []byte{1, 1, 1, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, s1, s2, text string, cuts []byte) {
		s := set(s1, s2)
		var chunks []string
		rest := text
		for _, c := range cuts {
			n := min(int(c)%16, len(rest))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		chunks = append(chunks, rest)
		if got, want := writeAll(t, s, chunks), s.Redact(text); got != want {
			t.Errorf("writes %q with %q, %q wrote %q; Redact of them all is %q", chunks, s1, s2, got, want)
		}
	})
}

// Over a two-letter alphabet and the cut mark, secrets overlap, nest and
// are cut off all the time: the scan equals the reference and a Writer equals
// Redact, however the text is split.
func TestRedactSmallAlphabet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int, tokens ...string) string {
		var b strings.Builder
		for range n {
			b.WriteString(tokens[rng.IntN(len(tokens))])
		}
		return b.String()
	}
	for range 20000 {
		secrets := []string{word(MinLen+rng.IntN(3), "a", "b"), word(MinLen+rng.IntN(3), "a", "b")}
		text := word(rng.IntN(40), "a", "b", "a", "b", "…", "\xe2", " ")
		s := set(secrets...)
		want := naiveRedact(secrets, text)
		if got := s.Redact(text); got != want {
			t.Fatalf("Redact(%q) with %q = %q; the reference gives %q", text, secrets, got, want)
		}
		var chunks []string
		for rest := text; ; {
			n := min(rng.IntN(6), len(rest))
			chunks = append(chunks, rest[:n])
			if rest = rest[n:]; rest == "" {
				break
			}
		}
		if got := writeAll(t, s, chunks); got != want {
			t.Fatalf("writes %q with %q wrote %q; Redact gives %q", chunks, secrets, got, want)
		}
	}
}

func BenchmarkRedact(b *testing.B) {
	output := strings.Repeat("The capital of France is Paris. ", 64) // 2 KiB, a long output
	withKey := output[:1000] + "sk-proj-0123456789abcdef" + output[1000:]
	for _, bm := range []struct {
		name string
		s    *Set
		text string
	}{
		{"empty", new(Set), output},
		{"none in text", set("sk-proj-0123456789abcdef", "dXNlcjpwYXNzd29yZA=="), output},
		{"one in text", set("sk-proj-0123456789abcdef", "dXNlcjpwYXNzd29yZA=="), withKey},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.text)))
			for b.Loop() {
				_ = bm.s.Redact(bm.text)
			}
		})
	}
}

func BenchmarkWriter(b *testing.B) {
	line := []byte("| case-0042 | pass | The capital of France is Paris. |\n")
	for _, bm := range []struct {
		name string
		s    *Set
	}{
		{"empty", new(Set)},
		{"registered", set("sk-proj-0123456789abcdef")},
	} {
		b.Run(bm.name, func(b *testing.B) {
			w := bm.s.NewWriter(writerFunc(func(p []byte) (int, error) { return len(p), nil }))
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				w.Write(line)
			}
		})
	}
}
