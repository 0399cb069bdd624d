// Command drillmodel writes the test bed's trained drill model (see
// docs/testbed.md): DIR/model.gguf from the committed weights under
// internal/testbed/testdata/drill, in F32 or F16, and DIR/Modelfile with
// the drill's chat template, ready for `ollama create NAME -f
// DIR/Modelfile` (add `--quantize q8_0` or `--quantize q4_K_M` for the
// quantized variants).
//
// Usage:
//
//	drillmodel -o DIR [-dtype f32|f16] [-template drill|drill-nosep] [-default-penalty] [-stop S]... [-param 'KEY VALUE']...
//
// On success it prints the path of model.gguf.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/internal/testbed"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "drillmodel:", err)
		}
		os.Exit(2)
	}
}

type params []string

func (p *params) String() string     { return strings.Join(*p, "; ") }
func (p *params) Set(v string) error { *p = append(*p, v); return nil }

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("drillmodel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		out  = fs.String("o", "", "output directory (required)")
		opts testbed.DrillOptions
		ps   params
		stop params
	)
	fs.StringVar(&opts.DType, "dtype", "f32", "weight type: f32 or f16")
	fs.StringVar(&opts.Template, "template", "drill", "chat template: drill (trained) or drill-nosep (no </s> after a system message)")
	fs.BoolVar(&opts.KeepDefaultPenalty, "default-penalty", false, "leave out `repeat_penalty 1`, so Ollama's default 1.1 applies")
	fs.Var(&stop, "stop", "an extra stop sequence, written as PARAMETER stop \"S\" (repeatable)")
	fs.Var(&ps, "param", "an extra Modelfile PARAMETER line, e.g. 'stop \"7\"' (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; the directory goes with -o", fs.Arg(0))
	}
	if *out == "" {
		return errors.New("-o is required: the directory to write model.gguf and Modelfile to")
	}
	for _, s := range stop {
		ps = append(ps, "stop "+strconv.Quote(s))
	}
	opts.Parameters = ps
	if err := testbed.GenerateDrill(*out, opts); err != nil {
		return err
	}
	fmt.Fprintln(stdout, filepath.Join(*out, "model.gguf"))
	return nil
}
