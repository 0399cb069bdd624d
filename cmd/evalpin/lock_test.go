package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
)

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// editFile replaces old by new in the file at p, failing if old is absent.
func editFile(t *testing.T, p, old, new string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", p, old)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLock walks a new user's path through the four lock commands: lock a
// model directory, change only its chat template, and be told exactly that by
// verify and diff; then the refusals of bad input. Each step's stdout and
// stderr (with the exit status) are golden files under testdata/lock/.
func TestLock(t *testing.T) {
	a, _ := testApp()
	a.lockClock = func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }
	t.Setenv("EVALPIN_CACHE_DIR", t.TempDir())
	tmp := t.TempDir()
	copyTree(t, filepath.Join("testdata", "lock", "model"), filepath.Join(tmp, "model"))
	copyTree(t, filepath.Join("testdata", "lock", "ollama"), filepath.Join(tmp, "ollama"))
	os.MkdirAll(filepath.Join(tmp, "empty"), 0o755)
	os.WriteFile(filepath.Join(tmp, "notjson.lock"), []byte("model: tiny\n"), 0o644)
	serving := filepath.Join("testdata", "lock", "serving.yaml")

	for _, step := range []struct {
		name   string
		before func(t *testing.T)
		args   string // split on spaces; $TMP is the temporary directory
		// want is a line stdout must hold whatever the golden file says, so
		// that -update cannot accept wrong words for the promises of a lock.
		want string
	}{
		{name: "create", args: "lock create $TMP/model --serving " + serving + " --repo example-org/tiny-chat --revision 3f2a9c1e --label track=tiny --note first -o $TMP/a.lock"},
		{name: "show", args: "lock show $TMP/a.lock"},
		{name: "show-json", args: "lock show --format json $TMP/a.lock"},
		{name: "verify-ok", args: "lock verify $TMP/model $TMP/a.lock"},
		{
			name: "verify-template",
			before: func(t *testing.T) {
				editFile(t, filepath.Join(tmp, "model", "tokenizer_config.json"), "{{ message.content }}", "{{ message.content | trim }}")
			},
			args: "lock verify $TMP/model $TMP/a.lock",
			want: "template changed; weights same; tokenizer same; config same\n",
		},
		{name: "verify-template-json", args: "lock verify --format json $TMP/model $TMP/a.lock"},
		{name: "create-b", args: "lock create $TMP/model --serving " + serving + " --dtype float16 --repo example-org/tiny-chat --revision 3f2a9c1e -o $TMP/b.lock"},
		{
			name: "diff",
			args: "lock diff $TMP/a.lock $TMP/b.lock",
			want: "template changed; weights same; tokenizer same; config same; serving: dtype bfloat16 → float16\n",
		},
		{name: "diff-json", args: "lock diff $TMP/a.lock $TMP/b.lock --format json"},
		{name: "diff-same", args: "lock diff $TMP/a.lock $TMP/a.lock", want: "same lock: weights same; tokenizer same; template same; config same; serving same\n"},
		{
			name: "verify-weights-missing-extra",
			before: func(t *testing.T) {
				editFile(t, filepath.Join(tmp, "model", "model.safetensors"), "BF16", "F16 ")
				os.Remove(filepath.Join(tmp, "model", "tokenizer.json"))
				os.WriteFile(filepath.Join(tmp, "model", "added_tokens.json"), []byte("{}"), 0o644)
			},
			args: "lock verify $TMP/model $TMP/b.lock",
		},
		{name: "create-ollama", args: "lock create $TMP/ollama --engine ollama --engine-version 0.5.7 --quantization Q4_K_M -o $TMP/o.lock"},
		{name: "show-ollama", args: "lock show $TMP/o.lock"},
		{
			name: "verify-ollama-template",
			before: func(t *testing.T) {
				editFile(t, filepath.Join(tmp, "ollama", "Modelfile"), "<|assistant|>", "<|assistant|> ")
			},
			args: "lock verify $TMP/ollama $TMP/o.lock",
			want: "template changed; weights same; config same\n",
		},
		{
			name: "show-edited",
			before: func(t *testing.T) {
				b, _ := os.ReadFile(filepath.Join(tmp, "a.lock"))
				os.WriteFile(filepath.Join(tmp, "edited.lock"), bytes.Replace(b, []byte(`"dtype": "bfloat16"`), []byte(`"dtype": "float16"`), 1), 0o644)
			},
			args: "lock show $TMP/edited.lock",
		},
		{
			name: "show-unknown-version",
			before: func(t *testing.T) {
				b, _ := os.ReadFile(filepath.Join(tmp, "a.lock"))
				os.WriteFile(filepath.Join(tmp, "v2.lock"), bytes.Replace(b, []byte(`"version": 2`), []byte(`"version": 3`), 1), 0o644)
			},
			args: "lock show $TMP/v2.lock",
		},
		{name: "show-not-json", args: "lock show $TMP/notjson.lock"},
		{name: "verify-missing-dir", args: "lock verify $TMP/nope $TMP/a.lock"},
		{name: "create-empty-dir", args: "lock create $TMP/empty"},
		{
			name: "create-dangling-symlink",
			before: func(t *testing.T) {
				d := filepath.Join(tmp, "dangling")
				os.MkdirAll(d, 0o755)
				os.WriteFile(filepath.Join(d, "config.json"), []byte("{}"), 0o644)
				if err := os.Symlink("../../blobs/5f1d", filepath.Join(d, "model.safetensors")); err != nil {
					t.Fatal(err)
				}
			},
			args: "lock create $TMP/dangling",
		},
		{name: "create-no-dir", args: "lock create -o $TMP/x.lock"},
		{name: "create-bad-label", args: "lock create $TMP/model --label nokey"},
		{name: "diff-bad-format", args: "lock diff $TMP/a.lock $TMP/b.lock --format yaml"},
		{name: "unknown-subcommand", args: "lock pin $TMP/model"},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.before != nil {
				step.before(t)
			}
			args := strings.Fields(strings.ReplaceAll(step.args, "$TMP", tmp))
			goldenApp(t, a, "lock/"+step.name, []string{tmp, "$TMP"}, args...)
			if step.want == "" {
				return
			}
			stdout, err := os.ReadFile(filepath.Join("testdata", "lock", step.name+".stdout"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(stdout), "\n"+step.want) {
				t.Errorf("stdout does not hold the line %q:\n%s", step.want, stdout)
			}
		})
	}
}

