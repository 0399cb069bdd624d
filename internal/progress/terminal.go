package progress

import (
	"io"
	"os"

	"golang.org/x/term"
)

// IsTerminal reports whether w writes to a terminal that can show progress:
// w, or the writer under the writers wrapped around it (the redacting
// writers, and any other writer with an Unwrap method), is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := Unwrap(w).(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Unwrap returns the writer under the writers wrapped around w, each of
// which has an Unwrap method: the process's stdout or stderr.
func Unwrap(w io.Writer) io.Writer {
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}
