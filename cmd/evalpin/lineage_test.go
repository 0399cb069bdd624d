package main

import (
	"path/filepath"
	"testing"
	"time"
)

func TestLineageGolden(t *testing.T) {
	t.Setenv(dbEnv, "")
	db := mustHistoryDB(t)
	dir := filepath.Dir(db)
	lin := filepath.Join(dir, "lineage.jsonl")
	a, _ := testApp()
	a.lockClock = func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"locks-empty-lineage", []string{"locks", "--db", db, "--lineage", lin}},
		{"promote-first", []string{"promote", "aaaa11", "--db", db, "--lineage", lin, "--by", "ci", "--note", "first \x1b[31mred"}},
		{"promote-second", []string{"promote", "sha256:bbbb", "--db", db, "--lineage", lin, "--by", "ci"}},
		{"promote-again", []string{"promote", "bbbb22", "--db", db, "--lineage", lin, "--by", "ci"}},
		{"promote-unknown", []string{"promote", "cccc33", "--db", db, "--lineage", lin}},
		{"promote-no-arg", []string{"promote", "--db", db, "--lineage", lin}},
		{"promote-run", []string{"promote", "#1", "--track", "runs", "--db", db, "--lineage", lin}},
		{"locks", []string{"locks", "--db", db, "--lineage", lin}},
		{"locks-track", []string{"locks", "--db", db, "--lineage", lin, "--track", "main"}},
		{"locks-json", []string{"locks", "--db", db, "--lineage", lin, "--format", "json"}},
		{"locks-no-db", []string{"locks", "--db", filepath.Join(dir, "none.db"), "--lineage", lin}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			goldenApp(t, a, "lineage/"+tt.name, historyReplace(db), tt.args...)
		})
	}
}
