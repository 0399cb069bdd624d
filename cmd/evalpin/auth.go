package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/secret"
)

// The OpenAI conventions evalpin follows, as the OpenAI SDKs do.
const (
	envAPIKey         = "OPENAI_API_KEY"
	envBaseURL        = "OPENAI_BASE_URL"
	defaultOpenAIBase = "https://api.openai.com/v1"
)

// Which API key goes where (README "Environment variables", docs/protocol.md
// "Secrets"):
//
//   - --api-key-env VAR sends $VAR to every endpoint of the command: the user
//     paired them explicitly. Over plain http to a host other than loopback
//     a warning says the key can be read on the way.
//   - Otherwise OPENAI_API_KEY is sent only to endpoints whose origin (scheme,
//     host and port) is that of OPENAI_BASE_URL, https://api.openai.com/v1 when
//     unset: the variable is often exported for every program of a shell, and
//     evalpin is pointed at community forks and plain-http servers a key was
//     never meant for. A command whose endpoints are partly of that origin
//     and partly not is refused, since one key goes to all of them.
//   - The user and password of an endpoint URL (http://user:pass@host/v1) are
//     sent as basic authentication to that endpoint's origin only, unless an
//     API key is sent; the URL is used, stored and shown without them.
//   - No request follows a redirect to another origin: the client refuses it.
//
// Every key and password is registered with internal/secret, so that it
// never reaches the database, a baseline file, a report or stderr.

// credentials are what one command sends to its endpoints, and where they
// came from, for the hint on a refusal.
type credentials struct {
	command   string
	endpoints []string // the command's endpoints without userinfo
	key       string   // sent to every endpoint; "" for none
	keyEnv    string   // the variable key was read from
	// The OpenAI variables as found, for the hint.
	envKeySet    bool
	envBase      string // OPENAI_BASE_URL without userinfo, or defaultOpenAIBase
	envBaseUnset bool   // envBase is the default
	// basic is the userinfo of the endpoint URLs that had one, by origin.
	basic map[string]*url.Userinfo
}

// registerEnvSecrets registers the secrets of the process's environment and
// command line before anything runs, so that even a usage error quoting an
// argument is redacted: OPENAI_API_KEY, and the credentials of every URL in
// the arguments or OPENAI_BASE_URL.
func registerEnvSecrets(args []string, getenv func(string) string) {
	secret.Register(getenv(envAPIKey))
	secret.RegisterURL(getenv(envBaseURL))
	for _, a := range args {
		if strings.Contains(a, "@") {
			secret.RegisterURL(a)
		}
	}
}

// defaultEndpoints returns the endpoints of a command given none:
// OPENAI_BASE_URL, when set.
func defaultEndpoints(getenv func(string) string) []string {
	if base := getenv(envBaseURL); base != "" {
		return []string{base}
	}
	return nil
}

// resolveCredentials decides what command sends to endpoints (the URLs as
// given), as the rules above say, warns on stderr where a secret goes over
// plain http or cannot be redacted, and registers every secret. apiKeyEnv is
// the --api-key-env flag.
func resolveCredentials(command, apiKeyEnv string, endpoints []string, getenv func(string) string, stderr io.Writer) (*credentials, error) {
	c := &credentials{command: command, basic: map[string]*url.Userinfo{}}
	for _, ep := range endpoints {
		c.endpoints = append(c.endpoints, secret.StripUserinfo(ep))
		u, err := url.Parse(ep)
		if err != nil || u.User == nil {
			continue // a bad URL is reported by whoever uses it
		}
		if !secret.RegisterURL(ep) {
			fmt.Fprintf(stderr, "evalpin: warning: the password in the URL of %s is shorter than %d bytes: evalpin leaves it out of every URL it stores or prints, but cannot recognise it elsewhere (in a server's error message, say)\n",
				secret.StripUserinfo(ep), secret.MinLen)
		}
		o := origin(u)
		if prev, ok := c.basic[o]; ok && prev.String() != u.User.String() {
			return nil, fault.Errorf(fault.Input, "give the user and password once, in the URL of one endpoint of that origin",
				"%s: two endpoints of %s carry different users or passwords", command, o)
		}
		c.basic[o] = u.User
	}

	envKey := getenv(envAPIKey)
	c.envKeySet = envKey != ""
	c.envBase, c.envBaseUnset = defaultOpenAIBase, true
	if b := getenv(envBaseURL); b != "" {
		c.envBase, c.envBaseUnset = secret.StripUserinfo(b), false
	}
	switch {
	case apiKeyEnv != "":
		key := getenv(apiKeyEnv)
		if key == "" {
			return nil, fault.Errorf(fault.Input, "export "+apiKeyEnv+"=<key>, or leave out --api-key-env for an endpoint without authentication",
				"%s: --api-key-env %s: the variable is empty or not set", command, apiKeyEnv)
		}
		c.key, c.keyEnv = key, apiKeyEnv
	case envKey != "":
		var paired, other []string
		base := originOf(c.envBase)
		for _, ep := range c.endpoints {
			if originOf(ep) == base {
				paired = append(paired, ep)
			} else {
				other = append(other, ep)
			}
		}
		if len(paired) > 0 && len(other) > 0 {
			return nil, fault.Errorf(fault.Input,
				fmt.Sprintf("pass --api-key-env %s to send the key to every endpoint, or name only endpoints of %s", envAPIKey, base),
				"%s: %s is paired with %s=%s, of which %s is and %s is not: one key goes to every endpoint of a command",
				command, envAPIKey, envBaseURL, c.envBase, strings.Join(paired, ", "), strings.Join(other, ", "))
		}
		if len(paired) > 0 {
			c.key, c.keyEnv = envKey, envAPIKey
		}
	}
	if c.key != "" {
		if !secret.Register(c.key) {
			fmt.Fprintf(stderr, "evalpin: warning: the API key in %s is shorter than %d bytes: evalpin cannot recognise it in what it writes\n", c.keyEnv, secret.MinLen)
		}
		if plain := plainHTTPHosts(c.endpoints); len(plain) > 0 {
			fmt.Fprintf(stderr, "evalpin: warning: the API key in %s goes over plain http to %s: anyone on the network path can read it (use https, or a tunnel)\n",
				c.keyEnv, strings.Join(plain, ", "))
		}
	}
	return c, nil
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

// client returns the HTTP client of a command with these credentials: its
// transport t (whose settings the runner chooses, see runner.NewTransport)
// adds the basic authentication of the endpoint URLs, and it refuses every
// redirect to another origin.
func (c *credentials) client(t *http.Transport) *http.Client {
	var rt http.RoundTripper = t
	if len(c.basic) > 0 {
		rt = &basicAuthTransport{base: t, creds: c.basic}
	}
	return &http.Client{Transport: rt, CheckRedirect: checkRedirect}
}

// errRedirect is wrapped by the error of a refused redirect.
var errRedirect = errors.New("refused a redirect to another origin")

// checkRedirect is the CheckRedirect of evalpin's clients: a redirect to
// another origin (scheme, host and port) than the endpoint's is refused, so
// that no credential is sent to a host the user did not name. net/http's own
// policy would send the Authorization header on to another port of the same
// host, or to a subdomain.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if from, to := origin(via[0].URL), origin(req.URL); from != to {
		return fmt.Errorf("%w: %s redirects to %s, and evalpin sends credentials only to the endpoints it is given (give the address it redirects to as the endpoint)",
			errRedirect, from, to)
	}
	return nil
}

