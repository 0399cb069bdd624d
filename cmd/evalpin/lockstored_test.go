package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
)

// lock show and lock diff read a stored lock's identity document by its id
// or a unique prefix, as they read lock files.
func TestLockStored(t *testing.T) {
	a, _ := testApp()
	t.Setenv(dbEnv, "")
	t.Setenv("EVALPIN_CACHE_DIR", t.TempDir())
	ctx := context.Background()
	tmp := t.TempDir()
	copyTree(t, filepath.Join("testdata", "lock", "model"), filepath.Join(tmp, "model"))
	file := filepath.Join(tmp, "a.lock")
	if code, _, stderr := a.cmd(ctx, "lock", "create", filepath.Join(tmp, "model"), "--repo", "org/tiny", "-o", file); code != 0 {
		t.Fatalf("lock create: %s", stderr)
	}
	m, manifestID, manifest, err := lock.ReadFileID(file)
	if err != nil || m == nil {
		t.Fatal(err)
	}
	o1 := ollama.Identity{Models: []string{"sha256:" + strings.Repeat("1", 64)}, Template: "{{ .Prompt }}", Parameters: []string{"stop <end>"}, EngineVersion: "0.12.3"}
	o2 := o1
	o2.Template = "{{ .System }} {{ .Prompt }}"
	dbPath := filepath.Join(tmp, "e.db")
	db := runOpen(t, dbPath)
	for _, l := range []struct {
		id   string
		doc  []byte
		from string
	}{{string(manifestID), manifest, "manifest"}, {string(o1.Lock()), o1.Canonical(), "ollama"}, {string(o2.Lock()), o2.Canonical(), "ollama"},
		{"sha256:" + strings.Repeat("ee", 32), nil, "run"}} {
		if err := db.PutLock(ctx, lockid.ID(l.id), l.doc, l.from); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	prefix := func(id string) string { return id[strings.LastIndex(id, ":")+1:][:8] }
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"lock", "show", prefix(string(manifestID))}, 0, "org/tiny"},
		{[]string{"lock", "show", string(o1.Lock())}, 0, "{{ .Prompt }}"},
		{[]string{"lock", "show", prefix(string(o1.Lock())), "--format", "json"}, 0, `"engine_version":"0.12.3"`},
		{[]string{"lock", "diff", prefix(string(o1.Lock())), prefix(string(o2.Lock()))}, 0, "template changed"},
		{[]string{"lock", "diff", file, prefix(string(manifestID))}, 0, "same lock"},
		{[]string{"lock", "diff", file, prefix(string(o1.Lock()))}, 0, "locks of different kinds"},
		{[]string{"lock", "show", "eeeeee"}, 2, "stored without its identity document"},
		{[]string{"lock", "show", "ffffff"}, 2, "no stored lock starts with ffffff"},
	}
	for _, tt := range tests {
		code, stdout, stderr := a.cmd(ctx, append(tt.args, "--db", dbPath)...)
		if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s%s", tt.args, code, tt.code, tt.want, stdout, stderr)
		}
	}
}
