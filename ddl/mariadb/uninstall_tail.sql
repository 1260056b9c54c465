DROP TABLE IF EXISTS `shadowsync`.@LOG@;
-- The shadowsync database goes only when nothing else (another job's log
-- table, an applier's position table) still uses it.
SET @shadowsync_tables = (SELECT COUNT(*) FROM information_schema.TABLES
                           WHERE TABLE_SCHEMA = 'shadowsync');
EXECUTE IMMEDIATE IF(@shadowsync_tables = 0, 'DROP DATABASE IF EXISTS `shadowsync`', 'DO 0');
