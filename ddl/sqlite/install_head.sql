-- shadowsync capture for job @JOB_NAME@ in database @DATABASE@ (SQLite).
-- Review, then run as a whole: it is one transaction, all or nothing, and
-- running it again changes nothing.  Changes wait in @LOG@
-- until the capture has journaled them and deletes them by id.  Row images
-- are JSON; REAL values appear in them as exact hex floats ("0x66666666666668p-58"
-- is 0.1), since SQLite prints doubles with at most 15-17 correct digits.
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS @LOG@ (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: ids only grow
    txid        INTEGER NOT NULL DEFAULT 0,        -- SQLite exposes no transaction id
    schema_name TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    op          TEXT NOT NULL CHECK (op IN ('I', 'U', 'D')),
    key_image   TEXT NOT NULL,                     -- JSON object: primary key columns
    row_image   TEXT,                              -- JSON object: the new row (NULL for D)
    captured_us INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);
-- Rows a write may remove by REPLACE conflict resolution, noted by the BEFORE
-- triggers and turned into deletes by the AFTER triggers of the same row:
-- empty between statements, apart from the notes of an ignored or failed write.
CREATE TABLE IF NOT EXISTS @PENDING@ (
    table_name  TEXT NOT NULL,
    k,                                             -- the row's first key column, as stored
    key_image   TEXT NOT NULL                      -- JSON object: primary key columns
);
