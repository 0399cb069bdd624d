package progress_test

import (
	"bytes"
	"testing"

	"github.com/evalpin/evalpin/internal/progress"
)

func TestIsTerminal(t *testing.T) {
	if progress.IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
}
