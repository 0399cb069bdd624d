package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
)

// baselineT0 is the fixed clock of the baseline fixture.
var baselineT0 = time.Date(2025, 5, 2, 8, 30, 0, 0, time.UTC)

// baselineHostile are outputs a model may return that a baseline file must
// keep byte for byte.
var baselineHostile = []string{
	"two\nlines\r\nand a tab\t",
	"NUL\x00byte",
	"\x1b[2J\x1b[31mANSI red\x1b[0m\a",
	"invalid \xff\xfe utf-8",
	`{"sha256":"0000"}` + "\n" + `{"case":"x"}`,
	"<script>alert(1)</script> & \u2028",
}

// mustBaselineDB builds a database for the baseline commands and returns its
// path and the two locks:
//
//	run 1: lock A, 12 cases × 2 samples, complete (the baseline)
//	run 2: lock B, the same cases; the "safety" cases fail "format", hostile
//	       outputs, one failed request; complete (the candidate)
//	run 3: lock B, interrupted
func mustBaselineDB(t *testing.T) (path, lockA, lockB string) {
	t.Helper()
	ctx := context.Background()
	db, dbPath, now := openClockedDB(t, baselineT0)
	path = dbPath
	defer db.Close()

	manifest := func(weights string) *lock.Manifest {
		m := &lock.Manifest{
			Version: lock.Version,
			Source:  lock.Source{Repo: "org/model", Revision: "abc123"},
			Files: []lock.File{
				{Path: "model.safetensors", Size: 1000, SHA256: weights, Role: lock.RoleWeights},
				{Path: "tokenizer.json", Size: 10, SHA256: strings.Repeat("b", 64), Role: lock.RoleTokenizer},
			},
			Serving:    lock.Serving{Engine: "vllm", EngineVersion: "0.6.3", Dtype: "bfloat16"},
			Generation: map[string]any{"temperature": 0.7},
			Note:       "a note is kept but is not identity",
		}
		if err := m.Seal(); err != nil {
			t.Fatal(err)
		}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PutLock(ctx, m.Lock, data, "manifest"); err != nil {
			t.Fatal(err)
		}
		return m
	}
	ma, mb := manifest(strings.Repeat("a", 64)), manifest(strings.Repeat("c", 64))

	suite := eval.Suite{Name: "smoke", Version: "3", Hash: strings.Repeat("7b", 32), Settings: eval.DefaultSettings()}
	for i := range 12 {
		c := eval.Case{ID: fmt.Sprintf("q%02d", i), Tags: []string{[]string{"math", "geo"}[i%2]},
			Hash: fmt.Sprintf("%064x", i), Scorers: []eval.Scorer{diffScorer("format")}}
		if i%3 == 0 {
			c.Messages = []eval.Message{{Role: "system", Content: "Answer in JSON."}, {Role: "user", Content: fmt.Sprintf("What is %d×3?\n", i)}}
			c.Cluster = "passage-1"
		} else {
			c.Prompt = fmt.Sprintf("%d*3=", i)
		}
		if i < 6 {
			c.Tags = append(c.Tags, "safety")
		}
		suite.Cases = append(suite.Cases, c)
	}
	if err := db.PutSuite(ctx, suite); err != nil {
		t.Fatal(err)
	}
	settings := eval.DefaultSettings()
	settings.Samples = 2
	newRun := func(l lockid.ID, status eval.RunStatus, result func(i, s int) eval.Result) {
		t.Helper()
		r := eval.Run{Lock: l, Suite: suite.Name, SuiteVersion: suite.Version, SuiteHash: suite.Hash, Settings: settings,
			Endpoints: []string{"http://127.0.0.1:8000/v1"}, Version: "v0.2.0"}
		if err := db.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
		w := db.NewWriter(ctx, r.ID, store.WriterOptions{})
		for i, c := range suite.Cases {
			for s := range settings.Samples {
				if status != eval.RunComplete && i > 8 {
					continue
				}
				res := result(i, s)
				res.CaseID, res.CaseHash, res.Sample, res.Lock = c.ID, c.Hash, s, l
				res.Endpoint = "http://127.0.0.1:8000/v1"
				if err := w.Put(res); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(90 * time.Second)
		if err := db.SetRunStatus(ctx, r.ID, status); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Hour)
	}
	base := func(i, s int) eval.Result {
		out := fmt.Sprintf(`{"answer": %d}`, i*3)
		if s == 1 && i%4 == 0 {
			out = fmt.Sprintf(`{"answer": %d }`, i*3) // the engine's own noise
		}
		return eval.Result{Output: out, FinishReason: "stop", PromptTokens: 12 + i, CompletionTokens: 7,
			Latency: time.Duration(300+7*i+s) * time.Millisecond, Checks: []eval.Check{{Scorer: "format", Pass: true}}}
	}
	cand := func(i, s int) eval.Result {
		r := base(i, s)
		switch {
		case i == 11 && s == 1:
			r = eval.Result{ErrorKind: "http", Error: "HTTP 500: \x1b[31mupstream\x1b[0m failed",
				Latency: 5 * time.Millisecond, Checks: []eval.Check{{Scorer: "format", Pass: false, Detail: "request failed"}}}
		case i < len(baselineHostile):
			r.Output = baselineHostile[i]
			r.Checks = []eval.Check{{Scorer: "format", Pass: false, Detail: "not JSON: \x00\n"}}
			r.FinishReason = "length"
		}
		return r
	}
	newRun(ma.Lock, eval.RunComplete, base)
	newRun(mb.Lock, eval.RunComplete, cand)
	newRun(mb.Lock, eval.RunInterrupted, cand)
	return path, string(ma.Lock), string(mb.Lock)
}

// evalpin runs the command line args and returns its stdout, stderr and
// exit code.
func evalpin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	code = report(&errOut, err)
	return out.String(), errOut.String(), code
}

