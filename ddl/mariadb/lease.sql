-- The job lease: one row per job, its epoch bumped on every acquisition
-- (the lock itself is GET_LOCK, held by the owner's session); the owner
-- records its journal so a process taking over can continue it.
CREATE DATABASE IF NOT EXISTS `shadowsync` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS `shadowsync`.`lease` (
    job         VARCHAR(255) NOT NULL PRIMARY KEY,
    epoch       BIGINT UNSIGNED NOT NULL,
    owner       VARCHAR(255) NOT NULL,
    journal_id  VARCHAR(64) NULL,
    journal_dir TEXT NULL,
    acquired_at DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    renewed_at  DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'shadowsync: job lease (epoch, owner, its journal)';
