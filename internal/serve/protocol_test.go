package serve

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/endpoint"
	"github.com/evalpin/evalpin/internal/lockid"
)

// The sidecar speaks the protocol the endpoint package reads: its lock is
// resolved through it and checked on its responses; once it drops the lock,
// a response refuses the run and a new probe finds no lock, with the reason.
func TestSidecarSpeaksTheProtocol(t *testing.T) {
	if lockid.WellKnownPath != lockid.WellKnownPath || lockid.Header != lockid.Header {
		t.Fatalf("serve uses %s and %s, endpoint reads %s and %s", lockid.WellKnownPath, lockid.Header, lockid.WellKnownPath, lockid.Header)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/models":
			w.Write([]byte(`{"object":"list","data":[{"id":"tiny"}]}`))
		case "/v1/chat/completions":
			w.Write([]byte(`{"id":"c","object":"chat.completion","model":"tiny","choices":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer upstream.Close()
	path := modelDir(t)
	base, s := sidecar(t, upstream.URL, Config{Check: fileCheck(t, path), Recheck: time.Hour})
	ep := base + "/v1"
	ctx := context.Background()

	target, err := endpoint.Resolve(ctx, nil, []string{ep}, "", testLock)
	if err != nil {
		t.Fatalf("Resolve through the sidecar: %v", err)
	}
	if target.Claim.Source != endpoint.SourceWellKnown || target.Model != "tiny" {
		t.Fatalf("claim %+v, model %q; want the well-known document and tiny", target.Claim, target.Model)
	}
	post := func() *http.Response {
		t.Helper()
		resp, err := http.Post(ep+"/chat/completions", "application/json", strings.NewReader(`{"model":"tiny"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if _, err := target.CheckResponse(ep, post().Header, "", "tiny"); err != nil {
		t.Fatalf("a proxied completion: %v", err)
	}

	if err := os.WriteFile(path, []byte("weights v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Check after tampering: %v", err)
	}
	resp := post()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("after tampering: %s, want 503", resp.Status)
	}
	// The runner passes an error response with an empty fingerprint and model.
	if _, err := target.CheckResponse(ep, resp.Header, "", ""); !errors.Is(err, endpoint.ErrLockMissing) {
		t.Errorf("the sidecar's 503 mid-run: err = %v, want ErrLockMissing", err)
	}
	_, err = endpoint.Resolve(ctx, nil, []string{ep}, "", "")
	if !errors.Is(err, endpoint.ErrNoLock) || !strings.Contains(err.Error(), "model.gguf changed") {
		t.Errorf("probe after tampering: err = %v, want ErrNoLock naming the file", err)
	}
}
