package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/evalpin/evalpin/internal/cli"
	"github.com/evalpin/evalpin/internal/identity"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/outfile"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/untrusted"
)

var lockUsage = help("lock")

// runLock dispatches the lock subcommands.
func (a *app) runLock(ctx context.Context, args []string) error {
	return a.flags("lock", lockUsage).Dispatch(args,
		cli.Sub{Name: "create", Run: func(args []string) error { return a.lockCreate(ctx, args) }},
		cli.Sub{Name: "verify", Run: func(args []string) error { return a.lockVerify(ctx, args) }},
		cli.Sub{Name: "diff", Run: func(args []string) error { return a.lockDocs(ctx, "lock diff", lockDiffUsage, args, "A", "B") }},
		cli.Sub{Name: "show", Run: func(args []string) error { return a.lockDocs(ctx, "lock show", lockShowUsage, args, "LOCK") }})
}

// lockFormatFlag adds the -format flag of a lock subcommand.
func lockFormatFlag(fs *cli.Flags) *string {
	return fs.Choice("format", "text", "output `format`: text or json", "text", "json")
}

// warn prints err, if any, as a warning: the command goes on (a hash
// cache that cannot be opened or saved only costs time).
func warn(stderr io.Writer, err error) {
	if err != nil {
		fmt.Fprintf(stderr, "evalpin: warning: %v\n", err)
	}
}

var lockCreateUsage = help("lock-create")

func (a *app) lockCreate(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("lock create", lockCreateUsage)
	f := newLockCreateFlags(fs)
	pos, err := fs.ParseWant(args, a.getenv, "DIR")
	if err != nil {
		return err
	}
	dir := pos[0]
	opts, err := f.options(fs)
	if err != nil {
		return err
	}
	opts.Now = a.lockClock
	opts.Cache, err = lock.OpenDefaultCache()
	warn(stderr, err)
	m, err := lock.Create(ctx, dir, opts)
	warn(stderr, opts.Cache.Save())
	if err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := outfile.Write(f.out, stdout, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("lock create: %w", err)
	}
	if f.out != "" && lock.Counted(dir, f.out) {
		fmt.Fprintf(stderr, "evalpin: warning: %s is inside %s, so 'lock verify' will count it as an extra file; name it evalpin.lock or keep it elsewhere\n", f.out, dir)
	}
	fmt.Fprintln(stderr, m.Lock)
	return nil
}

// lockCreateFlags are the flags of lock create.
type lockCreateFlags struct {
	out, note      string
	source         lock.Source
	serving        lock.ServingRequest
	labels, params cli.Strings
	rehash         bool
}

func newLockCreateFlags(fs *cli.Flags) *lockCreateFlags {
	f := &lockCreateFlags{}
	sv := &f.serving.Serving
	fs.StringVar(&f.out, "o", "", "write the lock file to `FILE` instead of stdout")
	fs.StringVar(&f.serving.File, "serving", "", "read the serving layer and generation parameters from `FILE.yaml`")
	fs.StringVar(&sv.Engine, "engine", "", "serving engine, e.g. vllm, sglang, tgi, llama.cpp, ollama")
	fs.StringVar(&sv.EngineVersion, "engine-version", "", "serving engine version")
	fs.StringVar(&sv.ImageDigest, "image-digest", "", "container image digest, e.g. sha256:…")
	fs.StringVar(&sv.Dtype, "dtype", "", "dtype served, e.g. bfloat16")
	fs.StringVar(&sv.Quantization, "quantization", "", "quantization, e.g. awq, gptq, Q4_K_M")
	fs.IntVar(&sv.MaxContext, "max-context", 0, "maximum context length in tokens (0: engine default)")
	cli.AtLeast(fs, "max-context", 0)
	fs.Var((*cli.Strings)(&f.serving.EngineArgs), "engine-arg", "an engine argument that changes behaviour, as --name=value (repeatable; order does not matter)")
	fs.Var(&f.params, "param", "a default generation parameter `key=value`, value as JSON or text (repeatable)")
	fs.StringVar(&f.source.Repo, "repo", "", "source repository, e.g. org/name (default: from a Hugging Face snapshot path)")
	fs.StringVar(&f.source.Revision, "revision", "", "source revision (default: from a Hugging Face snapshot path)")
	fs.Var(&f.labels, "label", "a label `key=value`, stored but not identity (repeatable)")
	fs.StringVar(&f.note, "note", "", "a note, stored but not identity")
	fs.BoolVar(&f.rehash, "rehash", false, "hash every file, ignoring the hash cache")
	return f
}

