package runs_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
)

// A testLock is a lock id with its identity document.
type testLock struct {
	id  lockid.ID
	doc []byte
}

// manifestLock returns the lock of a manifest of a model directory, and the
// manifest.
func manifestLock(t *testing.T) testLock {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.gguf"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := lock.Create(context.Background(), dir, lock.Options{Serving: lock.Serving{Engine: "vllm", EngineVersion: "0.6.3"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return testLock{id: m.Lock, doc: data}
}

// encode returns the baseline file of b.
func encode(t *testing.T, b *baselines.Baseline) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := baselines.Encode(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExport(t *testing.T) {
	h := newHistory(t)
	ctx := context.Background()
	// Lock C's stored document is lock A's (a broken copy of a database),
	// and lock D has none.
	lockC, _ := ollamaLock("C")
	if err := h.db.PutLock(ctx, lockC, h.docA, "ollama"); err != nil {
		t.Fatal(err)
	}
	h.put(t, lockC, h.s1, h.x, eval.RunComplete, "c")                                        // run 6
	h.put(t, lockid.ID("sha256:"+strings.Repeat("d", 64)), h.s2, h.x, eval.RunComplete, "d") // run 7
	tests := []struct {
		ref     string
		allow   bool
		run     int64
		doc     []byte // the header's identity document
		source  string
		cases   int
		warning string
		err     string
	}{
		{ref: "1", run: 1, doc: h.docA, source: "ollama", cases: 2},
		{ref: "#2", run: 2, doc: h.docB, source: "ollama", cases: 2},
		{ref: string(h.lockB), run: 4, doc: h.docB, source: "ollama", cases: 2},
		{ref: "3", err: "run 3 is interrupted, not complete"},
		{ref: "3", allow: true, run: 3, doc: h.docB, source: "ollama", cases: 2},
		{ref: "6", run: 6, source: "ollama", cases: 2, warning: "the identity document of lock " + string(lockC) +
			" is left out of the baseline: the identity document is lock " + string(h.lockA) + ", not " + string(lockC) + " (edited, or stored under another lock)"},
		{ref: "7", run: 7, source: "run", cases: 2},
		{ref: "99", err: "no run 99 is stored"},
		{ref: "sha256:none", err: `"sha256:none" is neither a run id nor a lock id (nor a prefix of one, at least 6 hex digits)`},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			x, err := runs.Export(ctx, h.db, tt.ref, runs.ExportOptions{AllowIncomplete: tt.allow})
			if errText(t, err, tt.err) {
				return
			}
			hd := x.Baseline.Header
			if x.Run.ID != tt.run || hd.Lock != x.Run.Lock || !bytes.Equal(hd.LockManifest, tt.doc) || hd.LockSource != tt.source ||
				hd.Cases != tt.cases || hd.Results != len(x.Baseline.Results) || hd.Results == 0 {
				t.Errorf("Export(%q) = run %d, header %+v; want run %d, document %s, source %q, %d cases",
					tt.ref, x.Run.ID, hd, tt.run, tt.doc, tt.source, tt.cases)
			}
			var warnings []string
			for _, w := range x.Warnings {
				warnings = append(warnings, w.Error())
			}
			if got := strings.Join(warnings, "\n"); got != tt.warning {
				t.Errorf("warnings %q, want %q", got, tt.warning)
			}
		})
	}
}