// TestLockCreateWrites checks the lock file written by -o reads back, and that
// stdout carries the same manifest without -o.
func TestLockCreateWrites(t *testing.T) {
	t.Setenv("EVALPIN_CACHE_DIR", t.TempDir())
	tmp := t.TempDir()
	dir := filepath.Join("testdata", "lock", "model")
	var out1, err1, out2, err2 bytes.Buffer
	if err := run(context.Background(), []string{"lock", "create", dir, "-o", filepath.Join(tmp, "a.lock")}, &out1, &err1); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"lock", "create", dir}, &out2, &err2); err != nil {
		t.Fatal(err)
	}
	if err1.String() != err2.String() || !strings.HasPrefix(err1.String(), "sha256:") {
		t.Errorf("ids differ or are missing: %q %q", err1.String(), err2.String())
	}
	var show1, show2, e bytes.Buffer
	os.WriteFile(filepath.Join(tmp, "b.lock"), out2.Bytes(), 0o644)
	if err := run(context.Background(), []string{"lock", "show", filepath.Join(tmp, "a.lock")}, &show1, &e); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"lock", "show", filepath.Join(tmp, "b.lock")}, &show2, &e); err != nil {
		t.Fatal(err)
	}
	first := func(s string) string { return strings.SplitN(s, "\n", 2)[0] }
	if first(show1.String()) != first(show2.String()) {
		t.Errorf("-o and stdout differ: %q vs %q", first(show1.String()), first(show2.String()))
	}
	// A lock file written inside the locked directory draws a warning.
	in := t.TempDir()
	copyTree(t, dir, in)
	var o, w bytes.Buffer
	if err := run(context.Background(), []string{"lock", "create", in, "-o", filepath.Join(in, "tiny.lock")}, &o, &w); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.String(), "name it evalpin.lock") {
		t.Errorf("no warning for a lock inside the directory: %q", w.String())
	}
}

// TestLockCreateFlags checks that flags win over the serving file, engine args
// add up, and -param values are read as JSON where they parse.
func TestLockCreateFlags(t *testing.T) {
	t.Setenv("EVALPIN_CACHE_DIR", t.TempDir())
	var out, errb bytes.Buffer
	args := []string{"lock", "create", filepath.Join("testdata", "lock", "model"),
		"--serving", filepath.Join("testdata", "lock", "serving.yaml"),
		"--engine-version", "0.7.0", "--engine-arg=--max-num-seqs=8",
		"--param", "temperature=0.7", "--param", `stop=["</s>"]`, "--param", "mode=fast", "--param", "pair=1 2"}
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatal(err)
	}
	m, err := lock.Parse(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	s := m.Serving
	if s.Engine != "vllm" || s.EngineVersion != "0.7.0" || s.Dtype != "bfloat16" || s.MaxContext != 4096 {
		t.Errorf("serving = %+v", s)
	}
	if got := strings.Join(s.EngineArgs, " "); got != "--enable-prefix-caching --max-num-seqs=8 --seed=0" {
		t.Errorf("engine args = %s", got)
	}
	g := m.Generation
	if g["temperature"] != 0.7 || g["top_p"] != 0.9 || g["mode"] != "fast" || fmt.Sprint(g["stop"]) != "[</s>]" || g["pair"] != "1 2" {
		t.Errorf("generation = %v", g)
	}

	// A seed a float64 would round is refused, not recorded as another number.
	var out2, errb2 bytes.Buffer
	err = run(context.Background(), []string{"lock", "create", filepath.Join("testdata", "lock", "model"), "--param", "seed=12345678901234567891"}, &out2, &errb2)
	if fault.KindOf(err) != fault.Input || !strings.Contains(fmt.Sprint(err), "seed: 12345678901234567891 is not exactly a JSON number") {
		t.Errorf("64-bit seed: err = %v, want an input error naming it", err)
	}
	if out2.Len() != 0 {
		t.Errorf("a lock was written: %s", out2.String())
	}
}
