package main

import (
	"context"
	"fmt"
)

var versionUsage = help("version")

// runVersion prints the version.
func (a *app) runVersion(_ context.Context, args []string) error {
	stdout := a.stdout
	fs := a.flags("version", versionUsage)
	pos, err := fs.Parse(args, a.getenv)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("version: unexpected argument %q", pos[0])
	}
	fmt.Fprintf(stdout, "evalpin %s\n", Version)
	return nil
}
