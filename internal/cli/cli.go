// Package cli parses evalpin's command lines, the same way for every command:
// flags may come before, between or after the positional arguments ("lock
// create DIR -o FILE"); "--" ends the flags; -flag and --flag are one flag; a
// mistyped flag is answered with the flags it is closest to; a flag may take
// its default from an environment variable; and every error is an input error
// (exit 2) whose hint names the command's help.
//
// It wraps the standard library's flag package, whose flag definitions and
// help output it keeps.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
)

// A Flags is the flag set of one command.
type Flags struct {
	*flag.FlagSet
	usage  string
	env    map[string]string // flag name → the variable it defaults from
	set    map[string]bool   // the flags given on the command line
	envSet map[string]bool   // the flags an environment variable or a Source set
	from   map[string]string // where those flags' values came from: "$EVALPIN_SAMPLES"
	checks []func() error    // run by Parse, in order (checks.go)
	srcs   []Source          // consulted by Parse after the environment
}

// A Source supplies the value of a flag the command line and its Env
// variable do not set: a project file, a family of environment variables.
type Source struct {
	// Name names the source in errors: "$EVALPIN_SUITE", "evalpin.yaml".
	Name func(flag string) string
	// Lookup returns the values of the flag, each given to its Set, and
	// whether the source has it.
	Lookup func(flag string) ([]string, bool)
	// Split splits a value on commas for a Strings flag: an environment
	// variable holds a list that way.
	Split bool
	// Err, when set, is returned by Parse: the source could not be read.
	Err error
}

// Sources adds sources to consult, in order, for the flags the command line
// and the environment (Env) leave unset.
func (f *Flags) Sources(srcs ...Source) { f.srcs = append(f.srcs, srcs...) }

// New returns the flag set of the command name (for messages, e.g. "run" or
// "lock create"), whose help is usage followed by the flags and footer.
// Errors and help are written to w.
func New(name, usage, footer string, w io.Writer) *Flags {
	f := &Flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), usage: usage, env: map[string]string{}}
	f.SetOutput(w)
	f.Usage = func() {
		var b strings.Builder
		b.WriteString(strings.TrimLeft(usage, "\n"))
		has := false
		f.VisitAll(func(*flag.Flag) { has = true })
		if has {
			b.WriteString("\nFlags:\n")
			f.SetOutput(&b)
			f.PrintDefaults()
			f.SetOutput(w)
		}
		if footer != "" {
			if !strings.HasSuffix(b.String(), "\n\n") {
				b.WriteString("\n")
			}
			b.WriteString(footer)
		}
		io.WriteString(w, b.String())
	}
	return f
}

// Env makes the flag name default to the value of the environment variable
// variable, read by getenv when Parse runs, where the command line does not
// set it. The flag's help names the variable.
func (f *Flags) Env(name, variable string) {
	f.env[name] = variable
	if fl := f.Lookup(name); fl != nil && !strings.Contains(fl.Usage, variable) {
		fl.Usage += " (env " + variable + ")"
	}
}

