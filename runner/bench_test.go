package runner

// The speed and memory benchmarks (make bench, scripts/bench-runner.sh).
//
// The stub server runs as a separate process (internal/stubserver/cmd/stubserver),
// so that neither evalpin's runner nor hey shares its process, garbage collector
// or scheduler with the server: both load generators see the same server
// under the same conditions, and the runner's peak RSS is its own. hey is
// found at .testbed/bin/hey (scripts/bench-runner.sh installs it) or at
// $EVALPIN_HEY; without it the comparisons are skipped.
//
// On a 2-core machine the stub, the client and the benchmark share the cores:
// the absolute numbers are the machine's, the ratios are what to look at.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/stubserver"
	openai "github.com/sashabaranov/go-openai"
)

// benchSink does what a store does before its disk write: it encodes each
// result to JSON and keeps it.
type benchSink struct {
	results []eval.Result
	buf     bytes.Buffer
	bytes   int
}

func newBenchSink(n int) *benchSink { return &benchSink{results: make([]eval.Result, 0, n)} }

func (s *benchSink) Put(r eval.Result) {
	s.buf.Reset()
	if err := json.NewEncoder(&s.buf).Encode(r); err != nil {
		panic(err)
	}
	s.bytes += s.buf.Len()
	s.results = append(s.results, r)
}

func (s *benchSink) Err() error { return nil }

// regexScorer passes outputs that match its expression.
type regexScorer struct{ re *regexp.Regexp }

func (s regexScorer) Name() string { return "regex" }
func (s regexScorer) Score(out string) eval.Check {
	return eval.Check{Scorer: "regex", Pass: s.re.MatchString(out)}
}

// benchPrompt is the question of case i, as long as the one hey sends.
func benchPrompt(i int) string { return fmt.Sprintf("What is 2+2? Answer briefly. #%06d", i) }

// heyBody is the request hey sends: what the runner sends for benchPrompt.
var heyBody = `{"model":"stub","messages":[{"role":"user","content":"What is 2+2? Answer briefly. #000000"}],"temperature":0,"top_p":1,"n":1,"seed":0,"max_tokens":256,"stop":[],"presence_penalty":0,"frequency_penalty":0,"stream":false}`

// benchSuite returns n chat cases with two scorers each.
func benchSuite(n int) eval.Suite {
	re := regexScorer{regexp.MustCompile(`echo: What is \d\+\d\?`)}
	s := eval.Suite{Name: "bench", Settings: eval.DefaultSettings()}
	s.Cases = make([]eval.Case, n)
	for i := range s.Cases {
		s.Cases[i] = eval.Case{
			ID:       fmt.Sprintf("case-%06d", i),
			Hash:     fmt.Sprintf("%064x", i),
			Messages: []eval.Message{{Role: "user", Content: benchPrompt(i)}},
			Scorers:  []eval.Scorer{containsScorer("2+2"), re},
		}
	}
	return s
}

// replay runs suite against url at concurrency c and checks that every case
// got an answer.
func replay(tb testing.TB, url string, c int, suite eval.Suite) (Summary, *benchSink) {
	sink := newBenchSink(len(suite.Cases))
	r, err := New(Config{Endpoints: []string{url}, Model: "stub", Concurrency: c, Timeout: time.Minute, Sink: sink})
	if err != nil {
		tb.Fatal(err)
	}
	sum, err := r.Run(context.Background(), SuitePlan(suite, nil))
	if err != nil {
		tb.Fatal(err)
	}
	if sum.Results != len(suite.Cases) || sum.ErrorCount() != 0 {
		tb.Fatalf("%d results, errors %v; want %d, none", sum.Results, sum.Errors, len(suite.Cases))
	}
	for _, res := range sink.results {
		if !res.Passed() {
			tb.Fatalf("case %s failed its checks: %+v", res.CaseID, res.Checks)
		}
	}
	return sum, sink
}

