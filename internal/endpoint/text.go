package endpoint

import (
	"fmt"
	"io"

	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
	"github.com/olekukonko/tablewriter"
)

// A ProbeResult is the stable JSON form of evalpin probe: the resolved lock
// (empty when refused, with why) and every endpoint's report.
type ProbeResult struct {
	Lock      lockid.ID `json:"lock"` // "" when refused
	Source    Source    `json:"source,omitempty"`
	Strength  Strength  `json:"strength,omitempty"`
	How       string    `json:"how,omitempty"`
	Model     string    `json:"model,omitempty"`
	Refused   string    `json:"refused,omitempty"` // why, when refused
	Endpoints []*Report `json:"endpoints"`
}

// WriteJSON writes the reports of a probe of one run's endpoints and the
// lock they resolved to (nil when refused, with the refusal) as evalpin
// probe's stable JSON.
func WriteJSON(w io.Writer, reports []*Report, t *Target, refusal error) error {
	out := ProbeResult{Endpoints: reports}
	if t != nil {
		out.Lock, out.Source, out.Strength, out.How, out.Model = t.Lock, t.Claim.Source, t.Claim.Strength, t.Claim.How, t.Model
	}
	if refusal != nil {
		out.Refused = refusal.Error()
	}
	return untrusted.WriteJSON(w, out, true)
}

// WriteText writes the reports of a probe as evalpin probe prints them: per
// endpoint its model, the locks it claims with their source, strength and
// how they were obtained, the evidence, problems and notes; then the run's
// lock. What an endpoint sent is escaped and cut.
func WriteText(w io.Writer, reports []*Report, t *Target) error {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Endpoint %s\n", untrusted.Clip(r.Endpoint, 300))
		if r.Model != "" {
			fmt.Fprintf(w, "Model    %s\n", untrusted.Clip(r.Model, 300))
		}
		if len(r.Claims) == 0 {
			fmt.Fprintln(w, "Lock     none reported")
		}
		for i, c := range r.Claims {
			label := "Lock"
			if i > 0 {
				label = "Also"
			}
			fmt.Fprintf(w, "%-8s %s  [%s, %s]\n         %s\n", label, c.Lock, c.Source, c.Strength, c.How)
		}
		if len(r.Evidence) > 0 {
			tw := tablewriter.NewTable(w)
			tw.Header("Evidence", "Value", "From")
			for _, e := range r.Evidence {
				if err := tw.Append(e.Name, untrusted.Clip(e.Value, 300), e.From); err != nil {
					return err
				}
			}
			if err := tw.Render(); err != nil {
				return err
			}
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "Problem: %s\n", untrusted.Clip(p, 300))
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "Note: %s\n", untrusted.Clip(n, 300))
		}
	}
	if t != nil {
		fmt.Fprintf(w, "\nLock %s (%s, %s", t.Lock, t.Claim.Source, t.Claim.Strength)
		if len(reports) > 1 {
			fmt.Fprintf(w, "; %d endpoints agree", len(reports))
		}
		fmt.Fprintln(w, ")")
	}
	return nil
}
