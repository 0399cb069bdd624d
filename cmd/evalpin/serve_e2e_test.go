package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/testbed"
	"github.com/evalpin/evalpin/suites"
)

// The sidecar in front of the real Ollama test bed, with a lock of the
// generated model directory: probe resolves the lock through it, a streamed
// completion passes through with the header, and tampering with the GGUF
// makes it answer 503 within the re-check interval.
func TestServeOllamaEndToEnd(t *testing.T) {
	ol := testbed.Ollama(t)
	dir := testbed.Generate(t, testbed.ModelOptions{})
	ol.Create(t, "tiny", dir)
	t.Setenv(lock.CacheDirEnv, t.TempDir())

	m, err := lock.Create(context.Background(), dir, lock.Options{Serving: lock.Serving{Engine: "ollama", EngineVersion: "0.17.4"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(t.TempDir(), "tiny.lock")
	if err := os.WriteFile(lockFile, data, 0o644); err != nil {
		t.Fatal(err)
	}

	const recheck = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &serveTestLog{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--lock", lockFile, "--model-dir", dir, "--upstream", ol.URL(),
			"--listen", "127.0.0.1:0", "--recheck", recheck.String()}, io.Discard, stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	addr := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == ""; time.Sleep(10 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("serve did not start; stderr:\n%s", stderr)
		}
	}
	ep := base + "/v1"

	pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer pcancel()
	target, err := endpoint.Resolve(pctx, nil, []string{ep}, "tiny", m.Lock)
	if err != nil {
		t.Fatalf("Resolve through the sidecar: %v", err)
	}
	if target.Claim.Source != endpoint.SourceWellKnown || target.Claim.Strength != endpoint.StrengthManifest {
		t.Errorf("claim = %+v, want the well-known document with its manifest", target.Claim)
	}
	// Ollama's own lock is reported too, through the proxy.
	var native bool
	for _, c := range target.Reports[0].Claims {
		native = native || c.Source == endpoint.SourceOllama
	}
	if !native {
		t.Errorf("Ollama's derived lock is missing behind the sidecar: %+v", target.Reports[0].Claims)
	}

	// A streamed completion passes through, event by event, with the header.
	req, _ := http.NewRequestWithContext(pctx, http.MethodPost, ep+"/chat/completions", strings.NewReader(
		`{"model":"tiny","stream":true,"temperature":0,"max_tokens":8,"messages":[{"role":"user","content":"hello"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if got, err := target.CheckResponse(ep, resp.Header, "", "tiny"); err != nil || got != m.Lock {
		t.Fatalf("CheckResponse of the stream = %s, %v", got, err)
	}
	var events int
	var sawDone bool
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "data: [DONE]" {
			sawDone = true
		} else if strings.HasPrefix(line, "data: ") {
			events++
		}
	}
	resp.Body.Close()
	if err := sc.Err(); err != nil || events < 2 || !sawDone {
		t.Fatalf("stream: %d events, [DONE] %v, err %v; want several events and [DONE]", events, sawDone, err)
	}

	// Tamper with the GGUF: one byte, same size.
	gguf := filepath.Join(dir, "model.gguf")
	b, err := os.ReadFile(gguf)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(gguf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// The 503 must come within the re-check interval; the slack covers the
	// check itself and a loaded machine, and stays below serve's default
	// interval, so a --recheck that were ignored would fail.
	changed := time.Now()
	const slack = 2 * time.Second
	for {
		resp, err := http.Post(ep+"/chat/completions", "application/json", strings.NewReader(`{"model":"tiny","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		after := time.Since(changed)
		if resp.StatusCode == http.StatusServiceUnavailable {
			var e struct {
				Error struct{ Message, Code string }
			}
			err := json.Unmarshal(body, &e)
			// The re-check may hash the file while WriteFile rewrites it:
			// that is the tamper seen too, in other words.
			reason := strings.Contains(e.Error.Message, "model.gguf (weights) changed") ||
				strings.Contains(e.Error.Message, "model.gguf changed while it was being hashed")
			if err != nil || e.Error.Code != "evalpin_lock_mismatch" || !reason || resp.Header.Get(lockid.Header) != "" {
				t.Fatalf("503 without code evalpin_lock_mismatch and the reason, or with the lock: %s %v", body, resp.Header)
			}
			t.Logf("503 %v after the change (re-check every %v)", after.Round(time.Millisecond), recheck)
			break
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get(lockid.Header) != string(m.Lock) {
			t.Fatalf("before the 503: %d with %s %q, want 200 with the lock", resp.StatusCode, lockid.Header, resp.Header.Get(lockid.Header))
		}
		if after > recheck+slack {
			t.Fatalf("still answering 200 %v after the GGUF changed (re-check every %v)", after.Round(time.Millisecond), recheck)
		}
		time.Sleep(recheck / 10)
	}
	if _, err := endpoint.Resolve(pctx, nil, []string{ep}, "tiny", m.Lock); !errors.Is(err, endpoint.ErrNoLock) {
		t.Fatalf("Resolve after tampering: err = %v, want ErrNoLock", err)
	}
}

// The sidecar vouches for one model of a real two-model Ollama: a run of the
// other model through it stores nothing under the lock and fails, a run of
// the bound model stores every case under it; a lock whose GGUF is not
// what Ollama loaded for the bound name refuses to start, while a Modelfile
// with a system prompt, messages and parameters in other spellings passes;
// and re-creating the bound model, even from the same files, drops the
// claim.
func TestServeOneModelOllamaEndToEnd(t *testing.T) {
	runQuiet(t)
	ol := testbed.Ollama(t)
	tinyDir := testbed.Generate(t, testbed.ModelOptions{Seed: 1})
	otherDir := testbed.Generate(t, testbed.ModelOptions{Seed: 2, Template: "compact"})
	ol.Create(t, "tiny", tinyDir)
	ol.Create(t, "other", otherDir)
	t.Setenv(lock.CacheDirEnv, t.TempDir())
	ctx := context.Background()
	suite, err := suites.LoadExample("testbed")
	if err != nil {
		t.Fatal(err)
	}

	lockOf := func(dir string) (string, string) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "model.lock")
		if code, _, stderr := runCmd(ctx, "lock", "create", "-o", file, "--engine", "ollama", "--engine-version", "0.17.4", dir); code != 0 {
			t.Fatalf("lock create %s: exit %d\n%s", dir, code, stderr)
		}
		m, err := lock.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return file, string(m.Lock)
	}
	lockFile, id := lockOf(tinyDir)

	// Another GGUF (another seed) with tiny's template and parameters: only
	// the weights differ from what Ollama loaded as tiny.
	otherWeights := testbed.Generate(t, testbed.ModelOptions{Seed: 3})
	otherLock, _ := lockOf(otherWeights)
	code, _, stderr := runCmd(ctx, "serve", "--lock", otherLock, "--model-dir", otherWeights, "--upstream", ol.URL(),
		"--listen", "127.0.0.1:0", "--model", "tiny")
	tinySum, err := lock.HashFiles(ctx, []string{filepath.Join(tinyDir, "model.gguf")}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if code != fault.ExitLockRefused || !strings.Contains(stderr, "as model tiny:latest: its weights are sha256:"+tinySum[0][:12]+"…, the locked Modelfile's FROM files are sha256:") ||
		strings.Contains(stderr, "template") || strings.Contains(stderr, "listening on") {
		t.Fatalf("serve with a lock of other weights: exit %d, want %d naming the weights alone\n%s", code, fault.ExitLockRefused, stderr)
	}

	// A Modelfile with every kind of line Ollama reports back in its own
	// spelling (a padded, reordered, requoted parameter list; a float
	// written 0.70; a deprecated parameter Ollama drops) passes.
	richDir := testbed.Generate(t, testbed.ModelOptions{Seed: 1})
	rich := testbed.Modelfile(testbed.ModelOptions{}) + `SYSTEM """You are terse.
Answer in one word."""
PARAMETER temperature 0.70
PARAMETER stop "<|end|>"
PARAMETER stop <|user|>
PARAMETER top_k 20
PARAMETER penalize_newline true
MESSAGE user "Is the sky blue?"
MESSAGE assistant Yes
`
	if err := os.WriteFile(filepath.Join(richDir, "Modelfile"), []byte(rich), 0o644); err != nil {
		t.Fatal(err)
	}
	ol.Create(t, "rich", richDir)
	richLock, _ := lockOf(richDir)
	rctx, rcancel := context.WithCancel(ctx)
	rlog := &serveTestLog{}
	rdone := make(chan error, 1)
	go func() {
		rdone <- run(rctx, []string{"serve", "--lock", richLock, "--model-dir", richDir, "--upstream", ol.URL(),
			"--listen", "127.0.0.1:0", "--model", "rich"}, io.Discard, rlog)
	}()
	serveAddress(t, rlog, rdone)
	rcancel()
	if err := <-rdone; err != nil {
		t.Fatalf("serve rich: %v\n%s", err, rlog)
	}

	// The sidecar bound to tiny.
	const recheck = 200 * time.Millisecond
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := &serveTestLog{}
	done := make(chan error, 1)
	go func() {
		done <- run(sctx, []string{"serve", "--lock", lockFile, "--model-dir", tinyDir, "--upstream", ol.URL(),
			"--listen", "127.0.0.1:0", "--model", "tiny", "--recheck", recheck.String()}, io.Discard, log)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	ep := serveAddress(t, log, done) + "/v1"
	dbPath := filepath.Join(t.TempDir(), "e2e.db")
	runArgs := func(model string) []string {
		return []string{"run", "--suite", "testbed", "--endpoint", ep, "--model", model, "--expect-lock", id,
			"--db", dbPath, "--format", "json", "--no-progress"}
	}
	db := runOpen(t, dbPath)
	stored := func() (total, underLock int) {
		t.Helper()
		for _, r := range runListRuns(t, db) {
			rs, err := db.Results(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, res := range rs {
				total++
				if string(res.Lock) == id {
					underLock++
				}
			}
		}
		return total, underLock
	}

	code, stdout, stderr := runCmd(ctx, runArgs("other")...)
	if code == 0 {
		t.Fatalf("run --model other through the sidecar of tiny: exit 0\n%s\n%s", stdout, stderr)
	}
	if total, under := stored(); total != 0 || under != 0 {
		t.Fatalf("run --model other stored %d results, %d under %s; want none", total, under, id)
	}
	t.Logf("run --model other: exit %d: %s", code, lastLine(stderr))

	code, stdout, stderr = runCmd(ctx, runArgs("tiny")...)
	if code != 0 {
		t.Fatalf("run --model tiny: exit %d\n%s", code, stderr)
	}
	var s eval.RunSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || s.Status != eval.RunComplete || string(s.Lock) != id {
		t.Fatalf("run --model tiny: %+v, %v", s, err)
	}
	if total, under := stored(); total != len(suite.Cases) || under != len(suite.Cases) {
		t.Fatalf("run --model tiny stored %d results, %d under the lock; want %d under it", total, under, len(suite.Cases))
	}

	// Re-creating tiny from the very same files changes what Ollama serves
	// as tiny as far as anyone can tell: the claim is dropped.
	ol.Create(t, "tiny", tinyDir)
	deadline := time.Now().Add(recheck + 5*time.Second)
	for {
		resp, err := http.Post(ep+"/chat/completions", "application/json", strings.NewReader(`{"model":"tiny","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			if !strings.Contains(string(body), "evalpin_lock_mismatch") || !strings.Contains(string(body), "it was re-created (modified_at") || resp.Header.Get(lockid.Header) != "" {
				t.Fatalf("after re-creating tiny: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still answering %d after tiny was re-created", resp.StatusCode)
		}
		time.Sleep(recheck / 4)
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