// BenchmarkVersusHey replays a scored suite through the runner into a sink
// that encodes every result, and reports its requests per second as a ratio
// to hey's on the same stub server. Each iteration runs hey, untimed, right
// before or after the runner (alternately), so that both see the same load on
// a shared machine; the ratio reported is the median of the iterations' ratios.
// Targets: ratio ≥ 0.7 at 0 ms, ≥ 0.9 at 20 ms and concurrency 256.
func BenchmarkVersusHey(b *testing.B) {
	stub := stubserver.Build(b, b.TempDir())
	for _, bc := range []struct {
		latency time.Duration
		c, n    int
	}{
		{0, 64, 10000},
		{20 * time.Millisecond, 256, 10000},
	} {
		b.Run(fmt.Sprintf("latency=%v/c=%d", bc.latency, bc.c), func(b *testing.B) {
			bin := stubserver.HeyPath(b, "..")
			url := stubserver.Start(b, stub, bc.latency, "")
			suite := benchSuite(bc.n)
			var ratios []float64
			var rates, heyRates float64
			for i := 0; b.Loop(); i++ {
				// Alternate the order, so that neither always runs on the
				// heels of the other.
				var heyRPS float64
				if i%2 == 0 {
					b.StopTimer()
					heyRPS = stubserver.Hey(b, bin, url, heyBody, bc.n, bc.c).Own
					b.StartTimer()
				}
				start := time.Now()
				sum, _ := replay(b, url, bc.c, suite)
				rps := float64(sum.Results) / time.Since(start).Seconds()
				if i%2 == 1 {
					b.StopTimer()
					heyRPS = stubserver.Hey(b, bin, url, heyBody, bc.n, bc.c).Own
					b.StartTimer()
				}
				ratios = append(ratios, rps/heyRPS)
				rates += rps
				heyRates += heyRPS
			}
			slices.Sort(ratios)
			b.ReportMetric(rates/float64(len(ratios)), "req/s")
			b.ReportMetric(heyRates/float64(len(ratios)), "hey-req/s")
			b.ReportMetric(ratios[len(ratios)/2], "ratio")
		})
	}
}

// BenchmarkRunInProcess replays 2,000 cases at concurrency 64 against an
// in-process stub server; it needs no hey.
func BenchmarkRunInProcess(b *testing.B) {
	srv := httptest.NewServer(stubserver.New(stubserver.Config{}))
	defer srv.Close()
	suite := benchSuite(2000)
	results := 0
	for b.Loop() {
		sum, _ := replay(b, srv.URL+"/v1", 64, suite)
		results += sum.Results
	}
	b.ReportMetric(float64(results)/b.Elapsed().Seconds(), "req/s")
}

// rssChildEnv names the stub URL a child process replays 10,000 cases against.
const rssChildEnv = "EVALPIN_RSS_CHILD_URL"

// TestMain runs the child process of BenchmarkPeakRSS when asked to.
func TestMain(m *testing.M) {
	if url := os.Getenv(rssChildEnv); url != "" {
		os.Exit(rssChild(url))
	}
	os.Exit(m.Run())
}

// rssChild replays 10,000 cases at the default concurrency and prints its
// peak resident set size.
func rssChild(url string) int {
	suite := benchSuite(10000)
	tb := &childTB{}
	sum, sink := replay(tb, url, 0, suite)
	if tb.failed != "" {
		fmt.Fprintln(os.Stderr, tb.failed)
		return 1
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("results=%d sink_bytes=%d vmhwm_kb=%d maxrss_kb=%d\n", sum.Results, sink.bytes, vmHWM(), ru.Maxrss)
	return 0
}

// vmHWM returns the peak resident set size in kB from /proc/self/status, or -1.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb
			}
		}
	}
	return -1
}

// childTB is the testing.TB of the child process: it records the first failure.
type childTB struct {
	testing.TB
	failed string
}

func (t *childTB) Helper() {}
func (t *childTB) Fatal(args ...any) {
	t.failed = fmt.Sprint(args...)
	panic(t.failed)
}
func (t *childTB) Fatalf(format string, args ...any) { t.Fatal(fmt.Sprintf(format, args...)) }

var rssLine = regexp.MustCompile(`results=(\d+) sink_bytes=\d+ vmhwm_kb=(-?\d+) maxrss_kb=(\d+)`)

// BenchmarkPeakRSS runs a 10,000-case replay in a child process (this test
// binary, re-executed) against the stub server at 0 ms and reports the child's
// peak RSS. Target: < 100 MB.
func BenchmarkPeakRSS(b *testing.B) {
	url := stubserver.Start(b, stubserver.Build(b, b.TempDir()), 0, "")
	var peak int64
	for b.Loop() {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), rssChildEnv+"="+url)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		m := rssLine.FindSubmatch(out)
		if m == nil {
			b.Fatalf("child printed no peak RSS:\n%s", out)
		}
		if string(m[1]) != "10000" {
			b.Fatalf("child handed on %s results, want 10000", m[1])
		}
		kb, _ := strconv.ParseInt(string(m[2]), 10, 64)
		if kb < 0 { // no /proc: ru_maxrss, in kB on Linux
			kb, _ = strconv.ParseInt(string(m[3]), 10, 64)
		}
		peak = max(peak, kb)
	}
	b.ReportMetric(float64(peak)/1024, "peak-MB")
}

