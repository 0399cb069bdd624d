package cli

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

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

func TestChecks(t *testing.T) {
	env := map[string]string{"DEMO_N": "0"}
	tests := []struct {
		name string
		args []string
		err  string // in the error; "" for none
	}{
		{"defaults are not checked", []string{"--out", "x"}, ""},
		{"in range", []string{"--out", "x", "--n", "5", "--wait", "1h", "--temp", "2"}, ""},
		{"int below", []string{"--out", "x", "--n=-1"}, "demo: --n must be in range [1, 10], not -1"},
		{"int above", []string{"--out", "x", "--n", "11"}, "--n must be in range [1, 10], not 11"},
		{"duration above", []string{"--out", "x", "--wait", "25h"}, "--wait must be in range [1ms, 24h], not 25h"},
		{"duration below", []string{"--out", "x", "--wait", "0s"}, "--wait must be in range [1ms, 24h], not 0s"},
		{"float at least", []string{"--out", "x", "--temp", "-0.5"}, "--temp must be at least 0, not -0.5"},
		{"choice", []string{"--out", "x", "--format", "xml"}, `--format must be table, json or md, not "xml"`},
		{"choice given", []string{"--out", "x", "--format", "md"}, ""},
		{"required", []string{"--n", "2"}, "demo: --out is required"},
		{"environment is checked", []string{"--out", "x", "--env"}, "--n ($DEMO_N) must be in range [1, 10], not 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New("demo", "Usage: demo\n", "", io.Discard)
			f.Int("n", 0, "a count (0: the suite's)")
			f.Duration("wait", 10*time.Minute, "a wait")
			f.Float64("temp", 1, "a temperature")
			f.Choice("format", "table", "the format", "table", "json", "md")
			f.String("out", "", "the output")
			f.Bool("env", false, "read DEMO_N")
			Range(f, "n", 1, 10)
			Range(f, "wait", time.Millisecond, 24*time.Hour)
			AtLeast(f, "temp", 0.0)
			f.Required("out")
			f.Env("n", "DEMO_N")
			getenv := func(k string) string { return "" }
			if slices.Contains(tt.args, "--env") {
				getenv = func(k string) string { return env[k] }
			}
			_, err := f.Parse(tt.args, getenv)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || fault.KindOf(err) != fault.Input || !strings.Contains(fault.HintOf(err), "evalpin help demo") {
				t.Fatalf("err = %v (hint %q), want an input error with %q", err, fault.HintOf(err), tt.err)
			}
		})
	}
}

func TestWant(t *testing.T) {
	tests := []struct {
		names []string
		pos   int
		err   string // "" for none
	}{
		{nil, 0, ""},
		{nil, 1, `unexpected argument "x": it takes flags only`},
		{[]string{"DIR"}, 1, ""},
		{[]string{"DIR"}, 2, "want one argument, DIR, got 2"},
		{[]string{"A", "B"}, 1, "want 2 arguments (A B), got 1"},
		{[]string{"RUN", "[CASE]"}, 1, ""},
		{[]string{"RUN", "[CASE]"}, 2, ""},
		{[]string{"RUN", "[CASE]"}, 0, "want 1 or 2 arguments (RUN [CASE]), got 0"},
		{[]string{"RUN", "[CASE]"}, 3, "want 1 or 2 arguments (RUN [CASE]), got 3"},
	}
	for _, tt := range tests {
		f := New("lock diff", "", "", io.Discard)
		pos := make([]string, tt.pos)
		for i := range pos {
			pos[i] = "x"
		}
		_, err := f.Want(pos, tt.names...)
		if (err == nil) != (tt.err == "") || err != nil && (!strings.Contains(err.Error(), "lock diff: "+tt.err) || !strings.Contains(fault.HintOf(err), "evalpin lock diff -h")) {
			t.Errorf("Want(%d args, %q) = %v, want %q", tt.pos, tt.names, err, tt.err)
		}
	}
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		args []string
		ran  string // the subcommand run with its arguments
		err  string // in the error
		help bool   // the help is printed
	}{
		{[]string{"b", "x"}, "b x", "", false},
		{nil, "", "demo: no subcommand given (want a or b)", true},
		{[]string{"c"}, "", `demo: unknown subcommand "c" (want a or b)`, false},
		{[]string{"--help"}, "", flag.ErrHelp.Error(), true},
		{[]string{"help"}, "", flag.ErrHelp.Error(), true},
	}
	for _, tt := range tests {
		var out strings.Builder
		f := New("demo", "Usage: demo a|b\n", "", &out)
		ran := ""
		sub := func(name string) Sub {
			return Sub{name, func(args []string) error { ran = strings.Join(append([]string{name}, args...), " "); return nil }}
		}
		err := f.Dispatch(tt.args, sub("a"), sub("b"))
		if ran != tt.ran || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Dispatch(%q): ran %q, err %v; want %q, %q", tt.args, ran, err, tt.ran, tt.err)
		}
		if strings.Contains(out.String(), "Usage: demo") != tt.help {
			t.Errorf("Dispatch(%q) printed %q; help wanted: %v", tt.args, out.String(), tt.help)
		}
	}
}

