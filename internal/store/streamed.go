package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/evalpin/evalpin/eval"
)

// SuiteFile returns the hash and case count recorded for the suite file of
// identity file (PutSuiteFile); ok is false when there is none.
func (db *DB) SuiteFile(ctx context.Context, file string) (hash string, cases int, ok bool, err error) {
	defer db.explain(&err)
	err = db.db.QueryRowContext(ctx, `SELECT hash, cases FROM suite_files WHERE file = ?`, file).Scan(&hash, &cases)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("suite file: %w", err)
	}
	return hash, cases, true, nil
}

// PutSuiteFile records the hash and case count of the suite file of
// identity file, checked valid.
func (db *DB) PutSuiteFile(ctx context.Context, file, hash string, cases int) (err error) {
	defer db.explain(&err)
	if _, err := db.db.ExecContext(ctx, `INSERT INTO suite_files (file, hash, cases, seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (file) DO UPDATE SET hash = excluded.hash, cases = excluded.cases, seen = excluded.seen`,
		file, hash, cases, formatTime(db.now())); err != nil {
		return fmt.Errorf("record suite file: %w", err)
	}
	return nil
}

// A Marks is the set of (case, sample) pairs a run has stored, for the
// cases of a Source, numbered by their keys: a bit each, where a Done holds
// each case id.
type Marks struct {
	bits    eval.KeySet
	samples int
	n       int
}

// Has reports whether sample of the case of key is stored.
func (m *Marks) Has(key, sample int) bool {
	return sample < m.samples && m.bits.Has(key*m.samples+sample)
}

// Len returns how many results were read: the run's stored results, those
// requested again left out.
func (m *Marks) Len() int { return m.n }

// DoneMarks returns the (case, sample) pairs of the cases of src, samples
// 0 to samples-1, that run runID has stored, leaving out the failed requests
// whose error kind is one of retry (Done's set, by key). Like Done, it reads
// only the index of the results and the failed requests, never the outputs.
func (db *DB) DoneMarks(ctx context.Context, runID int64, retry []string, src eval.Source, samples int) (_ *Marks, err error) {
	defer db.explain(&err)
	samples = max(samples, 1)
	read := func(q string, args []any, add func(k, sample int)) error {
		rows, err := db.db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			caseID sql.RawBytes
			sample int
		)
		for rows.Next() {
			if err := rows.Scan(&caseID, &sample); err != nil {
				return err
			}
			k, ok := src.Key(string(caseID))
			if !ok || sample < 0 || sample >= samples {
				k = -1
			}
			add(k, sample)
		}
		return rows.Err()
	}
	again := &Marks{samples: samples}
	if len(retry) > 0 {
		args := []any{runID}
		for _, k := range retry {
			args = append(args, k)
		}
		again.bits = eval.NewKeySet(src.Len() * samples)
		if err := read(`SELECT case_id, sample FROM results WHERE run_id = ? AND error <> '' AND error_kind IN (`+placeholders(len(retry))+`)`, args,
			func(k, s int) {
				again.n++
				if k >= 0 {
					again.bits.Add(k*samples + s)
				}
			}); err != nil {
			return nil, fmt.Errorf("stored cases of run %d: %w", runID, err)
		}
	}
	m := &Marks{bits: eval.NewKeySet(src.Len() * samples), samples: samples, n: -again.n}
	if err := read(`SELECT case_id, sample FROM results WHERE run_id = ?`, []any{runID}, func(k, s int) {
		m.n++
		if k >= 0 && !again.Has(k, s) {
			m.bits.Add(k*samples + s)
		}
	}); err != nil {
		return nil, fmt.Errorf("stored cases of run %d: %w", runID, err)
	}
	return m, nil
}

// A Tally counts a run's stored results from the index of the results and
// the failed requests, without reading a case id or an output.
type Tally struct {
	Results int // stored results
	Errors  int // of Results, failed requests
	Retried int // of Errors, those of a kind requested again
}

// Tally counts the results of run runID, Retried those failed with an error
// kind in retry: Results-Retried is the size of its Done.
func (db *DB) Tally(ctx context.Context, runID int64, retry []string) (t Tally, err error) {
	defer db.explain(&err)
	q := `SELECT (SELECT count(*) FROM results WHERE run_id = ?1), (SELECT count(*) FROM results WHERE run_id = ?1 AND error <> ''), `
	args := []any{runID}
	if len(retry) > 0 {
		q += `(SELECT count(*) FROM results WHERE run_id = ?1 AND error <> '' AND error_kind IN (` + placeholders(len(retry)) + `))`
		for _, k := range retry {
			args = append(args, k)
		}
	} else {
		q += `0`
	}
	if err := db.db.QueryRowContext(ctx, q, args...).Scan(&t.Results, &t.Errors, &t.Retried); err != nil {
		return Tally{}, fmt.Errorf("count results of run %d: %w", runID, err)
	}
	return t, nil
}

