-- model is the name the endpoints served the run's lock under ('' for runs
-- stored before it was recorded); labels are the run's free-form labels
-- (run --label fork=nous), a JSON object of strings. Neither identifies the
-- run: the lock, the hashes and the selection do.
ALTER TABLE runs ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
