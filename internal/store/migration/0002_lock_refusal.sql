-- lock_refusal records why a lock check stopped a run: its lock changed, or
-- could not be confirmed, mid-run. Results whose check failed were discarded,
-- never stored; a resumed run requests them again. '' when no check failed.
ALTER TABLE runs ADD COLUMN lock_refusal TEXT NOT NULL DEFAULT '';
