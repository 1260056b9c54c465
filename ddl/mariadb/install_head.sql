-- shadowsync capture for job @JOB_NAME@ in database @DATABASE@ (MariaDB).
--
-- MariaDB commits each DDL statement on its own, so this script cannot be one
-- transaction.  Run by `shadowsync install` it is all or nothing as far as
-- MariaDB allows: when a statement fails, the objects this run created (the
-- shadowsync database, the log table, triggers) are dropped again.  Running
-- it again changes nothing.  It also runs as is in the mariadb client (it uses
-- the client's DELIMITER command); after a failure there, run
-- `shadowsync uninstall` to clean up.
--
-- The triggers run with the rights of their DEFINER, the user running this
-- script (run it as the replication user, not root: see "MariaDB
-- permissions" in the user guide): the users writing the captured tables
-- need no right on the database `shadowsync`, and must get none.
--
-- Each trigger keeps the sql_mode it was created with: strict mode makes a
-- row that cannot be captured (an image larger than max_allowed_packet) fail
-- the application's statement instead of leaving an incomplete image.
SET NAMES utf8mb4;
SET SESSION sql_mode = '@SQL_MODE@';
CREATE DATABASE IF NOT EXISTS `shadowsync` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS `shadowsync`.@LOG@ (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    txid        BIGINT UNSIGNED NOT NULL DEFAULT 0
                COMMENT 'MariaDB exposes no cheap transaction id: always 0',
    schema_name VARCHAR(64) NOT NULL,
    table_name  VARCHAR(64) NOT NULL,
    op          CHAR(1) NOT NULL,
    key_image   LONGTEXT NOT NULL,
    row_image   LONGTEXT NULL,
    captured_at DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    CONSTRAINT op_is_i_u_or_d CHECK (op IN ('I', 'U', 'D')),
    CONSTRAINT row_image_iff_not_delete CHECK ((op = 'D') = (row_image IS NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = @LOG_COMMENT_LIT@;
DELIMITER $$
