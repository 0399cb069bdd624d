// Package secret keeps the process's secrets (API keys, passwords in
// endpoint URLs) out of everything evalpin writes: the database, baseline
// files, reports, logs and error messages, even when a server echoes a secret
// back in an error body or a completion.
//
// A secret is registered where evalpin learns it (the command that reads an
// API key, the argument that holds a URL with a password), and every sink
// redacts by value: Redact replaces each occurrence with Marker, and a Writer
// does the same on a stream, a secret split across two writes included.
// StripUserinfo removes the user and password from a URL that is stored or
// shown.
//
// The registry is process-wide, behind the package's functions, on purpose: a
// secret belongs to the process, not to one command or sink, and when every
// sink consults one registry no sink (a new report format, an error path, a
// store column) can be forgotten when a new secret is learnt. It is safe for
// concurrent use and costs one atomic load when nothing is registered, as for
// most commands. A Set is the same registry on its own, for tests.
//
// What is redacted, for each registered value:
//
//   - every occurrence, and the forms the value takes in evalpin's output: as
//     a JSON string's content (with and without HTML escaping) and as a Go
//     quoted string's (%q);
//   - a cut-off occurrence: a prefix of the value, at least MinLen bytes long,
//     at the very end of the text or followed by "…", the mark evalpin's
//     truncations put where they cut a server's message or an output.
//
// Values shorter than MinLen bytes are not registered: replacing every
// occurrence of a short string mangles ordinary text, and a key that short is
// no secret anyway. Passwords that short are still stripped from every URL
// evalpin stores or shows (StripUserinfo); RegisterURL reports them so that
// the command can warn that evalpin cannot recognise them elsewhere.
//
// Where two values match at one place, the longest is replaced; matches do
// not overlap, and the text is scanned once from left to right, so Redact
// never replaces inside a marker it has put.
package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Marker replaces a secret.
const Marker = "[redacted]"

// MinLen is the length in bytes of the shortest value that is registered, and
// of the shortest prefix of one that is redacted as a cut-off secret.
const MinLen = 8

// cutMark is the mark evalpin's truncations put where they cut text.
const cutMark = "…"

// std is the process's registry.
var std Set

// Register registers v as a secret of the process. It reports whether v was
// registered: a value shorter than MinLen bytes, or part of Marker, is not.
func Register(v string) bool { return std.Register(v) }

// RegisterURL registers the credentials in rawURL's userinfo (see
// Set.RegisterURL). It reports false when the URL holds a password (or a user
// without one) too short to be recognised by value.
func RegisterURL(rawURL string) bool { return std.RegisterURL(rawURL) }

// Redact returns s with every registered secret replaced by Marker.
func Redact(s string) string { return std.Redact(s) }

// RedactBytes returns b with every registered secret replaced by Marker; it
// returns b itself when there is nothing to replace.
func RedactBytes(b []byte) []byte { return std.RedactBytes(b) }

// NewWriter returns a Writer that redacts the process's secrets from what is
// written to w.
func NewWriter(w io.Writer) *Writer { return std.NewWriter(w) }

// A Set is a registry of secrets. Its zero value is empty and ready to use;
// it is safe for concurrent use.
type Set struct {
	mu   sync.Mutex // serializes Register
	snap atomic.Pointer[snapshot]
}

// A snapshot is a Set's secrets at one time; it is never modified.
type snapshot struct {
	secrets [][]byte // distinct, longest first; each at least MinLen bytes
	heads   [][]byte // the distinct first MinLen bytes of the secrets
}

// Register registers v and its escaped forms. It reports whether v was
// registered: a value shorter than MinLen bytes, or part of Marker (which
// every redacted text shows anyway), is not.
func (s *Set) Register(v string) bool {
	if len(v) < MinLen || strings.Contains(Marker, v) {
		return false
	}
	s.add(forms(v)...)
	return true
}

// forms returns v and the other forms it takes in evalpin's output.
func forms(v string) []string {
	out := []string{v}
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) == nil {
			out = append(out, strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(b.String(), `"`), "\n"), `"`))
		}
	}
	q := strconv.Quote(v)
	return append(out, q[1:len(q)-1])
}

// add adds values to the set.
func (s *Set) add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap.Load()
	var secrets [][]byte
	if old != nil {
		secrets = slices.Clone(old.secrets)
	}
	added := false
	for _, v := range values {
		if len(v) < MinLen || slices.ContainsFunc(secrets, func(b []byte) bool { return string(b) == v }) {
			continue
		}
		secrets = append(secrets, []byte(v))
		added = true
	}
	if !added {
		return
	}
	slices.SortStableFunc(secrets, func(a, b []byte) int { return len(b) - len(a) })
	sn := &snapshot{secrets: secrets}
	for _, v := range secrets {
		if h := v[:MinLen]; !slices.ContainsFunc(sn.heads, func(x []byte) bool { return bytes.Equal(x, h) }) {
			sn.heads = append(sn.heads, h)
		}
	}
	s.snap.Store(sn)
}

