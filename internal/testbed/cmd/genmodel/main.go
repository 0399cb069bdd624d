// Command genmodel writes a tiny llama-architecture model for evalpin's test
// bed: DIR/model.gguf with seeded pseudo-random weights and DIR/Modelfile
// with a chat template and `PARAMETER num_thread 1`, ready for
// `ollama create NAME -f DIR/Modelfile`.
//
// Usage:
//
//	genmodel -o DIR [-seed N] [-dtype f16|f32] [-template chat|compact]
//
// The same flags always give byte-identical files; another -seed gives
// another model. On success it prints the path of model.gguf.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/evalpin/evalpin/internal/testbed"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "genmodel:", err)
		}
		os.Exit(2)
	}
}

func run(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("genmodel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := testbed.DefaultModelOptions
	var (
		out  = fs.String("o", "", "output directory (required)")
		opts testbed.ModelOptions
	)
	fs.Uint64Var(&opts.Seed, "seed", d.Seed, "weight seed; another seed is another model version")
	fs.StringVar(&opts.DType, "dtype", d.DType, "weight type: f16 or f32")
	fs.StringVar(&opts.Template, "template", d.Template, "chat template in the Modelfile: chat or compact")
	fs.IntVar(&opts.Layers, "layers", d.Layers, "transformer blocks")
	fs.IntVar(&opts.Width, "width", d.Width, "embedding width")
	fs.IntVar(&opts.Heads, "heads", d.Heads, "attention heads")
	fs.IntVar(&opts.FFN, "ffn", d.FFN, "feed-forward width")
	fs.StringVar(&opts.Name, "name", d.Name, "general.name in the GGUF metadata")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: genmodel -o DIR [flags]

Writes DIR/model.gguf (a tiny llama model with seeded random weights) and
DIR/Modelfile for ollama create.

Examples:
  go run ./internal/testbed/cmd/genmodel -o /tmp/tiny
  go run ./internal/testbed/cmd/genmodel -o /tmp/tiny-v2 -seed 2 -dtype f32
  go run ./internal/testbed/cmd/genmodel -o /tmp/tiny-alt -template compact

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; flags go before DIR via -o", fs.Arg(0))
	}
	if *out == "" {
		return errors.New("-o is required: the directory to write model.gguf and Modelfile to")
	}
	if err := testbed.GenerateModel(*out, opts); err != nil {
		return err
	}
	fmt.Fprintln(stdout, filepath.Join(*out, "model.gguf"))
	return nil
}
