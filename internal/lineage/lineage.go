// Package lineage keeps the lines of locks a model's upgrades form. A track
// ("main", "fork-nous") is the locks promoted on it, in order, each with when,
// by whom and why; its current lock is the last promoted, and the lock before
// a candidate is its "previous", the one a CI gate compares it with.
//
// The lineage lives in a file kept in the repository beside the baseline
// files, since CI starts with an empty database: one JSON object a line, one
// line a promotion, appended, so that git shows a promotion as one added line
// and a review sees who promoted what.
package lineage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/outfile"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// DefaultTrack is the track of a command that names none.
const DefaultTrack = "main"

// A Promotion records that Lock became the current lock of Track.
type Promotion struct {
	Track string    `json:"track"`
	Lock  lockid.ID `json:"lock"`
	At    time.Time `json:"promoted"`
	By    string    `json:"by,omitempty"`
	Note  string    `json:"note,omitempty"`
}

// A File is a lineage file: its promotions in the order they were made.
type File struct {
	Path       string
	Promotions []Promotion
}

// ErrCurrent marks the refusal to promote the lock that is already its
// track's current one.
var ErrCurrent = errors.New("the lock is already the track's current lock")

// trackName matches a track's name, compiled on its first use.
var trackName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`) })

// Read reads the lineage file at path; a file that does not exist is an
// empty lineage. A line that is no promotion is an input error naming it.
func Read(path string) (*File, error) {
	f := &File{Path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	} else if err != nil {
		return nil, fault.Errorf(fault.Input, "", "lineage file %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var p Promotion
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fault.Errorf(fault.Input, "restore the file from git ('git checkout -- "+path+"')", "lineage file %s:%d: %v", path, n, err)
		}
		if err := p.check(); err != nil {
			return nil, fault.Errorf(fault.Input, "restore the file from git ('git checkout -- "+path+"')", "lineage file %s:%d: %w", path, n, err)
		}
		f.Promotions = append(f.Promotions, p)
	}
	return f, sc.Err()
}

// check says what is wrong with p, if anything.
func (p Promotion) check() error {
	switch {
	case !trackName().MatchString(p.Track):
		return fmt.Errorf("track %q is not a track name (lower-case letters, digits, '.', '_' and '-')", untrusted.Line(p.Track))
	case !p.Lock.Valid():
		return fmt.Errorf("lock %q is not a lock id", untrusted.Line(string(p.Lock)))
	case p.At.IsZero():
		return errors.New("no promotion time")
	}
	return nil
}

// Track returns the promotions of track, in order.
func (f *File) Track(track string) []Promotion {
	var out []Promotion
	for _, p := range f.Promotions {
		if p.Track == track {
			out = append(out, p)
		}
	}
	return out
}

// Tracks returns the names of the tracks, sorted.
func (f *File) Tracks() []string {
	var names []string
	for _, p := range f.Promotions {
		names = append(names, p.Track)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Current returns the current promotion of track: its last.
func (f *File) Current(track string) (Promotion, bool) {
	ps := f.Track(track)
	if len(ps) == 0 {
		return Promotion{}, false
	}
	return ps[len(ps)-1], true
}

// Previous returns the lock a candidate lock is compared with on track: the
// current lock when the candidate was never promoted on the track; when it
// was, the lock promoted before its last promotion (a candidate that is
// already current is compared with the one it replaced). ok is false when
// there is none.
func (f *File) Previous(track string, cand lockid.ID) (Promotion, bool) {
	ps := f.Track(track)
	last := -1
	for i, p := range ps {
		if p.Lock == cand {
			last = i
		}
	}
	if last < 0 {
		last = len(ps)
	}
	for i := last - 1; i >= 0; i-- {
		if ps[i].Lock != cand {
			return ps[i], true
		}
	}
	return Promotion{}, false
}

// Promote records p as its track's current lock and writes the file whole
// (outfile.Write). Promoting the track's current lock again is an input
// error matching ErrCurrent; promoting an older lock again (a rollback) is a
// promotion like any other.
func (f *File) Promote(p Promotion) error {
	if err := p.check(); err != nil {
		return fault.Errorf(fault.Input, "", "promote: %w", err)
	}
	if cur, ok := f.Current(p.Track); ok && cur.Lock == p.Lock {
		return fault.Mark(fault.Errorf(fault.Input, "", "promote: %s is already the current lock of track %s (promoted %s)",
			p.Lock, p.Track, cur.At.UTC().Format(time.RFC3339)), ErrCurrent)
	}
	f.Promotions = append(f.Promotions, p)
	return outfile.WriteMakingDir(f.Path, nil, f.write) // a project's baselines/
}

// write writes the file's lines.
func (f *File) write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, p := range f.Promotions {
		p.At = p.At.UTC()
		p.Note = strings.TrimSpace(p.Note)
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return nil
}