// RegisterURL registers the credentials in the userinfo of rawURL
// (scheme://user:password@host/…), in every form they take: the password as
// written in the URL and decoded, the whole userinfo, and the base64 of
// "user:password" that HTTP basic authentication sends (and a server may echo
// from its Authorization header). A URL with a user and no password is taken
// as a token in the user's place (https://TOKEN@host) and the user is
// registered instead. It reports false when that credential is shorter than
// MinLen bytes and so cannot be recognised by value; true otherwise,
// including when the URL has no userinfo.
func (s *Set) RegisterURL(rawURL string) bool {
	info, ok := userinfo(rawURL)
	if !ok {
		return true
	}
	rawUser, rawPass, hasPass := strings.Cut(info, ":")
	user, pass := unescape(rawUser), unescape(rawPass)
	cred := pass
	if !hasPass {
		cred = user
	}
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	var vs []string
	for _, v := range []string{rawPass, pass, info, user + ":" + pass, basic} {
		if v != "" && len(v) >= MinLen && !strings.Contains(Marker, v) {
			vs = append(vs, forms(v)...)
		}
	}
	if !hasPass {
		vs = append(vs, forms(rawUser)...)
		vs = append(vs, forms(user)...)
	}
	s.add(vs...)
	return len(cred) >= MinLen
}

// unescape decodes a URL's userinfo part, or returns it as written when it
// is not validly escaped.
func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// authority returns the bounds [start, end) of the authority (userinfo@host:port)
// of the URL s, and false when s has no "scheme://".
func authority(s string) (start, end int, ok bool) {
	i := strings.Index(s, "://")
	if i < 0 {
		return 0, 0, false
	}
	start = i + len("://")
	end = len(s)
	if j := strings.IndexAny(s[start:], "/?#"); j >= 0 {
		end = start + j
	}
	return start, end, true
}

// userinfo returns the userinfo of the URL s as written, and whether it has
// one.
func userinfo(s string) (string, bool) {
	start, end, ok := authority(s)
	if !ok {
		return "", false
	}
	at := strings.LastIndexByte(s[start:end], '@')
	if at < 0 {
		return "", false
	}
	return s[start : start+at], true
}

// StripUserinfo returns the URL s without its userinfo (user:password@), and
// otherwise exactly as written; s itself when it has none. It does not need
// s to be a valid URL: any "scheme://user@host" loses its "user@".
func StripUserinfo(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	start, end, ok := authority(s)
	if !ok {
		return s
	}
	at := strings.LastIndexByte(s[start:end], '@')
	if at < 0 {
		return s
	}
	return s[:start] + s[start+at+1:]
}

// Redact returns t with every secret of s replaced by Marker; t itself when
// it holds none.
func (s *Set) Redact(t string) string {
	sn := s.snap.Load()
	if sn == nil || !sn.mayHold(t) {
		return t
	}
	out, _ := sn.scan(make([]byte, 0, len(t)), []byte(t), true)
	return string(out)
}

// RedactBytes returns b with every secret of s replaced by Marker; b itself
// when it holds none.
func (s *Set) RedactBytes(b []byte) []byte {
	sn := s.snap.Load()
	if sn == nil || !sn.mayHold(string(b)) { // the conversion does not allocate
		return b
	}
	out, _ := sn.scan(make([]byte, 0, len(b)), b, true)
	return out
}

// mayHold reports whether t holds the head of a secret: every match, whole
// or cut off, begins with one.
func (sn *snapshot) mayHold(t string) bool {
	for _, h := range sn.heads {
		if strings.Contains(t, string(h)) {
			return true
		}
	}
	return false
}

