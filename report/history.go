package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A RunRow is a stored run as the history (evalpin runs, evalpin show) shows
// it.
type RunRow = eval.RunRecord

// historyRun is the stable JSON form of a run in evalpin runs and evalpin
// show.
type historyRun struct {
	ID           int64         `json:"id"`
	Lock         lockid.ID     `json:"lock"`
	Suite        string        `json:"suite"`
	SuiteVersion string        `json:"suite_version"`
	SuiteHash    string        `json:"suite_hash"`
	Settings     eval.Settings `json:"settings"`
	SettingsHash string        `json:"settings_hash"`
	Endpoints    []string      `json:"endpoints"`
	Version      string        `json:"evalpin_version"`
	Status       string        `json:"status"`
	Started      time.Time     `json:"started"`
	Finished     *time.Time    `json:"finished,omitempty"`
	Results      int           `json:"results"` // results stored
	Errors       int           `json:"errors"`  // stored results whose request failed
	// LockRefusal says why a lock check stopped the run mid-way, if one did.
	LockRefusal string `json:"lock_refusal,omitempty"`
	// Selection is the part of the suite the run replayed; absent for all.
	Selection string `json:"selection,omitempty"`
	// Model is the name the lock was served under; Labels the run's labels.
	Model  string            `json:"model,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

func newHistoryRun(row RunRow) historyRun {
	r := row.Run
	j := historyRun{
		ID: r.ID, Lock: r.Lock, Suite: r.Suite, SuiteVersion: r.SuiteVersion, SuiteHash: r.SuiteHash,
		Settings: r.Settings, SettingsHash: r.SettingsHash, Endpoints: r.Endpoints, Version: r.Version,
		Status: string(r.Status), Started: r.Started.UTC(), Results: row.Results, Errors: row.Errors,
		LockRefusal: r.LockRefusal, Selection: r.Selection, Model: r.Model, Labels: r.Labels,
	}
	if j.Endpoints == nil {
		j.Endpoints = []string{}
	}
	if !r.Finished.IsZero() {
		f := r.Finished.UTC()
		j.Finished = &f
	}
	return j
}

// WriteRuns writes the list of runs, oldest first: as a table (id, lock,
// suite, status, stored, errors, start and duration), or as JSON.
func WriteRuns(w io.Writer, rows []RunRow, asJSON bool) error {
	if asJSON {
		out := make([]historyRun, len(rows))
		for i, r := range rows {
			out[i] = newHistoryRun(r)
		}
		return untrusted.WriteJSON(w, out, true)
	}
	table := historyTable(w)
	table.Header("RUN", "LOCK", "SUITE", "STATUS", "STORED", "ERRORS", "STARTED (UTC)", "DURATION")
	for _, row := range rows {
		r := row.Run
		if err := table.Append(
			strconv.FormatInt(r.ID, 10),
			untrusted.Line(cmp.Or(row.LockAbbrev, r.Lock.Short())),
			untrusted.Line(suiteName(r)),
			runStatus(r),
			strconv.Itoa(row.Results),
			strconv.Itoa(row.Errors),
			clock(r.Started),
			runDuration(r),
		); err != nil {
			return err
		}
	}
	return table.Render()
}

// WriteRun writes a run and one line per result (case, sample, verdict,
// finish reason, latency and at most width characters of the output), or
// the run and its results as JSON.
func WriteRun(w io.Writer, row RunRow, results []eval.Result, width int, asJSON bool) error {
	if asJSON {
		if results == nil {
			results = []eval.Result{}
		}
		return untrusted.WriteJSON(w, struct {
			Run     historyRun    `json:"run"`
			Results []eval.Result `json:"results"`
		}{newHistoryRun(row), results}, true)
	}
	writeRunHeader(w, row, results)
	if len(results) == 0 {
		fmt.Fprintln(w, "\nNo results stored yet.")
		return nil
	}
	fmt.Fprintln(w)
	table := historyTable(w)
	table.Header("CASE", "SAMPLE", "RESULT", "FINISH", "LATENCY", "OUTPUT")
	for _, r := range results {
		out := r.Output
		if r.Error != "" {
			out = "error: " + r.Error
		}
		if err := table.Append(untrusted.Line(r.CaseID), strconv.Itoa(r.Sample), resultVerdict(r),
			untrusted.Line(r.FinishReason), latency(r.Latency), untrusted.Cut(untrusted.Line(out), width)); err != nil {
			return err
		}
	}
	return table.Render()
}

// caseJSON is the stable JSON form of a stored case.
type caseJSON struct {
	ID       string         `json:"id"`
	Hash     string         `json:"hash"`
	Messages []eval.Message `json:"messages,omitempty"`
	Prompt   string         `json:"prompt,omitempty"`
	Tags     []string       `json:"tags,omitempty"`
	Cluster  string         `json:"cluster,omitempty"`
}

// WriteCase writes one case of a run in full: its prompt (c is nil when the
// run's suite was not stored), and every sample's output, checks and error;
// or the same as JSON.
func WriteCase(w io.Writer, row RunRow, caseID string, c *eval.Case, results []eval.Result, asJSON bool) error {
	if asJSON {
		var cj *caseJSON
		if c != nil {
			cj = &caseJSON{ID: c.ID, Hash: c.Hash, Messages: c.Messages, Prompt: c.Prompt, Tags: c.Tags, Cluster: c.Cluster}
		}
		return untrusted.WriteJSON(w, struct {
			Run     historyRun    `json:"run"`
			Case    *caseJSON     `json:"case"` // null when the suite's cases are not stored
			Results []eval.Result `json:"results"`
		}{newHistoryRun(row), cj, results}, true)
	}
	writeRunHeader(w, row, nil)
	hash := ""
	if len(results) > 0 {
		hash = results[0].CaseHash
	}
	fmt.Fprintf(w, "\nCase %s (hash %.12s)\n", untrusted.Line(caseID), untrusted.Line(hash))
	writePrompt(w, c)
	for _, r := range results {
		writeSample(w, r)
	}
	return nil
}

// writePrompt writes a case's prompt and tags.
func writePrompt(w io.Writer, c *eval.Case) {
	switch {
	case c == nil:
		fmt.Fprintln(w, "Prompt: not stored (the run's suite was not recorded)")
		return
	case c.Prompt != "":
		fmt.Fprintln(w, "Prompt:")
		fmt.Fprintln(w, indent(untrusted.Block(c.Prompt), "    "))
	default:
		fmt.Fprintln(w, "Messages:")
		for _, m := range c.Messages {
			fmt.Fprintf(w, "  [%s]\n%s\n", untrusted.Line(m.Role), indent(untrusted.Block(m.Content), "    "))
		}
	}
	if len(c.Tags) > 0 {
		fmt.Fprintf(w, "Tags: %s\n", untrusted.Line(strings.Join(c.Tags, ", ")))
	}
}

// writeSample writes one sample of a case: its verdict, finish, tokens,
// lock, error, checks and output.
func writeSample(w io.Writer, r eval.Result) {
	fmt.Fprintf(w, "\nSample %d: %s\n", r.Sample, resultVerdict(r))
	fmt.Fprintf(w, "  finish %s, %s, %d prompt + %d completion tokens\n",
		or(untrusted.Line(r.FinishReason), "-"), latency(r.Latency), r.PromptTokens, r.CompletionTokens)
	fmt.Fprintf(w, "  lock %s from %s\n", or(untrusted.Line(string(r.Lock)), "-"), or(untrusted.Line(r.Endpoint), "-"))
	if r.Error != "" {
		fmt.Fprintf(w, "  error (%s): %s\n", or(untrusted.Line(r.ErrorKind), "unknown"), untrusted.Line(r.Error))
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
		fmt.Fprintln(w, line)
	}
	if r.Output == "" {
		fmt.Fprintln(w, "  output: none")
		return
	}
	fmt.Fprintln(w, "  output:")
	fmt.Fprintln(w, indent(untrusted.Block(r.Output), "    "))
}

// writeRunHeader writes what identifies a run and how far it got; results,
// when given, adds the pass count.
func writeRunHeader(w io.Writer, row RunRow, results []eval.Result) {
	run := row.Run
	settings, _ := json.Marshal(run.Settings) // plain fields only
	fmt.Fprintf(w, "Run        %d\n", run.ID)
	fmt.Fprintf(w, "Lock       %s\n", untrusted.Line(string(run.Lock)))
	if run.Model != "" {
		fmt.Fprintf(w, "Model      %s\n", untrusted.Line(run.Model))
	}
	if len(run.Labels) > 0 {
		fmt.Fprintf(w, "Labels     %s\n", untrusted.Line(Labels(run.Labels)))
	}
	fmt.Fprintf(w, "Suite      %s (hash %.12s)\n", untrusted.Line(suiteName(run)), untrusted.Line(run.SuiteHash))
	fmt.Fprintf(w, "Settings   %s (hash %.12s)\n", untrusted.Line(string(settings)), untrusted.Line(run.SettingsHash))
	fmt.Fprintf(w, "Endpoints  %s\n", or(untrusted.Line(strings.Join(run.Endpoints, ", ")), "-"))
	fmt.Fprintf(w, "Status     %s\n", run.Status)
	if run.LockRefusal != "" {
		fmt.Fprintf(w, "Stopped    %s (what no check confirmed was discarded, never stored)\n", untrusted.Line(untrusted.Cut(run.LockRefusal, 300)))
	}
	fmt.Fprintf(w, "Started    %s UTC\n", clock(run.Started))
	if !run.Finished.IsZero() {
		fmt.Fprintf(w, "Finished   %s UTC (%s)\n", clock(run.Finished), runDuration(run))
	}
	fmt.Fprintf(w, "evalpin    %s\n", or(untrusted.Line(run.Version), "-"))
	line := fmt.Sprintf("Results    %d stored", row.Results)
	if results != nil {
		passed := 0
		for _, r := range results {
			if r.Passed() {
				passed++
			}
		}
		line += fmt.Sprintf(", %d passed every check", passed)
	}
	fmt.Fprintf(w, "%s, %d with a failed request\n", line, row.Errors)
}

// Labels writes labels as "k=v k2=v2", sorted by key.
func Labels(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, " ")
}

// historyTable returns a table for the history: headers as written, cells
// never wrapped (the caller cuts them).
func historyTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
}

// indent prefixes every line of s with prefix.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// runStatus is a run's status, marked when a lock check stopped it.
func runStatus(r eval.Run) string {
	if r.LockRefusal != "" {
		return string(r.Status) + " (lock changed)"
	}
	return string(r.Status)
}

// resultVerdict is a result's outcome in a word.
func resultVerdict(r eval.Result) string {
	switch {
	case r.Error != "":
		return "error"
	case r.Passed():
		return "pass"
	}
	return "FAIL"
}

func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// runDuration is how long a finished run took, or "-".
func runDuration(r eval.Run) string {
	if r.Finished.IsZero() {
		return "-"
	}
	return r.Finished.Sub(r.Started).Round(time.Second).String()
}

func latency(d time.Duration) string {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
