package suites

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/score"
)

// problems collects the fieldProblems of one header or case.
type problems []fieldProblem

func (ps *problems) add(p path, format string, args ...any) {
	*ps = append(*ps, fieldProblem{path: slices.Clone(p), msg: fmt.Sprintf(format, args...)})
}

// missing adds the problem that the value at p lacks the fields; it is
// dropped where decoding already reported one of those fields (a field of the
// wrong type reads as missing).
func (ps *problems) missing(p path, fields []string, format string, args ...any) {
	ps.add(p, format, args...)
	(*ps)[len(*ps)-1].missing = fields
}

// buildSettings applies a suite's defaults to eval.DefaultSettings.
func buildSettings(r *rawSettings, ps *problems) eval.Settings {
	s := eval.DefaultSettings()
	if r == nil {
		return s
	}
	p := path{"defaults"}
	nonNeg := func(name string, v *float64, dst *float64) {
		if v == nil {
			return
		}
		if *v < 0 {
			ps.add(append(p, name), "%s must be ≥ 0, got %v", name, *v)
		}
		*dst = *v
	}
	nonNeg("temperature", r.Temperature, &s.Temperature)
	if r.TopP != nil {
		if *r.TopP <= 0 || *r.TopP > 1 {
			ps.add(append(p, "top_p"), "top_p must be in (0, 1], got %v", *r.TopP)
		}
		s.TopP = *r.TopP
	}
	if r.TopK != nil {
		if *r.TopK < 0 {
			ps.add(append(p, "top_k"), "top_k must be ≥ 0, got %d", *r.TopK)
		}
		s.TopK = r.TopK
	}
	if r.MinP != nil {
		if *r.MinP < 0 || *r.MinP > 1 {
			ps.add(append(p, "min_p"), "min_p must be in [0, 1], got %v", *r.MinP)
		}
		s.MinP = r.MinP
	}
	if r.RepetitionPenalty != nil {
		if *r.RepetitionPenalty <= 0 {
			ps.add(append(p, "repetition_penalty"), "repetition_penalty must be > 0, got %v", *r.RepetitionPenalty)
		}
		s.RepetitionPenalty = r.RepetitionPenalty
	}
	if r.PresencePenalty != nil {
		s.PresencePenalty = *r.PresencePenalty
	}
	if r.FrequencyPenalty != nil {
		s.FrequencyPenalty = *r.FrequencyPenalty
	}
	if r.Seed != nil {
		s.Seed = *r.Seed
	}
	if r.MaxTokens != nil {
		if *r.MaxTokens < 1 {
			ps.add(append(p, "max_tokens"), "max_tokens must be ≥ 1, got %d", *r.MaxTokens)
		}
		s.MaxTokens = *r.MaxTokens
	}
	if r.Stop != nil {
		checkStop(r.Stop, append(p, "stop"), ps)
		s.Stop = r.Stop
	}
	if r.System != nil {
		s.System = *r.System
	}
	if r.Logprobs != nil {
		s.Logprobs = *r.Logprobs
	}
	if r.Samples != nil {
		if *r.Samples < 1 {
			ps.add(append(p, "samples"), "samples must be ≥ 1, got %d", *r.Samples)
		}
		s.Samples = *r.Samples
	}
	return s
}

func checkStop(stop []string, p path, ps *problems) {
	for i, s := range stop {
		if s == "" {
			ps.add(append(p, i), "stop sequences must not be empty")
		}
	}
}

