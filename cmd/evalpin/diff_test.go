package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
)

// diffT0 is the fixed clock of the diff fixture.
var diffT0 = time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)

// diffScorer is a scorer that only has a name, for storing a suite.
type diffScorer string

func (s diffScorer) Name() string            { return string(s) }
func (s diffScorer) Score(string) eval.Check { return eval.Check{Scorer: string(s)} }

// diffManifest returns a sealed manifest whose template file has the given
// digest.
func diffManifest(t *testing.T, template string) *lock.Manifest {
	t.Helper()
	m := &lock.Manifest{
		Version: lock.Version,
		Source:  lock.Source{Repo: "org/model", Revision: "abc123"},
		Files: []lock.File{
			{Path: "model.safetensors", Size: 1000, SHA256: strings.Repeat("a", 64), Role: lock.RoleWeights},
			{Path: "tokenizer.json", Size: 10, SHA256: strings.Repeat("b", 64), Role: lock.RoleTokenizer},
			{Path: "chat_template.jinja", Size: 5, SHA256: template, Role: lock.RoleTemplate},
		},
		Serving:    lock.Serving{Engine: "vllm", EngineVersion: "0.6.3", Dtype: "bfloat16"},
		Generation: map[string]any{},
	}
	if err := m.Seal(); err != nil {
		t.Fatal(err)
	}
	return m
}

// mustDiffDB builds a database for the diff and gate commands and returns its
// path and the two locks:
//
//	run 1: lock A, 40 cases × 2 samples, complete (the baseline)
//	run 2: lock B, the same cases; 12 of the "safety" cases now fail "format",
//	       outputs of a third of the cases changed, one hostile output
//	run 3: lock B, interrupted
//	run 4: lock B, other settings (max_tokens 512), complete
//	run 5: lock A again, complete, identical to run 1 (an A/A pair)
func mustDiffDB(t *testing.T) (path, lockA, lockB string) {
	t.Helper()
	ctx := context.Background()
	db, dbPath, now := openClockedDB(t, diffT0)
	path = dbPath
	defer db.Close()

	ma, mb := diffManifest(t, strings.Repeat("c", 64)), diffManifest(t, strings.Repeat("d", 64))
	for _, m := range []*lock.Manifest{ma, mb} {
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PutLock(ctx, m.Lock, data, "manifest"); err != nil {
			t.Fatal(err)
		}
	}
	suite := eval.Suite{Name: "smoke", Version: "2", Hash: strings.Repeat("5e", 32), Settings: eval.DefaultSettings()}
	for i := range 40 {
		c := eval.Case{ID: fmt.Sprintf("q%02d", i), Prompt: fmt.Sprintf("Question %d?", i),
			Tags: []string{[]string{"math", "geo"}[i%2]}, Hash: fmt.Sprintf("h%02d", i),
			Scorers: []eval.Scorer{diffScorer("format"), diffScorer("fact")}}
		if i < 16 {
			c.Tags = append(c.Tags, "safety")
		}
		suite.Cases = append(suite.Cases, c)
	}
	if err := db.PutSuite(ctx, suite); err != nil {
		t.Fatal(err)
	}

	newRun := func(l lockid.ID, settings eval.Settings, status eval.RunStatus, outputs func(i, s int) (string, bool)) {
		t.Helper()
		r := eval.Run{Lock: l, Suite: suite.Name, SuiteVersion: suite.Version, SuiteHash: suite.Hash, Settings: settings,
			Endpoints: []string{"http://127.0.0.1:8000/v1"}, Version: "v0.1.0"}
		if err := db.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
		w := db.NewWriter(ctx, r.ID, store.WriterOptions{})
		for i, c := range suite.Cases {
			for s := range settings.Samples {
				out, formatOK := outputs(i, s)
				res := eval.Result{CaseID: c.ID, CaseHash: c.Hash, Sample: s, Output: out, FinishReason: "stop",
					Latency: time.Duration(200+10*i) * time.Millisecond, Lock: l,
					Checks: []eval.Check{{Scorer: "format", Pass: formatOK}, {Scorer: "fact", Pass: i%7 != 0}}}
				if !formatOK {
					res.Checks[0].Detail = "not JSON"
				}
				if err := w.Put(res); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Minute)
		if err := db.SetRunStatus(ctx, r.ID, status); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Hour)
	}
	settings := eval.DefaultSettings()
	settings.Samples = 2
	base := func(i, s int) (string, bool) {
		out := fmt.Sprintf(`{"answer": %d}`, i*3)
		if s == 1 && i%10 == 0 {
			out = fmt.Sprintf(`{"answer": %d }`, i*3) // the engine's own noise
		}
		return out, true
	}
	cand := func(i, s int) (string, bool) {
		switch {
		case i == 1:
			return "<script>alert(1)</script> | `rm -rf` \x1b[31mred\x1b[0m", false
		case i < 12:
			return fmt.Sprintf("The answer is %d.", i*3), false
		case i%3 == 0:
			return fmt.Sprintf(`{"answer": %d, "note": "changed"}`, i*3), true
		}
		return base(i, s)
	}
	newRun(ma.Lock, settings, eval.RunComplete, base)
	newRun(mb.Lock, settings, eval.RunComplete, cand)
	newRun(mb.Lock, settings, eval.RunInterrupted, cand)
	other := settings
	other.MaxTokens = 512
	newRun(mb.Lock, other, eval.RunComplete, cand)
	newRun(ma.Lock, settings, eval.RunComplete, base)
	return path, string(ma.Lock), string(mb.Lock)
}

