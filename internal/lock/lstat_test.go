package lock

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestDirStat checks that dirStat.lstat says what os.Lstat says of each
// file, across directories and back, and of a symlink itself.
func TestDirStat(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.bin": "a", "sub/b.bin": "bb", "sub/deeper/c.bin": "ccc", "z.bin": "zzzz"})
	if err := os.Symlink("a.bin", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	stat := newDirStat()
	defer stat.close()
	for _, rel := range []string{"a.bin", "sub/b.bin", "sub/deeper/c.bin", "sub/b.bin", "z.bin", "link"} {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		got, err := stat.lstat(p)
		if err != nil {
			t.Fatalf("lstat %s: %v", rel, err)
		}
		want, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if keyOf(p, got) != keyOf(p, want) || got.Mode() != want.Mode() || got.Name() != want.Name() || got.IsDir() {
			t.Errorf("%s: key %+v mode %v name %q, want %+v %v %q", rel, keyOf(p, got), got.Mode(), got.Name(), keyOf(p, want), want.Mode(), want.Name())
		}
	}
	missing := filepath.Join(dir, "sub", "gone.bin")
	var pe *fs.PathError
	if _, err := stat.lstat(missing); !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != missing {
		t.Errorf("lstat of a missing file: %v, want a not-exist error naming it", err)
	}
}