// A basicAuthTransport sends the user and password an endpoint URL had as
// basic authentication, on requests to that URL's origin that carry no
// Authorization header (an API key wins), as Go's client does for a URL with
// userinfo; the URL itself is used everywhere without them.
type basicAuthTransport struct {
	base  *http.Transport
	creds map[string]*url.Userinfo // by origin
}

func (t *basicAuthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ui, ok := t.creds[origin(req.URL)]
	if !ok || req.Header.Get("Authorization") != "" {
		return t.base.RoundTrip(req)
	}
	pw, _ := ui.Password()
	req = req.Clone(req.Context()) // a RoundTripper must not change its request
	req.SetBasicAuth(ui.Username(), pw)
	return t.base.RoundTrip(req)
}

// CloseIdleConnections closes the base transport's idle connections, as
// http.Client.CloseIdleConnections asks.
func (t *basicAuthTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// explain returns err with the hint that fits it when it is an endpoint's
// refusal of the credentials (fault.ErrUnauthorized: an input error whose
// hint says which key was sent, or why none was) or a refused redirect (the
// hint says what to do instead of "is the server up?"); otherwise err
// itself. run and probe call it on every error they return.
func (c *credentials) explain(err error) error {
	switch {
	case c == nil || err == nil:
		return err
	case errors.Is(err, fault.ErrUnauthorized):
		return &fault.Error{Kind: fault.Input, Err: err, Hint: c.hint()}
	case errors.Is(err, errRedirect):
		return &fault.Error{Kind: fault.KindOf(err), Err: err,
			Hint: "give the address the endpoint redirects to as the endpoint, if it is one you trust with the credentials"}
	}
	return err
}

// hint says which key the command sent, or why it sent none, and what to do.
func (c *credentials) hint() string {
	eps := strings.Join(c.endpoints, " ")
	switch {
	case c.key != "" && c.keyEnv == envAPIKey:
		return fmt.Sprintf("%s was sent, as %s=%s pairs it with %s; check that the key is valid there, or pass --api-key-env VAR to send the key in $VAR instead",
			envAPIKey, envBaseURL, c.envBase, eps)
	case c.key != "":
		return fmt.Sprintf("the key in %s was sent (--api-key-env %s); check that it is the key of %s", c.keyEnv, c.keyEnv, eps)
	case c.envKeySet:
		unset := ""
		if c.envBaseUnset {
			unset = " (unset: the default)"
		}
		return fmt.Sprintf("no API key was sent: %s is set but paired with %s=%s%s; pass --api-key-env %s to send it to %s",
			envAPIKey, envBaseURL, c.envBase, unset, envAPIKey, eps)
	case len(c.basic) > 0:
		return "no API key was sent, only the user and password of the endpoint URL; export the key in a variable and pass --api-key-env VAR"
	}
	base := "<the endpoint>"
	if len(c.endpoints) == 1 {
		base = c.endpoints[0]
	}
	return fmt.Sprintf("no API key was sent; export the key in a variable and pass --api-key-env VAR (or export %s, and %s=%s to pair it with the endpoint)", envAPIKey, envBaseURL, base)
}