// suiteLabels is the label set of a run whose labels are those of its
// stored suite's cases: "suite:" and the suite's hash, with no body.
const suiteLabels = "suite:"

// PutRunLabelsFrom snapshots the labels of the cases of src that keep (nil:
// all) with run runID, as PutRunLabels does, a batch at a time: when they
// are the labels of the stored cases of suite suiteHash (the common case:
// the run stored them), the run records that, and no copy; else it stores
// the set, which then holds every case's labels in memory at once.
func (db *DB) PutRunLabelsFrom(ctx context.Context, runID int64, suiteHash string, src eval.Source, keep eval.KeySet) (err error) {
	defer db.explain(&err)
	same := true
	batch := map[string]Label{}
	compare := func() error {
		if len(batch) == 0 || !same {
			return nil
		}
		ids := make([]string, 0, len(batch))
		for id := range batch {
			ids = append(ids, id)
		}
		keys, _ := json.Marshal(ids)
		rows, err := db.db.QueryContext(ctx, `SELECT case_id, coalesce(json_extract(body, '$.tags'), '[]'), coalesce(json_extract(body, '$.cluster'), '')
			FROM cases WHERE suite_hash = ? AND case_id IN (SELECT value FROM json_each(?))`, suiteHash, string(keys))
		if err != nil {
			return err
		}
		defer rows.Close()
		found := 0
		for rows.Next() {
			var id, tags, cluster string
			if err := rows.Scan(&id, &tags, &cluster); err != nil {
				return err
			}
			var t []string
			if err := json.Unmarshal([]byte(tags), &t); err != nil {
				return err
			}
			l := batch[id]
			found++
			if l.Cluster != cluster || !slices.Equal(l.Tags, t) {
				same = false
			}
		}
		if found != len(batch) {
			same = false
		}
		clear(batch)
		return rows.Err()
	}
	var werr error
	if err := src.Walk(func(k int, c *eval.Case) bool {
		if keep != nil && !keep.Has(k) {
			return true
		}
		batch[c.ID] = Label{Tags: c.Tags, Cluster: c.Cluster}
		if len(batch) == putSuiteChunk {
			werr = compare()
		}
		return werr == nil && same
	}); err != nil {
		return fmt.Errorf("labels of run %d: %w", runID, err)
	}
	if werr == nil {
		werr = compare()
	}
	if werr != nil {
		return fmt.Errorf("labels of run %d: %w", runID, werr)
	}
	if !same {
		var cases []eval.Case
		if err := src.Walk(func(k int, c *eval.Case) bool {
			if keep == nil || keep.Has(k) {
				cases = append(cases, eval.Case{ID: c.ID, Tags: c.Tags, Cluster: c.Cluster})
			}
			return true
		}); err != nil {
			return fmt.Errorf("labels of run %d: %w", runID, err)
		}
		return db.PutRunLabels(ctx, runID, cases)
	}
	return db.PutRunSuiteLabels(ctx, runID, suiteHash)
}

// PutRunSuiteLabels records that the labels of run runID are those of the
// stored cases of its suite suiteHash: RunLabels reads them there.
func (db *DB) PutRunSuiteLabels(ctx context.Context, runID int64, suiteHash string) (err error) {
	defer db.explain(&err)
	return db.putLabelSet(ctx, runID, suiteLabels+suiteHash, "")
}

// StoredCases returns how many cases of the suite with hash suiteHash are
// stored.
func (db *DB) StoredCases(ctx context.Context, suiteHash string) (n int, err error) {
	defer db.explain(&err)
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM cases WHERE suite_hash = ?`, suiteHash).Scan(&n); err != nil {
		return 0, fmt.Errorf("cases of suite %.12s: %w", suiteHash, err)
	}
	return n, nil
}

// isSuiteLabels reports whether set is the label set of a run whose labels
// are its stored suite's, and returns the suite's hash.
func isSuiteLabels(set string) (string, bool) { return strings.CutPrefix(set, suiteLabels) }
