package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/credentials"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/outfile"
	"github.com/evalpin/evalpin/internal/secret"
)

// An echoFake is an engine that serves runLockA and echoes the
// Authorization header it received: in every completion's output and, for
// the prompts in fail, in an error body. It records the headers.
type echoFake struct {
	fail map[string]int // error statuses by prompt

	mu   sync.Mutex
	auth []string // the Authorization header of every request, "" for none
}

func (f *echoFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := r.Header.Get("Authorization")
	f.mu.Lock()
	f.auth = append(f.auth, a)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.Method + " " + r.URL.Path {
	case "GET " + lockid.WellKnownPath:
		fmt.Fprintf(w, `{"lock":%q}`, runLockA)
	case "GET /v1/models":
		fmt.Fprint(w, `{"object":"list","data":[{"id":"fake-model","object":"model"}]}`)
	case "POST /v1/chat/completions":
		var req struct {
			Model    string         `json:"model"`
			Messages []eval.Message `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		prompt := req.Messages[len(req.Messages)-1].Content
		w.Header().Set(lockid.Header, runLockA)
		if status := f.fail[prompt]; status != 0 {
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": "request refused; you sent " + a}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"id": "c", "object": "chat.completion", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]string{"role": "assistant", "content": "echo: " + prompt + "; you sent " + a}}},
			"usage": map[string]int{"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
		})
	default:
		http.NotFound(w, r)
	}
}

// received returns the Authorization headers the fake received.
func (f *echoFake) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.auth)
}

// start serves f and returns its base URL.
func (f *echoFake) start(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// secretSuite writes a suite of three cases into dir, each with a scorer
// whose failure quotes the output.
func secretSuite(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: secrets\nversion: \"1\"\ndefaults: {max_tokens: 8, seed: 7}\ncases:\n")
	for _, id := range runCaseIDs(3) {
		fmt.Fprintf(&b, "  - id: %s\n    messages: [{role: user, content: %q}]\n    scorers: [{kind: equals, value: never}]\n", id, runPrompt(id))
	}
	path := filepath.Join(dir, "suite.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// withUserinfo returns the base URL ep with user:password@ in it.
func withUserinfo(ep, user, password string) string {
	return strings.Replace(ep, "://", "://"+user+":"+password+"@", 1)
}

// A server that echoes the API key and the basic credentials it was sent, in
// outputs and in error bodies, gets neither stored nor printed: not in the
// database file or its write-ahead log, not by show, runs or a baseline
// export, not on stdout or stderr.
func TestRunSecretsNeverLeak(t *testing.T) {
	runQuiet(t)
	const (
		key      = "sk-leaktest-4e8d1c07a9b35f62"
		password = "pw-leaktest-9a1b2c3d"
	)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+password))
	t.Setenv("EVALPIN_TEST_LEAK_KEY", key)
	dir := t.TempDir()
	suite := secretSuite(t, dir)
	dbPath := filepath.Join(dir, "e.db")
	fake := &echoFake{fail: map[string]int{runPrompt("case-000"): http.StatusBadRequest}}
	ep := withUserinfo(fake.start(t), "alice", password)
	ctx := context.Background()

	var printed strings.Builder // everything every command printed
	cmd := func(wantCode int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCmd(ctx, args...)
		fmt.Fprintf(&printed, "$ evalpin %s\n%s%s", args[0], stdout, stderr)
		if code != wantCode {
			t.Fatalf("evalpin %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
		}
		return stdout
	}
	// With the key, sent as a bearer token; then without, so that the
	// password goes as basic authentication.
	cmd(0, "run", "--suite", suite, "--endpoint", ep, "--db", dbPath, "--api-key-env", "EVALPIN_TEST_LEAK_KEY", "--format", "json")
	cmd(0, "run", "--suite", suite, "--endpoint", ep, "--db", dbPath, "--fresh")
	got := fake.received()
	if !slices.Contains(got, "Bearer "+key) || !slices.Contains(got, basic) {
		t.Fatalf("the fake did not receive both the key and the basic credentials: %q", got)
	}

	cmd(0, "runs", "--db", dbPath)
	for _, run := range []string{"1", "2"} {
		if out := cmd(0, "show", "--db", dbPath, run); !strings.Contains(out, secret.Marker) {
			t.Errorf("show %s does not show where the echoed secret was:\n%s", run, out)
		}
		cmd(0, "show", "--db", dbPath, "--format", "json", run)
		cmd(0, "show", "--db", dbPath, run, "case-000")
		cmd(0, "show", "--db", dbPath, run, "case-001")
	}
	exported := filepath.Join(dir, "baseline.jsonl")
	cmd(0, "baseline", "export", "--db", dbPath, "-o", exported, "1")
	cmd(0, "baseline", "export", "--db", dbPath, "2") // to stdout

	files := map[string][]byte{"printed": []byte(printed.String())}
	for _, f := range []string{dbPath, dbPath + "-wal", exported} {
		data, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files[filepath.Base(f)] = data
	}
	for name, data := range files {
		for _, s := range []string{key, password, strings.TrimPrefix(basic, "Basic "), "alice:"} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds %q", name, s)
			}
		}
	}
}

// A redirect to another origin (here another port of the same host, to
// which net/http would send the Authorization header on) is refused: the
// second server never receives the key.
func TestRedirectNeverSendsKey(t *testing.T) {
	runQuiet(t)
	const key = "sk-redirect-test-0c9f5e"
	t.Setenv("EVALPIN_TEST_REDIRECT_KEY", key)
	other := &echoFake{}
	otherURL := other.start(t)
	target := strings.TrimSuffix(otherURL, "/v1")
	fake := &echoFake{}
	// The first server answers the probe, and redirects every suite request,
	// or (all) every request, to the second.
	redirecting := func(all bool) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if all || r.URL.Path == "/v1/chat/completions" && suiteRequest(r) {
				http.Redirect(w, r, target+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			fake.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/v1"
	}
	dir := t.TempDir()
	suite := secretSuite(t, dir)
	ctx := context.Background()

	code, _, stderr := runCmd(ctx, "run", "--suite", suite, "--endpoint", redirecting(false), "--db", filepath.Join(dir, "e.db"),
		"--api-key-env", "EVALPIN_TEST_REDIRECT_KEY", "--retries", "0")
	if want := "Try: give the address the endpoint redirects to"; code == 0 || !strings.Contains(stderr, credentials.ErrRedirect.Error()) || !strings.Contains(stderr, want) {
		t.Errorf("run with every suite request redirected: exit %d, stderr\n%s\nwant an error saying %q and %q", code, stderr, credentials.ErrRedirect, want)
	}

	code, _, stderr = runCmd(ctx, "probe", "--api-key-env", "EVALPIN_TEST_REDIRECT_KEY", redirecting(true))
	if code == 0 {
		t.Errorf("probe exit 0 with every request redirected\n%s", stderr)
	}
	if !slices.Contains(fake.received(), "Bearer "+key) {
		t.Errorf("the first server did not receive the key: %q", fake.received())
	}
	for _, a := range other.received() {
		if a != "" {
			t.Errorf("the server redirected to received Authorization %q", a)
		}
	}
}

// suiteRequest reports whether r is a chat completion of a suite case (not
// the probe's), leaving its body readable.
func suiteRequest(r *http.Request) bool {
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return err == nil && bytes.Contains(body, []byte(`"prompt case-`))
}

// OPENAI_API_KEY goes only to endpoints of OPENAI_BASE_URL's origin, which
// is the endpoint when none is given; --api-key-env sends a key anywhere.
func TestOpenAIKeyPairing(t *testing.T) {
	runQuiet(t)
	const key = "sk-openai-env-test-51d7"
	paired, other := &echoFake{}, &echoFake{}
	pairedURL, otherURL := paired.start(t), other.start(t)
	dir := t.TempDir()
	suite := secretSuite(t, dir)
	ctx := context.Background()

	tests := []struct {
		name   string
		env    map[string]string // OPENAI_API_KEY, OPENAI_BASE_URL
		args   []string
		code   int
		paired string // the Authorization the paired server must have received last, "-" if none
		other  string // and the other one
		stderr string // what stderr must say
	}{
		{"paired origin", map[string]string{credentials.EnvAPIKey: key, credentials.EnvBaseURL: pairedURL},
			[]string{"probe", pairedURL}, 0, "Bearer " + key, "-", ""},
		{"another origin", map[string]string{credentials.EnvAPIKey: key, credentials.EnvBaseURL: pairedURL},
			[]string{"probe", otherURL}, 0, "-", "", ""},
		{"the default base", map[string]string{credentials.EnvAPIKey: key},
			[]string{"probe", otherURL}, 0, "-", "", ""},
		{"no endpoint: OPENAI_BASE_URL", map[string]string{credentials.EnvAPIKey: key, credentials.EnvBaseURL: pairedURL},
			[]string{"probe"}, 0, "Bearer " + key, "-", ""},
		{"run with no endpoint", map[string]string{credentials.EnvAPIKey: key, credentials.EnvBaseURL: pairedURL},
			[]string{"run", "--suite", suite, "--db", filepath.Join(dir, "e.db")}, 0, "Bearer " + key, "-", ""},
		{"paired and unpaired endpoints", map[string]string{credentials.EnvAPIKey: key, credentials.EnvBaseURL: pairedURL},
			[]string{"probe", pairedURL, otherURL}, 2, "-", "-", "one key goes to every endpoint"},
		{"explicit pairing", map[string]string{credentials.EnvAPIKey: key, credentials.EnvBaseURL: pairedURL},
			[]string{"probe", "--api-key-env", credentials.EnvAPIKey, otherURL}, 0, "-", "Bearer " + key, ""},
		{"run with explicit pairing", map[string]string{credentials.EnvAPIKey: key},
			[]string{"run", "--suite", suite, "--endpoint", otherURL, "--api-key-env", credentials.EnvAPIKey, "--db", filepath.Join(dir, "e2.db")}, 0, "-", "Bearer " + key, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(credentials.EnvAPIKey, tt.env[credentials.EnvAPIKey])
			t.Setenv(credentials.EnvBaseURL, tt.env[credentials.EnvBaseURL])
			before := [2]int{len(paired.received()), len(other.received())}
			code, stdout, stderr := runCmd(ctx, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr)
			}
			if strings.Contains(stdout+stderr, key) {
				t.Errorf("the key was printed:\n%s%s", stdout, stderr)
			}
			for i, c := range []struct {
				name string
				f    *echoFake
				want string
			}{{"paired", paired, tt.paired}, {"other", other, tt.other}} {
				got := c.f.received()[before[i]:]
				if c.want == "-" {
					if len(got) > 0 {
						t.Errorf("the %s server received %d requests, want none", c.name, len(got))
					}
					continue
				}
				if len(got) == 0 {
					t.Errorf("the %s server received no request", c.name)
				}
				for _, a := range got {
					if a != c.want {
						t.Errorf("the %s server received Authorization %q, want %q", c.name, a, c.want)
						break
					}
				}
			}
		})
	}
}

