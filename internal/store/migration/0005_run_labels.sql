-- label_sets hold the tags and cluster of every case of a suite as one run
-- saw them: a JSON object {case id: {"tags": [...], "cluster": "..."}}, keyed
-- by its SHA-256, so that runs of a suite with the same labels share one row.
-- Labels are outside the case hash: a suite stored once keeps its first
-- cases (their labels included), so without a snapshot a diff would read
-- labels that the suite file no longer has.
CREATE TABLE label_sets (
	hash TEXT PRIMARY KEY,
	body TEXT NOT NULL
);

-- run_labels names the label set of a run; a run stored before this
-- migration has none, and is read with the labels of its stored suite.
CREATE TABLE run_labels (
	run_id    INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
	label_set TEXT NOT NULL REFERENCES label_sets (hash)
);
