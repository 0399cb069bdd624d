package cli

import (
	"flag"
	"strings"
)

// A Sub is a subcommand: "create" of "evalpin lock create".
type Sub struct {
	Name string
	Run  func(args []string) error
}

// Dispatch runs the subcommand args names, with the rest of args. No
// subcommand prints the command's help and is an input error; -h, --help and
// "help" print it and return flag.ErrHelp.
func (f *Flags) Dispatch(args []string, subs ...Sub) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.Name
	}
	if len(args) == 0 {
		f.Usage()
		return f.Usagef("no subcommand given (want %s)", Or(names))
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		f.Usage()
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.Name == args[0] {
			return s.Run(args[1:])
		}
	}
	return f.Usagef("unknown subcommand %q (want %s)", args[0], Or(names))
}

// KeyValues splits the "key=value" values of the flag name into a map.
func (f *Flags) KeyValues(name string, vals []string) (map[string]string, error) {
	out := make(map[string]string, len(vals))
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, f.Usagef("--%s %q: want key=value", name, v)
		}
		out[k] = val
	}
	return out, nil
}

// SplitCommas splits each of vals on commas: the values of a repeatable flag
// that also takes a comma-separated list (--tags a,b --tags c).
func SplitCommas(vals []string) []string {
	var out []string
	for _, v := range vals {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// CommandLine returns words as a POSIX shell command line, each quoted where
// it needs it: what a message tells the user to run again.
func CommandLine(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// Quote quotes s for a POSIX shell when it needs it.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// WithoutBool returns args without the boolean flag name set true in any of
// its spellings (-name, --name, --name=true, --name=1): the command line to
// repeat without it.
func WithoutBool(args []string, name string) []string {
	var out []string
	for _, a := range args {
		flag, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if strings.HasPrefix(a, "-") && flag == name && (!hasValue || value == "true" || value == "1") {
			continue
		}
		out = append(out, a)
	}
	return out
}