// Parse parses args, flags anywhere among them, and returns the positional
// arguments in order. getenv supplies the variables of Env (nil: none). -h
// and --help return flag.ErrHelp after printing the help.
func (f *Flags) Parse(args []string, getenv func(string) string) ([]string, error) {
	var pos []string
	for {
		if err := f.FlagSet.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, f.parseError(err)
		}
		rest := f.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	f.set, f.envSet, f.from = map[string]bool{}, map[string]bool{}, map[string]string{}
	f.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if getenv != nil {
		for name, variable := range f.env {
			if v := getenv(variable); v != "" && !f.set[name] {
				if err := f.FlagSet.Set(name, v); err != nil {
					return nil, fault.Errorf(fault.Input, f.hint(), "%s: %s", f.Name(), f.badValue(name, "$"+variable, v, err))
				}
				f.envSet[name], f.from[name] = true, "$"+variable
			}
		}
	}
	if err := f.fromSources(); err != nil {
		return nil, err
	}
	for _, check := range f.checks {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return pos, nil
}

// fromSources sets the flags nothing set yet from the first source that has
// them.
func (f *Flags) fromSources() error {
	var err error
	f.VisitAll(func(fl *flag.Flag) {
		if err != nil || f.given(fl.Name) {
			return
		}
		for _, src := range f.srcs {
			if src.Err != nil {
				err = src.Err
				return
			}
			vals, ok := src.Lookup(fl.Name)
			if !ok {
				continue
			}
			if _, list := fl.Value.(*Strings); list && src.Split && len(vals) == 1 {
				vals = strings.Split(vals[0], ",")
			}
			for _, v := range vals {
				if serr := fl.Value.Set(strings.TrimSpace(v)); serr != nil {
					err = fault.Errorf(fault.Input, f.hint(), "%s: %s", f.Name(), f.badValue(fl.Name, src.Name(fl.Name), v, serr))
					return
				}
			}
			f.envSet[fl.Name], f.from[fl.Name] = true, src.Name(fl.Name)
			return
		}
	})
	return err
}

// Given reports whether the command line, the environment or a Source set the
// flag name: whether its value is other than its default.
func (f *Flags) Given(name string) bool { return f.given(name) }

func (f *Flags) given(name string) bool { return f.set[name] || f.envSet[name] }

// ParseWant is Parse followed by Want: for a command that takes exactly the
// positional arguments names.
func (f *Flags) ParseWant(args []string, getenv func(string) string, names ...string) ([]string, error) {
	pos, err := f.Parse(args, getenv)
	if err != nil {
		return nil, err
	}
	return f.Want(pos, names...)
}

// IsSet reports whether the command line set the flag name (an environment
// variable does not count).
func (f *Flags) IsSet(name string) bool { return f.set[name] }

// Usagef returns an input error about the command line, whose hint names the
// command's help.
func (f *Flags) Usagef(format string, args ...any) error {
	return fault.Errorf(fault.Input, f.hint(), "%s: "+format, append([]any{f.Name()}, args...)...)
}

// Want returns pos when it holds the positional arguments names, and else an
// input error that says what the command takes. A name in brackets
// ("[CASE]") is optional; optional names come last.
func (f *Flags) Want(pos []string, names ...string) ([]string, error) {
	need := 0
	for _, n := range names {
		if !strings.HasPrefix(n, "[") {
			need++
		}
	}
	if len(pos) >= need && len(pos) <= len(names) {
		return pos, nil
	}
	if len(names) == 0 {
		return nil, f.Usagef("unexpected argument %q: it takes flags only", pos[0])
	}
	what := ""
	switch {
	case len(names) == 1:
		what = "one argument, " + names[0]
	case need+1 == len(names):
		what = fmt.Sprintf("%d or %d arguments (%s)", need, len(names), strings.Join(names, " "))
	case need < len(names):
		what = fmt.Sprintf("%d to %d arguments (%s)", need, len(names), strings.Join(names, " "))
	case len(names) > 1:
		what = fmt.Sprintf("%d arguments (%s)", len(names), strings.Join(names, " "))
	}
	return nil, f.Usagef("want %s, got %d", what, len(pos))
}

// hint names the command's help: "evalpin help run", "evalpin lock create -h".
func (f *Flags) hint() string {
	if strings.Contains(f.Name(), " ") {
		return "run 'evalpin " + f.Name() + " -h'"
	}
	return "run 'evalpin help " + f.Name() + "'"
}

// parseError turns the flag package's error into an input error, with the
// flags closest to an unknown one.
func (f *Flags) parseError(err error) error {
	hint := f.hint()
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		q, qerr := strconv.QuotedPrefix(rest)
		name, _, _ := strings.Cut(strings.TrimPrefix(rest[len(q):], " for flag -"), ":")
		if v, uerr := strconv.Unquote(q); qerr == nil && uerr == nil && f.Lookup(name) != nil {
			msg = f.badValue(name, "", v, err)
		}
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		if near := f.nearest(name); len(near) > 0 {
			hint = "did you mean " + strings.Join(near, " or ") + "? (" + hint + ")"
		}
	}
	return fault.Errorf(fault.Input, hint, "%s: %s", f.Name(), msg)
}

// badValue says why value, given to the flag name by where ("" for the
// command line, "$EVALPIN_SAMPLES"), was refused with err: the kind of value
// the flag takes where the flag package says only "parse error".
func (f *Flags) badValue(name, where, value string, err error) string {
	if where != "" {
		where = " (" + where + ")"
	}
	want := ""
	if g, ok := f.Lookup(name).Value.(flag.Getter); ok && strings.HasSuffix(err.Error(), "parse error") {
		switch g.Get().(type) {
		case int, int64, uint, uint64:
			want = "a whole number"
		case float64:
			want = "a number"
		case time.Duration:
			want = "a duration with a unit, such as 30s, 5m or 1h"
		case bool:
			want = "true or false"
		}
	}
	if want == "" {
		return fmt.Sprintf("--%s%s %s: %v", name, where, strconv.Quote(value), err)
	}
	return fmt.Sprintf("--%s%s %s is not %s", name, where, strconv.Quote(value), want)
}

// nearest returns the defined flags within an edit distance of 2 of name, or
// that name is a prefix of, as --flag, closest first.
func (f *Flags) nearest(name string) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	f.VisitAll(func(fl *flag.Flag) {
		d := distance(name, fl.Name)
		if strings.HasPrefix(fl.Name, name) && len(name) >= 2 {
			d = min(d, 1)
		}
		if d <= 2 && d < len(fl.Name) {
			cs = append(cs, cand{fl.Name, d})
		}
	})
	slices.SortStableFunc(cs, func(a, b cand) int { return a.d - b.d })
	var out []string
	for _, c := range cs {
		if len(out) == 3 {
			break
		}
		out = append(out, "--"+c.name)
	}
	return out
}

// distance is the Levenshtein distance of a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Strings is a flag that may be given several times, each value kept in
// order: --endpoint A --endpoint B.
type Strings []string

func (s *Strings) String() string     { return strings.Join(*s, ",") }
func (s *Strings) Set(v string) error { *s = append(*s, v); return nil }

var _ flag.Value = (*Strings)(nil)
