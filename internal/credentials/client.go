package credentials

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// ErrRedirect is wrapped by the error of a refused redirect.
var ErrRedirect = errors.New("refused a redirect to another origin")

// Client returns the HTTP client of a command with these credentials: its
// transport t (whose settings the caller chooses, see runner.NewTransport)
// adds the basic authentication of the endpoint URLs, and it refuses every
// redirect to another origin (ErrRedirect). The API key is the caller's to
// send.
func (c *Credentials) Client(t *http.Transport) *http.Client {
	var rt http.RoundTripper = t
	if len(c.basic) > 0 {
		rt = &basicAuthTransport{base: t, creds: c.basic}
	}
	return &http.Client{Transport: rt, CheckRedirect: checkRedirect}
}

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
			ErrRedirect, from, to)
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
