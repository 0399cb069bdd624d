package runs

import (
	"cmp"
	"context"
	"strings"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/store"
)

// A comparison of two stored runs holds no output texts (compare.Results),
// and asks for the few it shows or measures once it has paired the cases:
// the outputs of sample 0 of the cases whose outputs differ or that flipped,
// and of samples 0 and 1 of a side where they differ (the similarity's noise
// floor). Reading them again from the store cost a diff as much time as
// reading a side, so while the two sides are read, at once, their cases are
// merged by id and the outputs a comparison may ask for are kept (keptTexts):
// of sample 0 of both sides where the outputs, the numbers of samples or of
// passing samples differ (a flip needs one of the two counts to differ), and
// of samples 0 and 1 of a side where they differ. What a comparison asks for
// beyond them is read from the store.

// caseTextsBatch is how many cases a side sends the merge at a time.
const caseTextsBatch = 256

// caseTexts is one case of a side as the merge reads it: its id, the samples
// and outputs of its first two results, its numbers of results and of
// results that passed (eval.Result.Passed).
type caseTexts struct {
	id      string
	samples [2]int
	outputs [2]string
	n, pass int
}

// add counts r, the case's next result.
func (c *caseTexts) add(r *eval.Result) {
	if c.n < len(c.samples) {
		c.samples[c.n], c.outputs[c.n] = r.Sample, r.Output
	}
	c.n++
	if r.Passed() {
		c.pass++
	}
}

// keptTexts are the outputs kept of one side, ordered by case id and sample.
type keptTexts struct {
	keys  []compare.OutputKey
	texts []string
}

// keep adds the output text of sample of case id, which sorts after (or is)
// the last kept.
func (k *keptTexts) keep(id string, sample int, text string) {
	key := compare.OutputKey{CaseID: id, Sample: sample}
	if n := len(k.keys); n > 0 && k.keys[n-1] == key {
		return
	}
	k.keys, k.texts = append(k.keys, key), append(k.texts, text)
}

// keepRepeats keeps samples 0 and 1 of c where their outputs differ.
func (k *keptTexts) keepRepeats(c *caseTexts) {
	if c.n >= 2 && c.outputs[0] != c.outputs[1] {
		k.keep(c.id, c.samples[0], c.outputs[0])
		k.keep(c.id, c.samples[1], c.outputs[1])
	}
}

// reader returns the outputs of the keys (compare.NewStoredResults): the
// kept ones, the others read from run runID of db.
func (k *keptTexts) reader(ctx context.Context, db *store.DB, runID int64) func(keys []compare.OutputKey) ([]string, error) {
	return func(keys []compare.OutputKey) ([]string, error) {
		out := make([]string, len(keys))
		var missing []int
		j := 0
		for i, key := range keys {
			for j < len(k.keys) && compareKeys(k.keys[j], key) < 0 {
				j++
			}
			if j < len(k.keys) && k.keys[j] == key {
				out[i] = k.texts[j]
				continue
			}
			missing = append(missing, i)
		}
		if len(missing) == 0 {
			return out, nil
		}
		cases, samples := make([]string, len(missing)), make([]int, len(missing))
		for m, i := range missing {
			cases[m], samples[m] = keys[i].CaseID, keys[i].Sample
		}
		texts, err := db.Outputs(ctx, runID, cases, samples)
		if err != nil {
			return nil, err
		}
		for m, i := range missing {
			out[i] = texts[m]
		}
		return out, nil
	}
}

// compareKeys orders keys by case id, then sample, as the store does.
func compareKeys(a, b compare.OutputKey) int {
	return cmp.Or(strings.Compare(a.CaseID, b.CaseID), cmp.Compare(a.Sample, b.Sample))
}

// A caseCursor reads one side's cases from its batches.
type caseCursor struct {
	batches <-chan []caseTexts
	batch   []caseTexts
}

// peek returns the next case, nil at the end.
func (c *caseCursor) peek() *caseTexts {
	for len(c.batch) == 0 {
		b, ok := <-c.batches
		if !ok {
			return nil
		}
		c.batch = b
	}
	return &c.batch[0]
}

// next moves past the case peek returned.
func (c *caseCursor) next() { c.batch = c.batch[1:] }

// mergeTexts merges the cases of the two sides a and b by id and returns
// the outputs to keep of each; it reads both to their end.
func mergeTexts(a, b <-chan []caseTexts) (ka, kb keptTexts) {
	ca, cb := &caseCursor{batches: a}, &caseCursor{batches: b}
	for x, y := ca.peek(), cb.peek(); x != nil && y != nil; x, y = ca.peek(), cb.peek() {
		switch c := strings.Compare(x.id, y.id); {
		case c < 0:
			ca.next()
		case c > 0:
			cb.next()
		default:
			if x.outputs[0] != y.outputs[0] || x.n != y.n || x.pass != y.pass {
				text := y.outputs[0]
				if text == x.outputs[0] {
					text = x.outputs[0] // kept once; the candidate's copy is left to the collector
				}
				ka.keep(x.id, x.samples[0], x.outputs[0])
				kb.keep(y.id, y.samples[0], text)
			}
			ka.keepRepeats(x)
			kb.keepRepeats(y)
			ca.next()
			cb.next()
		}
	}
	for _, c := range []*caseCursor{ca, cb} {
		for c.peek() != nil {
			c.next()
		}
	}
	return ka, kb
}

// sendCases returns a function that counts each result of a run, read in
// case id and sample order, into its case and sends the cases in batches on
// out, and a function that sends the last batch and closes out.
func sendCases(out chan<- []caseTexts) (add func(r *eval.Result), end func()) {
	var batch []caseTexts
	add = func(r *eval.Result) {
		if n := len(batch); n == 0 || batch[n-1].id != r.CaseID {
			if n >= caseTextsBatch {
				out <- batch
				batch = make([]caseTexts, 0, caseTextsBatch+1)
			}
			batch = append(batch, caseTexts{id: r.CaseID})
		}
		batch[len(batch)-1].add(r)
	}
	end = func() {
		if len(batch) > 0 {
			out <- batch
		}
		close(out)
	}
	return add, end
}
