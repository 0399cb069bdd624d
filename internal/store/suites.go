package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/secret"
)

// PutLock records a lock the store has seen: its id, its identity document
// (the lock manifest of a sha256: lock, the Ollama identity of an
// ollama:sha256: lock; nil when only the id is known) and how it was obtained
// (e.g. "manifest", "well-known", "ollama"). Storing a lock again keeps its
// first-seen time and fills in a document or source it lacked.
func (db *DB) PutLock(ctx context.Context, id lockid.ID, manifest []byte, source string) (err error) {
	defer db.explain(&err)
	if id == "" {
		return errors.New("put lock: empty lock id")
	}
	var m sql.NullString
	if manifest != nil {
		if !json.Valid(manifest) {
			return fmt.Errorf("put lock %s: manifest is not valid JSON", id)
		}
		// A document a server published may hold a secret it was sent.
		// Replacing one inside a JSON string keeps the JSON valid, unless
		// the secret spans JSON syntax, which no key or password does.
		if manifest = secret.RedactBytes(manifest); !json.Valid(manifest) {
			return fmt.Errorf("put lock %s: the manifest holds a secret that cannot be redacted from it", id)
		}
		m = sql.NullString{String: string(manifest), Valid: true}
	}
	_, err = db.db.ExecContext(ctx, `
		INSERT INTO locks (id, manifest, source, first_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			manifest = coalesce(locks.manifest, excluded.manifest),
			source = CASE WHEN locks.source IN ('', 'run') THEN excluded.source ELSE locks.source END`,
		id, m, source, formatTime(db.now()))
	if err != nil {
		return fmt.Errorf("put lock %s: %w", id, err)
	}
	return nil
}

// A Lock is what the store knows of a lock.
type Lock struct {
	ID        lockid.ID
	Manifest  json.RawMessage // nil when only the id is known
	Source    string          // how it was obtained
	FirstSeen time.Time
	// Quantization is what the engine reported of the weights' encoding
	// (e.g. Q4_K_M), "" when unknown; not part of the lock's identity.
	Quantization string
}

// Lock returns the stored lock with the given id, or an error matching
// ErrNotFound.
func (db *DB) Lock(ctx context.Context, id lockid.ID) (_ Lock, err error) {
	defer db.explain(&err)
	locks, err := db.locks(ctx, `WHERE id = ?`, string(id))
	if err != nil {
		return Lock{}, fmt.Errorf("lock %s: %w", id, err)
	}
	if len(locks) == 0 {
		return Lock{}, fmt.Errorf("lock %s: %w", id, ErrNotFound)
	}
	return locks[0], nil
}

// Locks returns every stored lock, in the order they were first seen.
func (db *DB) Locks(ctx context.Context) (_ []Lock, err error) {
	defer db.explain(&err)
	locks, err := db.locks(ctx, ``)
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	return locks, nil
}

