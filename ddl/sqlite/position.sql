CREATE TABLE IF NOT EXISTS shadowsync_applied_position (
    job        TEXT NOT NULL,
    target     TEXT NOT NULL,
    pos        INTEGER NOT NULL,
    epoch      INTEGER NOT NULL DEFAULT 0,
    journal_id TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    PRIMARY KEY (job, target)
);
