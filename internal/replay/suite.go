package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/suites"
)

// The settings a request that does not name one was served at: the OpenAI
// API's documented defaults for temperature and top_p, and evalpin's for
// the rest (an engine's own default may differ; the notes say which were
// missing).
const (
	apiTemperature = 1.0
	apiTopP        = 1.0
)

// A caseSpec is one case of an ad-hoc suite, as a suite file writes it.
type caseSpec struct {
	ID        string          `json:"id"`
	Messages  []eval.Message  `json:"messages,omitempty"`
	Prompt    *string         `json:"prompt,omitempty"`
	Overrides *eval.Overrides `json:"overrides,omitempty"`
}

// buildSuite returns the ad-hoc suite name of cases under defaults, parsed
// and hashed by the suites package as any suite file is.
func buildSuite(name string, defaults eval.Settings, cases []caseSpec) (*eval.Suite, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	header := map[string]any{"suite": map[string]any{"name": name, "version": "1", "defaults": defaults}}
	if err := enc.Encode(header); err != nil {
		return nil, err
	}
	for _, c := range cases {
		if err := enc.Encode(c); err != nil {
			return nil, err
		}
	}
	s, err := suites.Parse(name+".jsonl", b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("the replayed cases as a suite: %w", err)
	}
	return s, nil
}

// A SettingsError says that recorded requests disagree on a setting a case
// cannot override (top_p, the penalties): one replay runs at one value.
type SettingsError struct {
	Setting string
	Lines   [2]int // two lines that disagree
	Values  [2]string
}

func (e *SettingsError) Error() string {
	return fmt.Sprintf("the requests disagree on %s (line %d: %s, line %d: %s), which one replay sends alike to every case",
		e.Setting, e.Lines[0], e.Values[0], e.Lines[1], e.Values[1])
}

// RequestSuite returns the ad-hoc suite of reqs, named name, at the settings
// the bodies recorded: a setting every request agrees on is the suite's
// default; temperature, seed, max_tokens and stop that differ become the
// overrides of the cases that differ from the first request; top_p and the
// penalties must agree (*SettingsError). notes say which settings no body
// named and what they were replayed at.
func RequestSuite(name string, reqs []Request) (*eval.Suite, []string, error) {
	defaults := eval.DefaultSettings()
	defaults.Temperature, defaults.TopP = apiTemperature, apiTopP
	var notes []string
	missing := map[string]int{}
	eff := make([]Params, len(reqs))
	for i, r := range reqs {
		p := r.Params
		fill(&p.Temperature, defaults.Temperature, "temperature", missing)
		fill(&p.TopP, defaults.TopP, "top_p", missing)
		fill(&p.MaxTokens, defaults.MaxTokens, "max_tokens", missing)
		fill(&p.Seed, defaults.Seed, "seed", missing)
		fill(&p.PresencePenalty, 0, "presence_penalty", missing)
		fill(&p.FrequencyPenalty, 0, "frequency_penalty", missing)
		eff[i] = p
	}
	for _, name := range []string{"temperature", "top_p", "max_tokens", "seed"} {
		if n := missing[name]; n > 0 {
			v := map[string]string{"temperature": "1 (the OpenAI API's default)", "top_p": "1 (the OpenAI API's default)",
				"max_tokens": strconv.Itoa(defaults.MaxTokens), "seed": "0"}[name]
			notes = append(notes, fmt.Sprintf("%d of %d request%s did not name %s: replayed at %s", n, len(reqs), plural(len(reqs)), name, v))
		}
	}
	first := eff[0]
	for i, p := range eff[1:] {
		for _, c := range []struct {
			name string
			a, b float64
		}{{"top_p", *first.TopP, *p.TopP}, {"presence_penalty", *first.PresencePenalty, *p.PresencePenalty}, {"frequency_penalty", *first.FrequencyPenalty, *p.FrequencyPenalty}} {
			if c.a != c.b {
				return nil, nil, fault.Errorf(fault.Input, "", "%w", &SettingsError{Setting: c.name, Lines: [2]int{reqs[0].Line, reqs[i+1].Line},
					Values: [2]string{num(c.a), num(c.b)}})
			}
		}
	}
	defaults.Temperature, defaults.TopP, defaults.MaxTokens, defaults.Seed = *first.Temperature, *first.TopP, *first.MaxTokens, *first.Seed
	defaults.PresencePenalty, defaults.FrequencyPenalty = *first.PresencePenalty, *first.FrequencyPenalty
	// A stop the requests agree on is the suite's; else each case names its
	// own (an override cannot take a stop away).
	if !slices.ContainsFunc(eff, func(p Params) bool { return !slices.Equal(p.Stop, first.Stop) }) {
		defaults.Stop = first.Stop
	}
	cases := make([]caseSpec, len(reqs))
	for i, r := range reqs {
		cases[i] = caseSpec{ID: r.ID, Messages: r.Messages, Prompt: r.Prompt, Overrides: overrides(defaults, eff[i])}
	}
	s, err := buildSuite(name, defaults, cases)
	return s, notes, err
}

// fill sets *p to v where the body did not name it, and counts that.
func fill[T any](p **T, v T, name string, missing map[string]int) {
	if *p == nil {
		*p = &v
		missing[name]++
	}
}

// overrides are the case overrides that take defaults to p; nil when none.
func overrides(defaults eval.Settings, p Params) *eval.Overrides {
	var o eval.Overrides
	if *p.Temperature != defaults.Temperature {
		o.Temperature = p.Temperature
	}
	if *p.MaxTokens != defaults.MaxTokens {
		o.MaxTokens = p.MaxTokens
	}
	if *p.Seed != defaults.Seed {
		o.Seed = p.Seed
	}
	if len(p.Stop) > 0 && !slices.Equal(p.Stop, defaults.Stop) {
		o.Stop = p.Stop
	}
	if o.Temperature == nil && o.MaxTokens == nil && o.Seed == nil && o.Stop == nil {
		return nil
	}
	return &o
}

// num formats a setting's value as JSON writes it.
func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// StoredSuite returns the ad-hoc suite of the stored cases ids (of a run at
// settings), named name: the cases as they were asked, with their
// overrides, at the run's settings. Stored cases have no scorers; a playback
// compares outputs, not checks.
func StoredSuite(name string, settings eval.Settings, stored map[string]eval.Case, ids []string) (*eval.Suite, error) {
	cases := make([]caseSpec, len(ids))
	for i, id := range ids {
		c := stored[id]
		cases[i] = caseSpec{ID: c.ID, Messages: c.Messages}
		if c.Messages == nil {
			p := c.Prompt
			cases[i].Prompt = &p
		}
		if o := c.Overrides; o.Temperature != nil || o.MaxTokens != nil || o.Seed != nil || o.Stop != nil {
			cases[i].Overrides = &o
		}
	}
	return buildSuite(name, settings, cases)
}

// suiteName is the ad-hoc suite's name for what it replays.
func suiteName(what string) string {
	return "replay " + strings.TrimSpace(what)
}
