-- SECURITY DEFINER: the application role that writes the table needs no
-- rights on the shadowsync schema (and cannot forge change rows itself).
-- The SET clauses pin every setting that changes how a value prints, so
-- the writing session's settings change nothing in the captured text.
-- A statement's row changes are simultaneous: one row per changed row is
-- written per statement, the deletes of old keys no new row has first, then
-- every new row (a key swap or shift under a deferrable key replays right).
CREATE OR REPLACE FUNCTION shadowsync.@FUNC@() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET IntervalStyle = 'postgres'
SET TimeZone = 'UTC'
SET extra_float_digits = 3
SET bytea_output = 'hex'
SET lc_monetary = 'C'
SET lc_numeric = 'C'
SET quote_all_identifiers = off
AS $shadowsync_body$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO shadowsync.@LOG@ (schema_name, table_name, op, key_image, row_image)
        SELECT @SCHEMA_LIT@, @TABLE_LIT@, 'I', @NEW_KEY@, @NEW_ROW@ FROM shadowsync_new n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO shadowsync.@LOG@ (schema_name, table_name, op, key_image, row_image)
        SELECT @SCHEMA_LIT@, @TABLE_LIT@, c.op, c.k, c.r FROM (
            SELECT 0 AS ord, 'D'::"char" AS op, d.k, NULL::json AS r
              FROM (SELECT @OLD_KEY@ AS k FROM shadowsync_old o) d
             WHERE NOT EXISTS (SELECT 1 FROM shadowsync_new n
                                WHERE (@NEW_KEY@)::text = d.k::text)
            UNION ALL
            SELECT 1, 'U', @NEW_KEY@, @NEW_ROW@ FROM shadowsync_new n) c
         ORDER BY c.ord;
    ELSE
        INSERT INTO shadowsync.@LOG@ (schema_name, table_name, op, key_image, row_image)
        SELECT @SCHEMA_LIT@, @TABLE_LIT@, 'D', @OLD_KEY@, NULL FROM shadowsync_old o;
    END IF;
    IF FOUND THEN
        PERFORM pg_notify(@CHANNEL_LIT@, '');
    END IF;
    RETURN NULL;
END
$shadowsync_body$;
COMMENT ON FUNCTION shadowsync.@FUNC@() IS @FUNC_COMMENT_LIT@;
-- (a trigger with transition tables has one event)
DROP TRIGGER IF EXISTS @OLD_TRIGGER@ ON @QTABLE@;
CREATE OR REPLACE TRIGGER @TRIGGER_INSERT@
    AFTER INSERT ON @QTABLE@ REFERENCING NEW TABLE AS shadowsync_new
    FOR EACH STATEMENT EXECUTE FUNCTION shadowsync.@FUNC@();
CREATE OR REPLACE TRIGGER @TRIGGER_UPDATE@
    AFTER UPDATE ON @QTABLE@ REFERENCING OLD TABLE AS shadowsync_old NEW TABLE AS shadowsync_new
    FOR EACH STATEMENT EXECUTE FUNCTION shadowsync.@FUNC@();
CREATE OR REPLACE TRIGGER @TRIGGER_DELETE@
    AFTER DELETE ON @QTABLE@ REFERENCING OLD TABLE AS shadowsync_old
    FOR EACH STATEMENT EXECUTE FUNCTION shadowsync.@FUNC@();
