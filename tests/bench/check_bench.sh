#!/usr/bin/env bash
# check_bench.sh -- how fast `shadowsync check` compares a big table between
# PostgreSQL and MariaDB (not part of `make test`).
#
#   bash tests/bench/check_bench.sh [ROWS]      (default 2000000)
#
# Environment: SS_BENCH_REPS=N runs every measure N times and prints the
# median (default 1); SS_BIN_BEFORE=PATH also measures that binary (e.g.
# the build before a change), alternating with SS_BIN run by run, so both
# figures come from the same sitting on a shared machine.
#
# Loads the same ROWS-row table (bigint key, int, numeric(12,2), double,
# varchar, timestamptz(6) / TIMESTAMP(6), boolean) into a throwaway
# PostgreSQL and MariaDB with SQL, then measures:
#   - SELECT count(*) on each side (warm), the floor for any full pass;
#   - check of the identical tables: seconds, rows/s, ratio to count(*);
#   - check after 0.1% of the rows drifted on the target (changed, deleted
#     and extra rows spread over the key range): seconds to locate every one,
#     and whether every one was found.
# Prints a small table.  Servers and data are removed at exit.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

ROWS=${1:-2000000}
DRIFT=$((ROWS / 1000))
BIN=$(ss_bin)
T=$(ss_tmpdir)
[ -x "$BIN" ] || ss_fail "build shadowsync first (make)"

ss_pg_start PG
ss_maria_start MDB
my() { ss_maria MDB --default-character-set=utf8mb4 "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "loading $ROWS rows into PostgreSQL and MariaDB ..." >&2
ss_psql PG <<SQL
SET synchronous_commit = off;
CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, amount numeric(12,2),
  price double precision, name varchar(100), created timestamptz(6), paid boolean);
INSERT INTO orders SELECT 2 * g, g % 50000, (g % 1000000) / 100.0, g * 1.1, 'customer ' || g,
  '2020-01-01 00:00:00+00'::timestamptz + g * interval '1.000001 second', g % 3 = 0
  FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE orders;
SQL
my <<SQL
SET time_zone = '+00:00';
CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, amount decimal(12,2),
  price double, name varchar(100), created timestamp(6) NULL, paid boolean) DEFAULT CHARSET utf8mb4;
INSERT INTO orders SELECT 2 * seq, seq % 50000, (seq % 1000000) / 100.0, seq * 1.1,
  CONCAT('customer ', seq), TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq * 1000001 MICROSECOND,
  seq % 3 = 0 FROM seq_1_to_$ROWS;
ANALYZE TABLE orders;
SQL

cat >"$T/ss.ini" <<EOF
[shadowsync]
journal_dir = $T/journal
[database pg]
driver = postgres
dsn = $PG_DSN
[database maria]
driver = mariadb
dsn = $MDB_DSN
[job bench]
source = pg
targets = maria
tables = public.orders
EOF

REPS=${SS_BENCH_REPS:-1}
BEFORE=${SS_BIN_BEFORE:-}
[ -z "$BEFORE" ] || [ -x "$BEFORE" ] || ss_fail "SS_BIN_BEFORE=$BEFORE is not executable"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

count_pg() { ss_psql PG -c 'SELECT count(*) FROM orders' >/dev/null; }
count_my() { my -e 'SELECT count(*) FROM orders' >/dev/null; }
count_pg
count_my # warm both
for r in $(seq "$REPS"); do
	t0=$(now); count_pg; t1=$(now); secs "$t0" "$t1" >>"$T/cpg"; echo >>"$T/cpg"
	t0=$(now); count_my; t1=$(now); secs "$t0" "$t1" >>"$T/cmy"; echo >>"$T/cmy"
done
CPG=$(median <"$T/cpg")
CMY=$(median <"$T/cmy")
CMAX=$(awk -v a="$CPG" -v b="$CMY" 'BEGIN { print (a > b ? a : b) }')

