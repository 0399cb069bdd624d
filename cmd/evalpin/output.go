package main

import (
	"io"
)

// unwrapWriter returns the writer under the redacting writers (and any other
// writer with an Unwrap method) around w: the process's stdout or stderr,
// to tell whether it is a terminal.
func unwrapWriter(w io.Writer) io.Writer {
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}
