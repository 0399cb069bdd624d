package stubserver

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The helpers below run the stub server and the hey load generator as
// processes of their own, so that a benchmark compares evalpin with hey
// without either sharing a process with the server.

// Build compiles the stub server command into dir and returns the binary.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "stubserver")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/evalpin/evalpin/internal/stubserver/cmd/stubserver").CombinedOutput()
	if err != nil {
		tb.Fatalf("build the stub server: %v\n%s", err, out)
	}
	return bin
}

// Start runs the stub server binary bin with latency (and, when lock is set,
// publishing that lock), stops it when tb ends, and returns its base URL.
func Start(tb testing.TB, bin string, latency time.Duration, lock string) string {
	tb.Helper()
	args := []string{"-latency", latency.String()}
	if lock != "" {
		args = append(args, "-lock", lock)
	}
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("stub server did not report its address: %v", err)
	}
	return strings.TrimSpace(line)
}

// HeyPath returns the hey binary: $EVALPIN_HEY, else .testbed/bin/hey under
// root (the module's root directory); it skips tb when there is none.
func HeyPath(tb testing.TB, root string) string {
	tb.Helper()
	if p := os.Getenv("EVALPIN_HEY"); p != "" {
		return p
	}
	p, err := filepath.Abs(filepath.Join(root, ".testbed", "bin", "hey"))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		tb.Skip("hey not installed; run scripts/bench-runner.sh -install (or set EVALPIN_HEY)")
	}
	return p
}

// heyRate is hey's own requests per second in its summary.
var heyRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// A HeyRun is one hey process: the requests it sent, its wall time (process
// start to exit), its CPU time (user+sys) and the requests per second it
// reports itself.
type HeyRun struct {
	N         int
	Wall, CPU time.Duration
	Own       float64
}

// Rate is the requests per second of the run's wall time.
func (h HeyRun) Rate() float64 { return float64(h.N) / h.Wall.Seconds() }

// Hey sends n requests with body at concurrency c to url's chat completions
// and returns the run. hey gives each of its c workers n/c requests, so n is
// rounded down to a multiple of c. Every request must succeed.
func Hey(tb testing.TB, bin, url, body string, n, c int) HeyRun {
	tb.Helper()
	n = n / c * c
	cmd := exec.Command(bin, "-n", strconv.Itoa(n), "-c", strconv.Itoa(c), "-m", "POST",
		"-T", "application/json", "-d", body, url+"/chat/completions")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	h := HeyRun{N: n, Wall: time.Since(start)}
	if err != nil {
		tb.Fatalf("hey: %v\n%s", err, out)
	}
	h.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if want := fmt.Sprintf("[200]\t%d responses", n); !bytes.Contains(out, []byte(want)) {
		tb.Fatalf("hey: not every request succeeded:\n%s", out)
	}
	m := heyRate.FindSubmatch(out)
	if m == nil {
		tb.Fatalf("hey: no Requests/sec in\n%s", out)
	}
	if h.Own, err = strconv.ParseFloat(string(m[1]), 64); err != nil {
		tb.Fatal(err)
	}
	return h
}
