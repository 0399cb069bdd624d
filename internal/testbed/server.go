// Package testbed runs evalpin's real-engine test bed: an Ollama server built
// from the Go module proxy (scripts/testbed.sh build) serving tiny llama
// models that the package generates itself, so tests and demos exercise a
// real inference engine without downloading a model.
//
// Tests call Ollama(t), which starts a private server or skips when
// EVALPIN_OLLAMA is unset; programs call Start with a context. See
// docs/testbed.md.
package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A Server is a running `ollama serve` with its own HOME and model store,
// listening on a free 127.0.0.1 port.
type Server struct {
	bin  string
	dir  string
	host string
	cmd  *exec.Cmd
	log  string

	done    chan struct{} // closed when the process has exited
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// StopTimeout is how long Stop waits after SIGTERM before it kills the
// server.
const StopTimeout = 5 * time.Second

// Start starts `bin serve` with HOME and OLLAMA_MODELS under dir (which must
// exist and should be empty) and waits until the server answers
// /api/version, or ctx ends. The caller must call Stop.
func Start(ctx context.Context, bin, dir string) (*Server, error) {
	// Absolute, because CreateModel runs the CLI in the model's directory.
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, fmt.Errorf("start ollama: %w", err)
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("start ollama: %w", err)
	}
	var lastErr error
	// The free port is picked before the server binds it, so another process
	// can take it in between; a few attempts make that harmless.
	for attempt := range 3 {
		s, err := start(ctx, bin, filepath.Join(dir, fmt.Sprint(attempt)))
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, bin, dir string) (*Server, error) {
	for _, d := range []string{"home", "models"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("start ollama: %w", err)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("start ollama: %w", err)
	}
	s := &Server{
		bin:  bin,
		dir:  dir,
		host: fmt.Sprintf("127.0.0.1:%d", port),
		log:  filepath.Join(dir, "server.log"),
		done: make(chan struct{}),
	}
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, fmt.Errorf("start ollama: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor

	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = s.env("OLLAMA_MODELS="+filepath.Join(dir, "models"), "OLLAMA_NO_CLOUD=1", "GIN_MODE=release")
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ollama: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()

	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start ollama: %w%s", err, s.logTail())
	}
	return s, nil
}

// env is the environment of the server and of the CLI talking to it: the
// caller's, without OLLAMA_* settings, plus HOME, OLLAMA_HOST and extra.
func (s *Server) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OLLAMA_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+filepath.Join(s.dir, "home"), "OLLAMA_HOST="+s.host)
	return append(env, extra...)
}

func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/api/version", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("server exited before it was ready (%v)", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("server not ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL returns the server's origin, such as http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://" + s.host }

// BaseURL returns the OpenAI-compatible API base, URL() + "/v1".
func (s *Server) BaseURL() string { return s.URL() + "/v1" }

// CreateModel runs `ollama create name -f modelDir/Modelfile` against the
// server.
func (s *Server) CreateModel(ctx context.Context, name, modelDir string) error {
	cmd := exec.CommandContext(ctx, s.bin, "create", name, "-f", filepath.Join(modelDir, "Modelfile"))
	cmd.Dir = modelDir
	cmd.Env = s.env()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ollama create %s: %w: %s", name, err, lastBytes(out.Bytes(), 2048))
	}
	return nil
}

// Version returns the server's /api/version.
func (s *Server) Version(ctx context.Context) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	if err := s.do(ctx, http.MethodGet, "/api/version", nil, &v); err != nil {
		return "", err
	}
	return v.Version, nil
}

// ChatRequest is the subset of an OpenAI chat completion request the test
// bed sends. Temperature is always sent: Ollama's /v1 endpoints default to
// 1.0 when it is missing.
type ChatRequest struct {
	Model       string        `json:"model"`
	Messages    []ChatMessage `json:"messages"`
	Temperature float64       `json:"temperature"`
	Seed        *int          `json:"seed,omitempty"`
	MaxTokens   int           `json:"max_tokens,omitempty"`
}

// A ChatMessage is one message of a chat.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Chat posts req to /v1/chat/completions and returns the first choice's
// content and finish reason.
func (s *Server) Chat(ctx context.Context, req ChatRequest) (content, finish string, err error) {
	var resp struct {
		Choices []struct {
			Message      ChatMessage `json:"message"`
			FinishReason string      `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := s.do(ctx, http.MethodPost, "/v1/chat/completions", req, &resp); err != nil {
		return "", "", err
	}
	if len(resp.Choices) == 0 {
		return "", "", errors.New("chat completion: no choices")
	}
	return resp.Choices[0].Message.Content, resp.Choices[0].FinishReason, nil
}

// ModelInfo is the part of /api/show that identifies what a model serves.
type ModelInfo struct {
	Template   string `json:"template"`
	Parameters string `json:"parameters"`
	System     string `json:"system"`
	Modelfile  string `json:"modelfile"`
}

// Show returns /api/show for the model.
func (s *Server) Show(ctx context.Context, model string) (ModelInfo, error) {
	var info ModelInfo
	err := s.do(ctx, http.MethodPost, "/api/show", map[string]string{"model": model}, &info)
	return info, err
}

func (s *Server) do(ctx context.Context, method, path string, body, into any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL()+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, lastBytes(b, 512))
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

// Stop stops the server: SIGTERM, then after StopTimeout a kill of its
// process group (which holds the model runners it started), and waits for it
// to exit. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(StopTimeout):
			killGroup(s.cmd.Process)
			<-s.done
			s.stopErr = errors.New("stop ollama: killed after it ignored SIGTERM")
		}
	})
	return s.stopErr
}

// Log returns the server's output so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) == 0 {
		return ""
	}
	return "\nserver log (end):\n" + string(lastBytes(b, 2048))
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
