-- demo_dump.sql -- every row of one demo table in key order, for the
-- comparison of source and target (tools/demo.c).
SELECT * FROM @TABLE@ ORDER BY 1, 2
