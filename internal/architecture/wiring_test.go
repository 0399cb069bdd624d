package architecture

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// The command is wiring: flags, advice in the words of the flags, and calls
// into the libraries, where the work is, so that a new command does not copy
// another's. These bounds hold it there (docs/architecture.md).
const (
	maxCmdLines    = 2000 // lines of cmd/evalpin's non-test files
	maxFuncLines   = 60   // lines of one function in cmd/evalpin, its doc comment left out
	cmdPackagePath = "../../cmd/evalpin"
)

func TestCommandIsWiring(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(cmdPackagePath, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", cmdPackagePath, err)
	}
	fset := token.NewFileSet()
	total := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		total += fset.File(f.Pos()).LineCount()
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxFuncLines {
					t.Errorf("%s: %s is %d lines, more than %d: move its work into a library", filepath.Base(name), fd.Name.Name, n, maxFuncLines)
				}
			}
		}
	}
	if total > maxCmdLines {
		t.Errorf("cmd/evalpin is %d lines, more than %d: move work into the libraries (docs/architecture.md)", total, maxCmdLines)
	}
	t.Logf("cmd/evalpin: %d lines", total)
}
