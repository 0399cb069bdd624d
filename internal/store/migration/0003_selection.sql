-- selection records the part of its suite a run replays (eval.Selection's
-- String: "tags=x limit=5"); '' for the whole suite. A run is found again, to
-- resume it, by (lock, suite_hash, settings_hash, selection), and only a run
-- of the whole suite is taken for a lock's complete run of that suite.
ALTER TABLE runs ADD COLUMN selection TEXT NOT NULL DEFAULT '';
