package credentials

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/secret"
)

// env returns a getenv of the variables kv, given as name, value, name, ….
func env(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

func TestResolve(t *testing.T) {
	const key = "sk-resolve-test-0123"
	tests := []struct {
		name      string
		keyEnv    string
		endpoints []string
		getenv    func(string) string
		key       string // the key sent
		from      string // the variable it was read from
		warning   string // the one warning; "" for none
		err       error  // what the error is (see is)
		errText   string // and what it says
	}{
		{name: "nothing", endpoints: []string{"http://gpu-a:8000/v1"}, getenv: env()},
		{name: "explicit, https", keyEnv: "K", endpoints: []string{"https://api.example.com/v1"}, getenv: env("K", key), key: key, from: "K"},
		{name: "explicit, loopback", keyEnv: "K", endpoints: []string{"http://127.0.0.1:8000/v1", "http://localhost:8001/v1", "http://[::1]:8002/v1"},
			getenv: env("K", key), key: key, from: "K"},
		{name: "explicit, plain http", keyEnv: "K", endpoints: []string{"http://gpu-a:8000/v1", "http://gpu-a:8000/v2", "http://gpu-b:8000/v1"},
			getenv: env("K", key), key: key, from: "K",
			warning: "the API key in K goes over plain http to gpu-a:8000, gpu-b:8000: anyone on the network path can read it (use https, or a tunnel)"},
		{name: "explicit, unset", keyEnv: "K", endpoints: []string{"https://api.example.com/v1"}, getenv: env(),
			err: ErrKeyUnset, errText: "K: the variable is empty or not set"},
		{name: "explicit wins over OPENAI_API_KEY", keyEnv: "K", endpoints: []string{"https://api.openai.com/v1"}, getenv: env("K", key, EnvAPIKey, "sk-other-0123456"),
			key: key, from: "K"},
		{name: "explicit, short key", keyEnv: "K", endpoints: []string{"https://api.example.com/v1"}, getenv: env("K", "short"), key: "short", from: "K",
			warning: "the API key in K is shorter than 8 bytes: evalpin cannot recognise it in what it writes"},
		{name: "default base", endpoints: []string{"https://api.openai.com/v1"}, getenv: env(EnvAPIKey, key), key: key, from: EnvAPIKey},
		{name: "default base, explicit port", endpoints: []string{"https://API.openai.com:443/v1"}, getenv: env(EnvAPIKey, key), key: key, from: EnvAPIKey},
		{name: "default base, another host", endpoints: []string{"http://gpu-a:8000/v1"}, getenv: env(EnvAPIKey, key)},
		{name: "base over plain http", endpoints: []string{"http://gpu-a:8000/v1"}, getenv: env(EnvAPIKey, key, EnvBaseURL, "http://gpu-a:8000/v1"),
			key: key, from: EnvAPIKey, warning: "the API key in OPENAI_API_KEY goes over plain http to gpu-a:8000"},
		{name: "base with another path", endpoints: []string{"https://proxy.example/other/v1"}, getenv: env(EnvAPIKey, key, EnvBaseURL, "https://proxy.example/openai/v1"),
			key: key, from: EnvAPIKey},
		{name: "base of another scheme", endpoints: []string{"http://api.openai.com/v1"}, getenv: env(EnvAPIKey, key)},
		{name: "mixed", endpoints: []string{"https://api.openai.com/v1", "https://mirror.example/v1"}, getenv: env(EnvAPIKey, key),
			err:     &PairingError{},
			errText: "OPENAI_API_KEY is paired with OPENAI_BASE_URL=https://api.openai.com/v1, of which https://api.openai.com/v1 is and https://mirror.example/v1 is not: one key goes to every endpoint of a command"},
		{name: "short password", endpoints: []string{"http://u:pw@127.0.0.1:8000/v1"}, getenv: env(),
			warning: "the password in the URL of http://127.0.0.1:8000/v1 is shorter than 8 bytes: evalpin leaves it out of every URL it stores or prints, but cannot recognise it elsewhere (in a server's error message, say)"},
		{name: "two passwords, one origin", endpoints: []string{"http://u:password1@h:1/v1", "http://u:password2@h:1/v2"}, getenv: env(),
			err: ErrUserinfoConflict, errText: "two endpoints of http://h:1 carry different users or passwords"},
		{name: "short password, then two passwords", endpoints: []string{"http://u:pw@h:1/v1", "http://u:password2@h:1/v2"}, getenv: env(),
			warning: "the password in the URL of http://h:1/v1 is shorter than 8 bytes",
			err:     ErrUserinfoConflict, errText: "two endpoints of http://h:1 carry different users or passwords"},
	}
	for _, tt := range tests {
		c, warnings, err := Resolve(tt.endpoints, tt.keyEnv, tt.getenv)
		if len(warnings) > 1 || tt.warning == "" && len(warnings) > 0 || tt.warning != "" && (len(warnings) == 0 || !strings.HasPrefix(warnings[0].Error(), tt.warning)) {
			t.Errorf("%s: warnings %q, want one saying %q", tt.name, warnings, tt.warning)
		}
		if tt.err != nil {
			if err == nil || !is(err, tt.err) || err.Error() != tt.errText || fault.KindOf(err) != fault.Input || c != nil {
				t.Errorf("%s: %v, %v; want an input error %q that is %v", tt.name, c, err, tt.errText, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if c.Key != tt.key || c.KeyEnv != tt.from {
			t.Errorf("%s: key %q from %q, want %q from %q", tt.name, c.Key, c.KeyEnv, tt.key, tt.from)
		}
		if got, want := len(c.Endpoints), len(tt.endpoints); got != want {
			t.Errorf("%s: %d endpoints, want %d", tt.name, got, want)
		}
		for _, ep := range c.Endpoints {
			if strings.Contains(ep, "@") {
				t.Errorf("%s: endpoint %q keeps its userinfo", tt.name, ep)
			}
		}
	}
}

// is reports whether err is want: marked with it, or, where want is a
// *PairingError, one.
func is(err, want error) bool {
	if _, ok := want.(*PairingError); ok {
		var pe *PairingError
		return errors.As(err, &pe)
	}
	return errors.Is(err, want)
}

// The OpenAI variables are reported as found, OPENAI_BASE_URL without its
// userinfo, and the userinfo of the endpoints as basic authentication.
func TestResolveFacts(t *testing.T) {
	tests := []struct {
		name      string
		endpoint  string
		getenv    func(string) string
		keySet    bool
		base      string
		isDefault bool
		basic     bool
	}{
		{"unset", "http://gpu-a:8000/v1", env(), false, DefaultBaseURL, true, false},
		{"key, default base", "http://gpu-a:8000/v1", env(EnvAPIKey, "sk-0123456789"), true, DefaultBaseURL, true, false},
		{"base with userinfo", "http://gpu-a:8000/v1", env(EnvBaseURL, "https://u:pw-0123456789@mirror.example/v1"), false, "https://mirror.example/v1", false, false},
		{"endpoint with userinfo", "http://u:pw-0123456789@gpu-a:8000/v1", env(), false, DefaultBaseURL, true, true},
	}
	for _, tt := range tests {
		c, _, err := Resolve([]string{tt.endpoint}, "", tt.getenv)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if c.EnvKeySet != tt.keySet || c.EnvBase != tt.base || c.EnvBaseDefault != tt.isDefault || c.BasicAuth() != tt.basic {
			t.Errorf("%s: key set %v, base %q (default %v), basic %v; want %v, %q (%v), %v",
				tt.name, c.EnvKeySet, c.EnvBase, c.EnvBaseDefault, c.BasicAuth(), tt.keySet, tt.base, tt.isDefault, tt.basic)
		}
	}
}

func TestCheckRedirect(t *testing.T) {
	req := func(u string) *http.Request {
		r, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"http://h:8000/v1/models", "http://h:8000/v1/models/", true},
		{"https://h/v1", "https://H:443/v2", true},
		{"http://h:8000/v1", "http://h:8001/v1", false},
		{"http://h:8000/v1", "https://h:8000/v1", false},
		{"https://api.example.com/v1", "https://evil.api.example.com/v1", false},
	}
	for _, tt := range tests {
		err := checkRedirect(req(tt.to), []*http.Request{req(tt.from)})
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrRedirect) {
			t.Errorf("redirect %s → %s: %v, want ok=%v", tt.from, tt.to, err, tt.ok)
		}
	}
}

// The client sends an endpoint URL's user and password to that origin only,
// and not where the request carries an API key.
func TestClientBasicAuth(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{} // Authorization by server
	serve := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got[name] = append(got[name], r.Header.Get("Authorization"))
			mu.Unlock()
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	a, b := serve("a"), serve("b")
	const password = "pw-client-test-0123"
	withUser := strings.Replace(a.URL, "://", "://alice:"+password+"@", 1) + "/v1"
	c, _, err := Resolve([]string{withUser, b.URL + "/v1"}, "", env())
	if err != nil {
		t.Fatal(err)
	}
	client := c.Client(http.DefaultTransport.(*http.Transport).Clone())
	defer client.CloseIdleConnections()
	for _, tt := range []struct{ url, bearer string }{
		{c.Endpoints[0] + "/models", ""}, {c.Endpoints[0] + "/models", "Bearer sk-key"}, {c.Endpoints[1] + "/models", ""},
	} {
		req, err := http.NewRequest("GET", tt.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.bearer != "" {
			req.Header.Set("Authorization", tt.bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+password))
	if want := []string{basic, "Bearer sk-key"}; !slices.Equal(got["a"], want) {
		t.Errorf("the endpoint with userinfo received %q, want %q", got["a"], want)
	}
	if want := []string{""}; !slices.Equal(got["b"], want) {
		t.Errorf("the other endpoint received %q, want %q", got["b"], want)
	}
	if strings.Contains(strings.Join(c.Endpoints, " "), password) {
		t.Errorf("endpoints %q keep the password", c.Endpoints)
	}
}

// RegisterEnv registers OPENAI_API_KEY and the passwords in OPENAI_BASE_URL
// and the arguments.
func TestRegisterEnv(t *testing.T) {
	const key, basePW, argPW = "sk-register-env-test-1", "pw-register-base-2", "pw-register-arg-3"
	RegisterEnv([]string{"--endpoint", "http://u:" + argPW + "@h:1/v1", "plain"},
		env(EnvAPIKey, key, EnvBaseURL, "https://u:"+basePW+"@mirror.example/v1"))
	for _, s := range []string{key, basePW, argPW} {
		if got := secret.Redact("said " + s); got != "said "+secret.Marker {
			t.Errorf("Redact(%q) = %q: not registered", s, got)
		}
	}
}

func TestDefaultEndpoints(t *testing.T) {
	if got := DefaultEndpoints(env()); got != nil {
		t.Errorf("no OPENAI_BASE_URL: %q, want none", got)
	}
	if got, want := DefaultEndpoints(env(EnvBaseURL, "http://h:1/v1")), []string{"http://h:1/v1"}; !slices.Equal(got, want) {
		t.Errorf("DefaultEndpoints = %q, want %q", got, want)
	}
}
