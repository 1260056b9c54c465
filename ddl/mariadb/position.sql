-- The applier's journal position per (job, target), written in the same
-- transaction as the rows it covers.
CREATE DATABASE IF NOT EXISTS `shadowsync` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS `shadowsync`.`applied_position` (
    job        VARCHAR(255) NOT NULL,
    target     VARCHAR(255) NOT NULL,
    pos        BIGINT UNSIGNED NOT NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    PRIMARY KEY (job, target)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'shadowsync: journal position applied per job and target (UTC)';
