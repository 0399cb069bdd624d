package main

import (
	"errors"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/runs"
	reports "github.com/evalpin/evalpin/report"
)

// advice is the fix for an error a library marks, in the words of the flags
// of this command line: the libraries say what is wrong, the command how to
// fix it (STYLE: libraries return facts), so renaming a flag touches this
// package only.
var advice = []struct {
	err  error
	hint string
}{
	{runs.ErrProbeTimeout, "check that the endpoint is up, or raise --timeout"},
	{endpoint.ErrNoEndpoint, "name an endpoint with --endpoint URL"},
	{endpoint.ErrWhichModel, "name the model to evaluate with --model"},
	{endpoint.ErrModelNotServed, "name a model the endpoint serves with --model"},
	{endpoint.ErrModelsDiffer, "name the model with --model so that every endpoint serves it"},
	{endpoint.ErrWrongLock, "point the endpoint at a server of the expected lock, or pass the --expect-lock you mean ('evalpin probe URL' shows what it serves)"},
	{compare.ErrSettingsDiffer, "compare runs made at the same settings, or pass --allow-settings-mismatch to compare them anyway"},
	{reports.ErrUnknownFormat, "pass --format table, md, json, junit or html"},
}

// advise adds the hint of the first marked error err is, where it has none.
func advise(err error) error {
	if err == nil || fault.HintOf(err) != "" {
		return err
	}
	for _, a := range advice {
		if errors.Is(err, a.err) {
			return &fault.Error{Kind: fault.KindOf(err), Err: err, Hint: a.hint}
		}
	}
	return err
}