func TestKeyValues(t *testing.T) {
	f := New("demo", "", "", io.Discard)
	kv, err := f.KeyValues("label", []string{"a=1", "b=x=y", "c="})
	if err != nil || kv["a"] != "1" || kv["b"] != "x=y" || kv["c"] != "" || len(kv) != 3 {
		t.Fatalf("KeyValues = %v, %v", kv, err)
	}
	for _, bad := range []string{"a", "=1"} {
		if _, err := f.KeyValues("label", []string{bad}); err == nil || !strings.Contains(err.Error(), "--label") {
			t.Errorf("KeyValues(%q) = %v, want an error naming --label", bad, err)
		}
	}
}

func TestCommandLine(t *testing.T) {
	got := CommandLine("evalpin", "run", "--suite", "my suite.yaml", "--note", "it's", "")
	want := `evalpin run --suite 'my suite.yaml' --note 'it'\''s' ''`
	if got != want {
		t.Fatalf("CommandLine = %s, want %s", got, want)
	}
}

func TestParseWantAndCheck(t *testing.T) {
	parse := func(args ...string) ([]string, error) {
		f := New("demo", "", "", io.Discard)
		id := f.String("id", "", "an id")
		f.Check("id", func() error {
			if !strings.HasPrefix(*id, "sha256:") {
				return f.Usagef("--id %q is not a lock id", *id)
			}
			return nil
		})
		return f.ParseWant(args, nil, "A")
	}
	if pos, err := parse("a", "--id", "sha256:1"); err != nil || len(pos) != 1 {
		t.Fatalf("ParseWant = %q, %v", pos, err)
	}
	if _, err := parse("a", "--id", "x"); err == nil || !strings.Contains(err.Error(), `demo: --id "x" is not a lock id`) {
		t.Fatalf("check: err = %v", err)
	}
	if _, err := parse("a", "b"); err == nil || !strings.Contains(err.Error(), "want one argument, A, got 2") {
		t.Fatalf("want: err = %v", err)
	}
}

// A flag's value comes from the command line, then its Env variable, then
// the first source that has it, then its default; a source's values are
// checked like the command line's.
func TestSources(t *testing.T) {
	env := map[string]string{"X_MODEL": "env-model", "X_ENDPOINTS": "http://a/v1, http://b/v1", "X_N": "0"}
	file := map[string][]string{"model": {"file-model"}, "suite": {"file.yaml"}, "endpoints": {"http://c/v1,x"}, "n": {"3"}}
	envSrc := Source{Name: func(f string) string { return "$X_" + strings.ToUpper(f) }, Split: true,
		Lookup: func(f string) ([]string, bool) {
			if f == "endpoint" {
				f = "endpoints"
			}
			v, ok := env["X_"+strings.ToUpper(f)]
			return []string{v}, ok
		}}
	fileSrc := Source{Name: func(f string) string { return "evalpin.yaml: " + f },
		Lookup: func(f string) ([]string, bool) {
			if f == "endpoint" {
				f = "endpoints"
			}
			v, ok := file[f]
			return v, ok
		}}
	tests := []struct {
		name                string
		args                []string
		noEnv               bool
		model, suite, first string
		endpoints           int
		err                 string
	}{
		{"command line wins", []string{"--model", "m", "--n", "2"}, false, "m", "file.yaml", "http://a/v1", 2, ""},
		{"environment, split on commas", []string{"--n", "2"}, false, "env-model", "file.yaml", "http://a/v1", 2, ""},
		{"project file, not split", []string{"--n", "2"}, true, "file-model", "file.yaml", "http://c/v1,x", 1, ""},
		{"a source's value is checked", nil, false, "", "", "", 0, "demo: --n ($X_N) must be in range [1, 9], not 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New("demo", "", "", io.Discard)
			model := f.String("model", "default", "")
			suite := f.String("suite", "", "")
			var eps Strings
			f.Var(&eps, "endpoint", "")
			f.Int("n", 5, "")
			Range(f, "n", 1, 9)
			if tt.noEnv {
				f.Sources(fileSrc)
			} else {
				f.Sources(envSrc, fileSrc)
			}
			_, err := f.Parse(tt.args, nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *model != tt.model || *suite != tt.suite || len(eps) != tt.endpoints || eps[0] != tt.first {
				t.Fatalf("model %q suite %q endpoints %q", *model, *suite, eps)
			}
		})
	}
	f := New("demo", "", "", io.Discard)
	f.String("model", "", "")
	f.Sources(Source{Err: errors.New("evalpin.yaml:3: bad")})
	if _, err := f.Parse(nil, nil); err == nil || !strings.Contains(err.Error(), "evalpin.yaml:3: bad") {
		t.Fatalf("a source that could not be read: err = %v", err)
	}
}
