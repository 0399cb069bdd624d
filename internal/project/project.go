// Package project reads evalpin.yaml, a project's defaults: the endpoints,
// model, suite, samples, policy, database, track, baseline file and report
// outputs that every command would otherwise be given as flags.
//
// The file is found upward from the working directory, as git finds its
// repository, and its relative paths are relative to the file's directory,
// so a command gives the same answer from any subdirectory. A setting comes
// from, in this order (docs/project.md):
//
//  1. the command line (--suite);
//  2. the environment (EVALPIN_SUITE; for a list, values separated by
//     commas: EVALPIN_ENDPOINTS);
//  3. evalpin.yaml (suite:);
//  4. for the endpoints and the API key only, OPENAI_BASE_URL and
//     OPENAI_API_KEY (internal/credentials);
//  5. the flag's default.
package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/fault"
	"go.yaml.in/yaml/v3"
)

// FileName is the project file's name.
const FileName = "evalpin.yaml"

// EnvPrefix starts the environment variable of every setting: EVALPIN_ and
// the setting's name in capitals.
const EnvPrefix = "EVALPIN_"

// A File is a project's settings. Every field is optional.
type File struct {
	// Endpoints are the OpenAI base URLs of the replicas to evaluate.
	Endpoints []string `yaml:"endpoints"`
	// Model is the model name the endpoints serve it under.
	Model string `yaml:"model"`
	// Suite is the suite file, or the name of a bundled suite.
	Suite string `yaml:"suite"`
	// Samples is how many times each case is requested.
	Samples int `yaml:"samples"`
	// Policy is the gate's policy file.
	Policy string `yaml:"policy"`
	// DB is the database.
	DB string `yaml:"db"`
	// Track names the line of locks a model's upgrades form, and Lineage
	// is the file that keeps the tracks' promotions, in git.
	Track   string `yaml:"track"`
	Lineage string `yaml:"lineage"`
	// Baseline is the baseline file the gate compares with.
	Baseline string `yaml:"baseline"`
	// Reports are the files the gate writes its report to, each in the
	// format of its extension.
	Reports []string `yaml:"reports"`
	// APIKeyEnv names the environment variable holding the API key.
	APIKeyEnv string `yaml:"api_key_env"`

	// Path is where the file was read from; "" for none.
	Path string `yaml:"-"`
}

// Find returns the project file of dir: dir's evalpin.yaml, else its parent's,
// up to the root; an empty File where there is none.
func Find(dir string) (*File, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for {
		path := filepath.Join(dir, FileName)
		if _, err := os.Stat(path); err == nil {
			return Load(path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fault.Errorf(fault.Input, "make it readable, or remove it", "project file %s: %w", path, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return &File{}, nil
		}
		dir = parent
	}
}

// Load reads the project file at path. Unknown settings and wrong types are
// input errors naming the line.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Errorf(fault.Input, "make the project file readable, or set "+EnvPrefix+"PROJECT to the path of one (none: no project file)", "project file %s: %w", path, err)
	}
	f := &File{Path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		msg := err.Error()
		if te, ok := errors.AsType[*yaml.TypeError](err); ok {
			msg = strings.Join(te.Errors, "; ")
		}
		msg = strings.ReplaceAll(msg, " not found in type project.File", " is not a setting (known: "+strings.Join(Settings(), ", ")+")")
		return nil, fault.Errorf(fault.Input, "fix "+path+"; docs/project.md lists the settings", "project file %s: %s", path, strings.TrimPrefix(msg, "yaml: "))
	}
	// Lookup takes a zero count for an unset one: samples: 0 must not pass
	// as "the suite's samples".
	var given struct {
		Samples *int `yaml:"samples"`
	}
	if yaml.Unmarshal(data, &given) == nil && given.Samples != nil && *given.Samples < 1 {
		return nil, fault.Errorf(fault.Input, "fix "+path+"; docs/project.md lists the settings", "project file %s: samples must be at least 1, not %d", path, *given.Samples)
	}
	f.resolvePaths(filepath.Dir(path))
	return f, nil
}

