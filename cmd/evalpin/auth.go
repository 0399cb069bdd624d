package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/evalpin/evalpin/internal/credentials"
	"github.com/evalpin/evalpin/internal/fault"
)

// Which key and password go to which endpoint is internal/credentials'
// policy; this file words its facts for the command line: the warnings, the
// command's name, and the hints that name --api-key-env.

// resolveCredentials resolves what command sends to endpoints (the URLs as
// given; credentials.Resolve), prints the warnings on stderr, and adds to a
// refusal the command's name and the hint. apiKeyEnv is the --api-key-env
// flag.
func resolveCredentials(command, apiKeyEnv string, endpoints []string, getenv func(string) string, stderr io.Writer) (*credentials.Credentials, error) {
	c, warnings, err := credentials.Resolve(endpoints, apiKeyEnv, getenv)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "evalpin: warning: %v\n", w)
	}
	if errors.Is(err, credentials.ErrKeyUnset) {
		return nil, fault.Errorf(fault.Input, "export "+apiKeyEnv+"=<key>, or leave out --api-key-env for an endpoint without authentication",
			"%s: --api-key-env %w", command, err)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", command, err)
	}
	return c, nil
}

// unauthorizedHint says which key c sent, or why it sent none, and what to
// do.
func unauthorizedHint(c *credentials.Credentials) string {
	const envKey, envBase = credentials.EnvAPIKey, credentials.EnvBaseURL
	eps := strings.Join(c.Endpoints, " ")
	switch {
	case c.Key != "" && c.KeyEnv == envKey:
		return fmt.Sprintf("%s was sent, as %s=%s pairs it with %s; check that the key is valid there, or pass --api-key-env VAR to send the key in $VAR instead",
			envKey, envBase, c.EnvBase, eps)
	case c.Key != "":
		return fmt.Sprintf("the key in %s was sent (--api-key-env %s); check that it is the key of %s", c.KeyEnv, c.KeyEnv, eps)
	case c.EnvKeySet:
		unset := ""
		if c.EnvBaseDefault {
			unset = " (unset: the default)"
		}
		return fmt.Sprintf("no API key was sent: %s is set but paired with %s=%s%s; pass --api-key-env %s to send it to %s",
			envKey, envBase, c.EnvBase, unset, envKey, eps)
	case c.BasicAuth():
		return "no API key was sent, only the user and password of the endpoint URL; export the key in a variable and pass --api-key-env VAR"
	}
	base := "<the endpoint>"
	if len(c.Endpoints) == 1 {
		base = c.Endpoints[0]
	}
	return fmt.Sprintf("no API key was sent; export the key in a variable and pass --api-key-env VAR (or export %s, and %s=%s to pair it with the endpoint)", envKey, envBase, base)
}
