package testbed

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
)

// CreateQuantized runs `ollama create name --quantize quant -f
// modelDir/Modelfile`: Ollama quantizes the F16 or F32 model.gguf into its
// own store (quant is Ollama's name, "q8_0", "q4_K_M", …). Ollama picks
// each tensor's type itself and falls back silently where a row length
// does not fit the type's blocks; ServedTensorTypes says what it chose.
func (s *Server) CreateQuantized(ctx context.Context, name, modelDir, quant string) error {
	cmd := exec.CommandContext(ctx, s.bin, "create", name, "--quantize", quant, "-f", filepath.Join(modelDir, "Modelfile"))
	cmd.Dir = modelDir
	cmd.Env = s.env()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ollama create %s --quantize %s: %w: %s", name, quant, err, lastBytes(out.Bytes(), 2048))
	}
	return nil
}

// ServedTensorTypes returns the type of each tensor of the model's weights
// as the server stores them (/api/show with verbose), by tensor name.
func (s *Server) ServedTensorTypes(ctx context.Context, model string) (map[string]string, error) {
	var resp struct {
		Tensors []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"tensors"`
	}
	req := map[string]any{"model": model, "verbose": true}
	if err := s.do(ctx, http.MethodPost, "/api/show", req, &resp); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(resp.Tensors))
	for _, t := range resp.Tensors {
		out[t.Name] = t.Type
	}
	return out, nil
}
