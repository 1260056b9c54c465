#!/usr/bin/env bash
# needs: server
# Memory does not grow with the size of a source transaction (issue 11,
# defect 9): one source transaction of 100000 rows of 1 kB (100 MB of row
# images) is drained PG -> PG by `run --once` with a peak RSS under 64 MB
# (/usr/bin/time -v), and arrives whole.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

command -v /usr/bin/time >/dev/null || ss_fail "/usr/bin/time is needed"
ss_pg_start SRC
ss_pg_start DST
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_psql SRC -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
ss_psql DST -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
ss_write_job "$T/ss.ini" "$T/journal" "public.t" postgres "$SRC_DSN" postgres "$DST_DSN"
sed -i 's/^batch_rows = .*/batch_rows = 5000/' "$T/ss.ini"
"$BIN" install -c "$T/ss.ini"
Q="SELECT * FROM t ORDER BY id"

ss_psql SRC -c "INSERT INTO t SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 100000) g"
/usr/bin/time -v -o "$T/time.txt" timeout 600 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run.log" ||
	{ cat "$T/run.log"; ss_fail "run --once failed"; }
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "target equals source"
kb=$(awk -F': *' '/Maximum resident set size/{print $2}' "$T/time.txt")
echo "peak RSS: $kb kB"
[ "$kb" -lt 65536 ] || ss_fail "peak RSS $kb kB for one 100000-row (100 MB) transaction, expected < 64 MB"
ss_pass