# check_sync BIN: seconds of one check of the identical tables
check_sync()
{
	local rc=0 t0 t1
	t0=$(now)
	"$1" check -c "$T/ss.ini" --min-age 0 >"$T/sync.out" 2>&1 || rc=$?
	t1=$(now)
	[ $rc = 0 ] || ss_fail "identical tables not in sync (exit $rc, $1): $(cat "$T/sync.out")"
	secs "$t0" "$t1"
}
# check_drift BIN: seconds of one check of the drifted tables (every row located)
check_drift()
{
	local rc=0 t0 t1 found
	t0=$(now)
	"$1" check -c "$T/ss.ini" --min-age 0 --format json --output "$T/drift.json" \
		2>"$T/drift.err" || rc=$?
	t1=$(now)
	[ $rc = 1 ] || ss_fail "drift: exit $rc ($1): $(cat "$T/drift.err")"
	found=$(grep -c '"kind":' "$T/drift.json" || true)
	[ "$found" = "$DRIFT" ] || ss_fail "located $found of $DRIFT drifted rows ($1)"
	secs "$t0" "$t1"
}

"$BIN" check -c "$T/ss.ini" --min-age 0 >/dev/null 2>&1 || true # warm
for r in $(seq "$REPS"); do
	[ -z "$BEFORE" ] || { check_sync "$BEFORE"; echo; } >>"$T/sync.before"
	{ check_sync "$BIN"; echo; } >>"$T/sync.after"
done
SYNC=$(median <"$T/sync.after")

# 0.1% drift: a third changed, a third missing, a third extra, spread out
third=$((DRIFT / 3))
step=$((ROWS / third))
my <<SQL
UPDATE orders SET name = CONCAT(name, ' (edited)') WHERE id IN (SELECT 2 * (1 + seq * $step) FROM seq_0_to_$((third - 1)));
DELETE FROM orders WHERE id IN (SELECT 2 * (3 + seq * $step) FROM seq_0_to_$((third - 1)));
INSERT INTO orders (id, customer, name) SELECT 2 * (5 + seq * $step) + 1, 0, 'extra' FROM seq_0_to_$((DRIFT - 2 * third - 1));
SQL
for r in $(seq "$REPS"); do
	[ -z "$BEFORE" ] || { check_drift "$BEFORE"; echo; } >>"$T/drift.before"
	{ check_drift "$BIN"; echo; } >>"$T/drift.after"
done
DRIFTS=$(median <"$T/drift.after")
found=$(grep -c '"kind":' "$T/drift.json" || true)
chunks=$(sed -n 's/.*"chunks":\([0-9]*\).*/\1/p' "$T/drift.json" | head -1)

rate() { awk -v r="$ROWS" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? r / s : 0) }'; }
ratio() { awk -v s="$1" -v c="$CMAX" 'BEGIN { printf "%.1fx", (c > 0 ? s / c : 0) }'; }
printf '\nshadowsync check, PostgreSQL -> MariaDB, %d rows (%s chunks)\n\n' "$ROWS" "$chunks"
printf '%-34s %9s %12s %10s\n' "" seconds rows/s "vs count(*)"
printf '%-34s %9s %12s %10s\n' "SELECT count(*), PostgreSQL" "$CPG" "$(rate "$CPG")" ""
printf '%-34s %9s %12s %10s\n' "SELECT count(*), MariaDB" "$CMY" "$(rate "$CMY")" ""
printf '%-34s %9s %12s %10s\n' "check, identical tables" "$SYNC" "$(rate "$SYNC")" "$(ratio "$SYNC")"
printf '%-34s %9s %12s %10s\n' "check, $DRIFT drifted rows (0.1%)" "$DRIFTS" "$(rate "$DRIFTS")" "$(ratio "$DRIFTS")"
if [ -n "$BEFORE" ]; then
	SB=$(median <"$T/sync.before")
	DB=$(median <"$T/drift.before")
	printf '%-34s %9s %12s %10s\n' "before: check, identical tables" "$SB" "$(rate "$SB")" "$(ratio "$SB")"
	printf '%-34s %9s %12s %10s\n' "before: check, drifted rows" "$DB" "$(rate "$DB")" "$(ratio "$DB")"
fi
printf '\n(median of %d run(s); drifted/identical: %s)\n' "$REPS" \
	"$(awk -v a="$DRIFTS" -v b="$SYNC" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
printf '\ndrifted rows located: %s of %s\n' "$found" "$DRIFT"
[ "$found" = "$DRIFT" ] || ss_fail "located $found of $DRIFT drifted rows"
