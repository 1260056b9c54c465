-- remove shadowsync capture for job @JOB_NAME@ from database @DATABASE@ (SQLite):
-- every trigger the job installed, then its shadow table.  One transaction.
BEGIN IMMEDIATE;
