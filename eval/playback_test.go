package eval_test

import (
	"testing"

	"github.com/evalpin/evalpin/eval"
)

func TestPlaybackRates(t *testing.T) {
	p := eval.Playback{Cases: []eval.PlaybackCase{
		// Asked three times: two agree, one failed.
		{Identical: 2, Samples: 3, Now: []eval.PlaybackOutput{{Output: "a", Count: 2, Same: true}, {Error: "timeout", Count: 1}}},
		// Asked four times, all alike, none the output then.
		{Samples: 4, Now: []eval.PlaybackOutput{{Output: "b", Count: 4}}},
		// Asked once: no noise floor, no output then.
		{Now: []eval.PlaybackOutput{{Output: "c", Count: 1}}},
	}}
	if k, n := p.Totals(); k != 2 || n != 7 {
		t.Errorf("Totals = %d/%d, want 2/7", k, n)
	}
	if k, n := p.Agreement(); k != 6 || n != 7 {
		t.Errorf("Agreement = %d/%d, want 6/7", k, n)
	}
	if r := p.Cases[0].Rate(); r != 2.0/3 {
		t.Errorf("Rate = %v, want 2/3", r)
	}
	if r := p.Cases[2].Rate(); r != 0 {
		t.Errorf("Rate without an output then = %v, want 0", r)
	}
}
