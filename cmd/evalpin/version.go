package main

import (
	"context"
	"fmt"
)

var versionUsage = help("version")

// runVersion prints the version.
func (a *app) runVersion(_ context.Context, args []string) error {
	stdout := a.stdout
	if _, err := a.wantArgs("version", versionUsage, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "evalpin %s\n", Version)
	return nil
}
