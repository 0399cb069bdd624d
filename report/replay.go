package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// maxReplayOutput is how many characters of an output the table and the
// Markdown playback show; JSON holds every output whole.
const maxReplayOutput = 400

// WriteReplay renders a playback in format f (table, md or json) to w.
func WriteReplay(w io.Writer, f string, p *eval.Playback) error {
	switch Format(f) {
	case Markdown:
		return WriteReplayMarkdown(w, p)
	case JSON:
		return WriteReplayJSON(w, p)
	case Table, "":
		return WriteReplayTable(w, p)
	}
	return fmt.Errorf("report: unknown playback format %q", f)
}

// replayVerdict says in words how a case played back: identical (every
// output now is the output then), changed (none is), varies (some are), no
// output then, or failed then.
func replayVerdict(c eval.PlaybackCase) string {
	switch {
	case c.ThenError != "":
		return "failed then"
	case c.ThenFrom == "":
		return "no output then"
	case c.Samples > 0 && c.Identical == c.Samples:
		return "identical"
	case c.Identical == 0:
		return "changed"
	}
	return "varies"
}

// replayRate is "k/n (p%)", or "-" when nothing was compared.
func replayRate(identical, samples int) string {
	if samples == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d (%.0f%%)", identical, samples, 100*float64(identical)/float64(samples))
}

// replayHeader is the playback's first lines: the lock, the run, where the
// cases came from, the settings and the overall rate, each made safe to
// show by line.
func replayHeader(p *eval.Playback) []string {
	identical, samples := p.Totals()
	s := p.Settings
	lines := []string{
		fmt.Sprintf("playback under lock %s, model %s, run %d", p.Lock, p.Model, p.Run),
		fmt.Sprintf("from %s", p.Source),
		fmt.Sprintf("settings: temperature %g, top_p %g, seed %d, max_tokens %d, samples %d", s.Temperature, s.TopP, s.Seed, s.MaxTokens, s.Samples),
		fmt.Sprintf("reproduced: %s of the outputs now are identical to the outputs then, over %d case%s", replayRate(identical, samples), len(p.Cases), replayPlural(len(p.Cases))),
	}
	if agree, n := p.Agreement(); n > 0 {
		lines = append(lines, fmt.Sprintf("noise floor: %s of the outputs now are their case's most frequent one", replayRate(agree, n)))
	}
	if a := p.Against; a != nil {
		k, n := 0, 0
		for _, c := range p.Cases {
			k, n = k+c.AgainstIdentical, n+c.AgainstSamples
		}
		lines = append(lines, fmt.Sprintf("against lock %s, model %s, run %d: %s of its outputs are identical to the outputs then", a.Lock, a.Model, a.Run, replayRate(k, n)))
	}
	return lines
}

func replayPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// WriteReplayTable writes p for a terminal: the header, then per case its
// verdict and rate, its output then and each distinct output now that
// differs, with a word diff ([-then-]{+now+}).
func WriteReplayTable(w io.Writer, p *eval.Playback) error {
	bw := bufio.NewWriter(w)
	for _, l := range replayHeader(p) {
		fmt.Fprintln(bw, untrusted.Line(l))
	}
	for _, c := range p.Cases {
		fmt.Fprintf(bw, "\n%s  %s  %s\n", untrusted.Line(c.ID), replayVerdict(c), replayRate(c.Identical, c.Samples))
		switch {
		case c.ThenError != "":
			fmt.Fprintf(bw, "  then (%s): error: %s\n", untrusted.Line(c.ThenFrom), untrusted.Clip(c.ThenError, maxReplayOutput))
		case c.ThenFrom != "":
			fmt.Fprintf(bw, "  then (%s): %s\n", untrusted.Line(c.ThenFrom), untrusted.Clip(c.Then, maxReplayOutput))
		}
		writeReplayOutputs(bw, "now ", c, c.Now)
		writeReplayOutputs(bw, "new ", c, c.Against)
	}
	for i, n := range p.Notes {
		if i == 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintf(bw, "note: %s\n", untrusted.Line(n))
	}
	return bw.Flush()
}

