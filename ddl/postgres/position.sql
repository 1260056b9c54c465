CREATE SCHEMA IF NOT EXISTS shadowsync;
CREATE TABLE IF NOT EXISTS shadowsync.applied_position (
    job        text NOT NULL,
    target     text NOT NULL,
    pos        bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, target)
);
