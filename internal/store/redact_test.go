package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/secret"
	"github.com/evalpin/evalpin/internal/store"
)

// Nothing secret reaches the database file: not an API key a server echoed
// in an output, an error or a check's detail, not a lock document holding
// one, and not the userinfo of an endpoint URL.
func TestSecretsNotStored(t *testing.T) {
	const (
		key      = "sk-store-test-5f3a9c1e7b"
		password = "store-test-pw-81d2"
	)
	secret.Register(key)
	endpoint := "http://alice:" + password + "@127.0.0.1:8000/v1"
	secret.RegisterURL(endpoint)

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "evalpin.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A manifest whose owner put the key in a note: the store keeps the rest.
	manifest := []byte(`{"note":"served with ` + key + `","files":[]}`)
	if err := db.PutLock(ctx, "sha256:aa", manifest, "well-known"); err != nil {
		t.Fatal(err)
	}
	run := eval.Run{Lock: "sha256:aa", SuiteHash: "s", Endpoints: []string{endpoint}}
	if err := db.CreateRun(ctx, &run); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRunEndpoints(ctx, run.ID, []string{endpoint, "https://bob:" + password + "@replica:8000/v1"}); err != nil {
		t.Fatal(err)
	}
	checks := []eval.Check{{Scorer: "contains", Detail: `output "Bearer ` + key + `" lacks "x"`}}
	w := db.NewWriter(ctx, run.ID, store.WriterOptions{})
	for _, r := range []eval.Result{
		{CaseID: "out", Output: "Your key is " + key, Endpoint: endpoint, Checks: checks},
		{CaseID: "err", ErrorKind: "auth", Error: "HTTP 401: Incorrect API key provided: " + key, Endpoint: endpoint},
		{CaseID: "cut", ErrorKind: "http", Error: "HTTP 400: key " + key[:12] + "…"},
	} {
		if err := w.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if checks[0].Detail != `output "Bearer `+key+`" lacks "x"` {
		t.Error("the store changed the caller's checks")
	}

	results, err := db.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]eval.Result{}
	for _, r := range results {
		got[r.CaseID] = r
	}
	if r := got["out"]; r.Output != "Your key is "+secret.Marker || r.Endpoint != "http://127.0.0.1:8000/v1" || r.Checks[0].Detail != `output "Bearer `+secret.Marker+`" lacks "x"` {
		t.Errorf("stored %+v", r)
	}
	if r := got["err"]; r.Error != "HTTP 401: Incorrect API key provided: "+secret.Marker {
		t.Errorf("stored error %q", r.Error)
	}
	if r := got["cut"]; r.Error != "HTTP 400: key "+secret.Marker+"…" {
		t.Errorf("stored error %q", r.Error)
	}
	stored, err := db.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://127.0.0.1:8000/v1", "https://replica:8000/v1"}; strings.Join(stored.Endpoints, " ") != strings.Join(want, " ") {
		t.Errorf("stored endpoints %q, want %q", stored.Endpoints, want)
	}
	lock, err := db.Lock(ctx, "sha256:aa")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"note":"served with ` + secret.Marker + `","files":[]}`; string(lock.Manifest) != want {
		t.Errorf("stored manifest %s, want %s", lock.Manifest, want)
	}

	// The bytes on disk, the write-ahead log included, before and after
	// closing.
	for _, when := range []string{"open", "closed"} {
		if when == "closed" {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{path, path + "-wal"} {
			data, err := os.ReadFile(f)
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{key, key[:12], password, "alice:"} {
				if bytes.Contains(data, []byte(s)) {
					t.Errorf("%s (%s) holds %q", filepath.Base(f), when, s)
				}
			}
		}
	}
}
