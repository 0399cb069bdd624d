package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/testbed"
)

// Forks side by side on the real Ollama test bed: three packagings of one
// model (F16 with the chat template, the same with another template, the F16
// re-quantized to Q8_0 by Ollama), each run labelled, compared by label. The
// words name what differs from the first: the template, or the quantization
// Ollama reported.
func TestCompareOllamaEndToEnd(t *testing.T) {
	runQuiet(t)
	t.Setenv(dbEnv, "")
	t.Setenv(lock.CacheDirEnv, t.TempDir())
	ol := testbed.Ollama(t)
	base := testbed.Generate(t, testbed.ModelOptions{Template: "chat"})
	ol.Create(t, "fork-base", base)
	ol.Create(t, "fork-compact", testbed.Generate(t, testbed.ModelOptions{Template: "compact"}))
	ctx := context.Background()
	if err := ol.CreateQuantized(ctx, "fork-q8", base, "q8_0"); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	db := filepath.Join(work, "forks.db")
	prompts := make([]string, 12)
	for i := range prompts {
		prompts[i] = fmt.Sprintf("Question %d: what did the farmer see on the road?", i)
	}
	suite := writeGateSuite(t, work, "forks", prompts, func(int) string { return "{kind: length, min_chars: 1}" })
	for _, fork := range []string{"base", "compact", "q8"} {
		if code, _, stderr := runCmd(ctx, "run", "--suite", suite, "--endpoint", ol.BaseURL(), "--model", "fork-"+fork,
			"--label", "fork="+fork, "--samples", "2", "--db", db, "--no-progress"); code != fault.ExitOK {
			t.Fatalf("run %s: exit %d\n%s\nserver log:\n%s", fork, code, stderr, ol.Log())
		}
	}
	code, stdout, stderr := runCmd(ctx, "compare", "fork=base", "fork=compact", "fork=q8", "--suite", "forks", "--db", db)
	if code != fault.ExitOK {
		t.Fatalf("compare: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"B fork=compact", "differs from A: template changed; weights same",
		"C fork=q8", "differs from A: quantization F16 → Q8_0; weights changed; template same",
		"output drift",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("compare lacks %q:\n%s", want, stdout)
		}
	}
	for _, fork := range []string{"fork=base (a label): run 1", "fork=compact (a label): run 2", "fork=q8 (a label): run 3"} {
		if !strings.Contains(stderr, fork) {
			t.Errorf("compare does not say which run %q took:\n%s", fork, stderr)
		}
	}
}
