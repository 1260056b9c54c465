-- Which database file this connection reaches (NULL in memory: nothing else
-- reaches it).  Two connections with equal text reach the same tables.
SELECT 'sqlite ' || file FROM pragma_database_list WHERE name = 'main' AND file <> ''
