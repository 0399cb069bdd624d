package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/runner"
)

// A 200 whose content is absent or null has no output: its result is stored
// as a malformed response, not as an empty output. An empty string is an
// output, stored as one.
func TestRunAbsentContentIsMalformed(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 4)
	dbPath := filepath.Join(dir, "e.db")
	fake := newRunFake(runLockA)
	// The message each case's answer carries, as JSON; the others echo.
	messages := map[string]string{
		runPrompt("case-000"): `{"role":"assistant","content":null}`,
		runPrompt("case-001"): `{"role":"assistant","content":""}`,
		runPrompt("case-002"): `{"role":"assistant"}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			fake.ServeHTTP(w, r)
			return
		}
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		prompt := req.Messages[len(req.Messages)-1].Content
		msg, ok := messages[prompt]
		if !ok {
			b, _ := json.Marshal(map[string]string{"role": "assistant", "content": "echo: " + prompt})
			msg = string(b)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(lockid.Header, runLockA)
		fmt.Fprintf(w, `{"id":"c","object":"chat.completion","model":"fake-model","choices":[{"index":0,"message":%s,"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":8}}`, msg)
	}))
	t.Cleanup(srv.Close)

	code, stdout, stderr := runCmd(context.Background(), "run", "--suite", suite, "--endpoint", srv.URL+"/v1", "--db", dbPath, "--format", "json")
	if code != fault.ExitOK {
		t.Fatalf("exit %d, want 0 (a malformed answer is the case's stored result)\n%s", code, stderr)
	}
	var sum eval.RunSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Stored != 4 || sum.StoredErrors != 2 || sum.Errors[runner.ErrMalformed] != 2 {
		t.Errorf("summary: %d stored, %d failed, errors %v; want 4 stored, 2 malformed", sum.Stored, sum.StoredErrors, sum.Errors)
	}
	results, err := runOpen(t, dbPath).Results(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		switch r.CaseID {
		case "case-000", "case-002":
			if r.ErrorKind != runner.ErrMalformed || !strings.Contains(r.Error, "choices[0].message.content is absent or null") || r.Output != "" {
				t.Errorf("%s: stored kind %q error %q output %q; want malformed, content absent or null", r.CaseID, r.ErrorKind, r.Error, r.Output)
			}
		case "case-001":
			if r.ErrorKind != "" || r.Output != "" || r.FinishReason != "length" {
				t.Errorf("%s: stored kind %q error %q output %q; want the empty output, no error", r.CaseID, r.ErrorKind, r.Error, r.Output)
			}
		default:
			if r.ErrorKind != "" || r.Output != "echo: "+runPrompt(r.CaseID) {
				t.Errorf("%s: stored kind %q output %q; want the echo", r.CaseID, r.ErrorKind, r.Output)
			}
		}
	}
}
