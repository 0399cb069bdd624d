// Package eval is evalpin's domain: the cases of a suite, the deterministic
// settings they are replayed at, the results a run stores and the runs
// themselves. It does no I/O and imports no third-party package; the other
// packages exchange these types.
//
// Its subpackages do the work on them, as golang.org/x/perf splits benchfmt
// from benchmath: eval/score judges outputs (the scorers), eval/compare turns
// two runs into a Comparison and a gate verdict under a Policy, and
// eval/stats holds the statistics, importing nothing else from this module.
package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"time"

	"github.com/evalpin/evalpin/internal/lockid"
)

// A Message is one turn of a chat prompt.
type Message struct {
	Role    string `json:"role"`    // "system", "user" or "assistant"
	Content string `json:"content"` // the turn's text
}

// A Case is one frozen prompt of a suite with the checks its output must pass.
// Exactly one of Messages and Prompt is set.
type Case struct {
	ID        string    // stable id, unique within its suite
	Messages  []Message // chat form, sent to /v1/chat/completions
	Prompt    string    // raw form, sent to /v1/completions
	Tags      []string  // groups for per-tag statistics
	Cluster   string    // cases sharing a source passage share a cluster ("" = own cluster)
	Overrides Overrides // per-case generation settings
	Scorers   []Scorer  // deterministic checks of the output
	Hash      string    // hex SHA-256 of the case's canonical content; runs pair on it
}

// A Suite is a frozen, named set of cases.
type Suite struct {
	Name     string
	Version  string
	Settings Settings // the suite's defaults; flags may override them
	Cases    []Case
	Hash     string // hex SHA-256 over the canonical content of all cases and defaults
	// Source, when set, reads the cases of a suite too large to hold in
	// memory (a JSON lines file, suites.Stream); Cases is then nil. CasesOf
	// and Len serve both kinds.
	Source Source
}

// A Scorer is a deterministic check of one output. Implementations live in this
// package; suites construct them from their files.
type Scorer interface {
	// Name is the scorer's stable label, used to group pass rates in a diff,
	// e.g. "contains" or a name the suite gives it.
	Name() string
	// Score judges output.
	Score(output string) Check
}

// A Check is one scorer's verdict on one output.
type Check struct {
	Scorer string `json:"scorer"`           // the Scorer's Name
	Pass   bool   `json:"pass"`             // whether the output passed
	Detail string `json:"detail,omitempty"` // why it failed, for people
}