// scan appends the redaction of b to dst. When final, b is the whole text;
// otherwise more may follow, and scan stops at the first position whose
// redaction depends on what follows. It returns dst and how many bytes of b it
// consumed (len(b) when final).
//
// The text is scanned left to right: at each position the longest match
// (a whole secret, or a cut-off one) is replaced and skipped. Candidates are
// found with bytes.Index on the secrets' heads; the position of each head's
// next occurrence is kept, so each head is searched for once per occurrence
// rather than once per match.
func (sn *snapshot) scan(dst, b []byte, final bool) ([]byte, int) {
	if sn == nil {
		return append(dst, b...), len(b)
	}
	var buf [8]int
	next := buf[:0]
	for range sn.heads {
		next = append(next, -1) // not searched yet
	}
	i := 0
	for {
		// p is the leftmost position at or after i where a head occurs.
		p := len(b)
		for k, h := range sn.heads {
			if next[k] < i && next[k] != len(b) {
				if x := bytes.Index(b[i:], h); x >= 0 {
					next[k] = i + x
				} else {
					next[k] = len(b) // none before the end
				}
			}
			p = min(p, next[k])
		}
		if p == len(b) {
			end := len(b)
			if !final {
				end = sn.tail(b, i)
			}
			return append(dst, b[i:end]...), end
		}
		n, wait := sn.matchAt(b[p:], final)
		switch {
		case wait:
			return append(dst, b[i:p]...), p
		case n == 0:
			dst = append(dst, b[i:p+1]...)
			i = p + 1
		default:
			dst = append(dst, b[i:p]...)
			dst = append(dst, Marker...)
			i = p + n
		}
	}
}

// matchAt returns the length of the longest match at the start of r, which
// begins with a head: a whole secret, or a prefix of one (at least MinLen
// bytes, as the head is) that ends the text or is followed by the cut mark.
// When r may be followed by more text (!final) and the match depends on it,
// matchAt reports wait instead.
func (sn *snapshot) matchAt(r []byte, final bool) (n int, wait bool) {
	for _, s := range sn.secrets {
		if !bytes.HasPrefix(r, s[:MinLen]) {
			continue
		}
		l := MinLen
		for l < len(r) && l < len(s) && r[l] == s[l] {
			l++
		}
		rest := r[l:]
		switch {
		case l == len(s): // the whole secret
			n = max(n, l)
		case len(rest) == 0: // r ends inside the secret
			if !final {
				return 0, true
			}
			n = max(n, l) // cut off at the end of the text
		case bytes.HasPrefix(rest, []byte(cutMark)): // cut off, and marked
			n = max(n, l)
		case len(rest) < len(cutMark) && strings.HasPrefix(cutMark, string(rest)):
			if !final {
				return 0, true // the cut mark may be completing
			}
		}
	}
	return n, false
}

// tail returns the first position at or after i from which b is a proper
// prefix of a head: what follows may complete a secret there. It returns
// len(b) when there is none.
func (sn *snapshot) tail(b []byte, i int) int {
	for j := max(i, len(b)-MinLen+1); j < len(b); j++ {
		for _, h := range sn.heads {
			if bytes.HasPrefix(h, b[j:]) {
				return j
			}
		}
	}
	return len(b)
}

// A Writer redacts a Set's secrets from what is written through it. A secret
// split across two writes is redacted as well: a write's end that may begin a
// secret (the longest such suffix, never more than a secret's length) is held
// back until the next write, Flush or Close. Its output, once flushed, is
// that of Redact over everything written. A Writer is safe for concurrent
// use; it consults the Set at each write, so secrets registered after it was
// made are redacted too.
type Writer struct {
	set *Set
	w   io.Writer

	mu   sync.Mutex
	held []byte // the end of the writes so far, not yet decided
	out  []byte // reused output buffer
}

// NewWriter returns a Writer that redacts s's secrets from what is written
// to w. When w is already such a Writer, it is returned as is.
func (s *Set) NewWriter(w io.Writer) *Writer {
	if sw, ok := w.(*Writer); ok && sw.set == s {
		return sw
	}
	return &Writer{set: s, w: w}
}

// Write writes the redaction of p to the underlying writer, but for an end of
// p that may begin a secret, which it holds back. It returns len(p) unless
// the underlying writer fails.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sn := w.set.snap.Load()
	if sn == nil && len(w.held) == 0 {
		return w.w.Write(p)
	}
	b := p
	if len(w.held) > 0 {
		w.held = append(w.held, p...)
		b = w.held
	}
	out, k := sn.scan(w.out[:0], b, false)
	w.held = append(w.held[:0], b[k:]...) // copy handles the overlap when b is w.held
	if cap(out) <= 64<<10 {
		w.out = out
	}
	if len(out) > 0 {
		if _, err := w.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what Write held back, redacted as the end of the text.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.held) == 0 {
		return nil
	}
	out, _ := w.set.snap.Load().scan(nil, w.held, true)
	w.held = w.held[:0]
	_, err := w.w.Write(out)
	return err
}

// Close flushes w. It does not close the underlying writer.
func (w *Writer) Close() error { return w.Flush() }

// Unwrap returns the underlying writer, for a caller that needs to know what
// it is (a terminal, say); what is written to it directly is not redacted.
func (w *Writer) Unwrap() io.Writer { return w.w }

// Underlying returns the writer under the redacting writers (and any other
// writer with an Unwrap method) around w: the process's stdout or stderr, for
// a command that asks whether it is a terminal.
func Underlying(w io.Writer) io.Writer {
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}
