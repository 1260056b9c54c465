-- shadowsync capture for job @JOB_NAME@ in database @DATABASE@ (PostgreSQL).
-- Review, then run as a whole: it is one transaction, all or nothing, and
-- running it again changes nothing.
BEGIN;
CREATE SCHEMA IF NOT EXISTS shadowsync;
-- The schema is the replication role's (its owner) alone: no right for
-- PUBLIC on it or on anything install creates in it (see the functions'
-- REVOKE below).  Rights a DBA granted to named roles stay theirs to revoke.
REVOKE ALL ON SCHEMA shadowsync FROM PUBLIC;
COMMENT ON SCHEMA shadowsync IS 'shadowsync change capture (shadow change rows, trigger functions)';
CREATE TABLE IF NOT EXISTS shadowsync.@LOG@ (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid        bigint NOT NULL DEFAULT txid_current(),
    schema_name text NOT NULL,
    table_name  text NOT NULL,
    op          "char" NOT NULL CHECK (op IN ('I', 'U', 'D')),
    key_image   json NOT NULL,
    row_image   json,
    captured_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- (txid, id): does a transaction have rows after a batch? (capture)
CREATE INDEX IF NOT EXISTS @LOG_TXID_IDX@ ON shadowsync.@LOG@ (txid, id);
REVOKE ALL ON TABLE shadowsync.@LOG@ FROM PUBLIC;
COMMENT ON TABLE shadowsync.@LOG@ IS 'shadowsync job @JOB_NAME@: changes waiting for capture';
