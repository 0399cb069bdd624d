package lock

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestChecker(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(t *testing.T, dir string) // before the second check
		want   string                         // the second check's error; "" for nil
	}{
		{name: "unchanged", change: func(*testing.T, string) {}},
		{
			name: "weights changed",
			change: func(t *testing.T, dir string) {
				rewrite(t, dir, "model.safetensors", func(s string) string { return "\xff" + s[1:] })
			},
			want: "model.safetensors (weights) changed",
		},
		{
			name: "a file missing, another extra",
			change: func(t *testing.T, dir string) {
				os.Rename(filepath.Join(dir, "config.json"), filepath.Join(dir, "vocab.txt"))
			},
			want: "config.json (config) missing, vocab.txt (tokenizer) extra",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, m := writeDir(t, hfModel())
			cache := OpenCache(t.TempDir())
			cache.Now = func() time.Time { return time.Now().Add(time.Hour) } // past RacyWindow
			c := &Checker{Dir: dir, Manifest: m, Cache: cache, Rehash: true}
			if c.Last() != nil {
				t.Fatal("Last before a check is not nil")
			}
			if err := c.Check(context.Background()); err != nil {
				t.Fatalf("first Check = %v", err)
			}
			if st := cache.Stats(); st.Hits != 0 || st.Stored == 0 {
				t.Errorf("first Check with Rehash: stats %+v, want every file hashed and stored", st)
			}
			if _, err := os.Stat(cache.Path()); err != nil {
				t.Errorf("the cache was not saved: %v", err)
			}
			if !c.Last().OK() {
				t.Error("Last after a match is not OK")
			}
			tt.change(t, dir)
			err := c.Check(context.Background())
			if got := fmt.Sprint(err); tt.want == "" && err != nil || tt.want != "" && got != tt.want {
				t.Fatalf("second Check = %v, want %q", err, tt.want)
			}
			if c.Last().OK() != (tt.want == "") {
				t.Errorf("Last().OK() = %v after %v", c.Last().OK(), err)
			}
			if st := cache.Stats(); st.Hits == 0 {
				t.Errorf("second Check: stats %+v, want the unchanged files from the cache", st)
			}
		})
	}
}

// TestCheckerCacheSaveFails checks that a cache that cannot be saved costs
// a log line, not the check.
func TestCheckerCacheSaveFails(t *testing.T) {
	dir, m := writeDir(t, hfModel())
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	unsaveable := func() *HashCache {
		c := OpenCache(filepath.Join(blocker, "cache"))
		c.Now = func() time.Time { return time.Now().Add(time.Hour) }
		return c
	}
	var logged []string
	c := &Checker{Dir: dir, Manifest: m, Cache: unsaveable(),
		Logf: func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }}
	if err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(logged) != 1 || !strings.HasPrefix(logged[0], "hash cache: save hash cache: ") {
		t.Errorf("logged %q, want the failure to save the cache", logged)
	}
	// Without Logf the failure is dropped.
	c = &Checker{Dir: dir, Manifest: m, Cache: unsaveable()}
	if err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCheckerReadError(t *testing.T) {
	_, m := writeDir(t, hfModel())
	c := &Checker{Dir: filepath.Join(t.TempDir(), "nope"), Manifest: m}
	if err := c.Check(context.Background()); err == nil {
		t.Fatal("Check of a missing directory passed")
	}
	if c.Last() != nil || c.Took() != 0 {
		t.Errorf("Last = %v, Took = %v after a read error", c.Last(), c.Took())
	}
}

