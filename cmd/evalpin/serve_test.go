package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/serve"
)

// serveTestLog is a stderr that a test reads while the command writes it.
type serveTestLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *serveTestLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *serveTestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lockedModelDir writes a two-file model directory, locks it into a lock file
// next to it, and returns the directory, the lock file and the id.
func lockedModelDir(t *testing.T) (dir, lockFile, id string) {
	t.Helper()
	root := t.TempDir()
	t.Setenv(lock.CacheDirEnv, filepath.Join(root, "cache"))
	dir = filepath.Join(root, "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"model.gguf": "weights v1", "config.json": `{"n": 1}`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := lock.Create(context.Background(), dir, lock.Options{Serving: lock.Serving{Engine: "ollama"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	lockFile = filepath.Join(root, "model.lock")
	if err := os.WriteFile(lockFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, lockFile, string(m.Lock)
}

func TestServeGolden(t *testing.T) {
	dir, lockFile, id := lockedModelDir(t)
	if err := os.WriteFile(filepath.Join(dir, "model.gguf"), []byte("weights v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	replace := []string{lockFile, "MODEL.lock", dir, "MODELDIR", id, "sha256:LOCK"}
	tests := []struct {
		name string
		args []string
	}{
		{"serve-mismatch", []string{"serve", "--lock", lockFile, "--model-dir", dir, "--upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1:0"}},
		{"serve-no-lock-flag", []string{"serve", "--model-dir", dir, "--upstream", "http://127.0.0.1:1"}},
		{"serve-bad-upstream", []string{"serve", "--lock", lockFile, "--model-dir", dir, "--upstream", "127.0.0.1:11434"}},
		{"serve-missing-lock-file", []string{"serve", "--lock", lockFile + ".nope", "--model-dir", dir, "--upstream", "http://127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, replace, tt.args...)
		})
	}
}

// The sidecar in front of a fake engine: probe resolves its lock with the
// manifest, responses carry the header and pass the per-response check, a
// changed file makes it stop claiming within the re-check interval, and
// cancelling the context shuts it down.
func TestServeCommand(t *testing.T) {
	dir, lockFile, id := lockedModelDir(t)
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/models":
			io.WriteString(w, `{"object":"list","data":[{"id":"tiny"}]}`)
		case "/v1/chat/completions":
			io.WriteString(w, completionBody("tiny", "fp_engine"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer engine.Close()

	const recheck = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	stderr := &serveTestLog{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--lock", lockFile, "--model-dir", dir, "--upstream", engine.URL,
			"--listen", "127.0.0.1:0", "--recheck", recheck.String()}, &stdout, stderr)
	}()
	addr := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve returned %v before listening; stderr:\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not print its address; stderr:\n%s", stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}

	ep := base + "/v1"
	target, err := endpoint.Resolve(ctx, nil, []string{ep}, "", lockid.ID(id))
	if err != nil {
		t.Fatalf("Resolve through the sidecar: %v", err)
	}
	if target.Claim.Strength != endpoint.StrengthManifest {
		t.Errorf("strength = %s, want %s (the manifest is published and its id recomputed)", target.Claim.Strength, endpoint.StrengthManifest)
	}
	resp, err := http.Post(ep+"/chat/completions", "application/json", strings.NewReader(`{"model":"tiny"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got, err := target.CheckResponse(ep, resp.Header, "fp_engine", "tiny"); err != nil || string(got) != id {
		t.Fatalf("CheckResponse = %s, %v; want %s", got, err, id)
	}

	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"n": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(100 * recheck)
	for {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still healthy %v after config.json changed", 100*recheck)
		}
		time.Sleep(recheck / 4)
	}
	if _, err := endpoint.Resolve(ctx, nil, []string{ep}, "", lockid.ID(id)); !errors.Is(err, endpoint.ErrNoLock) || !strings.Contains(err.Error(), "config.json (config) changed") {
		t.Fatalf("Resolve after tampering: err = %v, want ErrNoLock naming config.json", err)
	}
	if err := target.Recheck(ctx); !errors.Is(err, endpoint.ErrLockChanged) {
		t.Fatalf("Recheck after tampering: err = %v, want ErrLockChanged", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
	if stdout.Len() != 0 {
		t.Errorf("serve wrote to stdout: %q", stdout.String())
	}
	for _, want := range []string{"matches lock " + id, "stopped claiming " + id, "config.json (config) changed", "stopped\n"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// lockedOllamaDir writes a GGUF + Modelfile directory, locks it into a lock
// file next to it, and returns the directory, the lock file, the id and the
// SHA-256 of model.gguf.
func lockedOllamaDir(t *testing.T) (dir, lockFile, id, blob string) {
	t.Helper()
	root := t.TempDir()
	t.Setenv(lock.CacheDirEnv, filepath.Join(root, "cache"))
	dir = filepath.Join(root, "tiny")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"model.gguf": "GGUF weights v1",
		"Modelfile":  "FROM ./model.gguf\nTEMPLATE \"\"\"{{ .Prompt }}\"\"\"\nPARAMETER temperature 0\nPARAMETER stop \"<|end|>\"\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := lock.Create(context.Background(), dir, lock.Options{Serving: lock.Serving{Engine: "ollama", EngineVersion: "0.17.4"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	lockFile = filepath.Join(root, "tiny.lock")
	if err := os.WriteFile(lockFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(files["model.gguf"]))
	return dir, lockFile, string(m.Lock), hex.EncodeToString(sum[:])
}

// A serveShow is what a fake Ollama reports for one model in /api/show.
type serveShow struct {
	blob, template, parameters string
}

// fakeOllamaEngine answers like Ollama serving models (name → what
// /api/show says), and echoes a chat completion of any other request.
func fakeOllamaEngine(t *testing.T, models map[string]serveShow) *httptest.Server {
	t.Helper()
	names := slices.Sorted(maps.Keys(models))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/version":
			io.WriteString(w, `{"version":"0.17.4"}`)
		case "/v1/models":
			var data []map[string]string
			for _, n := range names {
				data = append(data, map[string]string{"id": n, "object": "model"})
			}
			json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
		case "/api/tags":
			var list []map[string]string
			for _, n := range names {
				list = append(list, map[string]string{"name": n, "model": n})
			}
			json.NewEncoder(w).Encode(map[string]any{"models": list})
		case "/api/show":
			var req struct{ Model string }
			json.NewDecoder(r.Body).Decode(&req)
			for _, n := range names {
				if n == req.Model {
					m := models[n]
					json.NewEncoder(w).Encode(map[string]string{
						"modelfile":   "# Modelfile generated by \"ollama show\"\n\nFROM /o/blobs/sha256-" + m.blob + "\nTEMPLATE " + strconv.Quote(m.template) + "\n",
						"template":    m.template,
						"parameters":  m.parameters,
						"modified_at": "2026-01-01T00:00:00Z",
					})
					return
				}
			}
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"model not found"}`)
		default:
			var req struct{ Model string }
			json.NewDecoder(r.Body).Decode(&req)
			io.WriteString(w, completionBody(req.Model, "fp_ollama"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The start-up refusals of serve in front of an Ollama engine, as printed.
func TestServeOllamaGolden(t *testing.T) {
	dir, lockFile, id, blob := lockedOllamaDir(t)
	good := serveShow{blob: blob, template: "{{ .Prompt }}", parameters: "stop                           \"<|end|>\"\ntemperature                    0"}
	otherTemplate := good
	otherTemplate.template = "{{ .System }} {{ .Prompt }}"
	otherWeights := good
	otherWeights.blob = strings.Repeat("b", 64)
	engine := fakeOllamaEngine(t, map[string]serveShow{"tiny:latest": good, "other:latest": otherWeights, "tiny:chat": otherTemplate})
	single := fakeOllamaEngine(t, map[string]serveShow{"tiny:latest": good})
	plainDir, plainLock, plainID := lockedModelDir(t)
	replace := []string{lockFile, "MODEL.lock", plainLock, "PLAIN.lock", dir, "MODELDIR", plainDir, "PLAINDIR", id, "sha256:LOCK", plainID, "sha256:PLAIN",
		engine.URL, "http://ENGINE", single.URL, "http://ENGINE"}
	serveArgs := func(extra ...string) []string {
		return append([]string{"serve", "--lock", lockFile, "--model-dir", dir, "--upstream", engine.URL, "--listen", "127.0.0.1:0"}, extra...)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"serve-several-models", serveArgs()},
		{"serve-unknown-model", serveArgs("--model", "tiny:q4")},
		{"serve-ollama-weights", serveArgs("--model", "other")},
		{"serve-ollama-template", serveArgs("--model", "tiny:chat")},
		{"serve-ollama-no-modelfile", []string{"serve", "--lock", plainLock, "--model-dir", plainDir, "--upstream", single.URL, "--listen", "127.0.0.1:0"}},
		{"serve-upstream-down", []string{"serve", "--lock", lockFile, "--model-dir", dir, "--upstream", "http://127.0.0.1:1", "--upstream-wait", "0"}},
		{"serve-negative-wait", serveArgs("--upstream-wait", "-1s")},
		{"serve-help", []string{"help", "serve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, replace, tt.args...)
		})
	}
}

// serve in front of a two-model Ollama engine, bound to tiny: the
// well-known document and /healthz name it, requests for it pass with the
// lock, requests for the other model are refused without it.
func TestServeOllamaCommand(t *testing.T) {
	dir, lockFile, id, blob := lockedOllamaDir(t)
	good := serveShow{blob: blob, template: "{{ .Prompt }}", parameters: "temperature 0\nstop \"<|end|>\""}
	other := serveShow{blob: strings.Repeat("b", 64), template: "{{ .Prompt }}"}
	engine := fakeOllamaEngine(t, map[string]serveShow{"tiny:latest": good, "other:latest": other})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &serveTestLog{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--lock", lockFile, "--model-dir", dir, "--upstream", engine.URL,
			"--listen", "127.0.0.1:0", "--model", "tiny"}, io.Discard, stderr)
	}()
	base := serveAddress(t, stderr, done)

	resp, err := http.Get(base + lockid.WellKnownPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc serve.WellKnown
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || string(doc.Lock) != id || doc.Model != "tiny:latest" || len(doc.Generation) != 32 || doc.Upstream == nil ||
		doc.Upstream.Engine != serve.EngineOllama || doc.Upstream.Blobs[0] != "sha256:"+blob || !slices.Contains(doc.Upstream.Checked, "engine_version") {
		t.Fatalf("well-known = %+v, %v", doc, err)
	}
	for _, tt := range []struct {
		model  string
		status int
		lock   string
	}{{"tiny", 200, id}, {"tiny:latest", 200, id}, {"other", 404, ""}} {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"`+tt.model+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get(lockid.Header) != tt.lock {
			t.Errorf("model %s: %d with lock %q, want %d with %q", tt.model, resp.StatusCode, resp.Header.Get(lockid.Header), tt.status, tt.lock)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	for _, want := range []string{"matches lock " + id, "vouching for model tiny:latest of the ollama engine", "model tiny:latest, re-checking"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// serveAddress waits for serve to print the address it listens on.
func serveAddress(t *testing.T, stderr *serveTestLog, done <-chan error) string {
	t.Helper()
	addr := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve returned %v before listening; stderr:\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not print its address; stderr:\n%s", stderr)
		}
	}
}
