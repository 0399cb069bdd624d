package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/stubserver"
)

// collect walks p and returns its passes' jobs.
func collect(p Plan) [][]Job {
	var passes [][]Job
	for pass := range p.Passes {
		passes = append(passes, slices.Collect(pass))
	}
	return passes
}

func TestSuitePlan(t *testing.T) {
	suite := rawSuite(3)
	suite.Settings.Samples = 3
	suite.Cases[1].Overrides.MaxTokens = ptr(7)
	tests := []struct {
		name           string
		skip           func(string, int) bool
		want           [][]string // per pass, case/sample
		total, skipped int
	}{{
		name:  "no skip: sample k of every case in pass k",
		want:  [][]string{{"r0/0", "r1/0", "r2/0"}, {"r0/1", "r1/1", "r2/1"}, {"r0/2", "r1/2", "r2/2"}},
		total: 9,
	}, {
		name:  "stored samples left out, empty passes kept",
		skip:  func(id string, s int) bool { return s == 1 || id == "r0" },
		want:  [][]string{{"r1/0", "r2/0"}, nil, {"r1/2", "r2/2"}},
		total: 4, skipped: 5,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := SuitePlan(suite, tt.skip)
			if p.Total != tt.total || p.Skipped != tt.skipped {
				t.Errorf("total %d, skipped %d; want %d, %d", p.Total, p.Skipped, tt.total, tt.skipped)
			}
			passes := collect(p)
			var got [][]string
			settings := map[string]*eval.Settings{}
			for _, pass := range passes {
				var ids []string
				for _, j := range pass {
					ids = append(ids, fmt.Sprintf("%s/%d", j.Case.ID, j.Sample))
					if s, ok := settings[j.Case.ID]; ok && s != j.Settings {
						t.Errorf("%s: the jobs of a case do not share their settings", j.Case.ID)
					}
					settings[j.Case.ID] = j.Settings
				}
				got = append(got, ids)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("passes %v, want %v", got, tt.want)
			}
			if s := settings["r1"]; s != nil && s.MaxTokens != 7 {
				t.Errorf("r1's settings: max_tokens %d, want its override 7", s.MaxTokens)
			}
			if s := settings["r2"]; s != nil && s.MaxTokens != suite.Settings.MaxTokens {
				t.Errorf("r2's settings: max_tokens %d, want the suite's %d", s.MaxTokens, suite.Settings.MaxTokens)
			}
		})
	}
}

// requestTagger answers every /completions request with one choice per
// prompt whose text names the request ("req<n>"), and records the prompts of
// each request in the order they arrived.
type requestTagger struct {
	mu       sync.Mutex
	requests [][]string
}