// LockIDs returns the ids of every stored lock, oldest first: what a lock id
// prefix is resolved against and abbreviated among.
func (db *DB) LockIDs(ctx context.Context) (_ []lockid.ID, err error) {
	defer db.explain(&err)
	rows, err := db.db.QueryContext(ctx, `SELECT id FROM locks ORDER BY first_seen, id`)
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	defer rows.Close()
	var ids []lockid.ID
	for rows.Next() {
		var id lockid.ID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list locks: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (db *DB) locks(ctx context.Context, where string, args ...any) ([]Lock, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, manifest, source, first_seen, quantization FROM locks `+where+` ORDER BY first_seen, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var locks []Lock
	for rows.Next() {
		var (
			l         Lock
			manifest  sql.NullString
			firstSeen sql.NullString
		)
		if err := rows.Scan(&l.ID, &manifest, &l.Source, &firstSeen, &l.Quantization); err != nil {
			return nil, err
		}
		if manifest.Valid {
			l.Manifest = json.RawMessage(manifest.String)
		}
		if l.FirstSeen, err = parseTime(firstSeen); err != nil {
			return nil, err
		}
		locks = append(locks, l)
	}
	return locks, rows.Err()
}

// caseDoc is how a case is stored: everything needed to show it later. Scorers
// are code, so only their names are kept.
type caseDoc struct {
	ID        string         `json:"id"`
	Messages  []eval.Message `json:"messages,omitempty"`
	Prompt    string         `json:"prompt,omitempty"`
	Tags      []string       `json:"tags,omitempty"`
	Cluster   string         `json:"cluster,omitempty"`
	Overrides eval.Overrides `json:"overrides"`
	Scorers   []string       `json:"scorers,omitempty"`
	Hash      string         `json:"hash"`
}

// putSuiteChunk is the most cases one transaction of PutSuite inserts. SQLite
// has one writer at a time: a Writer storing a run's results while the suite
// is stored waits for one chunk (a few milliseconds), never for the whole
// suite.
var putSuiteChunk = 1000

// PutSuite records suite and its cases. A suite is identified by its hash, so
// storing it again changes nothing; when every case is stored already, it
// costs one query and writes nothing.
//
// The cases are inserted in transactions of a bounded number of cases, so
// that PutSuite may run while a Writer stores results. The suite's settings
// are written with the last of them: a suite whose settings are stored has
// all of its cases, and one that PutSuite left unfinished (a crash, a
// cancelled ctx) is completed by the next PutSuite.
func (db *DB) PutSuite(ctx context.Context, suite eval.Suite) (err error) {
	defer db.explain(&err)
	if suite.Hash == "" {
		return fmt.Errorf("put suite %q: empty suite hash", suite.Name)
	}
	src := eval.CasesOf(&suite)
	// Stored already? The suite hash covers the case ids, so the count of
	// its stored cases says whether all of them are.
	var settingsSet bool
	var stored int
	err = db.db.QueryRowContext(ctx, `
		SELECT settings IS NOT NULL, (SELECT count(*) FROM cases WHERE suite_hash = suites.hash)
		FROM suites WHERE hash = ?`, suite.Hash).Scan(&settingsSet, &stored)
	switch {
	case err == nil && settingsSet && stored == src.Len():
		return nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("put suite %q: %w", suite.Name, err)
	}
	settings, err := json.Marshal(suite.Settings)
	if err != nil {
		return fmt.Errorf("put suite %q: %w", suite.Name, err)
	}
	// The cases are read a chunk at a time: a suite read from its file
	// (suite.Source) is never held whole.
	chunk := make([]eval.Case, 0, min(src.Len(), putSuiteChunk))
	bodies := make([]string, 0, cap(chunk))
	start, n := 0, src.Len()
	flush := func() error {
		// Encode outside the transaction, which holds the write lock.
		bodies = bodies[:0]
		for _, c := range chunk {
			body, err := encodeCase(c)
			if err != nil {
				return fmt.Errorf("case %s: %w", c.ID, err)
			}
			bodies = append(bodies, body)
		}
		var s []byte
		if start+len(chunk) == n {
			s = settings // with the last chunk
		}
		if err := db.putCases(ctx, suite, start, chunk, bodies, s); err != nil {
			return err
		}
		start += len(chunk)
		chunk = chunk[:0]
		return nil
	}
	var perr error
	if err := src.Walk(func(_ int, c *eval.Case) bool {
		chunk = append(chunk, *c)
		if len(chunk) == putSuiteChunk {
			perr = flush()
		}
		return perr == nil
	}); err != nil {
		return fmt.Errorf("put suite %q: %w", suite.Name, err)
	}
	if perr == nil && (len(chunk) > 0 || start == 0) {
		perr = flush()
	}
	if perr != nil {
		return fmt.Errorf("put suite %q: %w", suite.Name, perr)
	}
	if start != n {
		return fmt.Errorf("put suite %q: %d of its %d cases read", suite.Name, start, n)
	}
	return nil
}

// putCases stores chunk, the cases of suite from position start on, with
// their encoded bodies, in one transaction; the suite's row too, with its
// settings when they are given (the last chunk).
func (db *DB) putCases(ctx context.Context, suite eval.Suite, start int, chunk []eval.Case, bodies []string, settings []byte) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// A run may have recorded the suite before its cases (CreateRun); the
	// settings column says whether the suite itself was stored.
	var s sql.NullString
	if settings != nil {
		s = sql.NullString{String: string(settings), Valid: true}
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO suites (hash, name, version, settings) VALUES (?, ?, ?, ?)
		ON CONFLICT (hash) DO UPDATE SET settings = coalesce(suites.settings, excluded.settings)`,
		suite.Hash, suite.Name, suite.Version, s); err != nil {
		return err
	}
	if len(chunk) > 0 {
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO cases (suite_hash, case_id, case_hash, position, body) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (suite_hash, case_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, c := range chunk {
			if _, err := stmt.ExecContext(ctx, suite.Hash, c.ID, c.Hash, start+i, bodies[i]); err != nil {
				return fmt.Errorf("case %s: %w", c.ID, err)
			}
		}
	}
	return tx.Commit()
}

// encodeCase returns the stored body of c.
func encodeCase(c eval.Case) (string, error) {
	doc := caseDoc{ID: c.ID, Messages: c.Messages, Prompt: c.Prompt, Tags: c.Tags, Cluster: c.Cluster,
		Overrides: c.Overrides, Hash: c.Hash}
	for _, s := range c.Scorers {
		doc.Scorers = append(doc.Scorers, s.Name())
	}
	body, err := json.Marshal(doc)
	return string(body), err
}

// Case returns the stored case caseID of the suite with hash suiteHash, or an
// error matching ErrNotFound. Its Scorers are nil: scorers are code, not
// data; the Checks of each result name the scorers that judged it.
func (db *DB) Case(ctx context.Context, suiteHash, caseID string) (_ eval.Case, err error) {
	defer db.explain(&err)
	var body string
	err = db.db.QueryRowContext(ctx, `SELECT body FROM cases WHERE suite_hash = ? AND case_id = ?`, suiteHash, caseID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return eval.Case{}, fmt.Errorf("case %q of suite %.12s: %w", caseID, suiteHash, ErrNotFound)
	} else if err != nil {
		return eval.Case{}, fmt.Errorf("case %q of suite %.12s: %w", caseID, suiteHash, err)
	}
	c, err := decodeCase(body)
	if err != nil {
		return eval.Case{}, fmt.Errorf("case %q of suite %.12s: %w", caseID, suiteHash, err)
	}
	return c, nil
}

// Cases returns every stored case of the suite with hash suiteHash, keyed by
// case id, in one query; like Case, without their Scorers. A suite the store
// does not know has no cases.
func (db *DB) Cases(ctx context.Context, suiteHash string) (_ map[string]eval.Case, err error) {
	defer db.explain(&err)
	rows, err := db.db.QueryContext(ctx, `SELECT body FROM cases WHERE suite_hash = ?`, suiteHash)
	if err != nil {
		return nil, fmt.Errorf("cases of suite %.12s: %w", suiteHash, err)
	}
	defer rows.Close()
	cases := make(map[string]eval.Case)
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("cases of suite %.12s: %w", suiteHash, err)
		}
		c, err := decodeCase(body)
		if err != nil {
			return nil, fmt.Errorf("cases of suite %.12s: %w", suiteHash, err)
		}
		cases[c.ID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cases of suite %.12s: %w", suiteHash, err)
	}
	return cases, nil
}

// decodeCase turns a stored case body back into an eval.Case.
func decodeCase(body string) (eval.Case, error) {
	var doc caseDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return eval.Case{}, err
	}
	return eval.Case{ID: doc.ID, Messages: doc.Messages, Prompt: doc.Prompt, Tags: doc.Tags, Cluster: doc.Cluster,
		Overrides: doc.Overrides, Hash: doc.Hash}, nil
}

// SetLockQuantization records what the engine reported of lock id's weights
// encoding (Lock.Quantization); "" records nothing.
func (db *DB) SetLockQuantization(ctx context.Context, id lockid.ID, quantization string) (err error) {
	defer db.explain(&err)
	if quantization == "" {
		return nil
	}
	if _, err := db.db.ExecContext(ctx, `UPDATE locks SET quantization = ? WHERE id = ?`, quantization, string(id)); err != nil {
		return fmt.Errorf("lock %s: record quantization: %w", id, err)
	}
	return nil
}
