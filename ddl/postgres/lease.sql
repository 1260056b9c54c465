-- The job lease: one row per job, its epoch bumped on every acquisition
-- (the lock itself is a session advisory lock); the owner records its
-- journal so a process taking over can continue it.
CREATE SCHEMA IF NOT EXISTS shadowsync;
CREATE TABLE IF NOT EXISTS shadowsync.lease (
    job         text PRIMARY KEY,
    epoch       bigint NOT NULL,
    owner       text NOT NULL,
    journal_id  text,
    journal_dir text,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    renewed_at  timestamptz NOT NULL DEFAULT now()
);
