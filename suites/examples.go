package suites

import (
	"embed"
	"io/fs"
	"os"
	pathpkg "path"
	"slices"
	"strings"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/fault"
)

//go:embed examples/*.yaml
var examples embed.FS

// Examples holds the bundled example suites, one file each at its root:
// arithmetic.yaml, instructions.yaml, json-format.yaml and testbed.yaml (the
// suite evalpin's own test bed runs against a tiny generated model).
var Examples fs.FS = mustSub(examples, "examples")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is embedded
	}
	return sub
}

// ExampleNames returns the names of the bundled suites, without extension, in
// sorted order.
func ExampleNames() []string {
	entries, err := fs.ReadDir(Examples, ".")
	if err != nil {
		panic(err) // embedded
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), pathpkg.Ext(e.Name())))
	}
	slices.Sort(names)
	return names
}

// ExampleFile returns the file name of the bundled suite name ("testbed" or
// "testbed.yaml"), or an input error that lists the bundled suites.
func ExampleFile(name string) (string, error) {
	base := strings.TrimSuffix(name, pathpkg.Ext(name))
	if slices.Contains(ExampleNames(), base) && !strings.ContainsAny(name, `/\`) {
		return base + ".yaml", nil
	}
	return "", fault.Errorf(fault.Input, "run 'evalpin suite list' for the bundled suites",
		"no bundled suite %q (bundled: %s)", name, strings.Join(ExampleNames(), ", "))
}

// LoadExample loads the bundled suite name ("testbed" or "testbed.yaml").
func LoadExample(name string) (*eval.Suite, error) {
	file, err := ExampleFile(name)
	if err != nil {
		return nil, err
	}
	return LoadFS(Examples, file)
}

// Open loads the suite arg names: the file arg where one exists or arg is a
// path, else the bundled suite of that name.
func Open(arg string) (*eval.Suite, error) {
	if _, err := os.Stat(arg); err == nil || strings.ContainsAny(arg, `/\`) {
		return Load(arg)
	}
	if slices.Contains(ExampleNames(), strings.TrimSuffix(arg, ".yaml")) {
		return LoadExample(arg)
	}
	return nil, fault.Errorf(fault.Input,
		"pass a suite file, or one of the bundled suites: "+strings.Join(ExampleNames(), ", "),
		"suite %s: no such file, and no bundled suite of that name", arg)
}
