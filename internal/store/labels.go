package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/evalpin/evalpin/eval"
)

// A Label is what a comparison reads of a case besides its results: its
// tags and cluster. It is also one case's entry in a stored label set.
type Label struct {
	Tags    []string `json:"tags,omitempty"`
	Cluster string   `json:"cluster,omitempty"`
}

// PutRunLabels snapshots the tags and cluster of cases with run runID
// (migration 0005): the labels the run was made with, which the stored
// suite may not have, since labels are outside the case hash and a suite
// is stored once. Storing a run's labels again replaces them. It holds
// every case's labels at once; PutRunLabelsFrom, for a suite read a case at
// a time, does not.
func (db *DB) PutRunLabels(ctx context.Context, runID int64, cases []eval.Case) (err error) {
	defer db.explain(&err)
	set := make(map[string]Label, len(cases))
	for _, c := range cases {
		set[c.ID] = Label{Tags: c.Tags, Cluster: c.Cluster}
	}
	// encoding/json writes map keys sorted: equal labels, equal bytes.
	body, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("labels of run %d: %w", runID, err)
	}
	sum := sha256.Sum256(body)
	return db.putLabelSet(ctx, runID, hex.EncodeToString(sum[:]), string(body))
}

// putLabelSet records label set hash, of body, as run runID's.
func (db *DB) putLabelSet(ctx context.Context, runID int64, hash, body string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("labels of run %d: %w", runID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO label_sets (hash, body) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING`, hash, body); err != nil {
		return fmt.Errorf("labels of run %d: %w", runID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO run_labels (run_id, label_set) VALUES (?, ?)
		ON CONFLICT (run_id) DO UPDATE SET label_set = excluded.label_set`, runID, hash); err != nil {
		return fmt.Errorf("labels of run %d: %w", runID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("labels of run %d: %w", runID, err)
	}
	return nil
}

// RunLabels returns the labels snapshotted with run runID and their label
// set's hash, which is equal for two runs exactly when their labels are.
// ok is false when the run has no snapshot (stored before migration 0005,
// or imported). Cases with equal tags share one Tags slice (clipped, so
// that an append copies it).
func (db *DB) RunLabels(ctx context.Context, runID int64) (labels *Labels, set string, ok bool, err error) {
	defer db.explain(&err)
	var body string
	err = db.db.QueryRowContext(ctx, `SELECT l.hash, l.body FROM run_labels r JOIN label_sets l ON l.hash = r.label_set WHERE r.run_id = ?`, runID).Scan(&set, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("labels of run %d: %w", runID, err)
	}
	if suite, ok := isSuiteLabels(set); ok { // the labels of its stored suite (PutRunLabelsFrom)
		labels, err := db.SuiteLabels(ctx, suite)
		return labels, set, err == nil, err
	}
	var doc map[string]Label
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return nil, "", false, fmt.Errorf("labels of run %d: %w", runID, err)
	}
	return LabelsOf(len(doc), maps.All(doc)), set, true, nil
}

// LabelsOf returns the n labels all yields, by case id; of two of one id,
// the last.
func LabelsOf(n int, all iter.Seq2[string, Label]) *Labels {
	b := newLabelsBuilder(n)
	for id, l := range all {
		addLabel(b, id, l.Tags, l.Cluster)
	}
	return b.labels()
}

// SuiteLabels returns the tags and cluster of every stored case of the suite
// with hash suiteHash: what a diff needs of a suite, read without decoding
// the cases' prompts (SQLite extracts the two fields:
// BenchmarkFastCaseLabels), held as Labels, a few arrays instead of a map
// or eval.Case values, with cases of equal tags sharing one Tags slice.
// A suite the store does not know has no cases. FuzzCaseLabels holds it
// equal to the labels of Cases.
func (db *DB) SuiteLabels(ctx context.Context, suiteHash string) (_ *Labels, err error) {
	defer db.explain(&err)
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM cases WHERE suite_hash = ?`, suiteHash).Scan(&n); err != nil {
		return nil, fmt.Errorf("case labels of suite %.12s: %w", suiteHash, err)
	}
	// SQLite extracts the two fields from the stored JSON; tags come as the
	// JSON text of their array. The columns are read in place (RawBytes):
	// the builder copies the id and keeps one copy of each cluster.
	rows, err := db.db.QueryContext(ctx, `SELECT case_id, json_extract(body, '$.tags'), json_extract(body, '$.cluster')
		FROM cases WHERE suite_hash = ?`, suiteHash)
	if err != nil {
		return nil, fmt.Errorf("case labels of suite %.12s: %w", suiteHash, err)
	}
	defer rows.Close()
	b := newLabelsBuilder(n)
	decoded := make(map[string][]string) // tags by the JSON text of their array
	var id, tagsText, cluster sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&id, &tagsText, &cluster); err != nil {
			return nil, fmt.Errorf("case labels of suite %.12s: %w", suiteHash, err)
		}
		tags, ok := decoded[string(tagsText)]
		if !ok && tagsText != nil {
			if tags, err = decodeTags(tagsText); err != nil {
				return nil, fmt.Errorf("case labels of suite %.12s: case %s: tags: %w", suiteHash, id, err)
			}
			if len(decoded) < maxTagSets {
				decoded[string(tagsText)] = tags
			}
		}
		addLabel(b, id, tags, cluster)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("case labels of suite %.12s: %w", suiteHash, err)
	}
	return b.labels(), nil
}

// decodeTags decodes the JSON array of a case's tags.
func decodeTags(text []byte) (tags []string, err error) {
	err = json.Unmarshal(text, &tags)
	return tags, err
}

// maxTagSets bounds the distinct tag lists a read shares: a suite's cases
// carry a few, and one whose every case has tags of its own costs no more
// than without sharing.
const maxTagSets = 4096

// tagSets shares equal tag lists, keyed by their tags, each after its
// length (a tag may hold any byte).
type tagSets struct {
	m   map[string][]string
	key []byte
}

// share returns a clipped list equal to tags that equal lists share; nil and
// empty lists are returned as they are.
func (t *tagSets) share(tags []string) []string {
	if len(tags) == 0 {
		return tags
	}
	t.key = t.key[:0]
	for _, s := range tags {
		t.key = append(binary.AppendUvarint(t.key, uint64(len(s))), s...)
	}
	if shared, ok := t.m[string(t.key)]; ok {
		return shared
	}
	tags = slices.Clip(tags)
	if t.m == nil {
		t.m = make(map[string][]string)
	}
	if len(t.m) < maxTagSets {
		t.m[string(t.key)] = tags
	}
	return tags
}

// AddRunLabels records labels with run id, beside those it has; a label it
// has under the same key takes the new value. Labels are not a run's
// identity: a run found again by a command that labels it is labelled.
func (db *DB) AddRunLabels(ctx context.Context, id int64, labels map[string]string) (err error) {
	defer db.explain(&err)
	if len(labels) == 0 {
		return nil
	}
	patch, err := json.Marshal(labels)
	if err != nil {
		return fmt.Errorf("label run %d: %w", id, err)
	}
	if _, err := db.db.ExecContext(ctx, `UPDATE runs SET labels = json_patch(labels, ?) WHERE id = ?`, string(patch), id); err != nil {
		return fmt.Errorf("label run %d: %w", id, err)
	}
	return nil
}