func (rt *requestTagger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Prompt json.RawMessage `json:"prompt"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var prompts []string
	if err := json.Unmarshal(body.Prompt, &prompts); err != nil {
		var one string
		if err := json.Unmarshal(body.Prompt, &one); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		prompts = []string{one}
	}
	rt.mu.Lock()
	n := len(rt.requests)
	rt.requests = append(rt.requests, prompts)
	rt.mu.Unlock()
	type choice struct {
		Index        int    `json:"index"`
		Text         string `json:"text"`
		FinishReason string `json:"finish_reason"`
	}
	resp := struct {
		Choices []choice `json:"choices"`
	}{}
	for i := range prompts {
		resp.Choices = append(resp.Choices, choice{Index: i, Text: fmt.Sprintf("req%d", n), FinishReason: "stop"})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// TestBatchWithinPass: with --batch 4 and 3 samples, every packed request
// holds jobs of one pass only, so no two samples of a case are ever answered
// by one request; and a pass's last, partly filled request is sent at the end
// of that pass.
func TestBatchWithinPass(t *testing.T) {
	for _, c := range []int{1, 8} {
		t.Run(fmt.Sprintf("concurrency=%d", c), func(t *testing.T) {
			rt := &requestTagger{}
			srv := httptest.NewServer(rt)
			defer srv.Close()
			suite := rawSuite(10)
			suite.Settings.Samples = 3
			sink := &memSink{}
			cfg := testConfig(sink, srv.URL+"/v1")
			cfg.Batch, cfg.Concurrency = 4, c
			sum, err := run(t, cfg, suite)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Results != 30 || sum.Requests != 9 { // 3 passes × (4 + 4 + 2)
				t.Errorf("%d results in %d requests, want 30 in 9", sum.Results, sum.Requests)
			}
			byRequest := map[string][]eval.Result{}
			for _, r := range sink.all() {
				if r.Error != "" {
					t.Fatalf("%s/%d: %s", r.CaseID, r.Sample, r.Error)
				}
				byRequest[r.Output] = append(byRequest[r.Output], r)
			}
			for req, rs := range byRequest {
				if len(rs) > 4 {
					t.Errorf("%s packed %d prompts, want at most 4", req, len(rs))
				}
				for _, r := range rs {
					if r.Sample != rs[0].Sample {
						t.Errorf("%s mixes passes: %s/%d and %s/%d", req, rs[0].CaseID, rs[0].Sample, r.CaseID, r.Sample)
					}
				}
			}
			if c == 1 {
				// One request at a time: the server saw the passes in order.
				want := [][]string{{"p0", "p1", "p2", "p3"}, {"p4", "p5", "p6", "p7"}, {"p8", "p9"}}
				want = append(append(want, want...), want...)
				if fmt.Sprint(rt.requests) != fmt.Sprint(want) {
					t.Errorf("requests %v, want %v", rt.requests, want)
				}
			}
		})
	}
}

// TestPassOrder: with one request in flight, the runner sends sample 0 of
// every case before sample 1 of any.
func TestPassOrder(t *testing.T) {
	url, _ := stub(t, stubserver.Config{})
	suite := chatSuite(5)
	suite.Settings.Samples = 3
	sink := &memSink{}
	cfg := testConfig(sink, url)
	cfg.Concurrency = 1
	if _, err := run(t, cfg, suite); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range sink.all() {
		got = append(got, fmt.Sprintf("%s/%d", r.CaseID, r.Sample))
	}
	want := "[c0/0 c1/0 c2/0 c3/0 c4/0 c0/1 c1/1 c2/1 c3/1 c4/1 c0/2 c1/2 c2/2 c3/2 c4/2]"
	if fmt.Sprint(got) != want {
		t.Errorf("order %v, want %s", got, want)
	}
}

// TestPlanPulledLazily: the runner pulls a plan's jobs as it sends them: an
// interrupted run stops pulling, and a plan of unknown size (Total 0) runs.
func TestPlanPulledLazily(t *testing.T) {
	g := newGate()
	srv := httptest.NewServer(g)
	defer srv.Close()
	sink := &memSink{}
	cfg := testConfig(sink, srv.URL+"/v1")
	cfg.Concurrency = 2
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	suite := chatSuite(1000)
	var pulled atomic.Int64
	plan := Plan{Passes: func(yield func(iter.Seq[Job]) bool) {
		yield(func(yield func(Job) bool) {
			for i := range suite.Cases {
				pulled.Add(1)
				if !yield(Job{Case: &suite.Cases[i], Settings: &suite.Settings}) {
					return
				}
			}
		})
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := r.Run(ctx, plan)
		done <- err
	}()
	for range 2 {
		<-g.arrived
	}
	cancel()
	close(g.release)
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "run interrupted: 2 results stored;") {
		t.Errorf("err = %v, want an interruption", err)
	}
	if n := pulled.Load(); n > 4 {
		t.Errorf("%d jobs pulled for 2 requests in flight, want at most 4", n)
	}
	if n := len(sink.all()); n != 2 {
		t.Errorf("%d results, want the 2 in flight", n)
	}
}

// An overlapSpy is a /completions engine that holds each request a little
// and records every time a prompt arrived while another request holding the
// same prompt was still in flight (which a batching engine would co-batch).
type overlapSpy struct {
	mu       sync.Mutex
	inFlight map[string]int
	overlaps []string
	packed   []string // requests that held one prompt twice
}

func (s *overlapSpy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Prompt json.RawMessage `json:"prompt"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	var prompts []string
	if json.Unmarshal(body.Prompt, &prompts) != nil {
		var one string
		json.Unmarshal(body.Prompt, &one)
		prompts = []string{one}
	}
	s.mu.Lock()
	seen := map[string]bool{}
	for _, p := range prompts {
		if seen[p] {
			s.packed = append(s.packed, p)
		}
		seen[p] = true
		if s.inFlight[p] > 0 {
			s.overlaps = append(s.overlaps, p)
		}
		s.inFlight[p]++
	}
	s.mu.Unlock()
	time.Sleep(time.Duration(1+len(s.overlaps)%3) * time.Millisecond)
	s.mu.Lock()
	for _, p := range prompts {
		s.inFlight[p]--
	}
	s.mu.Unlock()
	choices := make([]map[string]any, len(prompts))
	for i, p := range prompts {
		choices[i] = map[string]any{"index": i, "text": "echo: " + p, "finish_reason": "stop"}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": "c", "object": "text_completion", "model": "m", "choices": choices})
}

// TestRepeatsNeverInFlightTogether: the samples of a case are separate
// passes, and with a suite smaller than the in-flight window (3 cases, 16
// requests of up to 4 prompts) no sample of a case is sent while another is
// still in flight, and no request packs two of them, so that a batching
// engine can never co-batch two repeats (item 6 of issue 10).
func TestRepeatsNeverInFlightTogether(t *testing.T) {
	for _, batch := range []int{1, 4} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			spy := &overlapSpy{inFlight: map[string]int{}}
			srv := httptest.NewServer(spy)
			defer srv.Close()
			suite := rawSuite(3)
			suite.Settings.Samples = 6
			sink := &memSink{}
			cfg := testConfig(sink, srv.URL+"/v1")
			cfg.Batch, cfg.Concurrency = batch, 16
			sum, err := run(t, cfg, suite)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Results != 18 {
				t.Errorf("%d results, want 18", sum.Results)
			}
			if len(spy.overlaps) > 0 || len(spy.packed) > 0 {
				t.Errorf("repeats in flight together: %v; packed together: %v", spy.overlaps, spy.packed)
			}
		})
	}
}
