// Package credentials decides which API key and which URL password a command
// sends to which of its endpoints, and builds the HTTP client that sends them
// there and nowhere else (README "Environment variables", docs/protocol.md
// "Secrets"):
//
//   - An explicit key variable VAR, one the user names on the command line,
//     sends $VAR to every endpoint of the command: the user paired them. Over
//     plain http to a host other than loopback a warning says the key can be
//     read on the way.
//   - Otherwise OPENAI_API_KEY is sent only to endpoints whose origin (scheme,
//     host and port) is that of OPENAI_BASE_URL, https://api.openai.com/v1
//     when unset: the variable is often exported for every program of a
//     shell, and evalpin is pointed at community forks and plain-http servers
//     a key was never meant for. A command whose endpoints are partly of that
//     origin and partly not is refused, since one key goes to all of them.
//   - The user and password of an endpoint URL (http://user:pass@host/v1) are
//     sent as basic authentication to that endpoint's origin only, unless an
//     API key is sent; the URL is used, stored and shown without them.
//   - No request follows a redirect to another origin: the client refuses it.
//
// Every key and password is registered with internal/secret, so that it never
// reaches the database, a baseline file, a report or stderr.
//
// The package returns facts: what is sent, where it came from, warnings, and
// errors marked with what they are (ErrKeyUnset, ErrUserinfoConflict, a
// *PairingError, ErrRedirect). The command that names the flags words the
// advice.
package credentials

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/secret"
)

// The OpenAI conventions evalpin follows, as the OpenAI SDKs do.
const (
	EnvAPIKey      = "OPENAI_API_KEY"
	EnvBaseURL     = "OPENAI_BASE_URL"
	DefaultBaseURL = "https://api.openai.com/v1"
)

// The errors of Resolve, each an input error (fault.Input) marked with what
// it is, its text unchanged (fault.Mark); the command adds the hint.
var (
	// ErrKeyUnset: the explicit key variable is empty or not set.
	ErrKeyUnset = errors.New("the key variable is empty or not set")
	// ErrUserinfoConflict: two endpoint URLs of one origin carry different
	// users or passwords.
	ErrUserinfoConflict = errors.New("different userinfo for one origin")
)

// A PairingError refuses a command whose endpoints are partly of the origin
// OPENAI_API_KEY is paired with and partly not: one key goes to every
// endpoint of a command. Resolve returns it inside an input error.
type PairingError struct {
	Base   string   // OPENAI_BASE_URL without userinfo, or DefaultBaseURL
	Origin string   // Base's origin
	Paired []string // the endpoints of that origin
	Other  []string // the endpoints of other origins
}

func (e *PairingError) Error() string {
	return fmt.Sprintf("%s is paired with %s=%s, of which %s is and %s is not: one key goes to every endpoint of a command",
		EnvAPIKey, EnvBaseURL, e.Base, strings.Join(e.Paired, ", "), strings.Join(e.Other, ", "))
}

// Credentials are what one command sends to its endpoints, and where they
// came from.
type Credentials struct {
	// Endpoints are the command's endpoints as given, without userinfo: the
	// client sends the user and password.
	Endpoints []string
	// Key is sent to every endpoint as a bearer token; "" for none.
	Key string
	// KeyEnv is the variable Key was read from.
	KeyEnv string
	// The OpenAI variables as found, which say why OPENAI_API_KEY was or
	// was not sent.
	EnvKeySet      bool   // OPENAI_API_KEY is set
	EnvBase        string // OPENAI_BASE_URL without userinfo, or DefaultBaseURL
	EnvBaseDefault bool   // OPENAI_BASE_URL is unset: EnvBase is the default

	// basic is the userinfo of the endpoint URLs that had one, by origin.
	basic map[string]*url.Userinfo
}

// BasicAuth reports whether an endpoint URL carried a user and password,
// which the client sends as basic authentication to its origin where no key
// is sent.
func (c *Credentials) BasicAuth() bool { return len(c.basic) > 0 }

// RegisterEnv registers the secrets of the process's environment and command
// line before anything runs, so that even a usage error quoting an argument
// is redacted: OPENAI_API_KEY, and the credentials of every URL in args or
// OPENAI_BASE_URL.
func RegisterEnv(args []string, getenv func(string) string) {
	secret.Register(getenv(EnvAPIKey))
	secret.RegisterURL(getenv(EnvBaseURL))
	for _, a := range args {
		if strings.Contains(a, "@") {
			secret.RegisterURL(a)
		}
	}
}

// DefaultEndpoints returns the endpoints of a command given none:
// OPENAI_BASE_URL, when set.
func DefaultEndpoints(getenv func(string) string) []string {
	if base := getenv(EnvBaseURL); base != "" {
		return []string{base}
	}
	return nil
}