// decodeBodies are 2xx bodies as engines send them: a vLLM chat completion,
// a completion, and a completion of 8 packed prompts.
var decodeBodies = []struct {
	name string
	raw  bool
	n    int
	body string
}{
	{"chat", false, 1, `{"id":"chatcmpl-8f1c","object":"chat.completion","created":1741000000,"model":"stub","choices":[{"index":0,"message":{"role":"assistant","content":"The answer is 4. Two plus two equals four, as addition of two and two gives four.","tool_calls":[]},"logprobs":null,"finish_reason":"stop","stop_reason":null}],"usage":{"prompt_tokens":21,"total_tokens":43,"completion_tokens":22},"system_fingerprint":"fp_44709d6fcb","prompt_logprobs":null}`},
	{"completion", true, 1, `{"id":"cmpl-8f1c","object":"text_completion","created":1741000000,"model":"stub","choices":[{"index":0,"text":" The answer is 4. Two plus two equals four.","logprobs":null,"finish_reason":"stop","stop_reason":null}],"usage":{"prompt_tokens":12,"total_tokens":24,"completion_tokens":12}}`},
	{"completion-packed-8", true, 8, func() string {
		var b strings.Builder
		b.WriteString(`{"id":"cmpl-8f1c","object":"text_completion","created":1741000000,"model":"stub","choices":[`)
		for i := range 8 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"index":%d,"text":" The answer is %d.","logprobs":null,"finish_reason":"stop","stop_reason":null}`, i, i)
		}
		b.WriteString(`],"usage":{"prompt_tokens":96,"total_tokens":144,"completion_tokens":48}}`)
		return b.String()
	}()},
}

// BenchmarkDecode decodes one 2xx response body, as the runner does for
// every answer.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range decodeBodies {
		b.Run(bc.name, func(b *testing.B) {
			body := []byte(bc.body)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				d, err := decode(bc.raw, bc.n, "application/json", body)
				if err != nil || len(d.answers) != bc.n {
					b.Fatalf("decode: %d answers, %v", len(d.answers), err)
				}
			}
		})
	}
}

// BenchmarkOpenAIChatDecode decodes the chat body of decodeBodies into the
// runner's chatResponse and into go-openai's ChatCompletionResponse, the type
// the runner does not use for it (see chatResponse). go-openai's message type
// has an UnmarshalJSON that decodes the message again with json.Unmarshal,
// which validates it a second time and, for multi-part content, decodes it a
// third time. The ratio sub-benchmark decodes with both in turn and reports
// go-openai's time and allocations over the runner's; taken in turn, a shared
// machine's load weighs on both alike. Its ns/op is the pair's.
func BenchmarkOpenAIChatDecode(b *testing.B) {
	body := []byte(decodeBodies[0].body)
	runnerDecode := func() error {
		var r chatResponse
		return json.Unmarshal(body, &r)
	}
	openaiDecode := func() error {
		var r openai.ChatCompletionResponse
		return json.Unmarshal(body, &r)
	}
	for _, bc := range []struct {
		name   string
		decode func() error
	}{{"runner", runnerDecode}, {"go-openai", openaiDecode}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := bc.decode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("ratio", func(b *testing.B) {
		var ours, theirs time.Duration
		for b.Loop() {
			t0 := time.Now()
			if err := runnerDecode(); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := openaiDecode(); err != nil {
				b.Fatal(err)
			}
			ours, theirs = ours+t1.Sub(t0), theirs+time.Since(t1)
		}
		b.ReportMetric(float64(theirs)/float64(ours), "time-ratio")
		b.ReportMetric(testing.AllocsPerRun(100, func() { openaiDecode() })/testing.AllocsPerRun(100, func() { runnerDecode() }), "allocs-ratio")
	})
}

// BenchmarkEncodeChat encodes the chat request of a case of benchSuite, as
// the runner does for every request: impl=plain by encodeTask's json.Marshal,
// impl=fast by encodeChatFast from the cached tail of its settings.
func BenchmarkEncodeChat(b *testing.B) {
	suite := benchSuite(1)
	t := &task{jobs: []job{{c: &suite.Cases[0], settings: &suite.Settings}}}
	var tails tailCache
	for _, bc := range []struct {
		name   string
		encode func() ([]byte, error)
	}{
		{"plain", func() ([]byte, error) { _, body, err := encodeTask("stub", t); return body, err }},
		{"fast", func() ([]byte, error) { return encodeChatFast("stub", t, &tails) }},
	} {
		b.Run("impl="+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if body, err := bc.encode(); err != nil || len(body) != len(heyBody) {
					b.Fatalf("%d bytes, %v; want the %d of heyBody", len(body), err, len(heyBody))
				}
			}
		})
	}
}