// writeReplayOutputs writes a case's distinct outputs of one lock, each
// that differs from the output then with its word diff; label is "now "
// (the lock then) or "new " (the current lock).
func writeReplayOutputs(w io.Writer, label string, c eval.PlaybackCase, outs []eval.PlaybackOutput) {
	n := sampleCount(outs)
	for _, o := range outs {
		switch {
		case o.Same:
			fmt.Fprintf(w, "  %s (%d of %d): identical\n", label, o.Count, n)
		case o.Error != "":
			fmt.Fprintf(w, "  %s (%d of %d): error: %s\n", label, o.Count, n, untrusted.Clip(o.Error, maxReplayOutput))
		default:
			fmt.Fprintf(w, "  %s (%d of %d): %s\n", label, o.Count, n, untrusted.Clip(o.Output, maxReplayOutput))
			if c.ThenFrom != "" && c.ThenError == "" {
				fmt.Fprintf(w, "  diff: %s\n", wordDiffText(c.Then, o.Output))
			}
		}
	}
}

// sampleCount is how many outputs outs counts.
func sampleCount(outs []eval.PlaybackOutput) int {
	n := 0
	for _, o := range outs {
		n += o.Count
	}
	return n
}

// wordDiffText is the word diff of then and now on one line, as git's
// --word-diff=plain writes it: [-removed-]{+added+}, each chunk made safe
// to show and the whole cut to a few times maxReplayOutput.
func wordDiffText(then, now string) string {
	var b strings.Builder
	for _, ch := range WordDiff(then, now) {
		text := untrusted.Line(ch.Text)
		switch ch.Op {
		case -1:
			b.WriteString("[-" + text + "-]")
		case 1:
			b.WriteString("{+" + text + "+}")
		default:
			b.WriteString(text)
		}
	}
	return untrusted.Cut(b.String(), 2*maxReplayOutput)
}

// WriteReplayMarkdown writes p as Markdown for an incident report or a
// pull-request comment: a table of the cases, then per case that did not
// reproduce its output then, the outputs now and a word diff (removed
// words struck through, added ones in bold).
func WriteReplayMarkdown(w io.Writer, p *eval.Playback) error {
	bw := bufio.NewWriter(w)
	h := replayHeader(p)
	fmt.Fprintf(bw, "## Playback under lock `%s`\n\n", p.Lock)
	for _, l := range h {
		fmt.Fprintf(bw, "%s  \n", mdEscape(l))
	}
	if p.Against == nil {
		fmt.Fprint(bw, "\n| case | verdict | reproduced |\n|---|---|---|\n")
	} else {
		fmt.Fprint(bw, "\n| case | verdict | reproduced | current lock: identical to then |\n|---|---|---|---|\n")
	}
	for _, c := range p.Cases {
		against := ""
		if p.Against != nil {
			against = " " + replayRate(c.AgainstIdentical, c.AgainstSamples) + " |"
		}
		fmt.Fprintf(bw, "| %s | %s | %s |%s\n", mdEscape(c.ID), replayVerdict(c), replayRate(c.Identical, c.Samples), against)
	}
	for _, c := range p.Cases {
		if v := replayVerdict(c); v == "identical" && p.Against == nil {
			continue
		}
		fmt.Fprintf(bw, "\n### %s\n\n", mdEscape(c.ID))
		if c.ThenError != "" {
			fmt.Fprintf(bw, "- **then** (%s): error: %s\n", mdEscape(c.ThenFrom), mdEscape(untrusted.Cut(c.ThenError, maxReplayOutput)))
		} else if c.ThenFrom != "" {
			fmt.Fprintf(bw, "- **then** (%s): %s\n", mdEscape(c.ThenFrom), mdEscape(untrusted.Cut(c.Then, maxReplayOutput)))
		}
		writeReplayMarkdownOutputs(bw, "now", c, c.Now)
		writeReplayMarkdownOutputs(bw, "current lock", c, c.Against)
	}
	for i, n := range p.Notes {
		if i == 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintf(bw, "%s %s  \n", superscript(i+1), mdEscape(n))
	}
	return bw.Flush()
}

