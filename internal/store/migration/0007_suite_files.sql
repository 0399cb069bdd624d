-- suite_files remember the hash and case count of each suite file a run has
-- checked, by the file's identity (device, inode, size, modification and
-- change times): a run of a file checked before reads only its header to
-- find its run, and a complete run answers without reading its cases.
CREATE TABLE suite_files (
	file  TEXT PRIMARY KEY,
	hash  TEXT NOT NULL,
	cases INTEGER NOT NULL,
	seen  TEXT NOT NULL
);
