package main

import (
	"bytes"
	"context"
	"io/fs"
	"testing"

	"github.com/evalpin/evalpin/suites"
)

func TestSuiteGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"suite-check-testbed", []string{"suite", "check", "../../suites/examples/testbed.yaml"}},
		{"suite-check-jsonl", []string{"suite", "check", "../../suites/testdata/good/base.jsonl"}},
		{"suite-check-bad", []string{"suite", "check", "../../suites/testdata/bad/unknown-fields.yaml"}},
		{"suite-check-several", []string{"suite", "check", "../../suites/testdata/bad/duplicate-id.yaml", "../../suites/testdata/good/base.yaml", "../../suites/testdata/bad/bad-regex.yaml"}},
		{"suite-check-missing", []string{"suite", "check", "no-such-suite.yaml"}},
		{"suite-check-none", []string{"suite", "check"}},
		{"suite-list", []string{"suite", "list"}},
		{"suite-show-unknown", []string{"suite", "show", "nope"}},
		{"suite-unknown-sub", []string{"suite", "frobnicate"}},
		{"suite-help", []string{"help", "suite"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, nil, tt.args...)
		})
	}
}

// TestSuiteShow checks that 'suite show' prints each bundled file as it is.
func TestSuiteShow(t *testing.T) {
	for _, name := range suites.ExampleNames() {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"suite", "show", name}, &stdout, &stderr); err != nil {
			t.Fatalf("suite show %s: %v", name, err)
		}
		want, err := fs.ReadFile(suites.Examples, name+".yaml")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stdout.Bytes(), want) {
			t.Errorf("suite show %s printed something else than %s.yaml", name, name)
		}
	}
}
