package store

import (
	"slices"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/secret"
)

// Everything the store writes that came from a server or names an endpoint
// goes through the process's secret registry first: a server may echo the API
// key it was sent in an error body or even in an output, and an endpoint URL
// may hold a password. The database is copied, backed up and exported into
// baseline files kept in git, so nothing secret may reach it. Redacting costs
// one atomic load per text when no secret is registered.

// redactResult returns r with the texts a server sent (output, finish reason,
// error, check details, which quote the output) redacted, and its endpoint
// without userinfo.
func redactResult(r eval.Result) eval.Result {
	r.Output = secret.Redact(r.Output)
	r.FinishReason = secret.Redact(r.FinishReason)
	r.Error = secret.Redact(r.Error)
	r.Endpoint = redactEndpoint(r.Endpoint)
	cloned := false
	for i := range r.Checks {
		d := secret.Redact(r.Checks[i].Detail)
		if d == r.Checks[i].Detail {
			continue
		}
		if !cloned {
			r.Checks, cloned = slices.Clone(r.Checks), true // the caller's slice is not ours to change
		}
		r.Checks[i].Detail = d
	}
	return r
}

// redactEndpoint returns an endpoint URL as stored: without userinfo, and
// redacted.
func redactEndpoint(ep string) string {
	return secret.Redact(secret.StripUserinfo(ep))
}

// redactEndpoints returns endpoint URLs as stored.
func redactEndpoints(eps []string) []string {
	out := make([]string, len(eps))
	for i, ep := range eps {
		out[i] = redactEndpoint(ep)
	}
	return out
}