func TestReadBaseline(t *testing.T) {
	h := newHistory(t)
	dir := t.TempDir()
	good := h.exportFile(t, "1", filepath.Join(dir, "good.jsonl"))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(dir, "edited.jsonl")
	if err := os.WriteFile(edited, bytes.Replace(data, []byte(`"a c1"`), []byte(`"A c1"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	// A manifest lock's file, and one that carries lock B's identity under
	// lock A's id.
	m := manifestLock(t)
	if err := h.db.PutLock(context.Background(), m.id, m.doc, "manifest"); err != nil {
		t.Fatal(err)
	}
	h.put(t, m.id, h.s1, h.x, eval.RunComplete, "m") // run 6
	withManifest := h.exportFile(t, "6", filepath.Join(dir, "manifest.jsonl"))
	x, err := runs.Export(context.Background(), h.db, "1", runs.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x.Baseline.Header.LockManifest = h.docB
	otherDoc := filepath.Join(dir, "other-doc.jsonl")
	writeBaseline(t, otherDoc, x.Baseline)
	x.Baseline.Header.LockManifest = m.doc
	manifestDoc := filepath.Join(dir, "manifest-doc.jsonl")
	writeBaseline(t, manifestDoc, x.Baseline)

	tests := []struct {
		name string
		path string
		err  string // a prefix of the error
		is   error
		as   any
	}{
		{name: "an Ollama lock's file", path: good},
		{name: "a manifest lock's file", path: withManifest},
		{name: "edited", path: edited, err: edited + ":", is: baselines.ErrChecksum, as: &baselines.ParseError{}},
		{name: "missing", path: filepath.Join(dir, "none.jsonl"), err: "open " + filepath.Join(dir, "none.jsonl") + ": ", is: runs.ErrOpen},
		{name: "another lock's identity", path: otherDoc, as: &runs.DocumentError{},
			err: otherDoc + ":1: the identity document of lock " + string(h.lockA) + " is refused: the identity document is lock " + string(h.lockB) + ", not " + string(h.lockA)},
		{name: "a manifest under an Ollama lock", path: manifestDoc, as: &runs.DocumentError{},
			err: manifestDoc + ":1: the identity document of lock " + string(h.lockA) + " is refused: not an Ollama identity document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := runs.ReadBaselineFile(tt.path)
			if tt.err == "" {
				if err != nil || b == nil {
					t.Fatalf("ReadBaselineFile: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) || tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v, want %q… matching %v", err, tt.err, tt.is)
			}
			var pe *baselines.ParseError
			var de *runs.DocumentError
			switch tt.as.(type) {
			case *baselines.ParseError:
				if !errors.As(err, &pe) {
					t.Errorf("error %v is no *baselines.ParseError", err)
				}
			case *runs.DocumentError:
				if !errors.As(err, &de) || de.Lock != h.lockA {
					t.Errorf("error %v is no *runs.DocumentError of lock %s", err, h.lockA)
				}
			}
			if errors.Is(err, runs.ErrOpen) != errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v: ErrOpen %v", err, errors.Is(err, runs.ErrOpen))
			}
		})
	}
}

// Import stores a file as a run that FindImported finds again, and that
// exports to the same bytes; FindImported finds the stored run a file was
// exported from, and no run for a file whose results differ.
func TestImport(t *testing.T) {
	h := newHistory(t)
	ctx := context.Background()
	exported := func(ref string) *baselines.Baseline {
		x, err := runs.Export(ctx, h.db, ref, runs.ExportOptions{AllowIncomplete: true})
		if err != nil {
			t.Fatal(err)
		}
		return x.Baseline
	}
	tests := []struct {
		name string
		ref  string
		edit func(b *baselines.Baseline)
		want int64 // the run of h that holds the file, or 0
	}{
		{name: "a complete run", ref: "1", want: 1},
		{name: "an interrupted run", ref: "3", want: 3},
		{name: "a run of another suite", ref: "4", want: 4},
		{name: "an output changed", ref: "1", edit: func(b *baselines.Baseline) { b.Results[0].Output = "changed" }},
		{name: "a failed request", ref: "2", edit: func(b *baselines.Baseline) {
			b.Results[1].Error, b.Results[1].ErrorKind = "HTTP 500", "server"
			b.Header.Errors = 1
		}},
		// Run 2 marked interrupted holds what run 3 holds.
		{name: "another status", ref: "2", edit: func(b *baselines.Baseline) { b.Header.Status = eval.RunInterrupted }, want: 3},
		{name: "another status, no such run", ref: "4", edit: func(b *baselines.Baseline) { b.Header.Status = eval.RunInterrupted }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := exported(tt.ref)
			if tt.edit != nil {
				tt.edit(b)
			}
			file := encode(t, b)
			path := filepath.Join(t.TempDir(), "b.jsonl")
			if err := os.WriteFile(path, file, 0o644); err != nil {
				t.Fatal(err)
			}
			st, cleanup, err := runs.CheckBaselineArgs([]string{path})
			defer cleanup()
			if err != nil {
				t.Fatal(err)
			}
			id, ok, err := runs.FindImported(ctx, h.db, st)
			if err != nil || ok != (tt.want != 0) || id != tt.want {
				t.Errorf("FindImported in the history = run %d, %v, %v; want run %d", id, ok, err, tt.want)
			}
			db := openDB(t, "")
			if _, ok, err := runs.FindImported(ctx, db, st); ok || err != nil {
				t.Fatalf("FindImported in an empty store = %v, %v", ok, err)
			}
			id, err = runs.ImportStream(ctx, db, st)
			if err != nil {
				t.Fatal(err)
			}
			if again, ok, err := runs.FindImported(ctx, db, st); again != id || !ok || err != nil {
				t.Errorf("FindImported after ImportStream = run %d, %v, %v; want run %d", again, ok, err, id)
			}
			x, err := runs.Export(ctx, db, "1", runs.ExportOptions{AllowIncomplete: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := encode(t, x.Baseline); !bytes.Equal(got, file) {
				t.Errorf("export → import → export changed the file:\n%s\nwant\n%s", got, file)
			}
		})
	}
}

// A baseline file changed after CheckBaselineArg checked it is refused by
// ImportStream, which stores nothing of the changed part: no output of the
// edit reaches the store, and the run is left running.
func TestImportFileChanged(t *testing.T) {
	ctx := context.Background()
	file := encode(t, richBaseline(t, eval.RunComplete, 400)) // 1,602 lines: two blocks
	path := filepath.Join(t.TempDir(), "b.jsonl")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	f, cleanup, err := runs.CheckBaselineArg(path)
	defer cleanup()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(file), "\n")
	edited := 1500
	for !strings.Contains(lines[edited], `"output":"out `) {
		edited++
	}
	lines[edited] = strings.Replace(lines[edited], `"output":"out `, `"output":"EDITED `, 1)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, "")
	if _, err := runs.ImportStream(ctx, db, runs.FileStream(f)); !errors.Is(err, baselines.ErrChanged) {
		t.Fatalf("ImportStream of a changed file: %v, want an error matching baselines.ErrChanged", err)
	}
	all, err := db.Runs(ctx, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Status != eval.RunRunning {
			t.Errorf("run %d is %s after a refused import, want running", r.ID, r.Status)
		}
		results, err := db.Results(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range results {
			if strings.Contains(res.Output, "EDITED") {
				t.Fatalf("the edited output of case %s was stored", res.CaseID)
			}
		}
	}
}

// storeBaseline stores b in db as ImportStream stores a file, from memory:
// also a run that no baseline file can hold.
func storeBaseline(t *testing.T, db *store.DB, b *baselines.Baseline) int64 {
	t.Helper()
	ctx := context.Background()
	h := b.Header
	if err := db.PutLock(ctx, h.Lock, h.LockManifest, "baseline"); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSuite(ctx, b.Suite()); err != nil {
		t.Fatal(err)
	}
	r := b.Run()
	if err := db.ImportRun(ctx, &r, eval.SliceSeq(b.Results)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutRunLabels(ctx, r.ID, b.Cases); err != nil {
		t.Fatal(err)
	}
	return r.ID
}