// probe --api-key-env sends the key with every request; an unset variable
// is an input error.
func TestProbeAPIKeyEnv(t *testing.T) {
	noOpenAIEnv(t)
	const key = "sk-probe-test-key-7d1e"
	t.Setenv("EVALPIN_TEST_PROBE_KEY", key)
	fake := &echoFake{}
	ep := fake.start(t)
	code, stdout, stderr := runCmd(context.Background(), "probe", "--api-key-env", "EVALPIN_TEST_PROBE_KEY", ep)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	got := fake.received()
	if len(got) < 3 {
		t.Fatalf("the fake received %d requests", len(got))
	}
	for _, a := range got {
		if a != "Bearer "+key {
			t.Errorf("a request carried Authorization %q, want the key", a)
		}
	}
	if strings.Contains(stdout+stderr, key) {
		t.Errorf("the key was printed:\n%s%s", stdout, stderr)
	}

	code, _, stderr = runCmd(context.Background(), "probe", "--api-key-env", "EVALPIN_TEST_PROBE_UNSET", ep)
	if want := "probe: --api-key-env EVALPIN_TEST_PROBE_UNSET: the variable is empty or not set"; code != fault.ExitInput || !strings.Contains(stderr, want) {
		t.Errorf("unset variable: exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}

// A user and password in an endpoint URL authenticate, and are neither
// printed nor stored.
func TestUserinfoNotStoredNorPrinted(t *testing.T) {
	runQuiet(t)
	const password = "pw-userinfo-test-3e5"
	fake := &echoFake{}
	ep := withUserinfo(fake.start(t), "bob", password)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "e.db")
	ctx := context.Background()
	var printed strings.Builder
	for _, args := range [][]string{
		{"probe", ep},
		{"probe", "--format", "json", ep},
		{"run", "--suite", secretSuite(t, dir), "--endpoint", ep, "--db", dbPath},
		{"runs", "--db", dbPath},
		{"show", "--db", dbPath, "1"},
		{"show", "--db", dbPath, "--format", "json", "1"},
	} {
		code, stdout, stderr := runCmd(ctx, args...)
		if code != 0 {
			t.Fatalf("evalpin %s: exit %d\n%s%s", args[0], code, stdout, stderr)
		}
		printed.WriteString(stdout + stderr)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:"+password))
	for _, a := range fake.received() {
		if a != want {
			t.Fatalf("a request carried Authorization %q, want %q", a, want)
		}
	}
	if strings.Contains(printed.String(), password) || strings.Contains(printed.String(), "bob:") {
		t.Errorf("the password was printed:\n%s", printed.String())
	}
	if !strings.Contains(printed.String(), strings.TrimSuffix(strings.Replace(ep, "bob:"+password+"@", "", 1), "/v1")) {
		t.Errorf("the endpoint is not shown without its userinfo:\n%s", printed.String())
	}
	db := runOpen(t, dbPath)
	run, err := db.Run(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	results, err := db.Results(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	stored := strings.Join(run.Endpoints, " ")
	for _, r := range results {
		stored += " " + r.Endpoint
	}
	if strings.Contains(stored, password) || strings.Contains(stored, "@") {
		t.Errorf("stored endpoints %q", stored)
	}
}

// report and a file written with -o redact the process's secrets.
func TestReportAndOutputFileRedact(t *testing.T) {
	const key = "sk-report-test-key-88"
	secret.Register(key)
	var stderr bytes.Buffer
	report(&stderr, fault.Errorf(fault.Input, "use "+key, "the server said: bad key %s", key))
	if strings.Contains(stderr.String(), key) || !strings.Contains(stderr.String(), secret.Marker) {
		t.Errorf("report printed %q", stderr.String())
	}
	path := filepath.Join(t.TempDir(), "report.md")
	if err := outfile.Write(path, nil, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "| case | output |\n| a | your key is %s |\n", key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), key) || !strings.Contains(string(data), secret.Marker) {
		t.Errorf("-o file holds %q", data)
	}
}
