package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/report"
)

// playback is a playback of every kind of case: reproduced, changed, varying
// over samples, failed then, without an output then, and hostile outputs.
func playback() *eval.Playback {
	s := eval.DefaultSettings()
	s.Temperature, s.Samples, s.Seed = 0.7, 3, 7
	return &eval.Playback{
		Lock: lockid.ID("sha256:" + strings.Repeat("a1", 32)), Model: "fake-model", Run: 4, Suite: "replay incident.jsonl",
		Source: "requests incident.jsonl, outputs then out.jsonl", Settings: s,
		Cases: []eval.PlaybackCase{
			{ID: "same", Then: "The answer is 4.", ThenFrom: "recorded", Identical: 3, Samples: 3,
				Now: []eval.PlaybackOutput{{Output: "The answer is 4.", Count: 3, Same: true}}},
			{ID: "changed", Then: "The capital of France is Paris.", ThenFrom: "run 2", Samples: 3,
				Now: []eval.PlaybackOutput{{Output: "The capital of France is Lyon, I think.", Count: 3}}},
			{ID: "varies", Then: "yes", ThenFrom: "recorded", Identical: 1, Samples: 3,
				Now: []eval.PlaybackOutput{{Output: "no", Count: 1}, {Output: "yes", Count: 1, Same: true}, {Error: "timeout: no answer", Count: 1}}},
			{ID: "failed-then", ThenError: "server_error boom", ThenFrom: "recorded",
				Now: []eval.PlaybackOutput{{Output: "fine now", Count: 3}}},
			{ID: "no-then", Now: []eval.PlaybackOutput{{Output: "first time", Count: 3}}},
			{ID: "hostile|*x*", Then: "\x1b[31mred\x1b[0m <b>", ThenFrom: "recorded", Samples: 3,
				Now: []eval.PlaybackOutput{{Output: "\u202egreen | **bold** [link](http://x) @all\nnext", Count: 3}}},
		},
		Notes: []string{"6 cases replayed at a temperature above 0: see --samples"},
	}
}

// playbackAgainst is playback with the current lock's outputs side by side.
func playbackAgainst() *eval.Playback {
	p := playback()
	p.Against = &eval.PlaybackSide{Lock: lockid.ID("sha256:" + strings.Repeat("b2", 32)), Model: "fake-model-v2", Run: 5}
	p.Cases = p.Cases[:3]
	p.Cases[0].Against, p.Cases[0].AgainstSamples = []eval.PlaybackOutput{{Output: "The answer is four.", Count: 3}}, 3
	p.Cases[1].Against, p.Cases[1].AgainstIdentical, p.Cases[1].AgainstSamples = []eval.PlaybackOutput{{Output: "The capital of France is Paris.", Count: 3, Same: true}}, 3, 3
	p.Cases[2].Against, p.Cases[2].AgainstSamples = []eval.PlaybackOutput{{Output: "no", Count: 2}, {Error: "server_error", Count: 1}}, 3
	return p
}

func TestReplayGolden(t *testing.T) {
	for name, p := range map[string]*eval.Playback{"replay": playback(), "replay-against": playbackAgainst()} {
		for _, f := range []string{"table", "md", "json"} {
			var buf bytes.Buffer
			if err := report.WriteReplay(&buf, f, p); err != nil {
				t.Fatal(err)
			}
			golden(t, name+"."+f+".golden", buf.Bytes())
		}
	}
}

// TestReplayEscaping checks that no playback format lets an output's
// control characters through raw, and that JSON keeps outputs whole.
func TestReplayEscaping(t *testing.T) {
	for _, f := range []string{"table", "md", "json"} {
		var buf bytes.Buffer
		if err := report.WriteReplay(&buf, f, playback()); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, bad := range []string{"\x1b", "\u202e"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s playback contains %q raw", f, bad)
			}
		}
		if f == "md" && strings.Contains(out, "[link](http") {
			t.Errorf("md playback lets a link through")
		}
	}
	var buf bytes.Buffer
	report.WriteReplayJSON(&buf, playback())
	var got struct {
		Identical, Samples int
		Reproduced         *float64
		Cases              []struct {
			Verdict    string
			Then       string
			Reproduced *float64
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Identical != 4 || got.Samples != 12 || got.Reproduced == nil || *got.Reproduced != 4.0/12 {
		t.Errorf("totals = %d of %d (%v), want 4 of 12", got.Identical, got.Samples, got.Reproduced)
	}
	if v := got.Cases[2].Verdict; v != "varies" || got.Cases[4].Reproduced != nil || got.Cases[5].Then != "\x1b[31mred\x1b[0m <b>" {
		t.Errorf("cases = %+v", got.Cases)
	}
}
