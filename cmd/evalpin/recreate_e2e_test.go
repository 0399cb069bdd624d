package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/testbed"
	"github.com/evalpin/evalpin/suites"
)

// A recreateProxy stands between evalpin and the real Ollama: it forwards
// everything, numbers the suite's chat completions, logs when each
// completion's answer and each /api/show answer was sent, and runs a hook
// before forwarding a completion, so that a model can be re-created after
// exactly N answers.
type recreateProxy struct {
	proxy   *httputil.ReverseProxy
	prompts map[string]bool // the suite's prompts

	mu     sync.Mutex
	cond   *sync.Cond
	seq    int64
	n      int64            // suite completions forwarded
	done   map[int64]int64  // completion number → seq of its answer
	shows  []int64          // seqs of /api/show answers
	before func(n int64)    // called before completion n is forwarded
	counts map[string]int64 // suite completions forwarded, by prompt
}

func newRecreateProxy(t *testing.T, origin string, prompts map[string]bool) (*recreateProxy, string) {
	u, err := url.Parse(origin)
	if err != nil {
		t.Fatal(err)
	}
	p := &recreateProxy{proxy: httputil.NewSingleHostReverseProxy(u), prompts: prompts, done: map[int64]int64{}, counts: map[string]int64{}}
	p.cond = sync.NewCond(&p.mu)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *recreateProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var n int64
	if r.Method == http.MethodPost && (r.URL.Path == "/v1/chat/completions" || r.URL.Path == "/v1/completions") {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req struct {
			Messages []eval.Message `json:"messages"`
			Prompt   string         `json:"prompt"`
		}
		json.Unmarshal(body, &req)
		if prompt := recreatePrompt(req.Messages, req.Prompt); p.prompts[prompt] {
			p.mu.Lock()
			p.n++
			n = p.n
			p.counts[prompt]++
			before := p.before
			p.mu.Unlock()
			if before != nil {
				before(n)
			}
		}
	}
	p.proxy.ServeHTTP(w, r)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	switch {
	case n > 0:
		p.done[n] = p.seq
	case r.URL.Path == "/api/show":
		p.shows = append(p.shows, p.seq)
	}
	p.cond.Broadcast()
}

// recreatePrompt returns what tells a request of a case apart: its last
// message, or its raw prompt.
func recreatePrompt(msgs []eval.Message, prompt string) string {
	if len(msgs) > 0 {
		return msgs[len(msgs)-1].Content
	}
	return prompt
}

// waitShowAfter waits until an /api/show answer was sent after completion
// n's answer: a lock check that brackets the results up to n.
func (p *recreateProxy) waitShowAfter(t *testing.T, n int64) {
	deadline := time.AfterFunc(30*time.Second, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer deadline.Stop()
	start := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if at, ok := p.done[n]; ok && len(p.shows) > 0 && p.shows[len(p.shows)-1] > at {
			return
		}
		if time.Since(start) > 30*time.Second {
			t.Errorf("no /api/show after completion %d within 30 s", n)
			return
		}
		p.cond.Wait()
	}
}

// forwarded returns the suite completions forwarded so far.
func (p *recreateProxy) forwarded() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// The model behind an Ollama name is re-created mid-run, after exactly 5 of
// the testbed suite's 20 answers: once as another model (A → B), once as
// another model and back (A → B → A, whose lock then reads the same). Ollama
// carries no lock in its responses, so results are held until a check of
// the lock that started after they arrived confirms it together with the
// model's modified_at. The run exits 3; exactly the 5 results confirmed
// before the change are stored, nothing of B; and, with A served again, the
// same command requests exactly the 15 others and completes.
func TestRunRecreatedMidRunOllamaEndToEnd(t *testing.T) {
	const n = 5
	suite, err := suites.LoadExample("testbed")
	if err != nil {
		t.Fatal(err)
	}
	prompts := map[string]bool{}
	for _, c := range suite.Cases {
		prompts[recreatePrompt(c.Messages, c.Prompt)] = true
	}
	ol := testbed.Ollama(t)
	dirA := testbed.Generate(t, testbed.ModelOptions{Seed: 1})
	dirB := testbed.Generate(t, testbed.ModelOptions{Seed: 2})

	tests := []struct {
		name     string
		recreate []string // model directories to create "tiny" from, in order
	}{
		{"A to B", []string{dirB}},
		{"A to B and back to A", []string{dirB, dirA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := advBatch(runQuiet(t), n) // the first check brackets exactly the first n results
			ctx := context.Background()
			ol.Create(t, "tiny", dirA)
			proxy, origin := newRecreateProxy(t, ol.URL(), prompts)
			proxy.before = func(m int64) {
				if m != n+1 {
					return
				}
				proxy.waitShowAfter(t, n)
				for _, dir := range tt.recreate {
					if err := ol.CreateModel(ctx, "tiny", dir); err != nil {
						t.Error(err)
					}
				}
			}
			dbPath := filepath.Join(t.TempDir(), "e.db")
			args := []string{"run", "--suite", "testbed", "--endpoint", origin + "/v1", "--model", "tiny",
				"--db", dbPath, "--concurrency", "1", "--no-progress"}
			code, _, stderr := a.cmd(ctx, args...)
			if code != fault.ExitLockRefused || !strings.Contains(stderr, fmt.Sprintf("%d of %d case samples stored", n, len(suite.Cases))) {
				t.Fatalf("exit %d, want %d with %d stored:\n%s", code, fault.ExitLockRefused, n, stderr)
			}
			db := runOpen(t, dbPath)
			r, err := db.Run(ctx, 1)
			if err != nil || r.Status != eval.RunInterrupted || r.LockRefusal == "" {
				t.Fatalf("run %+v, %v: want interrupted with the refusal recorded", r, err)
			}
			results, err := db.Results(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != n {
				t.Fatalf("%d results stored, want exactly the %d confirmed before the change", len(results), n)
			}
			first := map[string]bool{}
			for _, c := range suite.Cases[:n] {
				first[c.ID] = true
			}
			for _, res := range results {
				if !first[res.CaseID] || res.Lock != r.Lock || res.Error != "" {
					t.Errorf("stored %s under %s (error %q); want one of the first %d cases, under %s", res.CaseID, res.Lock, res.Error, n, r.Lock)
				}
			}

			// A is served again: the same command resumes the run and
			// requests exactly the cases not stored.
			proxy.before = nil
			ol.Create(t, "tiny", dirA)
			before := proxy.forwarded()
			code, _, stderr = a.cmd(ctx, args...)
			if code != 0 || !strings.Contains(stderr, fmt.Sprintf("resuming run 1 (interrupted): %d of %d", n, len(suite.Cases))) {
				t.Fatalf("resume: exit %d\n%s", code, stderr)
			}
			if got, want := proxy.forwarded()-before, int64(len(suite.Cases)-n); got != want {
				t.Errorf("the resume requested %d cases, want exactly the %d not stored", got, want)
			}
			results, err = db.Results(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != len(suite.Cases) {
				t.Errorf("%d results after the resume, want %d", len(results), len(suite.Cases))
			}
			if got := runStatus(t, db, 1); got != eval.RunComplete {
				t.Errorf("status %s after the resume, want complete", got)
			}
		})
	}
}
