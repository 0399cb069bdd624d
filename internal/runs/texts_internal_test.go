package runs

import (
	"fmt"
	"slices"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
)

// TestMergeTexts: the merge of two sides keeps the outputs of sample 0 of
// both sides of a case whose outputs, samples or passing samples differ,
// and samples 0 and 1 of a side where they differ; nothing of a case one
// side lacks, and nothing of a case that agrees. Cases span several batches.
func TestMergeTexts(t *testing.T) {
	pass := []eval.Check{{Scorer: "s", Pass: true}}
	fail := []eval.Check{{Scorer: "s", Pass: false}}
	var base, cand []eval.Result
	var wantB, wantC []compare.OutputKey
	for i := range 3 * caseTextsBatch {
		id := fmt.Sprintf("case-%04d", i)
		b0 := eval.Result{CaseID: id, Sample: 0, Output: "same", Checks: pass}
		b1 := eval.Result{CaseID: id, Sample: 1, Output: "same", Checks: pass}
		c0, c1 := b0, b1
		switch i % 6 {
		case 1: // the candidate's output of sample 0 changed
			c0.Output = "other"
			wantB, wantC = append(wantB, compare.OutputKey{CaseID: id}), append(wantC, compare.OutputKey{CaseID: id})
			wantC = append(wantC, compare.OutputKey{CaseID: id, Sample: 1}) // its repeats now differ
		case 2: // a sample of the candidate failed a check
			c1.Checks = fail
			wantB, wantC = append(wantB, compare.OutputKey{CaseID: id}), append(wantC, compare.OutputKey{CaseID: id})
		case 3: // the baseline's repeats differ
			b1.Output = "again"
			wantB = append(wantB, compare.OutputKey{CaseID: id}, compare.OutputKey{CaseID: id, Sample: 1})
		case 4: // only the baseline has the case
			base = append(base, eval.Result{CaseID: id, Output: "alone"})
			continue
		case 5: // the candidate's sample 1 failed
			c1.Error = "timeout"
			wantB, wantC = append(wantB, compare.OutputKey{CaseID: id}), append(wantC, compare.OutputKey{CaseID: id})
		}
		base, cand = append(base, b0, b1), append(cand, c0, c1)
	}
	toB, toC := make(chan []caseTexts, 1), make(chan []caseTexts, 1)
	for _, side := range []struct {
		rs []eval.Result
		to chan []caseTexts
	}{{base, toB}, {cand, toC}} {
		go func() {
			add, end := sendCases(side.to)
			defer end()
			for i := range side.rs {
				add(&side.rs[i])
			}
		}()
	}
	keptB, keptC := mergeTexts(toB, toC)
	for _, s := range []struct {
		name string
		kept keptTexts
		want []compare.OutputKey
		rs   []eval.Result
	}{{"baseline", keptB, wantB, base}, {"candidate", keptC, wantC, cand}} {
		if !slices.Equal(s.kept.keys, s.want) {
			t.Errorf("%s: kept %d outputs %v…, want %d %v…", s.name, len(s.kept.keys), s.kept.keys[:min(4, len(s.kept.keys))], len(s.want), s.want[:4])
			continue
		}
		for i, k := range s.kept.keys {
			j := slices.IndexFunc(s.rs, func(r eval.Result) bool { return r.CaseID == k.CaseID && r.Sample == k.Sample })
			if s.kept.texts[i] != s.rs[j].Output {
				t.Errorf("%s: %v kept %q, want %q", s.name, k, s.kept.texts[i], s.rs[j].Output)
			}
		}
	}
}
