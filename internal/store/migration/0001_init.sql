-- The first schema of evalpin's store.

-- locks are the deliverables evalpin has seen, by content id.
CREATE TABLE locks (
	id         TEXT PRIMARY KEY,
	manifest   TEXT,          -- the manifest JSON; NULL when only the id is known
	source     TEXT NOT NULL, -- how the lock was obtained, e.g. "manifest", "well-known", "ollama"
	first_seen TEXT NOT NULL  -- RFC 3339, UTC
);

-- suites are frozen sets of cases, by content hash.
CREATE TABLE suites (
	hash     TEXT PRIMARY KEY,
	name     TEXT NOT NULL,
	version  TEXT NOT NULL,
	settings TEXT -- the suite's default settings JSON; NULL until the suite itself is stored
);

-- cases keep each case of a suite, enough to show its prompt later.
CREATE TABLE cases (
	suite_hash TEXT NOT NULL REFERENCES suites (hash) ON DELETE CASCADE,
	case_id    TEXT NOT NULL,
	case_hash  TEXT NOT NULL,
	position   INTEGER NOT NULL, -- order within the suite file
	body       TEXT NOT NULL,    -- the case as JSON
	PRIMARY KEY (suite_hash, case_id)
);

-- runs are replays of a suite against one lock at one set of settings.
CREATE TABLE runs (
	id            INTEGER PRIMARY KEY,
	lock          TEXT NOT NULL REFERENCES locks (id),
	suite_hash    TEXT NOT NULL REFERENCES suites (hash),
	suite_name    TEXT NOT NULL,
	suite_version TEXT NOT NULL,
	settings      TEXT NOT NULL, -- eval.Settings as JSON
	settings_hash TEXT NOT NULL,
	endpoints     TEXT NOT NULL, -- JSON array of base URLs
	version       TEXT NOT NULL, -- evalpin's version
	status        TEXT NOT NULL CHECK (status IN ('running', 'interrupted', 'complete')),
	started       TEXT NOT NULL,
	finished      TEXT          -- NULL while running
);

-- runs_identity finds the runs of one (lock, suite, settings), newest last.
CREATE INDEX runs_identity ON runs (lock, suite_hash, settings_hash, id);

-- results are the stored outputs, one per run, case and sample. The UNIQUE
-- constraint makes storing a result twice a no-op, which keeps resuming
-- idempotent; its index also answers which cases a run has stored.
CREATE TABLE results (
	id                INTEGER PRIMARY KEY,
	run_id            INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	case_id           TEXT NOT NULL,
	sample            INTEGER NOT NULL,
	case_hash         TEXT NOT NULL,
	output            TEXT NOT NULL,
	finish_reason     TEXT NOT NULL,
	prompt_tokens     INTEGER NOT NULL,
	completion_tokens INTEGER NOT NULL,
	latency_ns        INTEGER NOT NULL,
	lock_seen         TEXT NOT NULL,
	endpoint          TEXT NOT NULL,
	error_kind        TEXT NOT NULL,
	error             TEXT NOT NULL,
	checks            TEXT NOT NULL, -- JSON array of eval.Check
	UNIQUE (run_id, case_id, sample)
);

-- results_errors counts a run's failed requests without reading its outputs.
CREATE INDEX results_errors ON results (run_id) WHERE error <> '';
