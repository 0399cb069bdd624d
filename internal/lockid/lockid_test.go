package lockid

import (
	"strings"
	"testing"
)

func TestID(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	tests := []struct {
		id    ID
		kind  Kind
		short string
	}{
		{ID("sha256:" + hex), Manifest, "sha256:abababababab"},
		{ID("ollama:sha256:" + hex), Ollama, "ollama:sha256:abababababab"},
		{ID("vllm-x:sha256:" + hex), Native, "vllm-x:sha256:abababababab"},
		{ID("sha256:" + hex[:63]), Invalid, "sha256:abababababab"},
		{ID("SHA256:" + strings.ToUpper(hex)), Invalid, "SHA256:ABABABABABAB"},
		{ID("nonsense"), Invalid, "nonsense"},
		{ID(""), Invalid, ""},
	}
	for _, tt := range tests {
		if got := tt.id.Kind(); got != tt.kind {
			t.Errorf("%q.Kind() = %q, want %q", tt.id, got, tt.kind)
		}
		if got := tt.id.Short(); got != tt.short {
			t.Errorf("%q.Short() = %q, want %q", tt.id, got, tt.short)
		}
		if got := tt.id.Valid(); got != (tt.kind != Invalid) {
			t.Errorf("%q.Valid() = %v", tt.id, got)
		}
	}
	if got := ID("ollama:sha256:" + hex).Hex(); got != hex {
		t.Errorf("Hex = %q", got)
	}
}