func TestReportDifferences(t *testing.T) {
	changes := func(n int) []FileChange {
		var cs []FileChange
		for i := range n {
			cs = append(cs, FileChange{Path: fmt.Sprintf("model-%d.safetensors", i), Role: RoleWeights, Change: Changed})
		}
		return cs
	}
	for _, tt := range []struct {
		name    string
		changes []FileChange
		want    string
	}{
		{"none named", nil, "the files differ"},
		{"one", []FileChange{{Path: "model.gguf", Role: RoleWeights, Change: Changed}}, "model.gguf (weights) changed"},
		{
			"missing and extra",
			[]FileChange{{Path: "tokenizer.json", Role: RoleTokenizer, Change: Missing}, {Path: "added_tokens.json", Role: RoleTokenizer, Change: Extra}},
			"tokenizer.json (tokenizer) missing, added_tokens.json (tokenizer) extra",
		},
		{
			"eight in full",
			changes(8),
			"model-0.safetensors (weights) changed, model-1.safetensors (weights) changed, model-2.safetensors (weights) changed, model-3.safetensors (weights) changed, model-4.safetensors (weights) changed, model-5.safetensors (weights) changed, model-6.safetensors (weights) changed, model-7.safetensors (weights) changed",
		},
		{
			"more than eight",
			changes(10),
			"model-0.safetensors (weights) changed, model-1.safetensors (weights) changed, model-2.safetensors (weights) changed, model-3.safetensors (weights) changed, model-4.safetensors (weights) changed, model-5.safetensors (weights) changed, model-6.safetensors (weights) changed, model-7.safetensors (weights) changed, and 2 more",
		},
		{"a name a terminal would obey", []FileChange{{Path: "evil\x1b[2J.bin", Role: RoleWeights, Change: Extra}}, `evil\x1b[2J.bin (weights) extra`},
		{"a long name is cut", []FileChange{{Path: strings.Repeat("a", 400), Role: RoleOther, Change: Extra}}, strings.Repeat("a", 299) + "… (other) extra"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Changes: tt.changes}
			if got := r.Differences(); got != tt.want {
				t.Errorf("Differences =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestOpenDefaultCache(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(CacheDirEnv, dir)
	c, err := OpenDefaultCache()
	if err != nil || c == nil || c.Path() != filepath.Join(dir, cacheFileName) {
		t.Fatalf("OpenDefaultCache = %v, %v; want the cache in %s", c, err, dir)
	}
	os.WriteFile(filepath.Join(dir, cacheFileName), []byte("not a cache"), 0o644)
	if c, err = OpenDefaultCache(); c == nil || err == nil || err != c.Err {
		t.Errorf("corrupt cache: OpenDefaultCache = %v, %v; want an empty cache and its Err", c, err)
	}
	t.Setenv(CacheDirEnv, "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	if c, err = OpenDefaultCache(); c != nil || err == nil || !strings.HasPrefix(err.Error(), "no hash cache: ") {
		t.Errorf("no cache directory: OpenDefaultCache = %v, %v; want nil and why", c, err)
	}
}

func TestCounted(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		path string
		want bool
	}{
		{filepath.Join(dir, "tiny.lock"), true},
		{filepath.Join(dir, "sub", "tiny.lock"), true},
		{filepath.Join(dir, "evalpin.lock"), false}, // the name verify leaves out
		{filepath.Join(dir, ".tiny.lock"), false},
		{filepath.Join(dir, "NOTES.md"), false},
		{filepath.Join(dir, "..", "tiny.lock"), false},
		{filepath.Join(filepath.Dir(dir), "tiny.lock"), false},
		{dir, false},
	} {
		if got := Counted(dir, tt.path); got != tt.want {
			t.Errorf("Counted(%q, %q) = %v, want %v", dir, tt.path, got, tt.want)
		}
	}
	// A relative path is taken from the working directory.
	wd, _ := os.Getwd()
	if !Counted(wd, "x.lock") || Counted(filepath.Join(wd, "testdata"), "x.lock") {
		t.Error("Counted does not resolve relative paths against the working directory")
	}
}

func TestGenerationValue(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want any
	}{
		{"0.7", json.Number("0.7")},
		{"12345678901234567891", json.Number("12345678901234567891")}, // digits kept, for Create to refuse
		{"true", true},
		{"null", nil},
		{`"quoted"`, "quoted"},
		{`["</s>"]`, []any{"</s>"}},
		{`{"a": 1}`, map[string]any{"a": json.Number("1")}},
		{"fast", "fast"},
		{"1 2", "1 2"}, // more after the value: text
		{`["open"`, `["open"`},
		{"", ""},
	} {
		if got := GenerationValue(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("GenerationValue(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}
