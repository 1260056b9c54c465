-- @QTABLE@: REPLACE conflict resolution (INSERT OR REPLACE, REPLACE INTO,
-- UPDATE OR REPLACE, a constraint ON CONFLICT REPLACE) deletes the rows a new
-- row collides with on a unique index, firing no delete trigger.  Before each
-- write, the rows it collides with on a secondary unique index are noted;
-- the AFTER triggers above capture the noted rows that are gone as deletes.
-- A write that is ignored or fails never reaches them.@SKIPPED@
CREATE TRIGGER @TRIG_RINS@ BEFORE INSERT ON @TABLE@ FOR EACH ROW
BEGIN
    DELETE FROM @PENDING@ WHERE table_name = @TABLE_LIT@;
    INSERT INTO @PENDING@ (table_name, k, key_image)
    SELECT @TABLE_LIT@, x.@PK1@, @X_KEY@ FROM @TABLE@ AS x
     WHERE @COLLIDES@;
END;
CREATE TRIGGER @TRIG_RUPD@ BEFORE UPDATE ON @TABLE@ FOR EACH ROW
BEGIN
    DELETE FROM @PENDING@ WHERE table_name = @TABLE_LIT@;
    INSERT INTO @PENDING@ (table_name, k, key_image)
    SELECT @TABLE_LIT@, x.@PK1@, @X_KEY@ FROM @TABLE@ AS x
     WHERE (@COLLIDES@)
       AND NOT (@X_IS_OLD@);
END;
