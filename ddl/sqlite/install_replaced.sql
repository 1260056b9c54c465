    -- rows REPLACE conflict resolution removed for this row (no delete
    -- trigger fires for them): the rows noted before the write that are gone
    INSERT INTO @LOG@ (schema_name, table_name, op, key_image, row_image)
    SELECT @SCHEMA_LIT@, @TABLE_LIT@, 'D', p.key_image, NULL FROM @PENDING@ AS p
     WHERE p.table_name = @TABLE_LIT@
       AND NOT EXISTS (SELECT 1 FROM @TABLE@ AS x WHERE x.@PK1@ IS p.k AND @X_KEY@ IS p.key_image)
     ORDER BY p.rowid;
    DELETE FROM @PENDING@ WHERE table_name = @TABLE_LIT@;
