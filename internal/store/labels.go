package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/evalpin/evalpin/eval"
)

// caseLabel is one case's labels in a label set.
type caseLabel struct {
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
	set := make(map[string]caseLabel, len(cases))
	for _, c := range cases {
		set[c.ID] = caseLabel{Tags: c.Tags, Cluster: c.Cluster}
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

// RunLabels returns the labels snapshotted with run runID, keyed by case id
// (cases with only ID, Tags and Cluster set), and their label set's hash,
// which is equal for two runs exactly when their labels are. ok is false when
// the run has no snapshot (stored before migration 0005, or imported).
func (db *DB) RunLabels(ctx context.Context, runID int64) (cases map[string]eval.Case, set string, ok bool, err error) {
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
		cases, err := db.CaseLabels(ctx, suite)
		return cases, set, err == nil, err
	}
	var doc map[string]caseLabel
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return nil, "", false, fmt.Errorf("labels of run %d: %w", runID, err)
	}
	cases = make(map[string]eval.Case, len(doc))
	for id, l := range doc {
		cases[id] = eval.Case{ID: id, Tags: l.Tags, Cluster: l.Cluster}
	}
	return cases, set, true, nil
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
