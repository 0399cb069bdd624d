package main

import (
	"context"
	"fmt"
	"io"
)

func init() {
	commands["version"] = command{summary: "print evalpin's version", run: runVersion}
}

const versionUsage = `Usage: evalpin version

Version prints evalpin's version, as set at build time (make build).

Examples:

  evalpin version
`

// runVersion prints the version.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", versionUsage, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("version: unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintf(stdout, "evalpin %s\n", Version)
	return nil
}
