package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/evalpin/evalpin/eval"
)

// ReuseSource returns the run whose results a new run can reuse: the newest
// complete run of the whole suite of like's lock, suite name and settings,
// of another version of the suite (a run of the same version would be found
// complete, not begun anew). ErrNotFound when there is none.
func (db *DB) ReuseSource(ctx context.Context, like eval.Run) (eval.Run, error) {
	runs, err := db.Runs(ctx, RunFilter{Lock: string(like.Lock), Suite: like.Suite, Status: eval.RunComplete})
	if err != nil {
		return eval.Run{}, err
	}
	for _, r := range slices.Backward(runs) {
		if r.Lock == like.Lock && r.SettingsHash == like.SettingsHash && r.Selection == "" && r.SuiteHash != like.SuiteHash && r.ID != like.ID {
			return r, nil
		}
	}
	return eval.Run{}, ErrNotFound
}

// CopyResults copies into run to the results of run from whose case is in
// cases (case id → case hash) with the same hash and that did not fail: the
// outputs of cases a suite kept unchanged, which a new version of it need
// not request again. It returns how many it copied; results run to already
// holds are kept.
func (db *DB) CopyResults(ctx context.Context, from, to int64, cases map[string]string) (_ int64, err error) {
	defer db.explain(&err)
	keys, err := json.Marshal(cases)
	if err != nil {
		return 0, fmt.Errorf("copy results: %w", err)
	}
	res, err := db.db.ExecContext(ctx, `
		INSERT INTO results (run_id, case_id, sample, case_hash, output, finish_reason, prompt_tokens,
			completion_tokens, latency_ns, lock_seen, endpoint, error_kind, error, checks)
		SELECT ?, r.case_id, r.sample, r.case_hash, r.output, r.finish_reason, r.prompt_tokens,
			r.completion_tokens, r.latency_ns, r.lock_seen, r.endpoint, r.error_kind, r.error, r.checks
		FROM results r JOIN json_each(?) k ON k.key = r.case_id AND k.value = r.case_hash
		WHERE r.run_id = ? AND r.error = ''
		ON CONFLICT (run_id, case_id, sample) DO NOTHING`, to, string(keys), from)
	if err != nil {
		return 0, fmt.Errorf("copy results of run %d into run %d: %w", from, to, err)
	}
	return res.RowsAffected()
}
