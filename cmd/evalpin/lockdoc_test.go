package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
)

// lockDocOllama returns an Ollama identity of the test blob with template,
// its document and its lock.
func lockDocOllama(template, temperature string) lockDoc {
	o := ollama.Identity{
		EngineVersion: "0.12.6",
		Models:        []string{"sha256:" + strings.Repeat("2", 64)},
		Template:      template,
		Parameters:    []string{"temperature " + temperature},
	}
	return lockDoc{id: o.Lock(), doc: o.Canonical()}
}

func TestLockDocWords(t *testing.T) {
	manA, idA := testManifest(t, "weights")
	manB, idB := testManifest(t, "other weights")
	mA, mB := lockDoc{lockid.ID(idA), manA}, lockDoc{lockid.ID(idB), manB}
	oA, oB := lockDocOllama("{{ .Prompt }}", "0"), lockDocOllama("{{ .System }}{{ .Prompt }}", "0")
	oC := lockDocOllama("{{ .Prompt }}", "0.7")
	fooID := "foo:sha256:" + strings.Repeat("f", 64)
	tests := []struct {
		name  string
		a, b  lockDoc
		words string
		err   string // part of the error, when a document is refused
	}{
		{name: "two manifests", a: mA, b: mB, words: "weights changed; serving same"},
		{name: "two Ollama identities", a: oA, b: oB, words: "template changed; weights same; parameters same; engine same"},
		{name: "an Ollama parameter", a: oA, b: oC, words: "parameters: temperature 0 → 0.7; weights same; template same; engine same"},
		{name: "the same Ollama lock", a: oA, b: oA, words: "weights same; template same; parameters same; engine same"},
		{name: "a manifest and an Ollama identity", a: mA, b: oA, words: ""},
		{name: "an Ollama identity and a manifest", a: oB, b: mB, words: ""},
		{name: "no document for one lock", a: oA, b: lockDoc{id: oB.id}, words: ""},
		{name: "no document for either", a: lockDoc{id: lockid.ID(idA)}, b: lockDoc{id: lockid.ID(idB)}, words: ""},
		{name: "a manifest stored under an Ollama lock", a: oA, b: lockDoc{oB.id, manB},
			err: "the identity document of lock " + string(oB.id) + " is refused: not an Ollama identity document"},
		{name: "an Ollama identity stored under an evalpin lock", a: mA, b: lockDoc{lockid.ID(idB), oB.doc},
			err: "the identity document of lock " + idB + " is refused"},
		{name: "the manifest of another lock", a: lockDoc{lockid.ID(idA), manB}, b: mB,
			err: "the identity document of lock " + idA + " is refused: it is the manifest of lock " + idB},
		{name: "the Ollama identity of another lock", a: oA, b: lockDoc{oB.id, oA.doc},
			err: "the identity document is lock " + string(oA.id) + ", not " + string(oB.id)},
		{name: "a lock of an unknown kind", a: lockDoc{lockid.ID(fooID), manA}, b: mB,
			err: "evalpin knows no identity document for a lock of this kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			words, err := lockDocWords(tt.a, tt.b)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if words != tt.words {
				t.Errorf("words = %q, want %q", words, tt.words)
			}
		})
	}
}