// Resolve decides what a command sends to endpoints (the URLs as given), as
// the package's rules say, and registers every secret. keyEnv names the
// explicit key variable, "" for none. The warnings say where a secret goes
// over plain http or cannot be redacted; they hold also when err is not nil,
// as the warnings of the URLs read before the refusal.
func Resolve(endpoints []string, keyEnv string, getenv func(string) string) (c *Credentials, warnings []error, err error) {
	c = &Credentials{basic: map[string]*url.Userinfo{}}
	if warnings, err = c.readUserinfo(endpoints); err != nil {
		return nil, warnings, err
	}
	envKey := getenv(EnvAPIKey)
	c.EnvKeySet = envKey != ""
	c.EnvBase, c.EnvBaseDefault = DefaultBaseURL, true
	if b := getenv(EnvBaseURL); b != "" {
		c.EnvBase, c.EnvBaseDefault = secret.StripUserinfo(b), false
	}
	switch {
	case keyEnv != "":
		key := getenv(keyEnv)
		if key == "" {
			return nil, warnings, fault.Mark(fault.Errorf(fault.Input, "", "%s: the variable is empty or not set", keyEnv), ErrKeyUnset)
		}
		c.Key, c.KeyEnv = key, keyEnv
	case envKey != "":
		if err := c.pair(envKey); err != nil {
			return nil, warnings, err
		}
	}
	return c, append(warnings, c.keyWarnings()...), nil
}

// readUserinfo sets c's endpoints, without userinfo, and the basic
// authentication of each origin, registering every password.
func (c *Credentials) readUserinfo(endpoints []string) (warnings []error, err error) {
	for _, ep := range endpoints {
		c.Endpoints = append(c.Endpoints, secret.StripUserinfo(ep))
		u, err := url.Parse(ep)
		if err != nil || u.User == nil {
			continue // a bad URL is reported by whoever uses it
		}
		if !secret.RegisterURL(ep) {
			warnings = append(warnings, fmt.Errorf("the password in the URL of %s is shorter than %d bytes: evalpin leaves it out of every URL it stores or prints, but cannot recognise it elsewhere (in a server's error message, say)",
				secret.StripUserinfo(ep), secret.MinLen))
		}
		o := origin(u)
		if prev, ok := c.basic[o]; ok && prev.String() != u.User.String() {
			return warnings, fault.Mark(fault.Errorf(fault.Input, "", "two endpoints of %s carry different users or passwords", o), ErrUserinfoConflict)
		}
		c.basic[o] = u.User
	}
	return warnings, nil
}

// pair sends envKey, OPENAI_API_KEY, when every endpoint is of EnvBase's
// origin, none when none is, and refuses a mix.
func (c *Credentials) pair(envKey string) error {
	var paired, other []string
	base := originOf(c.EnvBase)
	for _, ep := range c.Endpoints {
		if originOf(ep) == base {
			paired = append(paired, ep)
		} else {
			other = append(other, ep)
		}
	}
	if len(paired) > 0 && len(other) > 0 {
		return &fault.Error{Kind: fault.Input, Err: &PairingError{Base: c.EnvBase, Origin: base, Paired: paired, Other: other}}
	}
	if len(paired) > 0 {
		c.Key, c.KeyEnv = envKey, EnvAPIKey
	}
	return nil
}

// keyWarnings registers the key and says where it cannot be redacted or goes
// over plain http.
func (c *Credentials) keyWarnings() []error {
	if c.Key == "" {
		return nil
	}
	var warnings []error
	if !secret.Register(c.Key) {
		warnings = append(warnings, fmt.Errorf("the API key in %s is shorter than %d bytes: evalpin cannot recognise it in what it writes", c.KeyEnv, secret.MinLen))
	}
	if plain := plainHTTPHosts(c.Endpoints); len(plain) > 0 {
		warnings = append(warnings, fmt.Errorf("the API key in %s goes over plain http to %s: anyone on the network path can read it (use https, or a tunnel)",
			c.KeyEnv, strings.Join(plain, ", ")))
	}
	return warnings
}

// plainHTTPHosts returns the hosts of the http:// URLs among urls that are
// not loopback addresses, each once.
func plainHTTPHosts(urls []string) []string {
	var hosts []string
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || !strings.EqualFold(u.Scheme, "http") || isLoopback(u.Hostname()) {
			continue
		}
		if h := u.Host; !containsFold(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// isLoopback reports whether host names this machine: localhost, or a
// loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// origin returns the scheme, host and port of u, lowercased and with the
// scheme's default port made explicit, so that equal origins compare equal.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// originOf returns the origin of the URL s, or s itself when it does not
// parse.
func originOf(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return origin(u)
}

// A RefusedError is an endpoint's refusal of the credentials Sent
// (fault.ErrUnauthorized), or a redirect refused because it would carry them
// to another origin (ErrRedirect): the command words the fix from what was
// sent.
type RefusedError struct {
	Sent *Credentials
	Err  error
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Refused returns err as a *RefusedError with c when it is an endpoint's
// refusal of what c sent or a refused redirect; otherwise err itself, as it
// is when c is nil.
func (c *Credentials) Refused(err error) error {
	if c == nil || err == nil || !errors.Is(err, fault.ErrUnauthorized) && !errors.Is(err, ErrRedirect) {
		return err
	}
	return &RefusedError{Sent: c, Err: err}
}
