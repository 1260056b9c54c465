-- remove shadowsync capture for job @JOB_NAME@ from database @DATABASE@ (MariaDB):
-- every trigger of the job (found in information_schema.TRIGGERS), then its
-- log table.  Running it again changes nothing.
SET NAMES utf8mb4;
