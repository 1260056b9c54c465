-- The applier's journal position per (job, target), written in the same
-- transaction as the rows it covers, with the epoch of the job lease it was
-- written under (a lower epoch is refused: fencing) and the identity of the
-- journal the position belongs to (NULL: written before identities).
CREATE SCHEMA IF NOT EXISTS shadowsync;
CREATE TABLE IF NOT EXISTS shadowsync.applied_position (
    job        text NOT NULL,
    target     text NOT NULL,
    pos        bigint NOT NULL,
    epoch      bigint NOT NULL DEFAULT 0,
    journal_id text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, target)
);
ALTER TABLE shadowsync.applied_position
    ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS journal_id text;