// writeReplayMarkdownOutputs is writeReplayOutputs in Markdown.
func writeReplayMarkdownOutputs(w io.Writer, label string, c eval.PlaybackCase, outs []eval.PlaybackOutput) {
	n := sampleCount(outs)
	for _, o := range outs {
		switch {
		case o.Same:
			fmt.Fprintf(w, "- **%s** (%d of %d): identical\n", label, o.Count, n)
		case o.Error != "":
			fmt.Fprintf(w, "- **%s** (%d of %d): error: %s\n", label, o.Count, n, mdEscape(untrusted.Cut(o.Error, maxReplayOutput)))
		default:
			fmt.Fprintf(w, "- **%s** (%d of %d): %s\n", label, o.Count, n, mdEscape(untrusted.Cut(o.Output, maxReplayOutput)))
			if c.ThenFrom != "" && c.ThenError == "" {
				fmt.Fprintf(w, "  - diff: %s\n", wordDiffMarkdown(c.Then, o.Output))
			}
		}
	}
}

// wordDiffMarkdown is the word diff of then and now in Markdown: removed
// words struck through, added ones in bold, white space left outside the
// marks (Markdown does not close a mark after a space).
func wordDiffMarkdown(then, now string) string {
	var b strings.Builder
	for _, ch := range WordDiff(then, now) {
		text := untrusted.Cut(ch.Text, maxReplayOutput)
		if ch.Op == 0 || strings.TrimSpace(text) == "" {
			b.WriteString(mdEscape(text))
			continue
		}
		mark := "~~"
		if ch.Op == 1 {
			mark = "**"
		}
		lead := text[:len(text)-len(strings.TrimLeftFunc(text, isSpace))]
		trail := text[len(strings.TrimRightFunc(text, isSpace)):]
		core := strings.TrimSpace(text)
		b.WriteString(mdEscape(lead) + mark + mdEscape(core) + mark + mdEscape(trail))
	}
	return b.String()
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// replayJSON is the JSON form of a playback: the playback with its rates.
type replayJSON struct {
	*eval.Playback
	Cases      []replayCaseJSON `json:"cases"`
	Identical  int              `json:"identical"`
	Samples    int              `json:"samples"`
	Reproduced *float64         `json:"reproduced"` // Identical/Samples; null when nothing was compared
	// Agreement is Playback.Agreement's rate, the noise floor; null when no
	// case was asked more than once.
	Agreement *float64 `json:"agreement"`
}

type replayCaseJSON struct {
	eval.PlaybackCase
	Verdict    string   `json:"verdict"`
	Reproduced *float64 `json:"reproduced"`
}

// WriteReplayJSON writes p as indented JSON, with each case's verdict and
// reproduction rate and the overall one; untrusted text is escaped as every
// JSON output escapes it.
func WriteReplayJSON(w io.Writer, p *eval.Playback) error {
	rate := func(k, n int) *float64 {
		if n == 0 {
			return nil
		}
		r := float64(k) / float64(n)
		return &r
	}
	out := replayJSON{Playback: p, Cases: []replayCaseJSON{}}
	out.Identical, out.Samples = p.Totals()
	out.Reproduced = rate(out.Identical, out.Samples)
	out.Agreement = rate(p.Agreement())
	for _, c := range p.Cases {
		if c.Now == nil {
			c.Now = []eval.PlaybackOutput{}
		}
		out.Cases = append(out.Cases, replayCaseJSON{PlaybackCase: c, Verdict: replayVerdict(c), Reproduced: rate(c.Identical, c.Samples)})
	}
	return untrusted.WriteJSON(w, out, true)
}