// resolvePaths makes the relative paths of f relative to dir. A suite that
// names no file there is a bundled suite, kept as it is.
func (f *File) resolvePaths(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) || p == ":memory:" {
			return p
		}
		return filepath.Join(dir, p)
	}
	if f.Suite != "" && !strings.ContainsAny(f.Suite, `/\`) {
		if _, err := os.Stat(abs(f.Suite)); err != nil {
			return // a bundled suite's name
		}
	}
	f.Suite = abs(f.Suite)
	f.Policy, f.DB, f.Baseline, f.Lineage = abs(f.Policy), abs(f.DB), abs(f.Baseline), abs(f.Lineage)
	for i, r := range f.Reports {
		f.Reports[i] = abs(r)
	}
}

// Settings returns the names of the settings, as the file writes them.
func Settings() []string {
	t := reflect.TypeFor[File]()
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// Lookup returns the values of the setting a flag names, as the flag's Set
// reads them, and whether the file sets it. A flag is named like its
// setting, with dashes for underscores; --endpoint is endpoints and -o is
// reports, each repeatable.
func (f *File) Lookup(flag string) ([]string, bool) {
	name := Setting(flag)
	if f == nil || name == "" {
		return nil, false
	}
	v := reflect.ValueOf(*f).FieldByIndex(fieldIndex(name))
	switch v.Kind() {
	case reflect.Slice:
		if v.Len() == 0 {
			return nil, false
		}
		return slices.Clone(v.Interface().([]string)), true
	case reflect.Int:
		if v.Int() == 0 {
			return nil, false
		}
		return []string{fmt.Sprint(v.Int())}, true
	}
	if v.String() == "" {
		return nil, false
	}
	return []string{v.String()}, true
}

// Setting returns the setting the flag names, or "" for none.
func Setting(flag string) string {
	switch flag {
	case "endpoint":
		return "endpoints"
	case "o":
		return "reports"
	}
	name := strings.ReplaceAll(flag, "-", "_")
	if !slices.Contains(Settings(), name) {
		return ""
	}
	return name
}

// Env returns the environment variable of the setting the flag names, or ""
// for none: EVALPIN_SUITE for --suite.
func Env(flag string) string {
	name := Setting(flag)
	if name == "" {
		return ""
	}
	return EnvPrefix + strings.ToUpper(name)
}

// fieldIndex returns the index of the field of the setting name.
func fieldIndex(name string) []int {
	t := reflect.TypeFor[File]()
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); n == name {
			return []int{i}
		}
	}
	panic("project: no setting " + name)
}

// Open returns the project file of a process whose environment getenv reads:
// the file $EVALPIN_PROJECT names ("none": no file), else the evalpin.yaml
// found upward from the working directory (Find).
func Open(getenv func(string) string) (*File, error) {
	switch p := getenv(EnvPrefix + "PROJECT"); p {
	case "none":
		return &File{}, nil
	case "":
		return Find(".")
	default:
		return Load(p)
	}
}

// Sources returns the sources of the flags names of a command
// (cli.Flags.Sources): $EVALPIN_<SETTING>, read by getenv, then f, which
// could not be read if err is set. Only the flags names take a project's
// setting: "-o" of a command that writes a baseline is no report output.
func Sources(f *File, err error, getenv func(string) string, names ...string) []cli.Source {
	only := func(get func(string) ([]string, bool)) func(string) ([]string, bool) {
		return func(flag string) ([]string, bool) {
			if !slices.Contains(names, flag) {
				return nil, false
			}
			return get(flag)
		}
	}
	env := func(flag string) ([]string, bool) {
		v := getenv(Env(flag))
		return []string{v}, v != "" && Env(flag) != ""
	}
	return []cli.Source{
		{Name: func(flag string) string { return "$" + Env(flag) }, Lookup: only(env), Split: true},
		{Name: func(flag string) string { return f.Path + ": " + Setting(flag) }, Lookup: only(f.Lookup), Err: err},
	}
}
