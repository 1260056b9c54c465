DROP TABLE IF EXISTS shadowsync.@LOG@;
-- The schema goes only when nothing else (another job) still uses it.
DO $shadowsync_body$
BEGIN
    DROP SCHEMA IF EXISTS shadowsync;
EXCEPTION WHEN dependent_objects_still_exist THEN
    NULL;
END
$shadowsync_body$;
COMMIT;
