package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/testbed"
)

// "evalpin diff" of two Ollama models on the real test bed, each run against
// Ollama's own lock (no sidecar, no lock manifest): the models share their
// weights and differ only in chat template, as a mirror that synced the
// weights but not the template would. The diff starts with that in words,
// from the identity documents the runs stored, and so does the diff of the
// same runs exported to baseline files and imported into an empty database.
func TestOllamaLockDiffEndToEnd(t *testing.T) {
	runQuiet(t)
	ol := testbed.Ollama(t)
	ol.Create(t, "tiny-chat", testbed.Generate(t, testbed.ModelOptions{Template: "chat"}))
	ol.Create(t, "tiny-compact", testbed.Generate(t, testbed.ModelOptions{Template: "compact"}))
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "e2e.db")

	evalpin := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runCmd(ctx, args...)
		if code != fault.ExitOK {
			t.Fatalf("evalpin %s: exit %d\n%s%s\nserver log:\n%s", strings.Join(args, " "), code, stdout, stderr, ol.Log())
		}
		return stdout
	}
	run := func(model string) eval.RunSummary {
		t.Helper()
		out := evalpin("run", "--suite", "testbed", "--endpoint", ol.BaseURL(), "--model", model,
			"--db", dbPath, "--format", "json", "--no-progress")
		var s eval.RunSummary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("summary: %v\n%s", err, out)
		}
		if !strings.HasPrefix(string(s.Lock), lockid.OllamaPrefix) || s.LockSource != string(endpoint.SourceOllama) {
			t.Fatalf("%s: lock %s from %s, want Ollama's derived lock", model, s.Lock, s.LockSource)
		}
		return s
	}
	chat, compact := run("tiny-chat"), run("tiny-compact")
	if chat.Lock == compact.Lock {
		t.Fatalf("both models report lock %s", chat.Lock)
	}

	// What the identities hold: the same blob, the same parameters
	// (num_thread 1), no system prompt, one engine.
	const words = "template changed; weights same; parameters same; engine same"
	diff := func(db string, base, cand int64) string {
		t.Helper()
		return evalpin("diff", "--baseline", fmt.Sprint(base), "--candidate", fmt.Sprint(cand), "--db", db)
	}
	if out := diff(dbPath, chat.Run, compact.Run); !strings.HasPrefix(out, "Lock: "+words+"\n") {
		t.Errorf("diff does not start with %q:\n%s", "Lock: "+words, out)
	}

	// Baseline files carry the identity documents; import verifies them.
	ciDB := filepath.Join(dir, "ci.db")
	var ids [2]int64
	for i, r := range []eval.RunSummary{chat, compact} {
		file := filepath.Join(dir, fmt.Sprintf("baseline-%d.jsonl", i))
		evalpin("baseline", "export", fmt.Sprint(r.Run), "-o", file, "--db", dbPath)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		header, _, _ := bytes.Cut(data, []byte("\n"))
		if !bytes.Contains(header, []byte(`"lock_manifest":{"adapters":[],"engine_version":`)) {
			t.Errorf("run %d's baseline header carries no Ollama identity document:\n%.500s", r.Run, header)
		}
		if _, err := fmt.Sscan(evalpin("baseline", "import", file, "--db", ciDB), &ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	if out := diff(ciDB, ids[0], ids[1]); !strings.HasPrefix(out, "Lock: "+words+"\n") {
		t.Errorf("diff of the imported baselines does not start with %q:\n%s", "Lock: "+words, out)
	}
}