func TestDiffGolden(t *testing.T) {
	t.Setenv(dbEnv, "")
	db, lockA, lockB := mustDiffDB(t)
	dir := filepath.Dir(db)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	strict := write("strict.yaml", "alpha: 0.05\npass_rate:\n  min_effect: 0.02\nnever_regress: [safety]\nmax_drift: 0.05\n")
	unknown := write("unknown.yaml", "alpha: 0.05\npass_rate:\n  min_efect: 0.02\n")
	badAlpha := write("bad-alpha.yaml", "# a comment\n\nalpha: 2\n")
	junit := filepath.Join(dir, "gate.xml")
	replace := []string{dir, "$TMP"}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"table", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "2"}},
		{"md", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "2", "--format", "md"}},
		{"json", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "2", "--format", "json"}},
		{"html", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "2", "--format", "html"}},
		{"lock-ids", []string{"diff", "--db", db, "--baseline", lockA, "--candidate", lockB, "--format", "md"}},
		{"lock-and-run", []string{"diff", "--db", db, "--baseline", lockA, "--candidate", "2", "--format", "md"}},
		{"a-a", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "5"}},
		{"incomplete", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "3"}},
		{"incomplete-allowed", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "3", "--allow-incomplete", "--format", "md"}},
		{"settings", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "4"}},
		{"settings-allowed", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "4", "--allow-settings-mismatch", "--format", "md"}},
		{"no-run", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "99"}},
		{"no-lock-run", []string{"diff", "--db", db, "--baseline", "sha256:none", "--candidate", "2"}},
		{"missing-flags", []string{"diff", "--db", db, "--baseline", "1"}},
		{"bad-format", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "2", "--format", "csv"}},
		{"extra-arg", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "2", "extra"}},
		{"help", []string{"help", "diff"}},
		{"gate-fail", []string{"gate", "--db", db, "--baseline", "1", "--candidate", "2"}},
		{"gate-strict", []string{"gate", "--db", db, "--baseline", "1", "--candidate", "2", "--policy", strict}},
		{"gate-pass", []string{"gate", "--db", db, "--baseline", "1", "--candidate", "5", "--policy", strict}},
		{"gate-junit", []string{"gate", "--db", db, "--baseline", "1", "--candidate", "2", "--format", "junit", "-o", junit}},
		{"gate-unknown-field", []string{"gate", "--db", db, "--baseline", "1", "--candidate", "2", "--policy", unknown}},
		{"gate-bad-alpha", []string{"gate", "--db", db, "--baseline", "1", "--candidate", "2", "--policy", badAlpha}},
		{"gate-no-policy-file", []string{"gate", "--db", db, "--baseline", "1", "--candidate", "2", "--policy", filepath.Join(dir, "none.yaml")}},
		{"gate-incomplete", []string{"gate", "--db", db, "--baseline", "1", "--candidate", "3"}},
		{"gate-help", []string{"help", "gate"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, filepath.Join("diff", tt.name), append(replace, lockA, "$LOCK_A", lockB, "$LOCK_B", lockA[:19], "$LOCK_A_SHORT", lockB[:19], "$LOCK_B_SHORT"), tt.args...)
		})
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatalf("gate -o: %v", err)
	}
	if !strings.Contains(string(data), "<testsuites") || !strings.Contains(string(data), `<failure message="regressed"`) {
		t.Errorf("gate -o wrote no JUnit report with a regression:\n%s", data)
	}
}
