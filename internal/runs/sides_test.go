package runs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/baselines"
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
)

// ollamaLock returns the lock of an Ollama identity with template, and its
// identity document.
func ollamaLock(template string) (lockid.ID, []byte) {
	o := ollama.Identity{
		EngineVersion: "0.12.6",
		Models:        []string{"sha256:" + strings.Repeat("2", 64)},
		Template:      template,
		Parameters:    []string{"temperature 0"},
	}
	return o.Lock(), o.Canonical()
}

// A history is a store with these runs, each with one result a case:
//
//	run 1: lock A, suite s1, settings X, complete, outputs "a"
//	run 2: lock B, suite s1, settings X, complete, outputs "b"
//	run 3: lock B, suite s1, settings X, interrupted
//	run 4: lock B, suite s2, settings X, complete
//	run 5: lock A, suite s1, settings Y, complete
//
// Suite s1 has cases c1 and c2 (tag x), s2 has c2 (tag y) and c3. Locks A
// and B are Ollama locks whose identity documents differ in the template.
type history struct {
	db           *store.DB
	lockA, lockB lockid.ID
	docA, docB   []byte
	x, y         eval.Settings
	s1, s2       eval.Suite
}

var started = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newHistory(t *testing.T) *history {
	t.Helper()
	h := &history{db: openDB(t, ""), x: eval.DefaultSettings()}
	h.y = h.x
	h.y.Temperature = 0.7
	h.lockA, h.docA = ollamaLock("{{ .Prompt }}")
	h.lockB, h.docB = ollamaLock("<|user|>{{ .Prompt }}")
	h.s1 = eval.Suite{Name: "s1", Version: "1", Settings: h.x, Hash: "suite1", Cases: []eval.Case{
		{ID: "c1", Prompt: "one", Tags: []string{"x"}, Hash: "h1"},
		{ID: "c2", Prompt: "two", Tags: []string{"x"}, Hash: "h2"},
	}}
	h.s2 = eval.Suite{Name: "s2", Version: "1", Settings: h.x, Hash: "suite2", Cases: []eval.Case{
		{ID: "c2", Prompt: "two", Tags: []string{"y"}, Hash: "h2"},
		{ID: "c3", Prompt: "three", Hash: "h3"},
	}}
	ctx := context.Background()
	for _, l := range []struct {
		id  lockid.ID
		doc []byte
	}{{h.lockA, h.docA}, {h.lockB, h.docB}} {
		if err := h.db.PutLock(ctx, l.id, l.doc, "ollama"); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []eval.Suite{h.s1, h.s2} {
		if err := h.db.PutSuite(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	h.put(t, h.lockA, h.s1, h.x, eval.RunComplete, "a")
	h.put(t, h.lockB, h.s1, h.x, eval.RunComplete, "b")
	h.put(t, h.lockB, h.s1, h.x, eval.RunInterrupted, "b")
	h.put(t, h.lockB, h.s2, h.x, eval.RunComplete, "b")
	h.put(t, h.lockA, h.s1, h.y, eval.RunComplete, "a")
	return h
}

// put stores a run of lock over suite at settings, with one result a case.
func (h *history) put(t *testing.T, lock lockid.ID, s eval.Suite, settings eval.Settings, status eval.RunStatus, out string) eval.Run {
	t.Helper()
	var results []eval.Result
	for _, c := range s.Cases {
		results = append(results, eval.Result{CaseID: c.ID, CaseHash: c.Hash, Output: out + " " + c.ID, Lock: lock,
			PromptTokens: 3, CompletionTokens: 4, Latency: time.Millisecond})
	}
	r := eval.Run{Lock: lock, Suite: s.Name, SuiteVersion: s.Version, SuiteHash: s.Hash, Settings: settings,
		Version: "test", Status: status, Started: started, Finished: started.Add(time.Minute)}
	if err := h.db.ImportRun(context.Background(), &r, eval.SliceSeq(results)); err != nil {
		t.Fatal(err)
	}
	return r
}

// exportFile writes the baseline file of run ref to dir/name and returns its
// path.
func (h *history) exportFile(t *testing.T, ref, path string) string {
	t.Helper()
	x, err := runs.Export(context.Background(), h.db, ref, runs.ExportOptions{AllowIncomplete: true})
	if err != nil {
		t.Fatal(err)
	}
	writeBaseline(t, path, x.Baseline)
	return path
}

// writeBaseline encodes b into the file at path.
func writeBaseline(t *testing.T, path string, b *baselines.Baseline) {
	t.Helper()
	var buf bytes.Buffer
	if err := baselines.Encode(&buf, b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// errText checks err against want ("" for none) and reports the mismatch.
func errText(t *testing.T, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("error %v", err)
		}
		return false
	}
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	return true
}

// ParseRef reads a run id exactly as the store's ResolveRun does, so that an
// argument is never a run id to one and a lock id to the other.
func TestRunIDAsStore(t *testing.T) {
	db := openDB(t, "")
	for _, ref := range []string{"12", "#12", "+12", "0", "#0", "-1", "", "#", "##1", "1.0", "1e3", " 1", "x",
		"99999999999999999999", "sha256:" + strings.Repeat("a", 64)} {
		r, err := runs.ParseRef(ref)
		if err != nil {
			t.Fatalf("ParseRef(%q): %v", ref, err)
		}
		_, serr := db.ResolveRun(context.Background(), ref)
		if got, want := r.Run > 0, !errors.Is(serr, store.ErrNotRunID); got != want {
			t.Errorf("ParseRef(%q) reads run %d; the store's reading is a run id: %v (%v)", ref, r.Run, want, serr)
		}
	}
}

func TestParseRef(t *testing.T) {
	h := newHistory(t)
	t.Chdir(t.TempDir())
	lockFile := "sha256:" + strings.Repeat("c", 64)
	for _, name := range []string{"a.jsonl", "12", lockFile} {
		h.exportFile(t, "1", name)
	}
	if err := os.WriteFile("other.jsonl", []byte("{\"hello\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A file whose identity document is lock B's under lock A's id.
	x, err := runs.Export(context.Background(), h.db, "1", runs.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x.Baseline.Header.LockManifest = h.docB
	writeBaseline(t, "doc.jsonl", x.Baseline)
	if err := os.Mkdir("dir", 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg  string
		file bool      // a baseline file
		run  int64     // a run id
		lock lockid.ID // a lock id
		err  string
		is   error // what err matches
	}{
		{arg: "a.jsonl", file: true},
		{arg: "./12", file: true},
		{arg: "7", run: 7},
		{arg: "#7", run: 7},
		{arg: string(h.lockA), lock: h.lockA},
		{arg: "dir", lock: "dir"}, // not a regular file: a lock id of an unknown shape
		{arg: "main", lock: "main"},
		{arg: "12", err: "12 is ambiguous: it can be the baseline file 12 or run 12"},
		{arg: lockFile, err: lockFile + " is ambiguous: it can be the baseline file " + lockFile + " or lock " + lockFile},
		{arg: "other.jsonl", err: "other.jsonl:1: not an evalpin baseline file: ", is: baselines.ErrNotBaseline},
		{arg: "doc.jsonl", err: "doc.jsonl:1: the identity document of lock " + string(h.lockA) + " is refused: the identity document is lock " +
			string(h.lockB) + ", not " + string(h.lockA)},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			r, err := runs.ParseRef(tt.arg)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) || tt.is != nil && !errors.Is(err, tt.is) {
					t.Fatalf("error %v, want %q matching %v", err, tt.err, tt.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.File != nil; got != tt.file || r.Run != tt.run || r.Lock != tt.lock || r.NeedsStore() == tt.file {
				t.Errorf("ParseRef(%q) = file %v, run %d, lock %q; want file %v, run %d, lock %q", tt.arg, got, r.Run, r.Lock, tt.file, tt.run, tt.lock)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	h := newHistory(t)
	tests := []struct {
		ref       string
		want      int64 // the run, or 0 for an error
		err       string
		ambiguous bool
	}{
		{ref: "1", want: 1},
		{ref: "#4", want: 4},
		{ref: string(h.lockA), want: 5}, // the newest complete run, whatever its suite and settings
		{ref: string(h.lockB), want: 4},
		{ref: "99", err: "no run 99 is stored"},
		{ref: string(h.lockA)[:20], want: 5}, // a prefix with its kind
		{ref: h.lockB.Hex()[:6], want: 4},    // a bare prefix of the shortest listed length
		{ref: h.lockB.Hex()[:5], err: `"` + h.lockB.Hex()[:5] + `" is neither a run id nor a lock id`}, // too short to be a prefix
		{ref: "0", err: `"0" is neither a run id nor a lock id`},
		{ref: "latest", err: `"latest" is neither a run id nor a lock id`},
		{ref: "sha256:none", err: `"sha256:none" is neither a run id nor a lock id`},
		{ref: "fedcba", err: "no stored lock starts with fedcba"},
		{ref: "abcdef", err: "abcdef is ambiguous: it can be lock sha256:abcdef01", ambiguous: true},
		{ref: "000001", err: "000001 is ambiguous: it can be run 000001 (write #000001) or lock sha256:000001", ambiguous: true},
		{ref: "#000001", want: 1},
		{ref: "sha256:0000", want: 0, err: "no complete run of lock sha256:000001"}, // the lock has no run
	}
	ctx := context.Background()
	for _, l := range []string{"abcdef01", "abcdef02", "000001"} {
		if err := h.db.PutLock(ctx, lockid.ID("sha256:"+l+strings.Repeat("0", 64-len(l))), nil, "manifest"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			r, err := runs.Resolve(ctx, h.db, tt.ref, "")
			if tt.ambiguous {
				if _, ok := errors.AsType[*runs.AmbiguousError](err); !ok || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("error %v, want an *AmbiguousError %q", err, tt.err)
				}
				return
			}
			if tt.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if tt.err != "" {
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("error %v does not match store.ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != tt.want {
				t.Errorf("Resolve(%q) = run %d, want %d", tt.ref, r.ID, tt.want)
			}
		})
	}
}

func TestLoadPair(t *testing.T) {
	h := newHistory(t)
	dir := t.TempDir()
	fileA := h.exportFile(t, "1", filepath.Join(dir, "a.jsonl"))
	lockA, lockB := string(h.lockA), string(h.lockB)
	const x, y = "x", "y"
	tests := []struct {
		name       string
		base, cand string
		allow      bool     // PairOptions.AllowIncomplete
		runs       [2]int64 // the runs loaded; 0 for a file's
		tags       []string // the tags of c1, c2 and c3 ("-" for an unknown case)
		err        string
		is         any // the error's type
	}{
		{name: "two runs", base: "1", cand: "2", runs: [2]int64{1, 2}, tags: []string{x, x, "-"}},
		{name: "a run and a lock: the run's suite and settings", base: "1", cand: lockB, runs: [2]int64{1, 2}, tags: []string{x, x, "-"}},
		{name: "a lock and a run", base: lockB, cand: "1", runs: [2]int64{2, 1}, tags: []string{x, x, "-"}},
		{name: "runs of two suites: the candidate's labels win", base: "1", cand: "4", runs: [2]int64{1, 4}, tags: []string{x, y, ""}},
		{name: "two locks: the candidate's newest complete run sets the suite", base: lockA, cand: lockB,
			err: "lock " + lockA + " has no complete run of suite s2 at the settings of run 4", is: &runs.NoCompleteRunError{}},
		{name: "a file and a run", base: fileA, cand: "2", runs: [2]int64{0, 2}, tags: []string{x, x, "-"}},
		{name: "a file and a lock: the file's suite and settings", base: fileA, cand: lockB, runs: [2]int64{0, 2}, tags: []string{x, x, "-"}},
		{name: "a lock with no run like the file", base: fileA, cand: "sha256:" + strings.Repeat("d", 64),
			err: "lock sha256:" + strings.Repeat("d", 64) + " has no complete run of suite s1 at the settings of the baseline file", is: &runs.NoCompleteRunError{}},
		{name: "two files", base: fileA, cand: fileA, runs: [2]int64{0, 0}, tags: []string{x, x, "-"}},
		{name: "an interrupted run", base: "1", cand: "3", err: "the candidate run 3 is interrupted, not complete", is: &runs.IncompleteError{}},
		{name: "an interrupted run, allowed", base: "3", cand: "2", allow: true, runs: [2]int64{3, 2}, tags: []string{x, x, "-"}},
		{name: "no such run", base: "99", cand: "2", err: "no run 99 is stored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := runs.ParseRef(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			cand, err := runs.ParseRef(tt.cand)
			if err != nil {
				t.Fatal(err)
			}
			db := h.db
			if !base.NeedsStore() && !cand.NeedsStore() {
				db = nil // two files need no store
			}
			p, err := runs.LoadPair(context.Background(), db, base, cand, runs.PairOptions{AllowIncomplete: tt.allow})
			if errText(t, err, tt.err) {
				checkErrorType(t, err, tt.is)
				return
			}
			checkPair(t, p, tt.runs, fileA, map[lockid.ID]string{h.lockA: "a ", h.lockB: "b "})
			var tags []string
			for _, id := range []string{"c1", "c2", "c3"} {
				ctags, _, ok := p.Label(id)
				switch {
				case !ok:
					tags = append(tags, "-")
				default:
					tags = append(tags, strings.Join(ctags, ","))
				}
			}
			if !slices.Equal(tags, tt.tags) {
				t.Errorf("tags of c1, c2, c3 = %q, want %q", tags, tt.tags)
			}
		})
	}
}

// checkPair checks that p's sides are the runs want (0: the file at path)
// with their results and their locks' identity documents. The results of a
// stored side hold what a comparison reads (store.ComparedResults), not the
// lock: their outputs, read back (compare.Results.Outputs), start with
// prefix, the word of each lock's outputs.
func checkPair(t *testing.T, p *runs.Pair, want [2]int64, path string, prefix map[lockid.ID]string) {
	t.Helper()
	for i, s := range []runs.Side{p.Base, p.Cand} {
		if s.Run.ID != want[i] || (s.File == path) != (want[i] == 0) {
			t.Errorf("side %d is run %d, file %q; want run %d", i, s.Run.ID, s.File, want[i])
		}
		var first []string
		if s.Results.Len() > 0 {
			var err error
			if first, err = s.Results.Outputs([]int32{0}); err != nil {
				t.Fatal(err)
			}
		}
		if len(first) == 0 || !strings.HasPrefix(first[0], prefix[s.Run.Lock]) {
			t.Errorf("side %d: results (first output %q) of another lock than %s", i, first, s.Run.Lock)
		}
		if len(s.Document) == 0 {
			t.Errorf("side %d: no identity document of lock %s", i, s.Run.Lock)
		}
	}
}

// checkErrorType checks that err has the type of is, when is is set.
func checkErrorType(t *testing.T, err error, is any) {
	t.Helper()
	switch is.(type) {
	case *runs.NoCompleteRunError:
		var e *runs.NoCompleteRunError
		if !errors.As(err, &e) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("error %v is no *NoCompleteRunError matching store.ErrNotFound", err)
		}
	case *runs.IncompleteError:
		var e *runs.IncompleteError
		if !errors.As(err, &e) {
			t.Errorf("error %v is no *IncompleteError", err)
		}
	}
}

// LockWords reads the two documents with identity.Parse and compares them
// with Document.Words (internal/identity has the cases); here, what the pair
// adds: no words without both documents, and the lock whose document is
// refused named in the error.
func TestLockWords(t *testing.T) {
	oA, docA := ollamaLock("{{ .Prompt }}")
	oB, docB := ollamaLock("{{ .System }}{{ .Prompt }}")
	manifest := manifestLock(t)
	fooID := lockid.ID("foo:sha256:" + strings.Repeat("f", 64))
	side := func(id lockid.ID, doc []byte) runs.Side { return runs.Side{Run: eval.Run{Lock: id}, Document: doc} }
	tests := []struct {
		name       string
		base, cand runs.Side
		words      string
		err        string // part of the error, when a document is refused
	}{
		{name: "two Ollama identities", base: side(oA, docA), cand: side(oB, docB), words: "template changed; weights same; parameters same; engine same"},
		{name: "a manifest and an Ollama identity", base: side(manifest.id, manifest.doc), cand: side(oA, docA), words: ""},
		{name: "no document for one lock", base: side(oA, docA), cand: side(oB, nil), words: ""},
		{name: "no document for either", base: side(oA, nil), cand: side(oB, nil), words: ""},
		{name: "a manifest stored under an Ollama lock", base: side(oA, docA), cand: side(oB, manifest.doc),
			err: "the identity document of lock " + string(oB) + " is refused: not an Ollama identity document"},
		{name: "the Ollama identity of another lock", base: side(oA, docA), cand: side(oB, docA),
			err: "the identity document of lock " + string(oB) + " is refused: the identity document is lock " + string(oA) + ", not " + string(oB)},
		{name: "a lock of an unknown kind", base: side(fooID, docA), cand: side(oB, docB),
			err: "the identity document of lock " + string(fooID) + " is refused: evalpin knows no identity document for a lock of this kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &runs.Pair{Base: tt.base, Cand: tt.cand}
			words, err := p.LockWords()
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
