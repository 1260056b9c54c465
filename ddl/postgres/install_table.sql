-- SECURITY DEFINER: the application role that writes the table needs no
-- rights on the shadowsync schema (and cannot forge change rows itself).
-- A trigger's function is checked for EXECUTE only when the trigger is
-- created, so the REVOKE below costs the captured tables nothing, and it
-- keeps any other role from attaching the function to a table of its own or
-- calling it (a function is executable by PUBLIC from its creation on).
-- The SET clauses pin every setting that changes how a value prints, so
-- the writing session's settings change nothing in the captured text.
-- A statement's row changes are simultaneous: the deletes of the old keys
-- of rows whose key changed come first (a row trigger, fired only for
-- them, before the statement's statement triggers), then every new row, in
-- one INSERT per statement: a key swap or shift under a deferrable key
-- replays right, and an old key that a new row has is deleted only to be
-- written again in the same transaction.
CREATE OR REPLACE FUNCTION shadowsync.@FUNC@() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
@PINNED_SETTINGS@AS $shadowsync_body$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        INSERT INTO shadowsync.@LOG@ (schema_name, table_name, op, key_image, row_image)
        VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'D', @OLD_ROW_KEY@, NULL);
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO shadowsync.@LOG@ (schema_name, table_name, op, key_image, row_image)
        SELECT @SCHEMA_LIT@, @TABLE_LIT@, 'D', @OLD_KEY@, NULL FROM shadowsync_old o;
    ELSE
        INSERT INTO shadowsync.@LOG@ (schema_name, table_name, op, key_image, row_image)
        SELECT @SCHEMA_LIT@, @TABLE_LIT@, CASE TG_OP WHEN 'INSERT' THEN 'I' ELSE 'U' END,
               @NEW_KEY@, @NEW_ROW@ FROM shadowsync_new n;
    END IF;
    IF FOUND THEN
        PERFORM pg_notify(@CHANNEL_LIT@, '');
    END IF;
    RETURN NULL;
END
$shadowsync_body$;
REVOKE ALL ON FUNCTION shadowsync.@FUNC@() FROM PUBLIC;
COMMENT ON FUNCTION shadowsync.@FUNC@() IS @FUNC_COMMENT_LIT@;
-- (a trigger with transition tables has one event)
DROP TRIGGER IF EXISTS @OLD_TRIGGER@ ON @QTABLE@;
CREATE OR REPLACE TRIGGER @TRIGGER_INSERT@
    AFTER INSERT ON @QTABLE@ REFERENCING NEW TABLE AS shadowsync_new
    FOR EACH STATEMENT EXECUTE FUNCTION shadowsync.@FUNC@();
CREATE OR REPLACE TRIGGER @TRIGGER_KEYS@
    AFTER UPDATE ON @QTABLE@ FOR EACH ROW WHEN (@KEY_CHANGED@)
    EXECUTE FUNCTION shadowsync.@FUNC@();
CREATE OR REPLACE TRIGGER @TRIGGER_UPDATE@
    AFTER UPDATE ON @QTABLE@ REFERENCING NEW TABLE AS shadowsync_new
    FOR EACH STATEMENT EXECUTE FUNCTION shadowsync.@FUNC@();
CREATE OR REPLACE TRIGGER @TRIGGER_DELETE@
    AFTER DELETE ON @QTABLE@ REFERENCING OLD TABLE AS shadowsync_old
    FOR EACH STATEMENT EXECUTE FUNCTION shadowsync.@FUNC@();
