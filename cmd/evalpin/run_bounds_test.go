package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
)

// A numeric flag out of its range is an input error (exit 2) that names the
// flag, the range and the value, before any endpoint is asked anything and
// before the database is created.
func TestRunFlagBounds(t *testing.T) {
	runQuiet(t)
	dir := t.TempDir()
	suite := runSuiteFile(t, dir, 2)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		flag, value string
		msg         string // in stderr
	}{
		{"--concurrency", "0", "--concurrency must be in range [1, 65536], not 0"},
		{"--concurrency", "65537", "--concurrency must be in range [1, 65536], not 65537"},
		{"--concurrency", "1000000000000", "--concurrency must be in range [1, 65536], not 1000000000000"},
		{"--samples", "0", "--samples must be in range [1, 1000], not 0"},
		{"--samples", "1001", "--samples must be in range [1, 1000], not 1001"},
		{"--max-tokens", "0", "--max-tokens must be in range [1, 2147483647], not 0"},
		{"--max-tokens", "2147483648", "--max-tokens must be in range [1, 2147483647], not 2147483648"},
		{"--max-tokens", "2147483648000", "--max-tokens must be in range [1, 2147483647], not 2147483648000"},
		{"--retries", "-1", "--retries must be in range [0, 100], not -1"},
		{"--retries", "101", "--retries must be in range [0, 100], not 101"},
		{"--retries", "9223372036854775807", "--retries must be in range [0, 100], not 9223372036854775807"},
		{"--batch", "0", "--batch must be in range [1, 1024], not 0"},
		{"--batch", "1025", "--batch must be in range [1, 1024], not 1025"},
		{"--timeout", "0s", "--timeout must be in range [1ms, 24h], not 0s"},
		{"--timeout", "999us", "--timeout must be in range [1ms, 24h], not 999µs"},
		{"--timeout", "25h", "--timeout must be in range [1ms, 24h], not 25h"},
	}
	for _, tt := range tests {
		t.Run(tt.flag+"="+tt.value, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "e.db")
			code, stdout, stderr := runCmd(context.Background(), "run", "--suite", suite, "--endpoint", srv.URL+"/v1", "--db", dbPath, "--no-progress", tt.flag, tt.value)
			if code != fault.ExitInput {
				t.Errorf("exit %d, want %d\n%s", code, fault.ExitInput, stderr)
			}
			if !strings.Contains(stderr, tt.msg) {
				t.Errorf("stderr lacks %q:\n%s", tt.msg, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if _, err := os.Stat(dbPath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the database was created (%v)", err)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the endpoint got %d requests, want none", n)
	}
}

// The bounds themselves are accepted.
func TestRunFlagBoundsInclusive(t *testing.T) {
	for _, args := range [][]string{
		{"--concurrency", "1", "--retries", "0", "--batch", "1", "--samples", "1", "--max-tokens", "1", "--timeout", "1ms"},
		{"--concurrency", "65536", "--retries", "100", "--batch", "1024", "--samples", "1000", "--max-tokens", "2147483647", "--timeout", "24h"},
	} {
		a, _ := testApp()
		o, err := a.parseRunFlags(append([]string{"--suite", "s.yaml", "--endpoint", "http://127.0.0.1:8000/v1"}, args...), io.Discard)
		if err != nil {
			t.Errorf("%v: %v", args, err)
			continue
		}
		if o.timeout != time.Millisecond && o.timeout != 24*time.Hour {
			t.Errorf("%v: timeout %v", args, o.timeout)
		}
	}
}
