package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/store"
	"github.com/evalpin/evalpin/internal/untrusted"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

const showUsage = `
Usage: evalpin show [--format table|json] [--width N] [--db FILE] RUN [CASE]

Show prints a stored run: its lock, suite, settings, endpoints and status, then
one line per result (case, sample, pass or fail, finish reason, latency and the
start of the output). With a CASE it prints that case in full: its prompt, if
the suite was stored, and every sample's output, checks and error.

Outputs are the models' text and are not trusted: control characters and
terminal escape sequences are shown escaped (\x1b), never sent to the terminal.

Examples:

  evalpin show 12
  evalpin show 12 capital-of-france
  evalpin show --width 120 12
  evalpin show --format json 12 > run-12.json
`

// runShow implements "evalpin show".
func (a *app) runShow(ctx context.Context, args []string) error {
	stdout := a.stdout
	fs := a.flags("show", showUsage)
	dbPath := addDBFlag(fs)
	format := fs.String("format", "table", "output `format`: table or json")
	width := fs.Int("width", 60, "show at most `N` characters of each output in the table of results")
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return fault.Errorf(fault.Input, "run 'evalpin runs' for the run ids, then 'evalpin show RUN [CASE]'",
			"show: want a run id and optionally a case id, got %d arguments", len(pos))
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64)
	if err != nil || id <= 0 {
		return fault.Errorf(fault.Input, "run 'evalpin runs' for the run ids", "show: run id %q is not a positive number", pos[0])
	}
	if *format != "table" && *format != "json" {
		return usageErrorf("show: --format must be table or json, not %q", *format)
	}
	if *width < 10 {
		return usageErrorf("show: --width must be at least 10, not %d", *width)
	}

	db, err := openExistingStore(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	run, err := db.Run(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fault.Errorf(fault.Input, "run 'evalpin runs' for the stored runs", "show: no run %d in %s", id, *dbPath)
	} else if err != nil {
		return err
	}
	counts, err := db.Counts(ctx, id)
	if err != nil {
		return err
	}

	if len(pos) == 2 {
		return showCase(ctx, db, run, counts, pos[1], *format, stdout)
	}
	results, err := db.Results(ctx, id)
	if err != nil {
		return err
	}
	if *format == "json" {
		return histWriteJSON(stdout, struct {
			Run     histRunJSON   `json:"run"`
			Results []eval.Result `json:"results"`
		}{newHistRunJSON(run, counts), histNonNil(results)})
	}

	showHeader(stdout, run, counts, results)
	if len(results) == 0 {
		fmt.Fprintln(stdout, "\nNo results stored yet.")
		return nil
	}
	fmt.Fprintln(stdout)
	table := histTable(stdout)
	table.Header("CASE", "SAMPLE", "RESULT", "FINISH", "LATENCY", "OUTPUT")
	for _, r := range results {
		out := r.Output
		if r.Error != "" {
			out = "error: " + r.Error
		}
		if err := table.Append(
			untrusted.Line(r.CaseID),
			strconv.Itoa(r.Sample),
			histVerdict(r),
			untrusted.Line(r.FinishReason),
			histLatency(r.Latency),
			untrusted.Cut(untrusted.Line(out), *width),
		); err != nil {
			return err
		}
	}
	return table.Render()
}

// showCase prints one case of run in full.
func showCase(ctx context.Context, db *store.DB, run eval.Run, counts store.Counts, caseID, format string, stdout io.Writer) error {
	results, err := db.Result(ctx, run.ID, caseID)
	if errors.Is(err, store.ErrNotFound) {
		return fault.Errorf(fault.Input, fmt.Sprintf("run 'evalpin show %d' for the cases it stored", run.ID),
			"show: run %d has no result for case %q", run.ID, caseID)
	} else if err != nil {
		return err
	}
	c, err := db.Case(ctx, run.SuiteHash, caseID)
	haveCase := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}

	if format == "json" {
		type caseJSON struct {
			ID       string         `json:"id"`
			Hash     string         `json:"hash"`
			Messages []eval.Message `json:"messages,omitempty"`
			Prompt   string         `json:"prompt,omitempty"`
			Tags     []string       `json:"tags,omitempty"`
			Cluster  string         `json:"cluster,omitempty"`
		}
		var cj *caseJSON
		if haveCase {
			cj = &caseJSON{ID: c.ID, Hash: c.Hash, Messages: c.Messages, Prompt: c.Prompt, Tags: c.Tags, Cluster: c.Cluster}
		}
		return histWriteJSON(stdout, struct {
			Run     histRunJSON   `json:"run"`
			Case    *caseJSON     `json:"case"` // null when the suite's cases are not stored
			Results []eval.Result `json:"results"`
		}{newHistRunJSON(run, counts), cj, results})
	}

	showHeader(stdout, run, counts, nil)
	fmt.Fprintf(stdout, "\nCase %s (hash %.12s)\n", untrusted.Line(caseID), untrusted.Line(results[0].CaseHash))
	switch {
	case !haveCase:
		fmt.Fprintln(stdout, "Prompt: not stored (the run's suite was not recorded)")
	case c.Prompt != "":
		fmt.Fprintln(stdout, "Prompt:")
		fmt.Fprintln(stdout, histIndent(untrusted.Block(c.Prompt), "    "))
	default:
		fmt.Fprintln(stdout, "Messages:")
		for _, m := range c.Messages {
			fmt.Fprintf(stdout, "  [%s]\n%s\n", untrusted.Line(m.Role), histIndent(untrusted.Block(m.Content), "    "))
		}
	}
	if haveCase && len(c.Tags) > 0 {
		fmt.Fprintf(stdout, "Tags: %s\n", untrusted.Line(strings.Join(c.Tags, ", ")))
	}
	for _, r := range results {
		fmt.Fprintf(stdout, "\nSample %d: %s\n", r.Sample, histVerdict(r))
		fmt.Fprintf(stdout, "  finish %s, %s, %d prompt + %d completion tokens\n",
			histOr(untrusted.Line(r.FinishReason), "-"), histLatency(r.Latency), r.PromptTokens, r.CompletionTokens)
		fmt.Fprintf(stdout, "  lock %s from %s\n", histOr(untrusted.Line(string(r.Lock)), "-"), histOr(untrusted.Line(r.Endpoint), "-"))
		if r.Error != "" {
			fmt.Fprintf(stdout, "  error (%s): %s\n", histOr(untrusted.Line(r.ErrorKind), "unknown"), untrusted.Line(r.Error))
		}
		for _, ch := range r.Checks {
			verdict := "pass"
			if !ch.Pass {
				verdict = "FAIL"
			}
			line := fmt.Sprintf("  check %s: %s", untrusted.Line(ch.Scorer), verdict)
			if ch.Detail != "" {
				line += " (" + untrusted.Line(ch.Detail) + ")"
			}
			fmt.Fprintln(stdout, line)
		}
		if r.Output == "" {
			fmt.Fprintln(stdout, "  output: none")
			continue
		}
		fmt.Fprintln(stdout, "  output:")
		fmt.Fprintln(stdout, histIndent(untrusted.Block(r.Output), "    "))
	}
	return nil
}

