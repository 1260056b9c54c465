-- SECURITY DEFINER: the application role that writes the table needs no
-- rights on the shadowsync schema (and cannot forge change rows itself).
CREATE OR REPLACE FUNCTION shadowsync.@FUNC@() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $shadowsync_body$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO shadowsync.@LOG@ (schema_name, table_name, op, key_image, row_image)
        VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'I', json_build_object(@NEW_KEY@), to_json(NEW));
    ELSIF TG_OP = 'UPDATE' THEN
        IF ROW(@OLD_KEY_COLS@) IS DISTINCT FROM ROW(@NEW_KEY_COLS@) THEN
            INSERT INTO shadowsync.@LOG@ (schema_name, table_name, op, key_image, row_image)
            VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'D', json_build_object(@OLD_KEY@), NULL);
        END IF;
        INSERT INTO shadowsync.@LOG@ (schema_name, table_name, op, key_image, row_image)
        VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'U', json_build_object(@NEW_KEY@), to_json(NEW));
    ELSE
        INSERT INTO shadowsync.@LOG@ (schema_name, table_name, op, key_image, row_image)
        VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'D', json_build_object(@OLD_KEY@), NULL);
    END IF;
    PERFORM pg_notify(@CHANNEL_LIT@, '');
    RETURN NULL;
END
$shadowsync_body$;
COMMENT ON FUNCTION shadowsync.@FUNC@() IS @FUNC_COMMENT_LIT@;
CREATE OR REPLACE TRIGGER @TRIGGER@
    AFTER INSERT OR UPDATE OR DELETE ON @QTABLE@
    FOR EACH ROW EXECUTE FUNCTION shadowsync.@FUNC@();
