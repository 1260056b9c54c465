-- Which database this session reaches: the cluster (its start time) and the
-- database.  Two connections with equal text reach the same tables.
SELECT 'postgres ' || extract(epoch FROM pg_postmaster_start_time())::text || ' ' || d.oid::text
  FROM pg_catalog.pg_database AS d WHERE d.datname = current_database()
