package lock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CacheDirEnv names the environment variable that overrides DefaultCacheDir.
const CacheDirEnv = "EVALPIN_CACHE_DIR"

// cacheFileName is the stat cache's file in its directory; the version in the
// name changes whenever the entries' meaning or the file's format does.
const cacheFileName = "hashcache-v4"

// cacheMagic starts the cache file's first line, followed by the hex SHA-256 of
// the body that makes up the rest of the file: one line per entry
// (encodeCache), cheaper to decode than the JSON object of version 3: a
// cached lock verify reads the whole cache.
const cacheMagic = "evalpin-hashcache 2 "

// RacyWindow is how recent a file's modification time may be for its hash to
// be cached: a file changed again within the same timestamp tick would keep its
// stat, so a hash taken that soon after a change is not trusted later.
const RacyWindow = 2 * time.Second

// DefaultCacheDir returns $EVALPIN_CACHE_DIR if set, or else the evalpin
// directory in the user's cache directory (os.UserCacheDir).
func DefaultCacheDir() (string, error) {
	if d := os.Getenv(CacheDirEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache directory (set %s): %w", CacheDirEnv, err)
	}
	return filepath.Join(d, "evalpin"), nil
}

// OpenDefaultCache opens the hash cache in DefaultCacheDir. The error says
// why there is none (nil, no cache directory) or why an existing cache file
// was ignored (HashCache.Err, with an empty cache); either way the caller
// goes on: the cache only saves time.
func OpenDefaultCache() (*HashCache, error) {
	dir, err := DefaultCacheDir()
	if err != nil {
		return nil, fmt.Errorf("no hash cache: %w", err)
	}
	c := OpenCache(dir)
	return c, c.Err
}

// A fileKey identifies one state of a file: the cache trusts a hash only for
// the same path, device, inode, size and modification time (ns). The status
// change time (ns, Linux) is compared too: unlike the modification time, no
// program can set it back, so a rewrite that restores the mtime is caught.
type fileKey struct {
	Path  string
	Dev   uint64
	Ino   uint64
	Size  int64
	Mtime int64
	Ctime int64
}

func keyOf(path string, fi os.FileInfo) fileKey {
	dev, ino, ctime := devIno(fi)
	return fileKey{Path: path, Dev: dev, Ino: ino, Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Ctime: ctime}
}

// A cacheEntry is the cached hash of one file state (a line of the cache
// file, encodeCache).
type cacheEntry struct {
	Dev      uint64
	Ino      uint64
	Size     int64
	Mtime    int64 // ns
	Ctime    int64 // ns; 0 where not compared
	SHA256   string
	Analysis *analysis
}

func (e cacheEntry) matches(k fileKey) bool {
	return e.Dev == k.Dev && e.Ino == k.Ino && e.Size == k.Size && e.Mtime == k.Mtime && e.Ctime == k.Ctime
}

// CacheStats counts a cache's use since it was opened.
type CacheStats struct {
	Hits   int // hashes taken from the cache
	Misses int // files hashed
	Stored int // hashes added or replaced
}

// A HashCache remembers the SHA-256 of files by (path, device, inode, size,
// modification time), so re-verifying an unchanged directory costs a stat per
// file. It is safe for concurrent use. Open one with OpenCache; Save writes it
// back atomically. A corrupt cache file is ignored and rebuilt.
type HashCache struct {
	path string
	// Now is the clock that decides whether a file changed too recently to be
	// cached (see RacyWindow); nil means time.Now.
	Now func() time.Time
	// Err records why an existing cache file was ignored (corrupt, unreadable),
	// or nil.
	Err error

	mu      sync.Mutex
	entries map[string]cacheEntry
	dirty   bool
	stats   CacheStats
}

// OpenCache opens the cache kept in dir, which need not exist yet. A missing,
// unreadable or corrupt cache file yields an empty cache (with Err set for the
// latter two), never an error: the cache only saves time.
func OpenCache(dir string) *HashCache {
	c := &HashCache{path: filepath.Join(dir, cacheFileName), entries: map[string]cacheEntry{}}
	entries, err := readCache(c.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.Err = err
	}
	if entries != nil {
		c.entries = entries
	}
	return c
}

// Path returns the cache file's path.
func (c *HashCache) Path() string { return c.path }

// readCache reads and checks a cache file.
func readCache(path string) (map[string]cacheEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	head, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok || !bytes.HasPrefix(head, []byte(cacheMagic)) {
		return nil, fmt.Errorf("hash cache %s: not a cache file; ignored", path)
	}
	if string(head[len(cacheMagic):]) != hexSum(body) {
		return nil, fmt.Errorf("hash cache %s: checksum mismatch (corrupt); ignored", path)
	}
	entries, err := decodeCache(body)
	if err != nil {
		return nil, fmt.Errorf("hash cache %s: %w; ignored", path, err)
	}
	return entries, nil
}

