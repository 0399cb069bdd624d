package testbed

import (
	"context"
	"os"
	"testing"
	"time"
)

// Environment variables that connect tests to the test bed.
const (
	// EnvOllama is the path of the Ollama binary; `make test` sets it after
	// scripts/testbed.sh build.
	EnvOllama = "EVALPIN_OLLAMA"
	// EnvRequire set to 1 turns a missing EnvOllama from a skip into a
	// failure, so CI cannot pass without running the real engine.
	EnvRequire = "EVALPIN_REQUIRE_TESTBED"
)

// Bounds on the test helpers' waits. Start-up takes about 0.1 s and a
// create well under a second; the margin covers a loaded CI machine.
const (
	startTimeout  = 60 * time.Second
	createTimeout = 120 * time.Second
)

// Ollama starts a private Ollama server for the test and stops it in
// t.Cleanup. It skips the test when EVALPIN_OLLAMA is unset, or fails it
// when EVALPIN_REQUIRE_TESTBED=1.
func Ollama(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := Start(ctx, bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("ollama server log (end):\n%s", lastBytes([]byte(s.Log()), 4096))
		}
	})
	return s
}

// Binary returns the path of the Ollama binary from EVALPIN_OLLAMA. It
// skips the test when the variable is unset, or fails it when
// EVALPIN_REQUIRE_TESTBED=1.
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvOllama)
	if bin == "" {
		msg := EnvOllama + " is not set: `make test` builds Ollama (scripts/testbed.sh build) and sets it"
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// Create registers the model in modelDir (written by
// GenerateModel or Generate) under name, failing the test on error.
func (s *Server) Create(t testing.TB, name, modelDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	if err := s.CreateModel(ctx, name, modelDir); err != nil {
		t.Fatal(err)
	}
}

// Generate writes a model with opts into a new temporary directory and
// returns the directory, failing the test on error.
func Generate(t testing.TB, opts ModelOptions) string {
	t.Helper()
	dir := t.TempDir()
	if err := GenerateModel(dir, opts); err != nil {
		t.Fatal(err)
	}
	return dir
}
