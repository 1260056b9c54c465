-- The job lease: one row per job with an expiry (µs since the epoch) that
-- the owner renews; a standby takes it once expired.  The epoch is bumped on
-- every acquisition; the owner records its journal so a process taking over
-- can continue it.
CREATE TABLE IF NOT EXISTS shadowsync_lease (
    job         TEXT PRIMARY KEY,
    epoch       INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    journal_id  TEXT,
    journal_dir TEXT,
    expires_us  INTEGER NOT NULL
);
