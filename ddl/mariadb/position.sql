-- The applier's journal position per (job, target), written in the same
-- transaction as the rows it covers, with the epoch of the job lease it was
-- written under (a lower epoch is refused: fencing) and the identity of the
-- journal the position belongs to (NULL: written before identities).
CREATE DATABASE IF NOT EXISTS `shadowsync` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS `shadowsync`.`applied_position` (
    job        VARCHAR(255) NOT NULL,
    target     VARCHAR(255) NOT NULL,
    pos        BIGINT UNSIGNED NOT NULL,
    epoch      BIGINT UNSIGNED NOT NULL DEFAULT 0,
    journal_id VARCHAR(64) NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    PRIMARY KEY (job, target)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'shadowsync: journal position applied per job and target (UTC)';
ALTER TABLE `shadowsync`.`applied_position`
    ADD COLUMN IF NOT EXISTS epoch BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER pos,
    ADD COLUMN IF NOT EXISTS journal_id VARCHAR(64) NULL AFTER epoch;
