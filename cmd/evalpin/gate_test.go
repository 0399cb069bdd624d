package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
)

// mustEvidenceDB builds a database for the gate's evidence and returns its
// path and the locks of the baseline (A) and of the candidates (B):
//
//	run 1: lock A, suite testbed (20 cases), complete (the baseline)
//	run 2: lock B, suite testbed, complete, every request failed with a 404
//	       (the endpoint was given without /v1)
//	run 3: lock B, suite other (20 other cases, max_tokens 64), complete
//	run 4: lock B, suite testbed, complete, three answers reworded (a pass)
func mustEvidenceDB(t *testing.T) (path, lockA, lockB string) {
	t.Helper()
	ctx := context.Background()
	db, path, now := openClockedDB(t, diffT0)
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
	suite := func(name, prefix string, settings eval.Settings) eval.Suite {
		s := eval.Suite{Name: name, Version: "1", Hash: fmt.Sprintf("%x", name) + strings.Repeat("0", 64-2*len(name)), Settings: settings}
		for i := range 20 {
			s.Cases = append(s.Cases, eval.Case{ID: fmt.Sprintf("%s%02d", prefix, i), Prompt: fmt.Sprintf("Question %d?", i),
				Tags: []string{[]string{"math", "geo"}[i%2]}, Hash: fmt.Sprintf("%s-h%02d", prefix, i),
				Scorers: []eval.Scorer{diffScorer("contains")}})
		}
		if err := db.PutSuite(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	testbed := suite("testbed", "q", eval.DefaultSettings())
	otherSettings := eval.DefaultSettings()
	otherSettings.MaxTokens = 64
	other := suite("other", "o", otherSettings)

	newRun := func(l lockid.ID, s eval.Suite, result func(i int) eval.Result) {
		t.Helper()
		r := eval.Run{Lock: l, Suite: s.Name, SuiteVersion: s.Version, SuiteHash: s.Hash, Settings: s.Settings,
			Endpoints: []string{"http://127.0.0.1:8000"}, Version: "v0.1.0"}
		if err := db.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
		w := db.NewWriter(ctx, r.ID, store.WriterOptions{})
		for i, c := range s.Cases {
			res := result(i)
			res.CaseID, res.CaseHash, res.Lock = c.ID, c.Hash, l
			if err := w.Put(res); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Minute)
		if err := db.SetRunStatus(ctx, r.ID, eval.RunComplete); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Hour)
	}
	answer := func(i int) eval.Result {
		return eval.Result{Output: fmt.Sprintf("The answer is %d.", i*3), FinishReason: "stop",
			Latency: time.Duration(200+10*i) * time.Millisecond, Checks: []eval.Check{{Scorer: "contains", Pass: i%5 != 0}}}
	}
	newRun(ma.Lock, testbed, answer)
	newRun(mb.Lock, testbed, func(i int) eval.Result {
		return eval.Result{Latency: 3 * time.Millisecond, ErrorKind: "not_found", Error: "HTTP 404: 404 page not found"}
	})
	newRun(mb.Lock, other, answer)
	newRun(mb.Lock, testbed, func(i int) eval.Result {
		r := answer(i)
		if i < 3 {
			r.Output = fmt.Sprintf("It is %d.", i*3)
		}
		return r
	})
	return path, string(ma.Lock), string(mb.Lock)
}

// TestGateEvidence: a gate that compared nothing, or too little, is
// INCONCLUSIVE and exits 6 in every format, never PASS; diff shows the
// verdict and exits 0; a normal comparison still passes.
func TestGateEvidence(t *testing.T) {
	t.Setenv(dbEnv, "")
	db, lockA, lockB := mustEvidenceDB(t)
	dir := filepath.Dir(db)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lenient := write("lenient.yaml", "min_paired: 1\nmax_lost: 1\n")
	badFloor := write("bad-floor.yaml", "alpha: 0.05\nmin_paired: 0\n")
	replace := []string{dir, "$TMP", lockA, "$LOCK_A", lockB, "$LOCK_B", lockA[:19], "$LOCK_A_SHORT", lockB[:19], "$LOCK_B_SHORT"}
	gate := func(candidate string, extra ...string) []string {
		return append([]string{"gate", "--db", db, "--baseline", "1", "--candidate", candidate}, extra...)
	}
	const reason = "0 cases paired, the policy needs ≥ 10: 20 errored in candidate (not_found 20)"
	for _, tt := range []struct {
		name string
		args []string
		code int
		// want are substrings of stdout (out) and stderr (errOut).
		out, errOut []string
	}{
		{"all-failed", gate("2"), fault.ExitInconclusive,
			[]string{"gate: INCONCLUSIVE at alpha 0.05\n  - " + reason + "\n"},
			[]string{"evalpin: gate inconclusive: " + reason + "; 20 of 20 cases", "Try: 'evalpin show --db " + db + " 2 q00' shows a failed request"}},
		{"all-failed-md", gate("2", "--format", "md"), fault.ExitInconclusive,
			[]string{"### evalpin diff: ⚠️ Gate&#58; INCONCLUSIVE", `- 0 cases paired, the policy needs ≥ 10&#58; 20 errored in candidate \(not\_found 20\)`},
			[]string{"gate: INCONCLUSIVE at alpha 0.05"}},
		{"all-failed-json", gate("2", "--format", "json"), fault.ExitInconclusive,
			[]string{`"verdict": "inconclusive"`, `"candidate_errored": 20`, reason},
			[]string{"gate: INCONCLUSIVE at alpha 0.05"}},
		{"all-failed-junit", gate("2", "--format", "junit"), fault.ExitInconclusive,
			[]string{`<testsuite name="evalpin.gate" tests="2" failures="0" errors="1"`, `<error message="too little evidence for a verdict: ` + reason + `" type="inconclusive">`},
			[]string{"gate: INCONCLUSIVE at alpha 0.05"}},
		{"all-failed-lenient", gate("2", "--policy", lenient), fault.ExitInconclusive,
			[]string{"gate: INCONCLUSIVE", "0 cases paired, the policy needs ≥ 1"}, nil},
		{"all-failed-diff", []string{"diff", "--db", db, "--baseline", "1", "--candidate", "2"}, fault.ExitOK,
			[]string{"Gate: INCONCLUSIVE at alpha 0.05 — too little evidence for a verdict\n  - " + reason}, nil},
		{"other-suite", gate("3", "--allow-settings-mismatch"), fault.ExitInconclusive,
			[]string{"gate: INCONCLUSIVE", "0 cases paired, the policy needs ≥ 10: 20 only in baseline, 20 only in candidate; the runs are of different suites (testbed, other)"},
			[]string{"Try: compare runs of the same suite"}},
		{"other-suite-refused", gate("3"), fault.ExitInput, nil, []string{"runs have different settings"}},
		{"pass", gate("4"), fault.ExitOK,
			[]string{"gate: PASS at alpha 0.05\n", "  evidence: 20 cases paired (the policy needs ≥ 10); 0 of 20 cases the baseline answered lost"}, nil},
		{"bad-floor", gate("2", "--policy", badFloor), fault.ExitInput, nil,
			[]string{"policy: line 2: min_paired must be at least 1 (a verdict needs a paired case), not 0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(context.Background(), tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.errOut {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(out+errOut, "PASS") != (tt.name == "pass") {
				t.Errorf("PASS printed or missing:\n%s%s", out, errOut)
			}
			golden(t, filepath.Join("evidence", tt.name), replace, tt.args...)
		})
	}

	// The JSON report's verdict is a stable field; failed stays false.
	_, out, _ := runCmd(context.Background(), gate("2", "--format", "json")...)
	var doc struct {
		Gate struct {
			Failed   bool   `json:"failed"`
			Verdict  string `json:"verdict"`
			Evidence struct {
				Paired    int            `json:"paired"`
				Lost      int            `json:"lost"`
				LostKinds map[string]int `json:"lost_kinds"`
				FirstLost string         `json:"first_lost"`
			} `json:"evidence"`
		} `json:"gate"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("gate --format json: %v\n%s", err, out)
	}
	if g := doc.Gate; g.Failed || g.Verdict != "inconclusive" || g.Evidence.Paired != 0 || g.Evidence.Lost != 20 ||
		g.Evidence.LostKinds["not_found"] != 20 || g.Evidence.FirstLost != "q00" {
		t.Errorf("JSON gate = %+v, want inconclusive, not failed, 0 paired, 20 lost to not_found from q00", g)
	}

	// The hint's command shows the failed request.
	if code, out, errOut := runCmd(context.Background(), "show", "--db", db, "2", "q00"); code != fault.ExitOK ||
		!strings.Contains(out, "error (not_found): HTTP 404: 404 page not found") {
		t.Errorf("the hint's 'evalpin show --db DB 2 q00': exit %d\n%s%s", code, out, errOut)
	}
}
