package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/lock"
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
	return dir, lockFile, m.Lock
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
	target, err := endpoint.Resolve(ctx, nil, []string{ep}, "", id)
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
	if got, err := target.CheckResponse(ep, resp.Header, "fp_engine", "tiny"); err != nil || got != id {
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
	if _, err := endpoint.Resolve(ctx, nil, []string{ep}, "", id); !errors.Is(err, endpoint.ErrNoLock) || !strings.Contains(err.Error(), "config.json (config) changed") {
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