func TestVerifyLockDocument(t *testing.T) {
	man, id := testManifest(t, "weights")
	o := lockDocOllama("{{ .Prompt }}", "0")
	tests := []struct {
		name string
		id   lockid.ID
		doc  []byte
		ok   bool
	}{
		{"a manifest", lockid.ID(id), man, true},
		{"an Ollama identity", o.id, o.doc, true},
		{"a hand-edited manifest", lockid.ID(id), bytes.Replace(man, []byte(`"model.gguf"`), []byte(`"model2.gguf"`), 1), false},
		{"a hand-edited Ollama identity", o.id, bytes.Replace(o.doc, []byte(`Prompt`), []byte(`System`), 1), false},
		{"a manifest under an Ollama lock", o.id, man, false},
		{"an Ollama identity under an evalpin lock", lockid.ID(id), o.doc, false},
		{"not JSON", lockid.ID(id), []byte("<html>"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := verifyLockDocument(tt.id, tt.doc); (err == nil) != tt.ok {
				t.Fatalf("verifyLockDocument = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// An ollamaFake stands in for an Ollama server: its own API (/api/version,
// /api/show) with the given template and temperature over one blob, and
// OpenAI chat completions that echo the last message.
func ollamaFake(t *testing.T, template, temperature string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"version":"0.12.6"}`)
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"object":"list","data":[{"id":"tiny:latest","object":"model"}]}`)
	})
	mux.HandleFunc("POST /api/show", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"modelfile":  "# Modelfile generated by \"ollama show\"\nFROM /root/.ollama/models/blobs/sha256-" + strings.Repeat("2", 64) + "\nPARAMETER temperature " + temperature + "\n",
			"parameters": "temperature                    " + temperature,
			"template":   template,
			"details":    map[string]any{"format": "gguf", "family": "llama"},
		})
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string         `json:"model"`
			Messages []eval.Message `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": "c", "object": "chat.completion", "model": req.Model, "system_fingerprint": "fp_ollama",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]string{"role": "assistant", "content": "echo: " + req.Messages[len(req.Messages)-1].Content}}},
			"usage": map[string]int{"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// Two Ollama models that differ only in template, each run against
// Ollama's derived lock with fakes: the runs store the identity documents,
// the diff starts with the words, and a baseline export + import round trip
// keeps the document, which import verifies.
func TestOllamaLockDiff(t *testing.T) {
	runQuiet(t)
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "e.db")
	suite := runSuiteFile(t, dir, 4)
	epA, epB := ollamaFake(t, "{{ .Prompt }}", "0"), ollamaFake(t, "<|user|>{{ .Prompt }}", "0")
	evalpin := func(want int, args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := runCmd(ctx, args...)
		if code != want {
			t.Fatalf("evalpin %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout, stderr
	}
	runJSON := func(ep string) runSummary {
		t.Helper()
		out, _ := evalpin(fault.ExitOK, "run", "--suite", suite, "--endpoint", ep, "--model", "tiny", "--db", dbPath, "--format", "json", "--no-progress")
		var s runSummary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("summary: %v\n%s", err, out)
		}
		return s
	}
	a, b := runJSON(epA), runJSON(epB)
	if !strings.HasPrefix(string(a.Lock), lockid.OllamaPrefix) || a.Lock == b.Lock {
		t.Fatalf("locks %s and %s: want two Ollama locks", a.Lock, b.Lock)
	}
	db := runOpen(t, dbPath)
	for _, s := range []runSummary{a, b} {
		l, err := db.Lock(ctx, s.Lock)
		if err != nil {
			t.Fatal(err)
		}
		if l.Source != string(endpoint.SourceOllama) || verifyLockDocument(l.ID, l.Manifest) != nil {
			t.Fatalf("stored lock %s: source %q, document %s; want Ollama's identity document", l.ID, l.Source, l.Manifest)
		}
	}

	const words = "template changed; weights same; parameters same; engine same"
	diffWords := func(db string, base, cand int64) string {
		t.Helper()
		out, stderr := evalpin(fault.ExitOK, "diff", "--baseline", fmt.Sprint(base), "--candidate", fmt.Sprint(cand), "--db", db, "--format", "json")
		var r struct {
			Lock struct{ Diff string } `json:"lock"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("report: %v\n%s", err, out)
		}
		if stderr != "" {
			t.Errorf("diff stderr: %s", stderr)
		}
		return r.Lock.Diff
	}
	if got := diffWords(dbPath, a.Run, b.Run); got != words {
		t.Errorf("lock diff = %q, want %q", got, words)
	}
	out, _ := evalpin(fault.ExitOK, "diff", "--baseline", fmt.Sprint(a.Run), "--candidate", fmt.Sprint(b.Run), "--db", dbPath)
	if !strings.HasPrefix(out, "Lock: "+words) {
		t.Errorf("the table report does not start with the words:\n%s", out)
	}

	// A baseline of B travels with its identity document; imported into an
	// empty database beside A's, the diff has the words again.
	fileA, fileB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	evalpin(fault.ExitOK, "baseline", "export", fmt.Sprint(a.Run), "-o", fileA, "--db", dbPath)
	evalpin(fault.ExitOK, "baseline", "export", fmt.Sprint(b.Run), "-o", fileB, "--db", dbPath)
	data, err := os.ReadFile(fileB)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"lock_source":"ollama","lock_manifest":{"adapters":[]`; !bytes.Contains(data, []byte(want)) {
		t.Errorf("baseline header has no Ollama identity document (%s):\n%.400s", want, data)
	}
	ciDB := filepath.Join(dir, "ci.db")
	ia, _ := evalpin(fault.ExitOK, "baseline", "import", fileA, "--db", ciDB)
	ib, _ := evalpin(fault.ExitOK, "baseline", "import", fileB, "--db", ciDB)
	var runA, runB int64
	fmt.Sscan(ia, &runA)
	fmt.Sscan(ib, &runB)
	if got := diffWords(ciDB, runA, runB); got != words {
		t.Errorf("lock diff of the imported runs = %q, want %q", got, words)
	}

	// An identity document edited by hand (the template) is refused at
	// import, even with the checksum line recomputed.
	edited := resealBaseline(t, data, func(l []string) []string {
		l[0] = strings.Replace(l[0], `"template":"\u003c|user|\u003e`, `"template":"\u003c|system|\u003e`, 1)
		l[0] = strings.Replace(l[0], `"template":"<|user|>`, `"template":"<|system|>`, 1)
		return l
	})
	if bytes.Equal(edited[:bytes.IndexByte(edited, '\n')], data[:bytes.IndexByte(data, '\n')]) {
		t.Fatalf("the edit changed nothing:\n%.600s", data)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := evalpin(fault.ExitInput, "baseline", "import", bad, "--db", filepath.Join(dir, "x.db"))
	if want := "the identity document of lock " + b.Lock + " is refused: the identity document is lock ollama:sha256:"; !strings.Contains(stderr, string(want)) {
		t.Errorf("import of an edited identity: %s\nwant %q", stderr, want)
	}
}

// A stored document that does not verify is left out of a diff and of a
// baseline export with a warning, and never stops either.
func TestLockDocStoredCorrupt(t *testing.T) {
	runQuiet(t)
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "e.db")
	suite := runSuiteFile(t, dir, 2)
	tmplA, tmplB := "{{ .Prompt }}", "<|user|>{{ .Prompt }}"
	// The store keeps the first document of a lock: B's lock is stored
	// first with A's document, as a broken copy of a database would have it.
	a, b := lockDocOllama(tmplA, "0"), lockDocOllama(tmplB, "0")
	db := runOpen(t, dbPath)
	if err := db.PutLock(ctx, b.id, a.doc, string(endpoint.SourceOllama)); err != nil {
		t.Fatal(err)
	}
	var runs []runSummary
	for _, tmpl := range []string{tmplA, tmplB} {
		code, out, stderr := runCmd(ctx, "run", "--suite", suite, "--endpoint", ollamaFake(t, tmpl, "0"), "--model", "tiny", "--db", dbPath, "--format", "json", "--no-progress")
		if code != 0 {
			t.Fatalf("run: exit %d\n%s", code, stderr)
		}
		var s runSummary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, s)
	}
	if runs[0].Lock != a.id || runs[1].Lock != b.id {
		t.Fatalf("locks %s, %s; want %s, %s as derived by hand", runs[0].Lock, runs[1].Lock, a.id, b.id)
	}
	if l, err := db.Lock(ctx, b.id); err != nil || !bytes.Equal(l.Manifest, a.doc) {
		t.Fatalf("lock %s: %v, document %s: want A's document kept", b.id, err, l.Manifest)
	}
	code, out, stderr := runCmd(ctx, "diff", "--baseline", fmt.Sprint(runs[0].Run), "--candidate", fmt.Sprint(runs[1].Run), "--db", dbPath, "--format", "json")
	if code != 0 || !strings.Contains(stderr, "warning: the identity document of lock "+string(b.id)+" is refused") || !strings.Contains(out, `"diff": ""`) {
		t.Errorf("diff with a corrupt document: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runCmd(ctx, "baseline", "export", fmt.Sprint(runs[1].Run), "--db", dbPath)
	if code != 0 || !strings.Contains(stderr, "is left out of the baseline") || strings.Contains(out, "lock_manifest") {
		t.Errorf("export with a corrupt document: exit %d\n%.300s\n%s", code, out, stderr)
	}
}
