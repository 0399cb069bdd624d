package lock

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/evalpin/evalpin/internal/fault"
	"golang.org/x/sync/errgroup"
)

// bufSize is the read buffer of one hashing worker; memory use is bufSize per
// worker, whatever the files' sizes.
const bufSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// An entry is one regular file found in a model directory.
type entry struct {
	rel  string      // slash-separated path relative to the directory (a link's own path)
	abs  string      // the path to open; a symlink is followed
	info os.FileInfo // of the file itself, after following symlinks
}

// shown returns the entry's path as the user wrote it, under dir, quoted if
// it holds anything a terminal could take as a command: file names are
// untrusted input.
func (e entry) shown(dir string) string {
	if e.rel == "" {
		return clean(e.abs)
	}
	return clean(filepath.Join(dir, filepath.FromSlash(e.rel)))
}

// A hashed entry carries the file's hash and the analysis of its content.
type hashed struct {
	entry
	sum      string
	analysis *analysis
}

// walk lists the behaviour-relevant regular files of dir (see Excluded),
// following symlinks to files, as in a Hugging Face snapshot whose files link
// into ../../blobs.
func walk(dir string) ([]entry, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fault.Errorf(fault.Input, "check the path; a Hugging Face snapshot is …/models--ORG--NAME/snapshots/REVISION",
			"model directory %s does not exist", dir)
	case err != nil:
		return nil, fault.Errorf(fault.Input, "check the directory's permissions", "model directory: %w", err)
	case !fi.IsDir():
		return nil, fault.Errorf(fault.Input, "pass the directory that holds the model's files, not one file",
			"model directory %s is not a directory", dir)
	}
	// The cache keys on absolute paths, so one run from another working
	// directory, or with a relative path, finds the same entries.
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("model directory: %w", err)
	}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	var out []entry
	stat := newDirStat()
	defer stat.close()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		// The path as the user wrote it, for errors only: most files have none.
		shown := func() string { return clean(filepath.Join(dir, rel)) }
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is shown as the user wrote it
			}
			return fault.Errorf(fault.Input, "make it readable (chmod a+rx) or move it out of the model directory",
				"cannot read %s: %w", shown(), err)
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if Excluded(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if err := recordable(rel); err != nil {
			return fault.Errorf(fault.Input, "rename the file, or move it out of the model directory if it is no part of the model",
				"%s: %w", shown(), err)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			info, err := os.Stat(p)
			if errors.Is(err, fs.ErrNotExist) {
				target, _ := os.Readlink(p)
				return fault.Errorf(fault.Input, "restore the target (re-download the snapshot) or remove the link",
					"%s is a dangling symlink: its target %s does not exist", shown(), clean(target))
			}
			if err != nil {
				return fault.Errorf(fault.Input, "make the link's target readable or remove the link", "cannot follow %s: %w", shown(), err)
			}
			if info.IsDir() {
				return fault.Errorf(fault.Input, "replace the link with the directory itself, or remove it",
					"%s is a symlink to a directory, which a lock does not follow", shown())
			}
			if info.Mode().IsRegular() {
				out = append(out, entry{rel: rel, abs: p, info: info})
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // sockets, pipes and devices are no part of a model
		}
		info, err := stat.lstat(p)
		if err != nil {
			return fault.Errorf(fault.Input, "check the directory is not being changed", "cannot stat %s: %w", shown(), err)
		}
		out = append(out, entry{rel: rel, abs: p, info: info})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fault.Errorf(fault.Input, "point at the directory that holds the weights, tokenizer and config (README, LICENSE, *.md and hidden files do not count)",
			"model directory %s has no behaviour-relevant files", dir)
	}
	return out, nil
}

