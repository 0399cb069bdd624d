package report

import (
	"fmt"
	"io"

	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/outfile"
)

// An Output is a report to write: a file ("" for standard output) and its
// format.
type Output struct {
	Path   string
	Format Format
	// Table says how much a table report shows.
	Table TableOptions
}

// Outputs returns the reports a command asks for, each checked before
// anything runs: one per file, in format when forced, else in the format of
// the file's extension (FormatOf); with no file, standard output in format
// (none when format is "").
func Outputs(format string, forced bool, files []string) ([]Output, error) {
	var f Format
	if format != "" {
		var err error
		if f, err = ParseFormat(format); err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return []Output{{Format: f}}, nil
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	outs := make([]Output, len(files))
	for i, path := range files {
		outs[i] = Output{Path: path, Format: f}
		if !forced || format == "" {
			var err error
			if outs[i].Format, err = FormatOf(path); err != nil {
				return nil, err
			}
		}
	}
	return outs, nil
}

// WriteAll renders c to each of outs, a file whole or not at all
// (outfile.Write) with its directory made if need be (a CI job's reports/),
// standard output to stdout.
func WriteAll(c *compare.Comparison, outs []Output, stdout io.Writer) error {
	for _, o := range outs {
		write := func(w io.Writer) error { return Write(w, o.Format, c) }
		if o.Format == Table {
			write = func(w io.Writer) error { return WriteTableOptions(w, c, o.Table) }
		}
		if err := outfile.WriteMakingDir(o.Path, stdout, write); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}
