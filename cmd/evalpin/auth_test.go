package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/credentials"
	"github.com/evalpin/evalpin/internal/fault"
)

// noOpenAIEnv clears the OpenAI variables for a test, which would otherwise
// pick an endpoint and a key from the developer's shell.
func noOpenAIEnv(t testing.TB) {
	t.Helper()
	t.Setenv(credentials.EnvAPIKey, "")
	t.Setenv(credentials.EnvBaseURL, "")
}

// testEnv returns a getenv of the variables kv, given as name, value, ….
func testEnv(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

// A refusal of credentials.Resolve is printed after the command's name, with
// the hint that names the flag to pass, and exits 2; its warnings go to
// stderr first.
func TestCredentialsError(t *testing.T) {
	const key = "sk-credentials-error-0123"
	tests := []struct {
		name      string
		apiKeyEnv string
		endpoints []string
		getenv    func(string) string
		stderr    string // all report and the warnings print
	}{
		{"unset variable", "MY_KEY", []string{"https://gpu-a:8000/v1"}, testEnv(),
			"evalpin: probe: --api-key-env MY_KEY: the variable is empty or not set\n" +
				"Try: export MY_KEY=<key>, or leave out --api-key-env for an endpoint without authentication\n"},
		{"paired and unpaired", "", []string{"https://api.openai.com/v1", "http://gpu-a:8000/v1"}, testEnv(credentials.EnvAPIKey, key),
			"evalpin: probe: OPENAI_API_KEY is paired with OPENAI_BASE_URL=https://api.openai.com/v1, of which https://api.openai.com/v1 is and http://gpu-a:8000/v1 is not: one key goes to every endpoint of a command\n" +
				"Try: pass --api-key-env OPENAI_API_KEY to send the key to every endpoint, or name only endpoints of https://api.openai.com:443\n"},
		{"two passwords, one origin", "", []string{"http://u:pw@h:1/v1", "http://u:password2@h:1/v2"}, testEnv(),
			"evalpin: warning: the password in the URL of http://h:1/v1 is shorter than 8 bytes: evalpin leaves it out of every URL it stores or prints, but cannot recognise it elsewhere (in a server's error message, say)\n" +
				"evalpin: probe: two endpoints of http://h:1 carry different users or passwords\n" +
				"Try: give the user and password once, in the URL of one endpoint of that origin\n"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		c, err := resolveCredentials("probe", tt.apiKeyEnv, tt.endpoints, tt.getenv, &stderr)
		if c != nil || err == nil {
			t.Errorf("%s: %v, %v; want a refusal", tt.name, c, err)
			continue
		}
		if code := report(&stderr, advise(err)); code != fault.ExitInput {
			t.Errorf("%s: exit %d, want %d", tt.name, code, fault.ExitInput)
		}
		if got := stderr.String(); got != tt.stderr {
			t.Errorf("%s: stderr\n%s\nwant\n%s", tt.name, got, tt.stderr)
		}
	}
}

// A refusal of the credentials is an input error whose hint says which key
// was sent, or why none was.
func TestUnauthorizedHint(t *testing.T) {
	refused := fmt.Errorf("endpoint http://gpu-a:8000: GET /v1/models: 401 Unauthorized: %w", fault.ErrUnauthorized)
	tests := []struct {
		name      string
		apiKeyEnv string
		endpoint  string
		getenv    func(string) string
		hint      string
	}{
		{"explicit key", "MY_KEY", "https://gpu-a:8000/v1", testEnv("MY_KEY", "sk-0123456789"),
			"the key in MY_KEY was sent (--api-key-env MY_KEY); check that it is the key of https://gpu-a:8000/v1"},
		{"paired OPENAI_API_KEY", "", "https://api.openai.com/v1", testEnv(credentials.EnvAPIKey, "sk-0123456789"),
			"OPENAI_API_KEY was sent, as OPENAI_BASE_URL=https://api.openai.com/v1 pairs it with https://api.openai.com/v1"},
		{"unpaired OPENAI_API_KEY, default base", "", "http://gpu-a:8000/v1", testEnv(credentials.EnvAPIKey, "sk-0123456789"),
			"no API key was sent: OPENAI_API_KEY is set but paired with OPENAI_BASE_URL=https://api.openai.com/v1 (unset: the default); pass --api-key-env OPENAI_API_KEY to send it to http://gpu-a:8000/v1"},
		{"unpaired OPENAI_API_KEY", "", "http://gpu-a:8000/v1", testEnv(credentials.EnvAPIKey, "sk-0123456789", credentials.EnvBaseURL, "https://u:pw-0123456789@mirror.example/v1"),
			"no API key was sent: OPENAI_API_KEY is set but paired with OPENAI_BASE_URL=https://mirror.example/v1; pass --api-key-env OPENAI_API_KEY to send it to http://gpu-a:8000/v1"},
		{"basic only", "", "http://u:pw-0123456789@gpu-a:8000/v1", testEnv(),
			"no API key was sent, only the user and password of the endpoint URL"},
		{"nothing", "", "http://gpu-a:8000/v1", testEnv(),
			"no API key was sent; export the key in a variable and pass --api-key-env VAR (or export OPENAI_API_KEY, and OPENAI_BASE_URL=http://gpu-a:8000/v1 to pair it with the endpoint)"},
	}
	for _, tt := range tests {
		c, err := resolveCredentials("run", tt.apiKeyEnv, []string{tt.endpoint}, tt.getenv, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		err = c.Refused(refused)
		var stderr bytes.Buffer
		if code := report(&stderr, advise(err)); code != fault.ExitInput {
			t.Errorf("%s: exit %d, want %d", tt.name, code, fault.ExitInput)
		}
		if !strings.Contains(stderr.String(), "Try: "+tt.hint) {
			t.Errorf("%s: stderr\n%s\nwant the hint %q", tt.name, stderr.String(), tt.hint)
		}
		if !errors.Is(err, fault.ErrUnauthorized) {
			t.Errorf("%s: the explained error no longer wraps ErrUnauthorized", tt.name)
		}
	}
	other := errors.New("something else")
	if got := (&credentials.Credentials{}).Refused(other); got != other {
		t.Errorf("Refused changed an error that is no refusal: %v", got)
	}
	if got := (*credentials.Credentials)(nil).Refused(refused); got != refused {
		t.Errorf("Refused without credentials changed the error: %v", got)
	}
}
