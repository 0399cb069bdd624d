// Command setuptime measures the test bed's set-up steps after the build:
// generating a model, starting Ollama, creating the model, the first
// completion (which loads it) and a warm completion. It prints one line per
// step, tab-separated: step, seconds.
//
// Usage:
//
//	setuptime -ollama .testbed/bin/ollama [-runs 3]
//
// With -runs N it repeats the whole sequence N times with a fresh server and
// model store, and prints every run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/evalpin/evalpin/internal/testbed"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "setuptime:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("setuptime", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("ollama", os.Getenv(testbed.EnvOllama), "path of the Ollama binary (default $"+testbed.EnvOllama+")")
	runs := fs.Int("runs", 1, "how many times to measure the sequence")
	dtype := fs.String("dtype", "f16", "weight type of the generated model: f16 or f32")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: setuptime -ollama BIN [flags]

Measures generate, start, create, first and warm completion against a
private Ollama server.

Examples:
  go run ./internal/testbed/cmd/setuptime -ollama .testbed/bin/ollama
  go run ./internal/testbed/cmd/setuptime -ollama .testbed/bin/ollama -runs 5

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		return errors.New("-ollama is required: build it with scripts/testbed.sh build")
	}
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	for i := range *runs {
		if err := measure(ctx, *bin, *dtype, i+1, stdout); err != nil {
			return err
		}
	}
	return nil
}

func measure(ctx context.Context, bin, dtype string, runNo int, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "evalpin-setuptime-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	step := func(name string, f func() error) error {
		start := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(stdout, "run %d\t%s\t%.3fs\n", runNo, name, time.Since(start).Seconds())
		return nil
	}
	modelDir := filepath.Join(dir, "model")
	if err := step("generate", func() error {
		return testbed.GenerateModel(modelDir, testbed.ModelOptions{DType: dtype})
	}); err != nil {
		return err
	}
	var s *testbed.Server
	if err := step("start", func() error {
		startCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		s, err = testbed.Start(startCtx, bin, filepath.Join(dir, "server"))
		return err
	}); err != nil {
		return err
	}
	defer s.Stop()
	if err := step("create", func() error { return s.CreateModel(ctx, "tiny", modelDir) }); err != nil {
		return err
	}
	seed := 1
	req := testbed.ChatRequest{
		Model:     "tiny",
		Messages:  []testbed.ChatMessage{{Role: "user", Content: "Where is the river?"}},
		Seed:      &seed,
		MaxTokens: 16,
	}
	for _, name := range []string{"first completion", "warm completion"} {
		if err := step(name, func() error { _, _, err := s.Chat(ctx, req); return err }); err != nil {
			return err
		}
	}
	return s.Stop()
}
