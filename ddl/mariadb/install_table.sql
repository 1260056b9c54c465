-- @TABLE_DESC@
CREATE OR REPLACE TRIGGER @TRIG_INS@ AFTER INSERT ON @QTABLE@ FOR EACH ROW
INSERT INTO `shadowsync`.@LOG@ (schema_name, table_name, op, key_image, row_image)
VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'I', JSON_OBJECT(@NEW_KEY@), JSON_OBJECT(@NEW_ROW@))$$
CREATE OR REPLACE TRIGGER @TRIG_UPD@ AFTER UPDATE ON @QTABLE@ FOR EACH ROW
BEGIN
    IF NOT (@KEY_UNCHANGED@) THEN
        INSERT INTO `shadowsync`.@LOG@ (schema_name, table_name, op, key_image, row_image)
        VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'D', JSON_OBJECT(@OLD_KEY@), NULL);
    END IF;
    INSERT INTO `shadowsync`.@LOG@ (schema_name, table_name, op, key_image, row_image)
    VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'U', JSON_OBJECT(@NEW_KEY@), JSON_OBJECT(@NEW_ROW@));
END$$
CREATE OR REPLACE TRIGGER @TRIG_DEL@ AFTER DELETE ON @QTABLE@ FOR EACH ROW
INSERT INTO `shadowsync`.@LOG@ (schema_name, table_name, op, key_image, row_image)
VALUES (@SCHEMA_LIT@, @TABLE_LIT@, 'D', JSON_OBJECT(@OLD_KEY@), NULL)$$
