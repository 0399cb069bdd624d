package main

import (
	"context"
	"net/http"
	"time"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/credentials"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
)

var probeUsage = help("probe")

func (a *app) runProbe(ctx context.Context, args []string) (err error) {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("probe", probeUsage)
	var endpoints cli.Strings
	fs.Var(&endpoints, "endpoint", "an endpoint's OpenAI base `URL` (repeatable; same as a positional URL)")
	model := fs.String("model", "", "the `NAME` of the model to probe (default: the only one the endpoint serves)")
	expect := addExpectLockFlag(fs)
	format := fs.Choice("format", "table", "output `format`: table or json", "table", "json")
	timeout := fs.Duration("timeout", 60*time.Second, "give up on an endpoint after this long")
	noCompletion := fs.Bool("no-completion", false, "send no probe completion (a lock only in system_fingerprint is then not seen)")
	apiKeyEnv := fs.String("api-key-env", "", "send the API key in environment variable `VAR` to every endpoint (default: $OPENAI_API_KEY, to endpoints of $OPENAI_BASE_URL's origin only)")
	a.defaults(fs, "endpoint", "model", "api-key-env")
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	if len(pos) > 0 && !fs.IsSet("endpoint") {
		endpoints = nil // the URLs given, not the project's
	}
	endpoints = append(endpoints, pos...)
	if len(endpoints) == 0 {
		endpoints = credentials.DefaultEndpoints(a.getenv)
	}
	if len(endpoints) == 0 {
		fs.Usage()
		return fault.Errorf(fault.Input, "evalpin probe URL, e.g. evalpin probe http://127.0.0.1:8000/v1, or set OPENAI_BASE_URL", "probe: name an endpoint URL")
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	creds, err := resolveCredentials("probe", *apiKeyEnv, endpoints, a.getenv, stderr)
	if err != nil {
		return err
	}
	defer func() { err = creds.Refused(err) }()
	client := creds.Client(http.DefaultTransport.(*http.Transport).Clone())
	defer client.CloseIdleConnections()
	p := &endpoint.Prober{Client: client, APIKey: creds.Key, SkipCompletion: *noCompletion}
	reports, err := p.ProbeAll(ctx, creds.Endpoints, *model)
	if err != nil {
		return err
	}
	target, refusal := p.Decide(reports, lockid.ID(*expect))
	if *format == "json" {
		err = endpoint.WriteJSON(stdout, reports, target, refusal)
	} else {
		err = endpoint.WriteText(stdout, reports, target)
	}
	if err != nil {
		return err
	}
	return refusal
}

// addExpectLockFlag adds --expect-lock to fs, which must be a lock id.
func addExpectLockFlag(fs *cli.Flags) *string {
	expect := fs.String("expect-lock", "", "refuse unless every endpoint serves lock `ID`")
	fs.Check("expect-lock", func() error {
		if lockid.Valid(*expect) {
			return nil
		}
		return fault.Errorf(fault.Input, "a lock id looks like sha256:<64 hex digits> or ollama:sha256:<64 hex digits>", "%s: --expect-lock %q is not a lock id", fs.Name(), *expect)
	})
	return expect
}