// buildCase turns a raw case into an eval.Case with its hash, computed by h
// under the suite's defaults; without h (nil), without its hash, which the
// caller knows.
func buildCase(r *rawCase, h *hasher) (eval.Case, problems) {
	var ps problems
	var c eval.Case
	switch {
	case r.ID == nil:
		ps.missing(nil, []string{"id"}, `case has no id; add a stable, unique id, e.g. id: "capital-france"`)
	case *r.ID == "":
		ps.add(path{"id"}, "id is empty; give the case a stable, unique id")
	case strings.IndexFunc(*r.ID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		ps.add(path{"id"}, "id %q contains white space; use - or _ instead", *r.ID)
	default:
		c.ID = *r.ID
	}
	switch {
	case r.Messages != nil && r.Prompt != nil:
		ps.add(nil, "case has both messages and prompt; keep exactly one (messages for chat, prompt for raw completion)")
	case r.Messages == nil && r.Prompt == nil:
		ps.missing(nil, []string{"messages", "prompt"}, "case has neither messages nor prompt; add one (messages for chat, prompt for raw completion)")
	case r.Prompt != nil:
		if *r.Prompt == "" {
			ps.add(path{"prompt"}, "prompt is empty; write the prompt text")
		}
		c.Prompt = *r.Prompt
	default:
		if len(r.Messages) == 0 {
			ps.add(path{"messages"}, "messages is empty; add at least one {role: user, content: ...}")
		}
		c.Messages = make([]eval.Message, len(r.Messages))
		for i, m := range r.Messages {
			p := path{"messages", i}
			if m.Role == nil {
				ps.missing(p, []string{"role"}, "message has no role; add role: system, user or assistant")
			} else if r := *m.Role; r != "system" && r != "user" && r != "assistant" {
				ps.add(append(p, "role"), "role %q is not system, user or assistant", r)
			} else {
				c.Messages[i].Role = r
			}
			if m.Content == nil {
				ps.missing(p, []string{"content"}, "message has no content; add content: ...")
			} else {
				c.Messages[i].Content = *m.Content
			}
		}
	}
	for i, t := range r.Tags {
		if strings.TrimSpace(t) == "" {
			ps.add(path{"tags", i}, "tags must not be empty")
		}
	}
	c.Tags = r.Tags
	if r.Cluster != nil {
		c.Cluster = *r.Cluster
	}
	if o := r.Overrides; o != nil {
		p := path{"overrides"}
		if o.MaxTokens != nil && *o.MaxTokens < 1 {
			ps.add(append(p, "max_tokens"), "max_tokens must be ≥ 1, got %d", *o.MaxTokens)
		}
		if o.Temperature != nil && *o.Temperature < 0 {
			ps.add(append(p, "temperature"), "temperature must be ≥ 0, got %v", *o.Temperature)
		}
		checkStop(o.Stop, append(p, "stop"), &ps)
		c.Overrides = eval.Overrides{MaxTokens: o.MaxTokens, Stop: o.Stop, Temperature: o.Temperature, Seed: o.Seed}
	}
	// The scorers built so far and their indexes in r.Scorers: a case has
	// few, so a list searched from its end (the latest of a name) does.
	type named struct {
		name  string
		index int
	}
	var namesBuf [8]named
	names := namesBuf[:0]
	if len(r.Scorers) > 0 {
		c.Scorers = make([]eval.Scorer, 0, len(r.Scorers))
	}
	for i := range r.Scorers {
		s := buildScorer(&r.Scorers[i], path{"scorers", i}, &ps)
		if s == nil {
			continue
		}
		name := s.Name()
		for k := len(names) - 1; k >= 0; k-- {
			if names[k].name == name {
				ps.add(path{"scorers", i}, "two scorers are named %q (scorers %d and %d); give one a name so their pass rates stay apart", name, names[k].index+1, i+1)
				break
			}
		}
		names = append(names, named{name, i})
		c.Scorers = append(c.Scorers, s)
	}
	if len(ps) == 0 && h != nil {
		c.Hash = h.caseHash(&c)
	}
	return c, ps
}

// buildScorer makes the scorer r describes, or returns nil after adding its
// problems to ps.
func buildScorer(r *score.Spec, p path, ps *problems) score.KindScorer {
	if r.Kind == nil {
		ps.missing(p, []string{"kind"}, "scorer has no kind; add kind: one of %s", strings.Join(score.ScorerKinds, ", "))
		return nil
	}
	k := score.Lookup(*r.Kind)
	if k == nil {
		msg := fmt.Sprintf("unknown scorer %q", *r.Kind)
		if s := nearest(*r.Kind, score.ScorerKinds); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		ps.add(append(p, "kind"), "%s (known: %s)", msg, strings.Join(score.ScorerKinds, ", "))
		return nil
	}
	s, sps := k.Build(r)
	for _, sp := range sps {
		*ps = append(*ps, fieldProblem{path: append(slices.Clone(p), sp.Path...), msg: sp.Msg, missing: sp.Missing})
	}
	return s
}