// showHeader prints what identifies a run and how far it got. results, when
// given, adds the pass count.
func showHeader(w io.Writer, run eval.Run, counts store.Counts, results []eval.Result) {
	settings, _ := json.Marshal(run.Settings) // plain fields only
	fmt.Fprintf(w, "Run        %d\n", run.ID)
	fmt.Fprintf(w, "Lock       %s\n", untrusted.Line(string(run.Lock)))
	fmt.Fprintf(w, "Suite      %s (hash %.12s)\n", untrusted.Line(histSuite(run)), untrusted.Line(run.SuiteHash))
	fmt.Fprintf(w, "Settings   %s (hash %.12s)\n", untrusted.Line(string(settings)), untrusted.Line(run.SettingsHash))
	fmt.Fprintf(w, "Endpoints  %s\n", histOr(untrusted.Line(strings.Join(run.Endpoints, ", ")), "-"))
	fmt.Fprintf(w, "Status     %s\n", run.Status)
	if run.LockRefusal != "" {
		fmt.Fprintf(w, "Stopped    %s (what no check confirmed was discarded, never stored)\n", untrusted.Line(untrusted.Cut(run.LockRefusal, 300)))
	}
	fmt.Fprintf(w, "Started    %s UTC\n", histTime(run.Started))
	if !run.Finished.IsZero() {
		fmt.Fprintf(w, "Finished   %s UTC (%s)\n", histTime(run.Finished), histDuration(run))
	}
	fmt.Fprintf(w, "evalpin    %s\n", histOr(untrusted.Line(run.Version), "-"))
	line := fmt.Sprintf("Results    %d stored", counts.Results)
	if results != nil {
		passed := 0
		for _, r := range results {
			if r.Passed() {
				passed++
			}
		}
		line += fmt.Sprintf(", %d passed every check", passed)
	}
	fmt.Fprintf(w, "%s, %d with a failed request\n", line, counts.Errors)
}

// histWriteJSON writes v as indented JSON under the one policy for untrusted
// text (untrusted.MarshalIndent).
func histWriteJSON(w io.Writer, v any) error { return untrusted.WriteJSON(w, v, true) }

func histNonNil(rs []eval.Result) []eval.Result {
	if rs == nil {
		return []eval.Result{}
	}
	return rs
}

// histTable returns a table for the history commands: headers as written,
// cells never wrapped (the caller truncates them).
func histTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
}

// histIndent prefixes every line of s with indent.
func histIndent(s, indent string) string {
	return indent + strings.ReplaceAll(s, "\n", "\n"+indent)
}

// histSuite names a run's suite with its version.
func histSuite(r eval.Run) string {
	if r.SuiteVersion == "" {
		return r.Suite
	}
	return r.Suite + " " + r.SuiteVersion
}

// histVerdict is a result's outcome in a word.
func histVerdict(r eval.Result) string {
	switch {
	case r.Error != "":
		return "error"
	case r.Passed():
		return "pass"
	}
	return "FAIL"
}

func histTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// histDuration is how long a finished run took, or "-".
func histDuration(r eval.Run) string {
	if r.Finished.IsZero() {
		return "-"
	}
	return r.Finished.Sub(r.Started).Round(time.Second).String()
}

func histLatency(d time.Duration) string {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func histOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
