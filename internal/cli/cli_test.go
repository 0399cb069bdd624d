package cli

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
)

func TestParse(t *testing.T) {
	env := map[string]string{"EVALPIN_DB": "env.db"}
	tests := []struct {
		name string
		args []string
		pos  []string
		db   string
		json bool
		set  bool   // --db set on the command line
		err  string // in the error; "" for none
		hint string // in the error's hint
	}{
		{"flags first", []string{"--db", "a.db", "x", "y"}, []string{"x", "y"}, "a.db", false, true, "", ""},
		{"flags after", []string{"x", "-json", "y", "--db=b.db"}, []string{"x", "y"}, "b.db", true, true, "", ""},
		{"double dash ends flags", []string{"x", "--", "--db", "-json"}, []string{"x", "--db", "-json"}, "env.db", false, false, "", ""},
		{"environment default", []string{"x"}, []string{"x"}, "env.db", false, false, "", ""},
		{"typo", []string{"--jsno"}, nil, "", false, false, "flag provided but not defined: -jsno", "did you mean --json?"},
		{"prefix", []string{"--d", "x"}, nil, "", false, false, "not defined: -d", "did you mean --db?"},
		{"unknown far from all", []string{"--frobnicate"}, nil, "", false, false, "not defined", "run 'evalpin help demo'"},
		{"missing value", []string{"x", "--db"}, nil, "", false, false, "flag needs an argument", "run 'evalpin help demo'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New("demo", "Usage: demo\n", "", io.Discard)
			db := f.String("db", "evalpin.db", "the database")
			js := f.Bool("json", false, "JSON output")
			f.Env("db", "EVALPIN_DB")
			pos, err := f.Parse(tt.args, func(k string) string { return env[k] })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(fault.HintOf(err), tt.hint) || fault.KindOf(err) != fault.Input {
					t.Fatalf("err = %v (hint %q), want an input error with %q and hint %q", err, fault.HintOf(err), tt.err, tt.hint)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pos, tt.pos) || *db != tt.db || *js != tt.json || f.IsSet("db") != tt.set {
				t.Fatalf("pos %q db %q json %v set %v; want %q %q %v %v", pos, *db, *js, f.IsSet("db"), tt.pos, tt.db, tt.json, tt.set)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	f := New("demo", "\nUsage: demo [flags]\n", "Exit status: 0\n", &out)
	f.String("db", "evalpin.db", "the database")
	f.Env("db", "EVALPIN_DB")
	if _, err := f.Parse([]string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: demo [flags]\n", "Flags:\n", "-db", "(env EVALPIN_DB)", "Exit status: 0\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestWant(t *testing.T) {
	f := New("lock diff", "", "", io.Discard)
	if _, err := f.Want([]string{"a"}, "OLD", "NEW"); err == nil || !strings.Contains(err.Error(), "lock diff: want 2 arguments (OLD NEW), got 1") || !strings.Contains(fault.HintOf(err), "evalpin help lock") {
		t.Fatalf("err = %v, hint %q", err, fault.HintOf(err))
	}
	if pos, err := f.Want([]string{"a", "b"}, "OLD", "NEW"); err != nil || len(pos) != 2 {
		t.Fatal(pos, err)
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"db", "db", 0}, {"jsno", "json", 2}, {"forma", "format", 1}, {"x", "format", 6}} {
		if got := distance(tt.a, tt.b); got != tt.d {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}
