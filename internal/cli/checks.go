package cli

import (
	"cmp"
	"flag"
	"fmt"
	"strings"
	"time"
)

// The checks below are declared with a flag and run by Parse, after the
// environment's defaults: a value the command cannot use is refused before
// the command does anything, in one wording for every command.

// Choice defines a string flag whose value must be one of choices; value is
// its default.
func (f *Flags) Choice(name, value, usage string, choices ...string) *string {
	p := f.String(name, value, usage)
	f.check(name, func() error {
		for _, c := range choices {
			if *p == c {
				return nil
			}
		}
		return f.Usagef("--%s must be %s, not %q", name, Or(choices), *p)
	})
	return p
}

// Required makes Parse refuse a command line (and environment) that sets
// none of the flags names.
func (f *Flags) Required(names ...string) {
	f.checks = append(f.checks, func() error {
		for _, name := range names {
			if !f.given(name) {
				return f.Usagef("--%s is required", name)
			}
		}
		return nil
	})
}

// Range makes Parse refuse a value of the flag name outside [lo, hi] where
// the command line or the environment sets it; a default is not checked, so
// that it may stand for "unset". The flag's value must be a T: int, int64,
// float64 or time.Duration for the standard flags.
func Range[T cmp.Ordered](f *Flags, name string, lo, hi T) {
	v := f.value(name)
	f.check(name, func() error {
		if x := v.Get().(T); x < lo || x > hi {
			return f.Usagef("%s must be in range [%s, %s], not %s", f.named(name), show(lo), show(hi), show(x))
		}
		return nil
	})
}

// AtLeast is Range without an upper bound.
func AtLeast[T cmp.Ordered](f *Flags, name string, lo T) {
	v := f.value(name)
	f.check(name, func() error {
		if x := v.Get().(T); x < lo {
			return f.Usagef("%s must be at least %s, not %s", f.named(name), show(lo), show(x))
		}
		return nil
	})
}

// named names the flag name in a check's error: "--samples", and where its
// value came from when not from the command line, "--samples
// ($EVALPIN_SAMPLES)", since the user did not type it.
func (f *Flags) named(name string) string {
	if src := f.from[name]; src != "" && !f.set[name] {
		return "--" + name + " (" + src + ")"
	}
	return "--" + name
}

// Or joins words as "a, b or c".
func Or(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// Check makes Parse run c where the command line or the environment sets
// the flag name; c's error is the command's, as it words it.
func (f *Flags) Check(name string, c func() error) { f.check(name, c) }

// check adds a check of the flag name, run where it is given.
func (f *Flags) check(name string, c func() error) {
	f.checks = append(f.checks, func() error {
		if !f.given(name) {
			return nil
		}
		return c()
	})
}

// value returns the value of the defined flag name.
func (f *Flags) value(name string) flag.Getter {
	fl := f.Lookup(name)
	if fl == nil {
		panic("cli: no flag " + name)
	}
	return fl.Value.(flag.Getter)
}

// show formats a bound or a value as the user writes it: 24h, not 24h0m0s.
func show(v any) string {
	d, ok := v.(time.Duration)
	if !ok {
		return fmt.Sprint(v)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ShowDuration formats d as a bound is printed: 24h, not 24h0m0s.
func ShowDuration(d time.Duration) string { return show(d) }
