package report

import (
	"io"
	"strconv"
	"strings"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lineage"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// WriteLocks writes the locks the history and the lineage know: each with
// its runs, the names it was served under, its runs' labels and its
// promotions, or, for track, the track's promotions in order, the current
// last. A lock only the lineage knows (CI's empty database) has no runs.
func WriteLocks(w io.Writer, locks []eval.LockSummary, lin *lineage.File, track string, asJSON bool) error {
	known := map[lockid.ID]eval.LockSummary{}
	for _, l := range locks {
		known[l.ID] = l
	}
	for _, p := range lin.Promotions {
		if _, ok := known[p.Lock]; !ok {
			s := eval.LockSummary{ID: p.Lock, Source: "lineage", FirstSeen: p.At, Models: []string{}, Labels: []string{}}
			known[p.Lock], locks = s, append(locks, s)
		}
	}
	promotions := lin.Promotions
	if track != "" {
		promotions = lin.Track(track)
	}
	if asJSON {
		if promotions == nil {
			promotions = []lineage.Promotion{}
		}
		if locks == nil {
			locks = []eval.LockSummary{}
		}
		return untrusted.WriteJSON(w, struct {
			Locks      []eval.LockSummary  `json:"locks"`
			Promotions []lineage.Promotion `json:"promotions"`
		}{locks, promotions}, true)
	}
	ids := make([]lockid.ID, len(locks))
	for i, l := range locks {
		ids[i] = l.ID
	}
	abbrev := lockid.Abbrev(ids)
	table := historyTable(w)
	if track != "" {
		table.Header("#", "LOCK", "PROMOTED (UTC)", "BY", "NOTE", "RUNS", "MODELS")
		for i, p := range promotions {
			n := strconv.Itoa(i + 1)
			if i == len(promotions)-1 {
				n += " current"
			}
			l := known[p.Lock]
			if err := table.Append(n, abbrev[p.Lock], clock(p.At), untrusted.Line(p.By), untrusted.Cut(untrusted.Line(p.Note), 40),
				strconv.Itoa(l.Runs), untrusted.Cut(untrusted.Line(strings.Join(l.Models, ", ")), 30)); err != nil {
				return err
			}
		}
		return table.Render()
	}
	table.Header("LOCK", "FIRST SEEN (UTC)", "RUNS", "MODELS", "LABELS", "TRACKS")
	for _, l := range locks {
		if err := table.Append(abbrev[l.ID], clock(l.FirstSeen), strconv.Itoa(l.Runs)+" ("+strconv.Itoa(l.Complete)+" complete)",
			untrusted.Cut(untrusted.Line(strings.Join(l.Models, ", ")), 30), untrusted.Cut(untrusted.Line(strings.Join(l.Labels, " ")), 30),
			tracksOf(lin, l.ID)); err != nil {
			return err
		}
	}
	return table.Render()
}

// tracksOf says where id stands on each track it was promoted on: "main #2"
// or "main #3 current".
func tracksOf(lin *lineage.File, id lockid.ID) string {
	var out []string
	for _, t := range lin.Tracks() {
		ps := lin.Track(t)
		for i, p := range ps {
			if p.Lock != id {
				continue
			}
			s := untrusted.Line(t) + " #" + strconv.Itoa(i+1)
			if i == len(ps)-1 {
				s += " current"
			}
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}
