package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

// A packFake is a /completions engine that answers every choice of a packed
// request with the request's number ("req<n>"), and reports runLockA in the
// Evalpin-Lock header.
type packFake struct {
	mu       sync.Mutex
	requests [][]string // the prompts of each completion request, in order
}

func (f *packFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(lockid.Header, runLockA)
	switch r.Method + " " + r.URL.Path {
	case "GET /v1/models":
		fmt.Fprint(w, `{"object":"list","data":[{"id":"fake-model","object":"model"}]}`)
	case "POST /v1/completions":
		var req struct {
			Prompt json.RawMessage `json:"prompt"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		var prompts []string
		if json.Unmarshal(req.Prompt, &prompts) != nil {
			var one string
			json.Unmarshal(req.Prompt, &one)
			prompts = []string{one}
		}
		f.mu.Lock()
		n := len(f.requests)
		f.requests = append(f.requests, prompts)
		f.mu.Unlock()
		choices := make([]any, len(prompts))
		for i := range prompts {
			choices[i] = map[string]any{"index": i, "text": fmt.Sprintf("req%d", n), "finish_reason": "stop"}
		}
		json.NewEncoder(w).Encode(map[string]any{"id": "c", "object": "text_completion", "model": "fake-model", "choices": choices})
	default:
		http.NotFound(w, r)
	}
}

// TestRunBatchWithinPass: "evalpin run --batch 4 --samples 3" spreads the
// samples of each case over three passes, and no packed request holds two
// passes: each request's results are of one sample, and every case sample is
// stored once.
func TestRunBatchWithinPass(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("name: packed\nversion: \"1\"\ndefaults: {max_tokens: 8}\ncases:\n")
	for i := range 10 {
		fmt.Fprintf(&b, "  - id: r%d\n    prompt: \"p%d\"\n", i, i)
	}
	suite := filepath.Join(dir, "suite.yaml")
	if err := os.WriteFile(suite, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := &packFake{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dbPath := filepath.Join(dir, "e.db")
	code, _, stderr := runCmd(context.Background(), "run", "--suite", suite, "--endpoint", srv.URL+"/v1", "--db", dbPath,
		"--batch", "4", "--samples", "3", "--concurrency", "1", "--no-progress")
	if code != fault.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	// One request at a time: the passes in order, each closing its last,
	// partly filled request.
	pass := "[p0 p1 p2 p3] [p4 p5 p6 p7] [p8 p9]"
	if got, want := fmt.Sprint(fake.requests), "["+strings.Join([]string{pass, pass, pass}, " ")+"]"; got != want {
		t.Errorf("requests %s, want %s", got, want)
	}
	results, err := runOpen(t, dbPath).Results(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 30 {
		t.Fatalf("%d results stored, want 30", len(results))
	}
	sampleOf := map[string]int{} // request → the sample of its results
	for _, r := range results {
		if s, ok := sampleOf[r.Output]; ok && s != r.Sample {
			t.Errorf("%s packed samples %d and %d", r.Output, s, r.Sample)
		}
		sampleOf[r.Output] = r.Sample
	}
}