// encodeCache returns the body of a cache file: one line per entry, sorted by
// path, of space-separated fields: the hex SHA-256, device, inode, size,
// mtime (ns) and ctime (ns) in decimal, the path quoted as a Go string (no
// raw newline or space can end it early), and the analysis as JSON when the
// file has one.
func encodeCache(entries map[string]cacheEntry) ([]byte, error) {
	buf := make([]byte, 0, len(entries)*192)
	for _, p := range slices.Sorted(maps.Keys(entries)) {
		e := entries[p]
		buf = append(buf, e.SHA256...)
		for _, v := range []uint64{e.Dev, e.Ino} {
			buf = strconv.AppendUint(append(buf, ' '), v, 10)
		}
		for _, v := range []int64{e.Size, e.Mtime, e.Ctime} {
			buf = strconv.AppendInt(append(buf, ' '), v, 10)
		}
		buf = strconv.AppendQuote(append(buf, ' '), p)
		if e.Analysis != nil {
			a, err := json.Marshal(e.Analysis)
			if err != nil {
				return nil, fmt.Errorf("encode hash cache: %w", err)
			}
			buf = append(append(buf, ' '), a...)
		}
		buf = append(buf, '\n')
	}
	return buf, nil
}

// decodeCache parses the body encodeCache writes.
func decodeCache(body []byte) (map[string]cacheEntry, error) {
	entries := make(map[string]cacheEntry, bytes.Count(body, []byte("\n")))
	n := 1
	for line := range strings.Lines(string(body)) {
		n++
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			continue
		}
		e, p, err := decodeCacheLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		entries[p] = e
	}
	return entries, nil
}

// decodeCacheLine parses one entry of a cache file and returns it with its path.
func decodeCacheLine(line string) (e cacheEntry, path string, err error) {
	var fields [7]string
	rest := line
	for i := range len(fields) - 1 {
		var ok bool
		if fields[i], rest, ok = strings.Cut(rest, " "); !ok {
			return e, "", errors.New("not a cache entry")
		}
	}
	fields[6] = rest
	if !validSHA256(fields[0]) {
		return e, "", errors.New("not a cache entry")
	}
	e.SHA256 = fields[0]
	for i, u := range []*uint64{&e.Dev, &e.Ino} {
		if *u, err = strconv.ParseUint(fields[1+i], 10, 64); err != nil {
			return e, "", err
		}
	}
	for i, v := range []*int64{&e.Size, &e.Mtime, &e.Ctime} {
		if *v, err = strconv.ParseInt(fields[3+i], 10, 64); err != nil {
			return e, "", err
		}
	}
	quoted, err := strconv.QuotedPrefix(fields[6])
	if err != nil {
		return e, "", err
	}
	if path, err = strconv.Unquote(quoted); err != nil {
		return e, "", err
	}
	switch rest := fields[6][len(quoted):]; {
	case rest == "":
	case rest[0] == ' ':
		e.Analysis = new(analysis)
		if err := json.Unmarshal([]byte(rest[1:]), e.Analysis); err != nil {
			return e, "", err
		}
	default:
		return e, "", errors.New("not a cache entry")
	}
	return e, path, nil
}

// lookup returns the cached hash and analysis of the file state k.
func (c *HashCache) lookup(k fileKey) (string, *analysis, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k.Path]
	if !ok || !e.matches(k) {
		c.stats.Misses++
		return "", nil, false
	}
	c.stats.Hits++
	return e.SHA256, e.Analysis, true
}

// store records the hash of the file state k unless the file changed within
// RacyWindow.
func (c *HashCache) store(k fileKey, sum string, a *analysis) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if now().Sub(time.Unix(0, k.Mtime)) < RacyWindow {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[k.Path] = cacheEntry{Dev: k.Dev, Ino: k.Ino, Size: k.Size, Mtime: k.Mtime, Ctime: k.Ctime, SHA256: sum, Analysis: a}
	c.dirty = true
	c.stats.Stored++
}

// Stats returns the counts of the cache's use since it was opened.
func (c *HashCache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Len returns the number of cached hashes.
func (c *HashCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Save writes the cache back if it changed (a nil cache has nothing to
// save): merged with entries another process saved meanwhile (this cache's
// win), less entries of files that no longer exist, to a temporary file
// renamed over the old one, so readers never see a partial file.
func (c *HashCache) Save() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	if disk, err := readCache(c.path); err == nil {
		for p, e := range disk {
			if _, ok := c.entries[p]; !ok {
				c.entries[p] = e
			}
		}
	}
	// Forget files that are gone, so the cache does not grow with every
	// directory ever hashed. This costs a stat per entry, paid only when new
	// hashes were stored, which cost far more.
	for p := range c.entries {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			delete(c.entries, p)
		}
	}
	body, err := encodeCache(c.entries)
	if err != nil {
		return err
	}
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save hash cache: %w", err)
	}
	f, err := os.CreateTemp(dir, cacheFileName+".*.tmp")
	if err != nil {
		return fmt.Errorf("save hash cache: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s%s\n", cacheMagic, hexSum(body))
	if err == nil {
		_, err = f.Write(body)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), c.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save hash cache: %w", err)
	}
	c.dirty = false
	return nil
}
