package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/outfile"
	"github.com/evalpin/evalpin/internal/project"
	"github.com/evalpin/evalpin/internal/untrusted"
)

var initUsage = help("init")

// runInit implements "evalpin init".
func (a *app) runInit(ctx context.Context, args []string) error {
	fs := a.flags("init", initUsage)
	var f project.File
	fs.Var((*cli.Strings)(&f.Endpoints), "endpoint", "an endpoint's OpenAI base `URL` to write and probe (repeatable)")
	fs.StringVar(&f.Model, "model", "", "the `NAME` of the model (default: the only one the endpoint serves)")
	fs.StringVar(&f.Suite, "suite", "", "the suite `FILE`, relative to the project, or a bundled suite's name")
	fs.StringVar(&f.DB, "db", "", "the database `FILE`, relative to the project")
	force := fs.Bool("force", false, "replace an existing evalpin.yaml")
	if _, err := fs.ParseWant(args, a.getenv); err != nil {
		return err
	}
	if _, err := os.Stat(project.FileName); err == nil && !*force {
		return fault.Errorf(fault.Input, "edit it, or pass --force to replace it with a fresh one", "init: %s exists", project.FileName)
	}
	if len(f.Endpoints) > 0 {
		a.initProbe(ctx, &f)
	}
	if err := outfile.Write(project.FileName, nil, func(w io.Writer) error { _, err := w.Write(project.Template(&f)); return err }); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	fmt.Fprintf(a.stderr, "wrote %s; next: evalpin run (every setting it leaves unset can be given as a flag)\n", project.FileName)
	return nil
}

// initProbe asks f's endpoints which lock and model they serve, and sets
// f.Model; a failure is a warning.
func (a *app) initProbe(ctx context.Context, f *project.File) {
	creds, err := resolveCredentials("init", "", f.Endpoints, a.getenv, a.stderr)
	if err == nil {
		client := creds.Client(http.DefaultTransport.(*http.Transport).Clone())
		defer client.CloseIdleConnections()
		var t *endpoint.Target
		if t, err = (&endpoint.Prober{Client: client, APIKey: creds.Key}).Resolve(ctx, creds.Endpoints, f.Model, ""); err == nil {
			f.Model = t.Model
			fmt.Fprintf(a.stderr, "%s serves lock %s (%s, %s) as model %s\n", untrusted.Line(f.Endpoints[0]), t.Lock, t.Claim.Source, t.Claim.Strength, untrusted.Line(t.Model))
			return
		}
	}
	fmt.Fprintf(a.stderr, "evalpin: warning: %s; the file is written without what a probe would find\n", untrusted.Line(advise(err).Error()))
}
