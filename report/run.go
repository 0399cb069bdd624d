package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// WriteRunJSON writes s as indented JSON, escaping the untrusted text in it
// (the model's name, the suite's) as every JSON output does.
func WriteRunJSON(w io.Writer, s eval.RunSummary) error {
	if s.Errors == nil {
		s.Errors = map[string]int{}
	}
	if s.Endpoints == nil {
		s.Endpoints = map[string]int{}
	}
	return untrusted.WriteJSON(w, s, true)
}

// WriteRunTable prints s as a two-column table.
func WriteRunTable(w io.Writer, s eval.RunSummary) error {
	resumed := ""
	if s.Resumed {
		resumed = " (resumed)"
	}
	rate := func(v float64) string {
		if v == 0 {
			return "-"
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	dur := func(sec float64) string { // three or four significant digits
		d := time.Duration(sec * float64(time.Second))
		switch {
		case d >= time.Second:
			return d.Round(10 * time.Millisecond).String()
		case d >= time.Millisecond:
			return d.Round(100 * time.Microsecond).String()
		}
		return d.Round(time.Microsecond).String()
	}
	errs := "none"
	if len(s.Errors) > 0 {
		kinds := make([]string, 0, len(s.Errors))
		for k := range s.Errors {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for i, k := range kinds {
			kinds[i] = fmt.Sprintf("%s %d", k, s.Errors[k])
		}
		errs = strings.Join(kinds, ", ")
	}
	stored := fmt.Sprintf("%d of %d (%s × %s), %d failed requests", s.Stored, s.Expected, runPlural(s.Cases, "case"), runPlural(s.Samples, "sample"), s.StoredErrors)
	if s.Transient > 0 {
		stored += fmt.Sprintf("; %d transient failures to request again", s.Transient)
	}
	latency := "-"
	if s.Requested > 0 {
		latency = fmt.Sprintf("p50 %s  p95 %s  p99 %s", dur(s.LatencyP50), dur(s.LatencyP95), dur(s.LatencyP99))
	}
	rows := [][]string{
		{"Run", fmt.Sprintf("%d%s", s.Run, resumed)},
		{"Status", string(s.Status)},
		{"Lock", fmt.Sprintf("%s (%s, %s)", s.Lock, s.LockSource, s.LockStrength)},
		{"Model", untrusted.Line(untrusted.Cut(s.Model, 80))},
		{"Suite", untrusted.Line(untrusted.Cut(strings.TrimSpace(s.Suite+" "+s.SuiteVersion), 60)) + " " + runShortHash(s.SuiteHash)},
		{"Settings", fmt.Sprintf("%s temperature %g, seed %d, max_tokens %d", runShortHash(s.SettingsHash), s.Settings.Temperature, s.Settings.Seed, s.Settings.MaxTokens)},
		{"Stored", stored},
		{"This invocation", fmt.Sprintf("%d requested, %d skipped (already stored)", s.Requested, s.Skipped)},
		{"Errors", errs},
		{"Requests/s", fmt.Sprintf("%s (%d requests, %d retries)", rate(s.RequestsPerSec), s.Requests, s.Retries)},
		{"Results/s", rate(s.ResultsPerSec)},
		{"Tokens/s", fmt.Sprintf("%s (%d completion tokens)", rate(s.TokensPerSec), s.CompletionTokens)},
		{"Latency", latency},
		{"Elapsed", dur(s.Elapsed)},
	}
	table := newTable(w)
	table.Header("RUN SUMMARY", "")
	for _, r := range rows {
		if err := table.Append(r[0], r[1]); err != nil {
			return err
		}
	}
	return table.Render()
}

// runPlural returns "1 case" or "n cases".
func runPlural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// runShortHash returns the first 12 hex digits of a hash.
func runShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
