package progress_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/evalpin/evalpin/internal/progress"
)

type wrapped struct{ io.Writer }

func (w wrapped) Unwrap() io.Writer { return w.Writer }

func TestUnwrap(t *testing.T) {
	if got := progress.Unwrap(wrapped{wrapped{os.Stderr}}); got != os.Stderr {
		t.Errorf("Unwrap = %v, want os.Stderr", got)
	}
	if progress.IsTerminal(wrapped{&bytes.Buffer{}}) {
		t.Error("a buffer is a terminal")
	}
}