// options returns lock.Create's options: the -serving file, then the
// serving flags fs's command line set, which win over it.
func (f *lockCreateFlags) options(fs *cli.Flags) (opts lock.Options, err error) {
	opts = lock.Options{Source: f.source, Note: f.note, Rehash: f.rehash}
	for _, name := range []string{"engine", "engine-version", "image-digest", "dtype", "quantization", "max-context"} {
		if fs.IsSet(name) {
			f.serving.Set = append(f.serving.Set, name)
		}
	}
	if f.serving.Params, err = fs.KeyValues("param", f.params); err != nil {
		return opts, err
	}
	if opts.Labels, err = fs.KeyValues("label", f.labels); err != nil {
		return opts, err
	}
	return opts, f.serving.Apply(&opts)
}

var lockVerifyUsage = help("lock-verify")

func (a *app) lockVerify(ctx context.Context, args []string) error {
	stdout, stderr := a.stdout, a.stderr
	fs := a.flags("lock verify", lockVerifyUsage)
	rehash := fs.Bool("rehash", false, "hash every file, ignoring the hash cache")
	format := lockFormatFlag(fs)
	pos, err := fs.ParseWant(args, a.getenv, "DIR", "LOCK")
	if err != nil {
		return err
	}
	m, err := lock.ReadFile(pos[1])
	if err != nil {
		return err
	}
	cache, err := lock.OpenDefaultCache()
	warn(stderr, err)
	r, err := lock.Verify(ctx, pos[0], m, lock.Options{Cache: cache, Rehash: *rehash})
	warn(stderr, cache.Save())
	if err != nil {
		return err
	}
	if *format == "json" {
		err = untrusted.WriteJSON(stdout, r, true)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	return r.Err()
}

var lockDiffUsage, lockShowUsage = help("lock-diff"), help("lock-show")

// lockDocs implements lock show (one lock) and lock diff (two): the
// identity documents of the locks args names, written or compared.
func (a *app) lockDocs(ctx context.Context, name, usage string, args []string, names ...string) error {
	fs := a.flags(name, usage)
	format, db := lockFormatFlag(fs), addDBFlag(fs)
	a.defaults(fs, "db")
	pos, err := fs.ParseWant(args, a.getenv, names...)
	if err != nil {
		return err
	}
	docs := make([]identity.Document, len(pos))
	for i, arg := range pos {
		if docs[i], err = a.lockDoc(ctx, *db, arg); err != nil {
			return err
		}
	}
	if len(docs) == 1 {
		return docs[0].Write(a.stdout, *format == "json")
	}
	return identity.WriteDiff(a.stdout, docs[0], docs[1], *format == "json")
}

// lockDoc reads the lock arg names: a lock file, else the identity document
// of a stored lock, by its id or a unique prefix (runs.Identity).
func (a *app) lockDoc(ctx context.Context, dbPath, arg string) (identity.Document, error) {
	if _, err := os.Stat(arg); err == nil || !lockid.Valid(arg) && !lockid.IsPrefix(arg) {
		return identity.ReadFile(arg)
	}
	db, err := openExistingStore(dbPath)
	if err != nil {
		return identity.Document{}, err
	}
	defer db.Close()
	return runs.Identity(ctx, db, arg)
}