// mustEvalpin is evalpin that fails the test on a non-zero exit.
func mustEvalpin(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := evalpin(t, args...)
	if code != 0 {
		t.Fatalf("evalpin %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestBaselineRoundTrip exports runs, imports them into an empty database
// and exports them again: the files are byte-identical and the stored
// results are the original ones, hostile outputs included.
func TestBaselineRoundTrip(t *testing.T) {
	t.Setenv(dbEnv, "")
	db, lockA, _ := mustBaselineDB(t)
	dir := t.TempDir()
	fresh := filepath.Join(dir, "ci.db")
	for _, id := range []string{"1", "2", "3"} {
		t.Run("run"+id, func(t *testing.T) {
			file := filepath.Join(dir, "run"+id+".jsonl")
			// Run 3 is interrupted: its file says so, and so does its import.
			if out := mustEvalpin(t, "baseline", "export", id, "-o", file, "--allow-incomplete", "--db", db); out != "" {
				t.Errorf("export -o wrote %q to stdout", out)
			}
			first, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			newID := strings.TrimSpace(mustEvalpin(t, "baseline", "import", file, "--db", fresh))
			again := mustEvalpin(t, "baseline", "export", newID, "--allow-incomplete", "--db", fresh)
			if again != string(first) {
				t.Fatalf("export → import → export changed the file:\n%s\nvs\n%s", again, first)
			}
			assertSameRun(t, db, id, fresh, newID)
		})
	}
	// A lock id exports its latest complete run.
	byLock := mustEvalpin(t, "baseline", "export", lockA, "--db", db)
	byRun := mustEvalpin(t, "baseline", "export", "1", "--db", db)
	if byLock != byRun {
		t.Error("exporting lock A did not export its complete run 1")
	}
}

// assertSameRun checks that run idB of dbB stores what run idA of dbA does,
// except the endpoints, which a baseline does not keep.
func assertSameRun(t *testing.T, dbA, idA, dbB, idB string) {
	t.Helper()
	ctx := context.Background()
	load := func(path, id string) (eval.Run, []eval.Result) {
		db, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int64
		fmt.Sscan(id, &n)
		r, err := db.Run(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := db.Results(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		r.ID, r.Endpoints = 0, nil
		for i := range rs {
			rs[i].Endpoint = ""
		}
		return r, rs
	}
	ra, resA := load(dbA, idA)
	rb, resB := load(dbB, idB)
	if !reflect.DeepEqual(ra, rb) {
		t.Errorf("imported run:\n got %+v\nwant %+v", rb, ra)
	}
	if !reflect.DeepEqual(resA, resB) {
		t.Errorf("imported results differ from the exported ones")
	}
	hostile := 0
	for _, r := range resB {
		for _, h := range baselineHostile {
			if r.Output == h {
				hostile++
			}
		}
	}
	if idA == "2" && hostile != 2*len(baselineHostile) {
		t.Errorf("%d hostile outputs came back exactly, want %d", hostile, 2*len(baselineHostile))
	}
}

// TestBaselineGate gates a candidate against a baseline imported into an
// empty database, as CI does: the verdict is the one the original database
// gives.
func TestBaselineGate(t *testing.T) {
	t.Setenv(dbEnv, "")
	db, lockA, lockB := mustBaselineDB(t)
	dir := t.TempDir()
	fresh := filepath.Join(dir, "ci.db")
	for _, id := range []string{"1", "2"} {
		file := filepath.Join(dir, "run"+id+".jsonl")
		mustEvalpin(t, "baseline", "export", id, "-o", file, "--db", db)
		if got := strings.TrimSpace(mustEvalpin(t, "baseline", "import", file, "--db", fresh)); got != id {
			t.Fatalf("import of run %s into an empty database made run %s", id, got)
		}
	}
	wantOut, wantErr, wantCode := evalpin(t, "gate", "--baseline", "1", "--candidate", "2", "--db", db)
	if wantCode != fault.ExitGateFailed {
		t.Fatalf("the fixture's gate exits %d, want %d:\n%s%s", wantCode, fault.ExitGateFailed, wantOut, wantErr)
	}
	for _, args := range [][]string{
		{"gate", "--baseline", "1", "--candidate", "2", "--db", fresh},
		{"gate", "--baseline", lockA, "--candidate", "2", "--db", fresh},
		{"gate", "--baseline", lockA, "--candidate", lockB, "--db", fresh},
	} {
		out, errOut, code := evalpin(t, args...)
		if out != wantOut || errOut != wantErr || code != wantCode {
			t.Errorf("evalpin %s against the imported runs:\nexit %d\n%s%s\nwant exit %d\n%s%s",
				strings.Join(args, " "), code, out, errOut, wantCode, wantOut, wantErr)
		}
	}
	golden(t, "baseline/gate-imported", []string{dir, "$TMP", lockA, "$LOCK_A", lockB, "$LOCK_B"},
		"gate", "--baseline", "1", "--candidate", "2", "--db", fresh)
}

// TestBaselineImportIdempotent imports the same file twice: the second
// import finds the first run and stores nothing.
func TestBaselineImportIdempotent(t *testing.T) {
	t.Setenv(dbEnv, "")
	db, _, _ := mustBaselineDB(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "base.jsonl")
	mustEvalpin(t, "baseline", "export", "2", "-o", file, "--db", db)

	// Into the database it came from: run 2 is already there.
	if got := strings.TrimSpace(mustEvalpin(t, "baseline", "import", file, "--db", db)); got != "2" {
		t.Errorf("import into the source database = run %s, want the existing run 2", got)
	}
	fresh := filepath.Join(dir, "ci.db")
	first := mustEvalpin(t, "baseline", "import", file, "--db", fresh)
	out, errOut, code := evalpin(t, "baseline", "import", file, "--db", fresh)
	if code != 0 || out != first || !strings.Contains(errOut, "already stored as run 1") {
		t.Errorf("second import: exit %d, stdout %q, stderr %q; want run %q already stored", code, out, errOut, first)
	}
	for _, path := range []string{db, fresh} {
		s, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		runs, err := s.Runs(context.Background(), store.RunFilter{})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{db: 3, fresh: 1}[path]; len(runs) != want {
			t.Errorf("%s holds %d runs after importing twice, want %d", filepath.Base(path), len(runs), want)
		}
	}

	// A file of another run of the same lock, suite and settings is a new run.
	edited := filepath.Join(dir, "other.jsonl")
	mustEvalpin(t, "baseline", "export", "3", "--allow-incomplete", "-o", edited, "--db", db)
	if got := strings.TrimSpace(mustEvalpin(t, "baseline", "import", edited, "--db", fresh)); got != "2" {
		t.Errorf("import of another run = run %s, want a new run 2", got)
	}
}

// TestBaselineImportStdin imports a baseline from standard input.
func TestBaselineImportStdin(t *testing.T) {
	t.Setenv(dbEnv, "")
	db, _, _ := mustBaselineDB(t)
	file := filepath.Join(t.TempDir(), "base.jsonl")
	mustEvalpin(t, "baseline", "export", "1", "-o", file, "--db", db)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdin := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = stdin }()
	fresh := filepath.Join(t.TempDir(), "ci.db")
	out, errOut, code := evalpin(t, "baseline", "import", "-", "--db", fresh)
	if code != 0 || out != "1\n" || !strings.HasPrefix(errOut, "imported standard input as run 1 ") {
		t.Errorf("import -: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	assertSameRun(t, db, "1", fresh, "1")
}

// resealBaseline rewrites the lines of a baseline file with edit and gives it
// a valid checksum, as a careless tool would.
func resealBaseline(t *testing.T, data []byte, edit func(lines []string) []string) []byte {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	body := strings.Join(edit(lines[:len(lines)-1]), "\n") + "\n"
	sum := sha256.Sum256([]byte(body))
	return []byte(body + `{"sha256":"` + hex.EncodeToString(sum[:]) + `"}` + "\n")
}

func TestBaselineGolden(t *testing.T) {
	t.Setenv(dbEnv, "")
	db, lockA, lockB := mustBaselineDB(t)
	dir := filepath.Dir(db)
	good := []byte(mustEvalpin(t, "baseline", "export", "1", "--db", db))
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	edit := func(old, new string) func([]string) []string {
		return func(l []string) []string {
			l[0] = strings.Replace(l[0], old, new, 1)
			return l
		}
	}
	goodFile := write("good.jsonl", good)
	edited := write("edited.jsonl", bytes.Replace(good, []byte(`{\"answer\": 3}`), []byte(`{\"answer\": 4}`), 1))
	truncated := write("truncated.jsonl", good[:len(good)/2])
	version := write("version.jsonl", resealBaseline(t, good, edit(`"version":2,"lock"`, `"version":3,"lock"`)))
	otherLock := write("other-lock.jsonl", resealBaseline(t, good, edit(`"lock":"`+lockA, `"lock":"`+lockB)))
	badManifest := write("bad-manifest.jsonl", resealBaseline(t, good, edit(`"repo":"org/model"`, `"repo":"org/fork"`)))
	duplicate := write("duplicate.jsonl", resealBaseline(t, good, func(l []string) []string {
		return slices.Insert(l, 3, l[2])
	}))
	unknownCase := write("unknown-case.jsonl", resealBaseline(t, good, func(l []string) []string {
		l[2] = strings.Replace(l[2], `"result":"q00"`, `"result":"q99"`, 1)
		return l
	}))
	notBaseline := write("suite.yaml", []byte("name: smoke\ncases:\n  - id: q1\n"))
	incomplete := filepath.Join(dir, "incomplete.jsonl")
	replace := []string{dir, "$TMP", lockA, "$LOCK_A", lockB, "$LOCK_B"}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"export", []string{"baseline", "export", "1", "--db", db}},
		{"export-candidate", []string{"baseline", "export", "--db", db, "2"}},
		{"export-incomplete", []string{"baseline", "export", "3", "--db", db}},
		{"export-incomplete-allowed", []string{"baseline", "export", "3", "--allow-incomplete", "-o", incomplete, "--db", db}},
		{"export-no-run", []string{"baseline", "export", "99", "--db", db}},
		{"export-no-lock", []string{"baseline", "export", "sha256:none", "--db", db}},
		{"export-no-db", []string{"baseline", "export", "1", "--db", filepath.Join(dir, "none.db")}},
		{"export-bad-dir", []string{"baseline", "export", "1", "-o", filepath.Join(dir, "no", "such", "dir.jsonl"), "--db", db}},
		{"export-no-arg", []string{"baseline", "export", "--db", db}},
		{"export-two-args", []string{"baseline", "export", "1", "2", "--db", db}},
		{"import", []string{"baseline", "import", goodFile, "--db", filepath.Join(dir, "fresh.db")}},
		{"import-incomplete", []string{"baseline", "import", incomplete, "--db", filepath.Join(dir, "fresh.db")}},
		{"import-edited", []string{"baseline", "import", edited, "--db", filepath.Join(dir, "x.db")}},
		{"import-truncated", []string{"baseline", "import", truncated, "--db", filepath.Join(dir, "x.db")}},
		{"import-version", []string{"baseline", "import", version, "--db", filepath.Join(dir, "x.db")}},
		{"import-other-lock", []string{"baseline", "import", otherLock, "--db", filepath.Join(dir, "x.db")}},
		{"import-bad-manifest", []string{"baseline", "import", badManifest, "--db", filepath.Join(dir, "x.db")}},
		{"import-duplicate", []string{"baseline", "import", duplicate, "--db", filepath.Join(dir, "x.db")}},
		{"import-unknown-case", []string{"baseline", "import", unknownCase, "--db", filepath.Join(dir, "x.db")}},
		{"import-not-baseline", []string{"baseline", "import", notBaseline, "--db", filepath.Join(dir, "x.db")}},
		{"import-missing", []string{"baseline", "import", filepath.Join(dir, "none.jsonl"), "--db", filepath.Join(dir, "x.db")}},
		{"no-subcommand", []string{"baseline"}},
		{"unknown-subcommand", []string{"baseline", "accept"}},
		{"help", []string{"help", "baseline"}},
		{"export-help", []string{"baseline", "export", "-h"}},
		{"import-help", []string{"baseline", "import", "-h"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, filepath.Join("baseline", tt.name), replace, tt.args...)
		})
	}
	// A refused file stores nothing: the database it named was not even made.
	if _, err := os.Stat(filepath.Join(dir, "x.db")); err == nil {
		t.Error("a refused import created the database")
	}
}

// BenchmarkBaselineImport measures importing a baseline of 10,000 results
// into an empty database.
func BenchmarkBaselineImport(b *testing.B) {
	b.Setenv(dbEnv, "")
	ctx := context.Background()
	dir := b.TempDir()
	src := filepath.Join(dir, "src.db")
	db, err := store.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	const cases, samples = 2500, 4
	suite := eval.Suite{Name: "big", Version: "1", Hash: strings.Repeat("3c", 32), Settings: eval.DefaultSettings()}
	for i := range cases {
		suite.Cases = append(suite.Cases, eval.Case{ID: fmt.Sprintf("c%05d", i), Prompt: fmt.Sprintf("Question %d?", i), Hash: fmt.Sprintf("%064x", i)})
	}
	if err := db.PutSuite(ctx, suite); err != nil {
		b.Fatal(err)
	}
	r := eval.Run{Lock: lockid.ID("sha256:" + strings.Repeat("e", 64)), Suite: "big", SuiteVersion: "1", SuiteHash: suite.Hash, Settings: suite.Settings}
	r.Settings.Samples = samples
	if err := db.CreateRun(ctx, &r); err != nil {
		b.Fatal(err)
	}
	w := db.NewWriter(ctx, r.ID, store.WriterOptions{})
	for _, c := range suite.Cases {
		for s := range samples {
			w.Put(eval.Result{CaseID: c.ID, CaseHash: c.Hash, Sample: s, Output: strings.Repeat("An answer. ", 20), FinishReason: "stop",
				Lock: r.Lock, Latency: time.Second, Checks: []eval.Check{{Scorer: "contains", Pass: true}}})
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := db.SetRunStatus(ctx, r.ID, eval.RunComplete); err != nil {
		b.Fatal(err)
	}
	db.Close()
	file := filepath.Join(dir, "big.jsonl")
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"baseline", "export", "1", "-o", file, "--db", src}, &out, &errOut); err != nil {
		b.Fatal(err, errOut.String())
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		dst := filepath.Join(dir, fmt.Sprintf("dst%d.db", i))
		if err := run(ctx, []string{"baseline", "import", file, "--db", dst}, &out, &errOut); err != nil {
			b.Fatal(err, errOut.String())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(cases*samples), "ns/result")
}

// baseline accept replaces the project's baseline file with a run and says
// which cases' outputs changed; the file's diff is those outputs, not the
// latencies.
func TestBaselineAccept(t *testing.T) {
	a := runQuiet(t)
	dir := t.TempDir()
	suite, db, file := runSuiteFile(t, dir, 12), filepath.Join(dir, "e.db"), filepath.Join(dir, "base.jsonl")
	ctx := context.Background()
	fa, fb := newRunFake(runLockA), newRunFake(runLockB)
	fb.answers.Store(runPrompt("case-003"), "echo: changed")
	for _, f := range []*runFake{fa, fb} {
		if code, _, stderr := a.cmd(ctx, "run", "--suite", suite, "--endpoint", f.start(t), "--db", db); code != 0 {
			t.Fatal(stderr)
		}
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"1"}, 2, "no baseline file named"},
		{[]string{"1", "--baseline", file}, 0, "accepted run 1 (lock " + runLockA + ", suite fake 1) as " + file + "; a new file"},
		{[]string{"a1a1a1", "--baseline", file}, 0, "replacing lock " + runLockA + ": 0 cases changed"},
		{[]string{"2", "--baseline", file}, 0, "replacing lock " + runLockA + ": 1 case (case-003) changed, 0 cases added, 0 cases removed"},
		{[]string{"99", "--baseline", file}, 2, "no run 99 is stored"},
	}
	var first []byte
	for i, tt := range tests {
		code, _, stderr := a.cmd(ctx, append([]string{"baseline", "accept", "--db", db}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Fatalf("%s: exit %d, want %d with %q:\n%s", tt.args, code, tt.code, tt.want, stderr)
		}
		if i == 1 {
			first, _ = os.ReadFile(file)
		}
	}
	last, _ := os.ReadFile(file)
	var changed []string
	old := strings.Split(string(first), "\n")
	for i, l := range strings.Split(string(last), "\n") {
		if i < len(old) && l != old[i] {
			changed = append(changed, l[:min(len(l), 40)])
		}
	}
	// The header (another lock), the one changed output, the latencies and
	// the checksum: nothing else.
	if len(changed) != 4 || !strings.Contains(changed[1], `"result":"case-003"`) || !strings.HasPrefix(changed[2], `{"latencies_ns"`) {
		t.Errorf("the accepted file's diff is %d lines, want the header, case-003, the latencies and the checksum: %q", len(changed), changed)
	}
}