// recordable reports why the slash-separated path rel cannot be recorded in a
// manifest as it is, or nil: JSON holds only UTF-8, "#" marks an embedded
// part, and a backslash would read as a separator elsewhere.
func recordable(rel string) error {
	switch {
	case !utf8.ValidString(rel):
		return errors.New("the name is not valid UTF-8, which a lock manifest cannot record")
	case strings.Contains(rel, "#"):
		return errors.New(`the name holds "#", which a lock manifest reserves for parts embedded in a file`)
	case strings.Contains(rel, `\`):
		return errors.New(`the name holds "\", which a lock manifest cannot tell from a path separator`)
	}
	return nil
}

// hashAll hashes the entries in parallel, at most workers at a time (0 means
// GOMAXPROCS), largest first so that a big file starts early instead of
// finishing last alone. Hashes of unchanged files come from cache unless
// rehash; new hashes are stored in it.
func hashAll(parent context.Context, entries []entry, cache *HashCache, rehash bool, workers int, dir string) ([]hashed, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]hashed, len(entries))
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(entries[b].info.Size(), entries[a].info.Size()) })
	// Cached hashes are looked up here, so that a re-verify of an unchanged
	// directory starts no goroutine per file.
	if cache != nil && !rehash {
		order = slices.DeleteFunc(order, func(i int) bool {
			sum, a, ok := cache.lookup(keyOf(entries[i].abs, entries[i].info))
			if ok {
				out[i] = hashed{entry: entries[i], sum: sum, analysis: a}
			}
			return ok
		})
	}
	g, ctx := errgroup.WithContext(parent)
	g.SetLimit(workers)
	for _, i := range order {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			e := entries[i]
			key := keyOf(e.abs, e.info)
			sum, a, err := hashEntry(ctx, e, e.shown(dir))
			if err != nil {
				return fileError(e.shown(dir), err)
			}
			// A file that changed while it was read has no single hash.
			if after, err := os.Stat(e.abs); err != nil || keyOf(e.abs, after) != key {
				return fault.Errorf(fault.Input, "wait until the download or copy has finished, then retry",
					"%s changed while it was being hashed", e.shown(dir))
			}
			if cache != nil {
				cache.store(key, sum, a)
			}
			out[i] = hashed{entry: e, sum: sum, analysis: a}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// fileError turns a failure to read a file into an input error naming it.
func fileError(shown string, err error) error {
	var e *fault.Error
	if errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, fs.ErrPermission) {
		return fault.Errorf(fault.Input, "make it readable (chmod a+r) or move it out of the model directory", "cannot read %s: permission denied", shown)
	}
	return fault.Errorf(fault.Input, "check the file; move it out of the model directory if it is no part of the model", "cannot read %s: %w", shown, err)
}

// hashEntry returns the hex SHA-256 of the file and, for a file that embeds
// parts, its analysis; shown is the file's path in errors.
func hashEntry(ctx context.Context, e entry, shown string) (string, *analysis, error) {
	if analyzable(e.rel) && e.info.Size() <= maxAnalyzed {
		data, err := os.ReadFile(e.abs)
		if err != nil {
			return "", nil, err
		}
		a, err := analyze(e.rel, data)
		if err != nil {
			return "", nil, fault.Errorf(fault.Input, "fix the Modelfile's syntax", "%s: %w", shown, err)
		}
		return hexSum(data), &a, nil
	}
	f, err := os.Open(e.abs)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	if e.rel != "" && isGGUF(f) {
		return hashGGUF(ctx, f)
	}
	sum, err := hashReader(ctx, f)
	return sum, nil, err
}

// isGGUF reports whether f starts with the GGUF magic, and rewinds it.
func isGGUF(f *os.File) bool {
	var magic [len(ggufMagic)]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false
	}
	return n == len(magic) && string(magic[:]) == ggufMagic
}

// hashGGUF returns the hex SHA-256 of the GGUF file f and, when its header is
// well formed, its parts (readGGUF), reading it once.
func hashGGUF(ctx context.Context, f io.Reader) (string, *analysis, error) {
	whole := sha256.New()
	g, err := readGGUF(ctx, io.TeeReader(f, whole))
	if err != nil && !errors.Is(err, errNotGGUF) {
		return "", nil, err
	}
	// What readGGUF left unread (all of it after a malformed header).
	if _, err := hashInto(ctx, whole, f); err != nil {
		return "", nil, err
	}
	sum := hex.EncodeToString(whole.Sum(nil))
	if err != nil {
		return sum, nil, nil
	}
	return sum, &analysis{V2: &analysisV2{Parts: g.parts, Rest: g.rest}}, nil
}

// hashReader returns the hex SHA-256 of r, read with a pooled buffer.
func hashReader(ctx context.Context, r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := hashInto(ctx, h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashInto writes r to h with a pooled buffer until EOF.
func hashInto(ctx context.Context, h io.Writer, r io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// HashFiles returns the hex SHA-256 of each file, hashed as Create hashes them:
// in parallel (workers at a time, 0 = GOMAXPROCS), largest first, with a pooled
// 1 MiB buffer per worker. It uses no cache.
func HashFiles(ctx context.Context, paths []string, workers int) ([]string, error) {
	entries := make([]entry, len(paths))
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		entries[i] = entry{abs: p, info: fi} // no rel: not taken apart
	}
	hs, err := hashAll(ctx, entries, nil, true, workers, "")
	if err != nil {
		return nil, err
	}
	sums := make([]string, len(hs))
	for i, h := range hs {
		sums[i] = h.sum
	}
	return sums, nil
}

// pathLike reports whether a Modelfile's FROM or ADAPTER argument names a file
// rather than a model in a registry.
func pathLike(ref string) bool {
	return strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") ||
		strings.HasPrefix(ref, "~/") || weightExts[strings.ToLower(filepath.Ext(ref))]
}
