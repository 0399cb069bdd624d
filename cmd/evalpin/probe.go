package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"

	"github.com/evalpin/evalpin/internal/credentials"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

var probeUsage = help("probe")

// probeEndpointsFlag is the repeatable --endpoint flag.
type probeEndpointsFlag []string

func (s *probeEndpointsFlag) String() string     { return strings.Join(*s, ",") }
func (s *probeEndpointsFlag) Set(v string) error { *s = append(*s, v); return nil }

func (a *app) runProbe(ctx context.Context, args []string) (err error) {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("probe", probeUsage)
	var endpoints probeEndpointsFlag
	fs.Var(&endpoints, "endpoint", "an endpoint's OpenAI base `URL` (repeatable; same as a positional URL)")
	model := fs.String("model", "", "the `NAME` of the model to probe (default: the only one the endpoint serves)")
	expect := fs.String("expect-lock", "", "refuse unless every endpoint serves lock `ID`")
	format := fs.String("format", "table", "output `format`: table or json")
	timeout := fs.Duration("timeout", 60*time.Second, "give up on an endpoint after this long")
	noCompletion := fs.Bool("no-completion", false, "send no probe completion (a lock only in system_fingerprint is then not seen)")
	apiKeyEnv := fs.String("api-key-env", "", "send the API key in environment variable `VAR` to every endpoint (default: $OPENAI_API_KEY, to endpoints of $OPENAI_BASE_URL's origin only)")
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	endpoints = append(endpoints, pos...)
	if len(endpoints) == 0 {
		endpoints = credentials.DefaultEndpoints(a.getenv)
	}
	if len(endpoints) == 0 {
		fs.Usage()
		return usageErrorf("probe: name an endpoint URL")
	}
	if *format != "table" && *format != "json" {
		return usageErrorf("probe: -format must be table or json, not %q", *format)
	}
	if *expect != "" && !lockid.Valid(*expect) {
		return fault.Errorf(fault.Input, "a lock id looks like sha256:<64 hex digits> or ollama:sha256:<64 hex digits>", "probe: -expect-lock %q is not a lock id", *expect)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	creds, err := resolveCredentials("probe", *apiKeyEnv, endpoints, a.getenv, stderr)
	if err != nil {
		return err
	}
	defer func() { err = explain(creds, err) }()
	client := creds.Client(http.DefaultTransport.(*http.Transport).Clone())
	defer client.CloseIdleConnections()
	p := &endpoint.Prober{Client: client, APIKey: creds.Key, SkipCompletion: *noCompletion}
	reports, err := p.ProbeAll(ctx, creds.Endpoints, *model)
	if err != nil {
		return err
	}
	target, refusal := p.Decide(reports, lockid.ID(*expect))
	if *format == "json" {
		err = writeProbeJSON(stdout, reports, target, refusal)
	} else {
		err = writeProbeTable(stdout, reports, target)
	}
	if err != nil {
		return err
	}
	return refusal
}

// probeJSON is the stable JSON form of "evalpin probe".
type probeJSON struct {
	Lock      lockid.ID          `json:"lock"` // "" when refused
	Source    endpoint.Source    `json:"source,omitempty"`
	Strength  endpoint.Strength  `json:"strength,omitempty"`
	How       string             `json:"how,omitempty"`
	Model     string             `json:"model,omitempty"`
	Refused   string             `json:"refused,omitempty"` // why, when refused
	Endpoints []*endpoint.Report `json:"endpoints"`
}

func writeProbeJSON(w io.Writer, reports []*endpoint.Report, t *endpoint.Target, refusal error) error {
	out := probeJSON{Endpoints: reports}
	if t != nil {
		out.Lock, out.Source, out.Strength, out.How, out.Model = t.Lock, t.Claim.Source, t.Claim.Strength, t.Claim.How, t.Model
	}
	if refusal != nil {
		out.Refused = refusal.Error()
	}
	return untrusted.WriteJSON(w, out, true)
}

func writeProbeTable(w io.Writer, reports []*endpoint.Report, t *endpoint.Target) error {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Endpoint %s\n", probeSafe(r.Endpoint))
		if r.Model != "" {
			fmt.Fprintf(w, "Model    %s\n", probeSafe(r.Model))
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
				if err := tw.Append(e.Name, probeSafe(e.Value), e.From); err != nil {
					return err
				}
			}
			if err := tw.Render(); err != nil {
				return err
			}
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "Problem: %s\n", probeSafe(p))
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "Note: %s\n", probeSafe(n))
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

// probeSafe makes text an endpoint sent safe for a terminal: invisible and
// control characters are shown escaped, and long values are cut.
func probeSafe(s string) string {
	return untrusted.Line(untrusted.Cut(s, 300))
}

var _ flag.Value = (*probeEndpointsFlag)(nil)
