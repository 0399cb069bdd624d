package replay_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/replay"
)

func TestParseRequests(t *testing.T) {
	log := `{"custom_id": "req-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "temperature": 0, "max_tokens": 32, "seed": 3}}

{"model": "gpt", "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]}], "max_completion_tokens": 16, "stop": "\n"}
{"custom_id": "req-3", "method": "POST", "url": "/v1/completions", "body": {"model": "gpt", "prompt": "2 + 2 =", "stop": ["\n", "."]}}
`
	reqs, err := replay.ParseRequests("incident.jsonl", strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(reqs), 3; got != want {
		t.Fatalf("requests = %d, want %d", got, want)
	}
	r := reqs[0]
	if r.ID != "req-1" || r.Line != 1 || len(r.Messages) != 2 || r.Messages[0].Role != "system" ||
		*r.Params.Temperature != 0 || *r.Params.MaxTokens != 32 || *r.Params.Seed != 3 || r.Params.TopP != nil {
		t.Errorf("Batch line = %+v", r)
	}
	r = reqs[1]
	if r.ID != "line-3" || r.Line != 3 || r.Messages[0].Content != "Hello there" || *r.Params.MaxTokens != 16 ||
		len(r.Params.Stop) != 1 || r.Params.Stop[0] != "\n" || r.Params.Temperature != nil {
		t.Errorf("bare body = %+v", r)
	}
	r = reqs[2]
	if r.ID != "req-3" || r.Prompt == nil || *r.Prompt != "2 + 2 =" || len(r.Params.Stop) != 2 {
		t.Errorf("completion line = %+v", r)
	}
}

func TestParseRequestsMalformed(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want []string // in the error, each "line N: …"
	}{
		{"not JSON", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\nnot json\n", []string{"1 malformed line", "line 2: not a JSON object"}},
		{"no messages", `{"model": "m"}`, []string{"line 1: the body has no \"messages\""}},
		{"Batch line without body", `{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions"}`, []string{`line 1: a Batch line needs a "body"`}},
		{"custom_id twice", "{\"custom_id\": \"a\", \"body\": {\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}}\n{\"custom_id\": \"a\", \"body\": {\"messages\": [{\"role\": \"user\", \"content\": \"y\"}]}}",
			[]string{`line 2: custom_id "a" is also on line 1`}},
		{"white space in custom_id", `{"custom_id": "a b", "body": {"messages": [{"role": "user", "content": "x"}]}}`, []string{"line 1: custom_id \"a b\" contains white space"}},
		{"embeddings", `{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}`, []string{"line 1: url \"/v1/embeddings\""}},
		{"image part", `{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}`, []string{`line 1: messages[0]: a "image_url" part is not replayed`}},
		{"tool role", `{"messages": [{"role": "tool", "content": "x"}]}`, []string{`line 1: messages[0]: role "tool"`}},
		{"bad stop", `{"messages": [{"role": "user", "content": "x"}], "stop": 3}`, []string{`line 1: "stop" must be`}},
	}
	for _, tt := range tests {
		_, err := replay.ParseRequests("incident.jsonl", strings.NewReader(tt.log))
		if _, ok := errors.AsType[*replay.LineError](err); !ok || fault.KindOf(err) != fault.Input {
			t.Errorf("%s: err = %v, want an input *LineError", tt.name, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %q, want it to say %q", tt.name, err, w)
			}
		}
	}
	if _, err := replay.ParseRequests("empty.jsonl", strings.NewReader("\n\n")); !errors.Is(err, replay.ErrNoRequests) {
		t.Errorf("empty log: err = %v, want ErrNoRequests", err)
	}
}

func TestParseOutputs(t *testing.T) {
	out := `{"id": "batch_req_1", "custom_id": "req-1", "response": {"status_code": 200, "request_id": "r1", "body": {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}]}}, "error": null}
{"id": "batch_req_2", "custom_id": "req-2", "response": null, "error": {"code": "server_error", "message": "boom"}}
{"id": "batch_req_3", "custom_id": "req-3", "response": {"status_code": 200, "body": {"choices": [{"index": 0, "text": " 4"}]}}, "error": null}
{"id": "batch_req_4", "custom_id": "req-4", "response": {"status_code": 400, "body": {"error": {"message": "bad"}}}, "error": null}
`
	recs, err := replay.ParseOutputs("out.jsonl", strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]replay.Recorded{
		"req-1": {Line: 1, Output: "Hello!"},
		"req-2": {Line: 2, Error: "server_error boom"},
		"req-3": {Line: 3, Output: " 4"},
		"req-4": {Line: 4, Error: "status 400: bad"},
	}
	for id, w := range want {
		if got := recs[id]; got != w {
			t.Errorf("%s = %+v, want %+v", id, got, w)
		}
	}
	_, err = replay.ParseOutputs("out.jsonl", strings.NewReader(`{"custom_id": "a", "response": {"status_code": 200, "body": {"choices": []}}}`+"\n{}\n"))
	for _, w := range []string{"2 malformed lines", "line 1: the response has no choices", `line 2: a Batch output line needs a "custom_id"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v, want it to say %q", err, w)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestRequestSuiteSettings(t *testing.T) {
	msgs := []eval.Message{{Role: "user", Content: "x"}}
	req := func(line int, p replay.Params) replay.Request {
		return replay.Request{Line: line, ID: "r" + string(rune('0'+line)), Messages: msgs, Params: p}
	}
	// The requests agree on top_p and seed, name no penalty, and differ on
	// temperature and max_tokens; one names no temperature.
	reqs := []replay.Request{
		req(1, replay.Params{Temperature: ptr(0.0), TopP: ptr(0.9), MaxTokens: ptr(64), Seed: ptr(int64(5)), Stop: []string{"\n"}}),
		req(2, replay.Params{Temperature: ptr(0.7), TopP: ptr(0.9), MaxTokens: ptr(64), Seed: ptr(int64(5)), Stop: []string{"\n"}}),
		req(3, replay.Params{TopP: ptr(0.9), MaxTokens: ptr(32), Seed: ptr(int64(5)), Stop: []string{"\n"}}),
	}
	s, notes, err := replay.RequestSuite("replay incident", reqs)
	if err != nil {
		t.Fatal(err)
	}
	d := s.Settings
	if d.Temperature != 0 || d.TopP != 0.9 || d.MaxTokens != 64 || d.Seed != 5 || len(d.Stop) != 1 || d.Samples != 1 {
		t.Errorf("defaults = %+v", d)
	}
	if o := s.Cases[0].Overrides; o.Temperature != nil || o.MaxTokens != nil {
		t.Errorf("case 1 overrides = %+v, want none", o)
	}
	if o := s.Cases[1].Overrides; o.Temperature == nil || *o.Temperature != 0.7 || o.MaxTokens != nil {
		t.Errorf("case 2 overrides = %+v, want temperature 0.7", o)
	}
	if o := s.Cases[2].Overrides; o.Temperature == nil || *o.Temperature != 1 || o.MaxTokens == nil || *o.MaxTokens != 32 {
		t.Errorf("case 3 overrides = %+v, want temperature 1 (the API's default), max_tokens 32", o)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "1 of 3 requests did not name temperature") {
		t.Errorf("notes = %q", notes)
	}
	if s.Hash == "" || s.Cases[0].Hash == "" {
		t.Error("the ad-hoc suite is not hashed")
	}

	// top_p cannot be a case's override: requests that disagree on it are
	// refused, naming the lines.
	reqs[2].Params.TopP = ptr(1.0)
	_, _, err = replay.RequestSuite("replay incident", reqs)
	se, ok := errors.AsType[*replay.SettingsError](err)
	if !ok || se.Setting != "top_p" || se.Lines != [2]int{1, 3} || !strings.Contains(err.Error(), "line 1: 0.9, line 3: 1") {
		t.Errorf("err = %v, want a *SettingsError on top_p naming lines 1 and 3", err)
	}
}

func TestCompare(t *testing.T) {
	then := eval.PlaybackCase{Then: "a b c", ThenFrom: "recorded"}
	got := replay.Compare("x", then, []eval.Result{
		{CaseID: "x", Sample: 0, Output: "a b c"},
		{CaseID: "x", Sample: 1, Output: "a B c"},
		{CaseID: "x", Sample: 2, Output: "a b c"},
		{CaseID: "x", Sample: 3, Error: "timeout"},
	})
	if got.Identical != 2 || got.Samples != 4 || got.Rate() != 0.5 {
		t.Errorf("identical %d of %d, want 2 of 4", got.Identical, got.Samples)
	}
	if len(got.Now) != 3 || got.Now[0].Output != "a b c" || got.Now[0].Count != 2 || !got.Now[0].Same || got.Now[2].Error != "timeout" {
		t.Errorf("now = %+v", got.Now)
	}
	// No output then: nothing to reproduce.
	got = replay.Compare("x", eval.PlaybackCase{}, []eval.Result{{CaseID: "x", Output: "a"}})
	if got.Samples != 0 || len(got.Now) != 1 {
		t.Errorf("without then: %+v", got)
	}
}