// Overrides are per-case changes to the run's Settings; a nil field keeps the
// run's value.
type Overrides struct {
	MaxTokens   *int     `json:"max_tokens,omitempty"`
	Stop        []string `json:"stop,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	Seed        *int64   `json:"seed,omitempty"`
}

// Settings are the deterministic request parameters of a run. Every field is sent
// explicitly, so no server default can change an output unseen. Their Hash is part
// of a run's identity: runs with different settings are never silently compared.
type Settings struct {
	Temperature       float64  `json:"temperature"`
	TopP              float64  `json:"top_p"`
	TopK              *int     `json:"top_k,omitempty"`              // sent only where set
	MinP              *float64 `json:"min_p,omitempty"`              // sent only where set
	RepetitionPenalty *float64 `json:"repetition_penalty,omitempty"` // sent only where set
	PresencePenalty   float64  `json:"presence_penalty"`
	FrequencyPenalty  float64  `json:"frequency_penalty"`
	Seed              int64    `json:"seed"`
	MaxTokens         int      `json:"max_tokens"`
	Stop              []string `json:"stop,omitempty"`
	System            string   `json:"system,omitempty"` // prepended as a system message to chat cases that have none
	Logprobs          bool     `json:"logprobs,omitempty"`
	// Samples is how often each case is requested; k ≥ 2 measures the engine's
	// own non-determinism (the noise floor).
	Samples int `json:"samples"`
}

// DefaultSettings are greedy decoding with a fixed seed: temperature 0, top_p 1,
// seed 0, 256 tokens, one sample.
func DefaultSettings() Settings {
	return Settings{TopP: 1, MaxTokens: 256, Samples: 1}
}

// SamplesLimit and MaxTokensLimit are the largest Samples and MaxTokens a run
// accepts. Each sample is a pass over the suite and resume keeps what is
// stored per case sample, so samples beyond what measures a noise floor only
// cost time and memory; engines read max_tokens as a
// 32-bit integer (llama.cpp's n_predict, TGI's max_new_tokens), so a larger
// value is an overflow, not a longer output.
const (
	SamplesLimit   = 1000
	MaxTokensLimit = math.MaxInt32
)

// With returns s changed by o.
func (s Settings) With(o Overrides) Settings {
	if o.MaxTokens != nil {
		s.MaxTokens = *o.MaxTokens
	}
	if o.Stop != nil {
		s.Stop = o.Stop
	}
	if o.Temperature != nil {
		s.Temperature = *o.Temperature
	}
	if o.Seed != nil {
		s.Seed = *o.Seed
	}
	return s
}

// Hash is the hex SHA-256 of the settings' JSON encoding, whose field order is
// fixed by the struct.
func (s Settings) Hash() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic("eval: settings cannot be encoded: " + err.Error()) // plain fields only
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// A Result is the stored outcome of one request: one case, one sample.
// A failed request is a Result with Error set, not an aborted run.
type Result struct {
	CaseID           string        `json:"case_id"`
	CaseHash         string        `json:"case_hash"`
	Sample           int           `json:"sample"` // 0-based repeat index
	Output           string        `json:"output"`
	FinishReason     string        `json:"finish_reason,omitempty"`
	PromptTokens     int           `json:"prompt_tokens"`
	CompletionTokens int           `json:"completion_tokens"`
	Latency          time.Duration `json:"latency_ns"`
	Lock             lockid.ID     `json:"lock"`     // the lock seen on this response
	Endpoint         string        `json:"endpoint"` // which replica answered
	ErrorKind        string        `json:"error_kind,omitempty"`
	Error            string        `json:"error,omitempty"`
	Checks           []Check       `json:"checks,omitempty"`
}

// Passed reports whether the result has no error and passed every check.
func (r Result) Passed() bool {
	if r.Error != "" {
		return false
	}
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return true
}

// A RunStatus says how far a run got.
type RunStatus string

// The states of a run.
const (
	RunRunning     RunStatus = "running"     // being written, or crashed while it was
	RunInterrupted RunStatus = "interrupted" // stopped by Ctrl-C or a refusal; resumable
	RunComplete    RunStatus = "complete"    // every case and sample is stored
)

// A Run is one replay of a suite against one lock at one set of settings.
// The same (Lock, SuiteHash, SettingsHash) resumes an unfinished run.
type Run struct {
	ID           int64
	Lock         lockid.ID
	Suite        string // the suite's name
	SuiteVersion string
	SuiteHash    string
	Settings     Settings
	SettingsHash string
	Endpoints    []string
	Version      string // evalpin's version
	Status       RunStatus
	Started      time.Time
	Finished     time.Time // zero until complete or interrupted
	// LockRefusal says why a lock check stopped the run mid-way (the lock
	// changed or could not be confirmed), "" if none did. The results the
	// failed check could not vouch for were discarded, never stored.
	LockRefusal string
	// Selection is the part of the suite the run replays (a Selection's
	// String); "" for the whole suite.
	Selection string
	// Model is the name the endpoints served the lock under; Labels are the
	// run's free-form labels (fork=nous). Neither identifies the run.
	Model  string
	Labels map[string]string
}

// A RunSummary is the summary of one invocation of a run ("evalpin run"),
// and its stable JSON form. Rates, latencies and the elapsed time are of this
// invocation; the counts of stored results are of the whole run, resumed
// invocations included.
type RunSummary struct {
	Run          int64     `json:"run"`
	Status       RunStatus `json:"status"`
	Resumed      bool      `json:"resumed"`
	Lock         lockid.ID `json:"lock"`
	LockSource   string    `json:"lock_source"`
	LockStrength string    `json:"lock_strength"`
	Model        string    `json:"model"`
	Suite        string    `json:"suite"`
	SuiteVersion string    `json:"suite_version"`
	SuiteHash    string    `json:"suite_hash"`
	Settings     Settings  `json:"settings"`
	SettingsHash string    `json:"settings_hash"`

	Selection    string `json:"selection,omitempty"` // the part of the suite replayed (Selection.String); "" for all of it
	Cases        int    `json:"cases"`               // in the suite, or in Selection
	Samples      int    `json:"samples"`             // per case
	Expected     int    `json:"expected"`            // cases × samples
	Stored       int    `json:"stored"`              // of Expected, stored for the run (transient failures excluded)
	StoredErrors int    `json:"stored_errors"`       // of Stored, results whose request failed for good
	Transient    int    `json:"transient"`           // stored transient failures (timeout, server, rate_limited), requested again on resume

	Requested        int            `json:"requested"` // results this invocation stored
	Skipped          int            `json:"skipped"`   // already stored, not requested
	Errors           map[string]int `json:"errors"`    // of Requested, failed requests by kind
	Requests         int            `json:"requests"`  // HTTP requests, retries included
	Retries          int            `json:"retries"`
	PromptTokens     int            `json:"prompt_tokens"`
	CompletionTokens int            `json:"completion_tokens"`
	RequestsPerSec   float64        `json:"requests_per_sec"`
	ResultsPerSec    float64        `json:"results_per_sec"`
	TokensPerSec     float64        `json:"tokens_per_sec"` // completion tokens
	LatencyP50       float64        `json:"latency_p50_s"`
	LatencyP95       float64        `json:"latency_p95_s"`
	LatencyP99       float64        `json:"latency_p99_s"`
	Elapsed          float64        `json:"elapsed_s"`
	Endpoints        map[string]int `json:"endpoints"` // results per endpoint
}

// A LockSummary is what the history holds of a lock: when and how it was
// first seen, its runs, the names it was served under and its runs' labels.
type LockSummary struct {
	ID        lockid.ID `json:"lock"`
	Source    string    `json:"source"`
	FirstSeen time.Time `json:"first_seen"`
	Runs      int       `json:"runs"`
	Complete  int       `json:"complete"` // of Runs
	Models    []string  `json:"models"`   // sorted, distinct
	Labels    []string  `json:"labels"`   // "key=value", sorted, distinct
}

// A RunRecord is a stored run with how many results it holds, as a listing
// shows it.
type RunRecord struct {
	Run     Run
	Results int // results stored
	Errors  int // of Results, failed requests
	// LockAbbrev is the shortest prefix of the lock's hex digits that names
	// it among the stored locks (lockid.Abbrev); "" prints the short form.
	LockAbbrev string
}
