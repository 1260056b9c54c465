DROP TRIGGER IF EXISTS @TRIG_INS@;
DROP TRIGGER IF EXISTS @TRIG_UPD@;
DROP TRIGGER IF EXISTS @TRIG_DEL@;
DROP TRIGGER IF EXISTS @TRIG_RINS@;
DROP TRIGGER IF EXISTS @TRIG_RUPD@;
CREATE TRIGGER @TRIG_INS@ AFTER INSERT ON @TABLE@ FOR EACH ROW
BEGIN
@REPLACED@    INSERT INTO @LOG@ (schema_name, table_name, op, key_image, row_image)
    VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'I', @NEW_KEY@, @NEW_ROW@);
END;
CREATE TRIGGER @TRIG_UPD@ AFTER UPDATE ON @TABLE@ FOR EACH ROW
BEGIN
@REPLACED@    -- a changed primary key: the row under the old key goes away first
    INSERT INTO @LOG@ (schema_name, table_name, op, key_image, row_image)
    SELECT @SCHEMA_LIT@, @TABLE_LIT@, 'D', @OLD_KEY@, NULL
     WHERE @KEY_CHANGED@;
    INSERT INTO @LOG@ (schema_name, table_name, op, key_image, row_image)
    VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'U', @NEW_KEY@, @NEW_ROW@);
END;
CREATE TRIGGER @TRIG_DEL@ AFTER DELETE ON @TABLE@ FOR EACH ROW
BEGIN
    INSERT INTO @LOG@ (schema_name, table_name, op, key_image, row_image)
    VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'D', @OLD_KEY@, NULL);
END;
