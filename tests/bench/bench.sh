#!/bin/bash
# bench.sh -- the shadowsync benchmark behind `make bench` (not part of
# `make test`; nothing here is a pass/fail test).
#
# Mirrors the peer benchmark /work/shared/peers/bucardo_pg2pg.sh (Bucardo 5,
# trigger-based PG->PG) so the figures can be put side by side:
#
#   * one throwaway PostgreSQL cluster (tests/lib/harness.sh) with the
#     peer's durable settings: fsync=on, synchronous_commit=on,
#     full_page_writes=on, shared_buffers=256MB; three databases in it, as
#     in the peer: src (captured), dst (target), ctl (identical table, no
#     capture).  Everything (server, daemon, pgbench) shares this machine's
#     CPUs, as in the peer.  Clients and the daemon connect through the
#     cluster's unix socket, as the peer's did (BENCH_TCP=1: 127.0.0.1).
#   * acct(id int primary key, balance bigint, note text, updated_at
#     timestamptz), N=100000 rows, identical in all three databases.
#   * the peer's pgbench script (single-row UPDATE by random id; balance +
#     random(-1000,1000), updated_at = now()), 2 clients.
#   * the peer's checksum (sum, count, md5 of id:balance in id order).
#
# Measures:
#   1  source overhead: pgbench 10 s runs alternated ctl,src,ctl,src,...
#      (RUNS each), daemon running and applying during the src runs; before
#      each run: everything applied, VACUUM acct (src, ctl) and the shadow
#      table, CHECKPOINT.  Median TPS of each, ratio src/ctl; also the
#      median of the per-pair ratios (src run / the ctl run before it), which
#      suffers less when other work on the machine drifts during the measure.
#      Lag under load: during each src run the backlog (shadow rows not yet
#      captured + journal records not yet applied) is sampled every 0.5 s
#      from /status and the source; after the run, the time until the
#      target has everything (status positions equal, shadow table empty,
#      checksums equal).
#   2  apply throughput: daemon stopped; backlog of M=200000 changes made
#      exactly like the peer's catch-up load (one UPDATE of the 100000
#      rows, then pgbench -t 50000 -c 2 single-row UPDATEs); daemon started;
#      time from its start until /status shows applied_pos == journal
#      last_pos with the shadow table empty (polled every 0.1 s), then the
#      checksums are compared.  Compared with a plain bulk upsert of the
#      same 200000 change images into a copy of the target table in the same
#      database: one transaction of COPY into a temp table + INSERT ...
#      SELECT DISTINCT ON (id) ... ON CONFLICT DO UPDATE (wall clock of psql).
#   3  latency, daemon idle: (a) 200 commits/s for 10 s, (b) the peer's 50
#      single-row updates 200 ms apart; each commit sets a unique token on
#      its own row (open loop, tests/bench/latprobe.c).  On dst an ALWAYS
#      trigger (fires despite session_replication_role=replica) records
#      clock_timestamp() into a side table, which a separate process polls
#      every 1 ms.  Latency = first poll that sees the token committed on
#      dst - COMMIT returned on src ("visible"); "arrive" = the trigger's
#      time - commit (excludes the target's commit).  p50, p99 (nearest rank).
#   4  memory: VmHWM of the daemon (a fresh process per drain) while it
#      drains backlogs of MEM_SMALL=200000 and MEM_BIG=2000000 changes, each
#      made of 1000-row UPDATE transactions (so only the backlog size
#      differs); also VmHWM of the measure-2 drain (mixed load, including a
#      100000-row transaction).
#   5  memory, one big source transaction: MEM_TXN=1000000 changes in one
#      transaction (UPDATEs of every acct row, repeated), drained by a
#      fresh `shadowsync run --once` under /usr/bin/time -v: its maximum
#      resident set size (capture, journal and applier together).
#
# Usage:  make bench      or     bash tests/bench/bench.sh
#   quick check:  N=10000 M=20000 T=3 RUNS=1 MEM_BIG=100000 bash tests/bench/bench.sh
# Knobs (defaults): N=100000 M=200000 T=10 CLIENTS=2 RUNS=5 WARMUP_S=3
#   LAT_RATE=200 LAT_SECS=10 LAT_COUNT=50 LAT_GAP_MS=200 LAT_POLL_US=1000
#   MEM_SMALL=200000 MEM_BIG=2000000 MEM_TXN=1000000 BATCH_ROWS=5000 POLL_INTERVAL=200ms
#   BENCH_TCP=0 PHASES="1 2 3 4 5" (a subset runs only those measures)
#   SS_KEEP_TMP=1 keeps the temp dir (daemon log, pgbench logs, samples).
# Output: progress on stderr; per-measure lines and the final table on stdout.
# Runtime with defaults: about 4-6 minutes on 2 cores (most of it the
# pgbench runs and loading the backlogs).

if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -euo pipefail

N=${N:-100000}
M=${M:-200000}
T=${T:-10}
CLIENTS=${CLIENTS:-2}
RUNS=${RUNS:-5}
WARMUP_S=${WARMUP_S:-3}
LAT_RATE=${LAT_RATE:-200}
LAT_SECS=${LAT_SECS:-10}
LAT_COUNT=${LAT_COUNT:-50}
LAT_GAP_MS=${LAT_GAP_MS:-200}
LAT_POLL_US=${LAT_POLL_US:-1000}
MEM_SMALL=${MEM_SMALL:-200000}
MEM_BIG=${MEM_BIG:-2000000}
MEM_TXN=${MEM_TXN:-1000000}
BATCH_ROWS=${BATCH_ROWS:-5000}
BENCH_TCP=${BENCH_TCP:-0}
POLL_INTERVAL=${POLL_INTERVAL:-200ms}
PHASES=${PHASES:-1 2 3 4 5}
CONVERGE_TIMEOUT_S=${CONVERGE_TIMEOUT_S:-600}

export SS_PG_DURABLE=1
# a parent dir of its own: other tests' clean-ups of /tmp/shadowsync-test.*
# must not pull the cluster from under a running bench
export SS_TMP=${SS_TMP:-${TMPDIR:-/tmp}/shadowsync-bench}
mkdir -p "$SS_TMP" && chmod 755 "$SS_TMP"
export SS_PG_EXTRA_OPTS="-c shared_buffers=256MB"
. "$(dirname "$0")/../lib/harness.sh"

BENCH_T0=$EPOCHREALTIME
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { ss_fail "bench: $*"; }
now() { echo "$EPOCHREALTIME"; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a-b}'; }
fdiv() { awk -v a="$1" -v b="$2" -v f="${3:-%.3f}" 'BEGIN{ if (b==0) print "nan"; else printf f, a/b}'; }
fgt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a>b)}'; }
# median of the arguments (FMT: printf format, default %.1f)
fmed() { printf '%s\n' "$@" | sort -g | awk -v f="${FMT:-%.1f}" '{v[NR]=$1} END{ if (NR%2) printf f, v[(NR+1)/2]; else printf f, (v[NR/2]+v[NR/2+1])/2 }'; }
# nearest-rank percentile P of the numbers on stdin
pct() { sort -g | awk -v p="$1" '{v[NR]=$1} END{ if (NR==0) {print "n/a"; exit} i=int(p/100*NR+0.999999); if (i<1) i=1; if (i>NR) i=NR; printf "%.1f", v[i] }'; }

BIN=$(ss_bin)
[ -x "$BIN" ] || die "binary $BIN not found (run make)"
PGBIN=${SS_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PGBIN/pgbench" ] || PGBIN=$(dirname "$(command -v pgbench)")
[ -x "$PGBIN/pgbench" ] || die "pgbench not found"
command -v curl >/dev/null || die "curl not found"
command -v jq >/dev/null || die "jq not found"
W=$(ss_tmpdir)
chmod 755 "$W"
# a private copy: a rebuild during the bench does not change what is measured
cp "$BIN" "$W/shadowsync"
BIN=$W/shadowsync

# the latency probe (a small libpq client), built here
read -r -a PQFLAGS <<<"$(pkg-config --cflags --libs libpq)"
cc -O2 -o "$W/latprobe" "$SS_ROOT/tests/bench/latprobe.c" "${PQFLAGS[@]}" ||
	die "cannot build tests/bench/latprobe.c"

# ------------------------------------------------------------------ cluster
ss_pg_start PG
if [ "$BENCH_TCP" = 1 ]; then
	H=127.0.0.1
else
	H=$PG_SOCKDIR
fi
psqlc() { # psqlc DB [psql args]
	local db=$1
	shift
	PGCONNECT_TIMEOUT=10 "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h "$H" -p "$PG_PORT" -U postgres -d "$db" "$@"
}
log "PostgreSQL $(psqlc postgres -c 'show server_version') on port $PG_PORT ($H):" \
	"fsync=$(psqlc postgres -c 'show fsync') synchronous_commit=$(psqlc postgres -c 'show synchronous_commit')" \
	"full_page_writes=$(psqlc postgres -c 'show full_page_writes') shared_buffers=$(psqlc postgres -c 'show shared_buffers')"
for db in src dst ctl; do
	psqlc postgres -c "CREATE DATABASE $db"
	psqlc "$db" <<EOF
CREATE TABLE acct(id int primary key, balance bigint not null, note text,
                  updated_at timestamptz not null default now());
INSERT INTO acct SELECT i, i*10, 'n'||i, '2024-01-01 00:00:00+00'
  FROM generate_series(1, $N) i;
VACUUM ANALYZE acct;
EOF
done
log "created acct with $N rows in src, dst, ctl"
CHECK_SQL="select sum(balance)||'|'||count(*)||'|'||md5(string_agg(id::text||':'||balance, ',' order by id)) from acct"
FULLCHECK_SQL="select md5(string_agg(id::text||':'||balance||':'||coalesce(note,'<null>')||':'||updated_at::text, ',' order by id)) from acct"
SHADOW=shadowsync.log_bench

# ------------------------------------------------------------------ shadowsync
SPORT=$(ss_free_port)
CFG=$W/bench.ini
cat >"$CFG" <<EOF
[shadowsync]
journal_dir = $W/journal
fsync = batch
status_listen = 127.0.0.1:$SPORT
log_level = info

[database src]
driver = postgres
dsn = host=$H port=$PG_PORT dbname=src user=postgres

[database dst]
driver = postgres
dsn = host=$H port=$PG_PORT dbname=dst user=postgres

[job bench]
source = src
targets = dst
tables = public.acct
capture = trigger
poll_interval = $POLL_INTERVAL
batch_rows = $BATCH_ROWS
EOF
"$BIN" install -c "$CFG" 2>>"$W/daemon.log" || die "shadowsync install failed: $(tail -3 "$W/daemon.log")"
log "capture installed: triggers on src.acct: $(psqlc src -c "select string_agg(tgname, ',') from pg_trigger where tgrelid='acct'::regclass and not tgisinternal")"

DPID=
daemon_start() {
	"$BIN" run -c "$CFG" >>"$W/daemon.log" 2>&1 &
	DPID=$!
	ss_wait_for "curl -sf http://127.0.0.1:$SPORT/status >/dev/null" 30 ||
		die "daemon did not serve /status: $(tail -5 "$W/daemon.log")"
}
STOP_POS=0 # journal last_pos when the daemon was last stopped
daemon_stop() {
	[ -n "$DPID" ] || return 0
	local st
	st=$(status 2>/dev/null) && STOP_POS=${st%% *}
	kill -TERM "$DPID" 2>/dev/null || true
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$DPID" 2>/dev/null && { log "daemon $DPID did not stop on TERM, killing"; kill -KILL "$DPID"; }
	wait "$DPID" 2>/dev/null || true
	DPID=
}
ss_on_exit daemon_stop
vmhwm_kb() { awk '/^VmHWM:/{print $2}' "/proc/$DPID/status"; }
vmrss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$DPID/status"; }

# status: "last_pos applied_pos state"
status() {
	curl -sf "http://127.0.0.1:$SPORT/status" |
		jq -r '.jobs[0] | "\(.journal.last_pos) \(.targets[0].applied_pos) \(.targets[0].state)"'
}
shadow_rows() { psqlc src -c "select count(*) from $SHADOW"; }
# everything committed on src so far is applied on dst (shadow table read
# first, then the positions)
applied_all() {
	local sh st last applied state
	sh=$(shadow_rows) || return 1
	[ "$sh" = 0 ] || return 1
	st=$(status) || return 1
	read -r last applied state <<<"$st"
	[ "$state" = failed ] && die "target failed: $(curl -sf "http://127.0.0.1:$SPORT/status")"
	[ "$last" = "$applied" ]
}
# wait_converge TIMEOUT_S POLL_S -> echoes seconds until applied_all and the
# checksums agree (src must be idle)
wait_converge() {
	local t0 s
	t0=$(now)
	until applied_all; do
		fgt "$(fsub "$(now)" "$t0")" "$1" && die "not applied after $1 s: shadow=$(shadow_rows) status=$(status)"
		sleep "$2"
	done
	s=$(psqlc src -c "$CHECK_SQL")
	until [ "$(psqlc dst -c "$CHECK_SQL")" = "$s" ]; do
		fgt "$(fsub "$(now)" "$t0")" "$1" && die "positions equal but dst != src after $1 s"
		sleep 0.05
	done
	fsub "$(now)" "$t0"
}

cat >"$W/upd.sql" <<'EOF'
\set id random(1, :naccts)
\set d random(-1000, 1000)
UPDATE acct SET balance = balance + :d, updated_at = now() WHERE id = :id;
EOF
# pgbench DB [pgbench args] -> output in $W/pgbench.out
pgb() {
	local db=$1
	shift
	"$PGBIN/pgbench" -n -h "$H" -p "$PG_PORT" -U postgres -c "$CLIENTS" -j "$CLIENTS" \
		-D naccts="$N" "$@" "$db" >"$W/pgbench.out" 2>&1 || { cat "$W/pgbench.out" >&2; die "pgbench failed"; }
	cat "$W/pgbench.out" >>"$W/pgbench.log"
}
pgb_tps() { awk '/^tps = /{printf "%.1f", $3; exit}' "$W/pgbench.out"; }
pgb_txns() { awk '/number of transactions actually processed/{print $NF; exit}' "$W/pgbench.out" | cut -d/ -f1; }

prep_run() {
	wait_converge "$CONVERGE_TIMEOUT_S" 0.1 >/dev/null
	psqlc src -c "VACUUM acct" -c "VACUUM $SHADOW"
	psqlc ctl -c "VACUUM acct"
	psqlc postgres -c "CHECKPOINT"
}

want() { case " $PHASES " in *" $1 "*) return 0 ;; esac; return 1; }
RATIO=- PAIR_MED=- SRC_MED=- CTL_MED=- BACK_MAX=- LAG_MED=- LAG_MAX=-
CHANGES=$M CATCHUP_RATE=- CATCHUP_S=- PLAIN_RATE=- PLAIN_RATIO=- CATCHUP_HWM_KB=-
LP_P50=- LP_P99=- L200_P50=- L200_P99=-
MS_N=$MEM_SMALL MB_N=$MEM_BIG MS_KB=- MB_KB=-
TXN_N=$MEM_TXN TXN_KB=-

# ========================================================== 1. source overhead
daemon_start
log "daemon running (pid $DPID), status on :$SPORT"
psqlc src -c "UPDATE acct SET note='probe-start' WHERE id=1"
w=$(wait_converge 60 0.05) || die "not replicating"
log "probe replicated in ${w}s"
if [ "$WARMUP_S" -gt 0 ]; then
	pgb src -T "$WARMUP_S" -f "$W/upd.sql"
	w=$(wait_converge "$CONVERGE_TIMEOUT_S" 0.1)
	log "warm-up ${WARMUP_S}s pgbench on src; dst converged ${w}s after it"
fi

# sample the backlog while pgbench runs: t shadow_rows last_pos applied_pos
lag_sampler() {
	local t0 sh st
	t0=$(now)
	while :; do
		sh=$(shadow_rows 2>/dev/null) || sh='?'
		st=$(status 2>/dev/null) || st="? ? ?"
		echo "$(fsub "$(now)" "$t0") $sh $st"
		sleep 0.5
	done
}

if want 1; then
log "MEASURE 1: pgbench single-row UPDATE, $CLIENTS clients, ${T}s, ctl/src alternated x$RUNS"
CTL_TPS=() SRC_TPS=() SRC_TXNS=() LAGS=() MAXBACK=()
for ((r = 1; r <= RUNS; r++)); do
	prep_run
	pgb ctl -T "$T" -f "$W/upd.sql"
	CTL_TPS+=("$(pgb_tps)")
	log "  ctl run $r: ${CTL_TPS[-1]} tps"
	prep_run
	lag_sampler >"$W/lag_$r.txt" &
	SAMPLER=$!
	pgb src -T "$T" -f "$W/upd.sql"
	E0=$(now)
	kill "$SAMPLER" 2>/dev/null || true
	wait "$SAMPLER" 2>/dev/null || true
	SRC_TPS+=("$(pgb_tps)")
	SRC_TXNS+=("$(pgb_txns)")
	until applied_all; do
		fgt "$(fsub "$(now)" "$E0")" "$CONVERGE_TIMEOUT_S" &&
			die "src run $r: not applied $CONVERGE_TIMEOUT_S s after the run: $(status)"
		sleep 0.02
	done
	LAGS+=("$(fsub "$(now)" "$E0")")
	s=$(psqlc src -c "$CHECK_SQL")
	[ "$(psqlc dst -c "$CHECK_SQL")" = "$s" ] || die "positions equal after run $r but dst != src"
	# backlog = not yet captured + captured but not applied
	MAXBACK+=("$(awk '$2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ {b = $2 + $3 - $4; if (b > m) m = b} END{print m+0}' "$W/lag_$r.txt")")
	log "  src run $r (daemon applying): ${SRC_TPS[-1]} tps, ${SRC_TXNS[-1]} changes;" \
		"max backlog during run ${MAXBACK[-1]} changes; dst had everything ${LAGS[-1]}s after the run"
done
CTL_MED=$(fmed "${CTL_TPS[@]}")
SRC_MED=$(fmed "${SRC_TPS[@]}")
RATIO=$(fdiv "$SRC_MED" "$CTL_MED")
# each src run over the ctl run just before it: less sensitive to a load
# that drifts over the minutes of the measure (other work on this machine)
PAIRS=()
for ((r = 0; r < RUNS; r++)); do
	PAIRS+=("$(fdiv "${SRC_TPS[r]}" "${CTL_TPS[r]}")")
done
PAIR_MED=$(FMT=%.3f fmed "${PAIRS[@]}")
LAG_MED=$(FMT=%.3f fmed "${LAGS[@]}")
LAG_MAX=$(printf '%s\n' "${LAGS[@]}" | sort -g | tail -n 1)
BACK_MAX=$(printf '%s\n' "${MAXBACK[@]}" | sort -g | tail -n 1)
echo "measure1_ctl_tps_runs: ${CTL_TPS[*]}"
echo "measure1_src_tps_runs: ${SRC_TPS[*]}"
echo "measure1_ctl_tps_median: $CTL_MED"
echo "measure1_src_tps_median: $SRC_MED"
echo "measure1_overhead_ratio: $RATIO"
echo "measure1_pair_ratios: ${PAIRS[*]} (median $PAIR_MED)"
echo "measure1_max_backlog_changes_runs: ${MAXBACK[*]}"
echo "measure1_post_run_lag_s_runs: ${LAGS[*]}"
fi

# ========================================================== 2. apply throughput
# drain_backlog LABEL EXPECTED -> sets DRAIN_S, DRAIN_HWM_KB; daemon must be
# stopped and the backlog in the shadow table
drain_backlog() {
	local label=$1 expected=$2 sh s t0 t1 tc='' st last applied
	sh=$(shadow_rows)
	[ "$sh" = "$expected" ] || die "$label: shadow table holds $sh changes, expected $expected"
	s=$(psqlc src -c "$CHECK_SQL")
	[ "$(psqlc dst -c "$CHECK_SQL")" != "$s" ] || die "$label: dst already equals src?"
	psqlc src -c "VACUUM ANALYZE $SHADOW"
	psqlc postgres -c "CHECKPOINT"
	t0=$(now)
	daemon_start
	# the journal gets exactly the backlog: captured when last_pos reaches
	# STOP_POS + expected, applied when applied_pos does too
	while :; do
		st=$(status) || die "$label: no /status"
		read -r last applied _ <<<"$st"
		[ -z "$tc" ] && [ "$last" -ge $((STOP_POS + expected)) ] && tc=$(now)
		[ "$applied" -ge $((STOP_POS + expected)) ] && [ "$applied" = "$last" ] && applied_all && break
		fgt "$(fsub "$(now)" "$t0")" "$CONVERGE_TIMEOUT_S" && die "$label: not applied after $CONVERGE_TIMEOUT_S s: $st"
		sleep 0.05
	done
	t1=$(now)
	[ "$last" = $((STOP_POS + expected)) ] || log "  $label: journal grew by $((last - STOP_POS)), expected $expected"
	DRAIN_CAPTURE_S=$(fsub "$tc" "$t0")
	DRAIN_HWM_KB=$(vmhwm_kb)
	DRAIN_RSS_KB=$(vmrss_kb)
	[ "$(psqlc dst -c "$CHECK_SQL")" = "$s" ] || die "$label: positions equal but dst checksum != src"
	DRAIN_S=$(fsub "$t1" "$t0")
}

if want 2; then
w=$(wait_converge "$CONVERGE_TIMEOUT_S" 0.1)
daemon_stop
log "MEASURE 2: daemon stopped; loading $M changes"
psqlc src -c "VACUUM acct" -c "VACUUM $SHADOW"
psqlc postgres -c "CHECKPOINT"
BIG=$((M < N ? M : N))
REST=$((M - BIG))
PER_CLIENT=$(((REST + CLIENTS - 1) / CLIENTS))
CHANGES=$((BIG + PER_CLIENT * CLIENTS))
L0=$(now)
psqlc src -c "UPDATE acct SET balance = balance + 1, updated_at = now() WHERE id <= $BIG"
L1=$(now)
[ "$PER_CLIENT" -gt 0 ] && pgb src -t "$PER_CLIENT" -f "$W/upd.sql"
L2=$(now)
DISTINCT=$(psqlc src -c "select count(distinct key_image::text) from $SHADOW")
log "  loaded $CHANGES changes ($BIG by one UPDATE in $(fsub "$L1" "$L0")s + $((PER_CLIENT * CLIENTS)) pgbench txns in $(fsub "$L2" "$L1")s), $DISTINCT distinct rows"
# the same change images, for the plain bulk upsert below
psqlc src -c "\\copy (SELECT l.id, r.id, r.balance, r.note, r.updated_at FROM $SHADOW l, json_populate_record(NULL::acct, l.row_image) r ORDER BY l.id) TO '$W/changes.tsv'"
psqlc dst -c "CREATE TABLE acct_plain (LIKE acct INCLUDING ALL)" \
	-c "INSERT INTO acct_plain SELECT * FROM acct" -c "VACUUM ANALYZE acct_plain"
drain_backlog catch-up "$CHANGES"
CATCHUP_S=$DRAIN_S
CATCHUP_HWM_KB=$DRAIN_HWM_KB
CATCHUP_RATE=$(fdiv "$CHANGES" "$CATCHUP_S" %.0f)
log "  caught up in ${CATCHUP_S}s (everything journaled after ${DRAIN_CAPTURE_S}s) -> $CATCHUP_RATE changes/s ($(fdiv "$DISTINCT" "$CATCHUP_S" %.0f) distinct rows/s); VmHWM $((CATCHUP_HWM_KB / 1024)) MB"

psqlc postgres -c "CHECKPOINT"
P0=$(now)
psqlc dst <<EOF
BEGIN;
CREATE TEMP TABLE chg (seq bigint, id int, balance bigint, note text, updated_at timestamptz) ON COMMIT DROP;
\\copy chg FROM '$W/changes.tsv'
INSERT INTO acct_plain (id, balance, note, updated_at)
  SELECT DISTINCT ON (id) id, balance, note, updated_at FROM chg ORDER BY id, seq DESC
  ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance, note = EXCLUDED.note,
                                 updated_at = EXCLUDED.updated_at;
COMMIT;
EOF
P1=$(now)
PLAIN_S=$(fsub "$P1" "$P0")
PLAIN_RATE=$(fdiv "$CHANGES" "$PLAIN_S" %.0f)
[ "$(psqlc dst -c "${CHECK_SQL/from acct/from acct_plain}")" = "$(psqlc src -c "$CHECK_SQL")" ] ||
	die "plain bulk upsert did not reproduce src"
psqlc dst -c "DROP TABLE acct_plain"
PLAIN_RATIO=$(fdiv "$CATCHUP_RATE" "$PLAIN_RATE")
log "  plain bulk upsert (COPY + INSERT ON CONFLICT, one txn): ${PLAIN_S}s -> $PLAIN_RATE changes/s; ratio $PLAIN_RATIO"
echo "measure2_changes: $CHANGES"
echo "measure2_distinct_rows: $DISTINCT"
echo "measure2_catchup_s: $CATCHUP_S"
echo "measure2_captured_s: $DRAIN_CAPTURE_S"
echo "measure2_changes_per_s: $CATCHUP_RATE"
echo "measure2_plain_upsert_s: $PLAIN_S"
echo "measure2_plain_changes_per_s: $PLAIN_RATE"
echo "measure2_ratio_to_plain: $PLAIN_RATIO"
echo "measure2_vmhwm_kb: $CATCHUP_HWM_KB"
fi

# ========================================================== 3. latency
if want 3; then
w=$(wait_converge "$CONVERGE_TIMEOUT_S" 0.1)
psqlc dst <<'EOF'
CREATE TABLE bench_arrival (seq bigserial PRIMARY KEY, token text NOT NULL,
                            arrived timestamptz NOT NULL);
CREATE FUNCTION bench_arrival_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_arrival (token, arrived) VALUES (NEW.note, clock_timestamp());
    RETURN NULL;
END $$;
CREATE TRIGGER bench_arrival AFTER INSERT OR UPDATE ON acct FOR EACH ROW
    WHEN (NEW.note LIKE 'lat%') EXECUTE FUNCTION bench_arrival_fn();
ALTER TABLE acct ENABLE ALWAYS TRIGGER bench_arrival;
EOF
sleep 2 # idle

# latency TAG COUNT GAP_US -> sets LAT_P50 LAT_P99 ARR_P50 ARR_P99 LAT_MAX LATE_MAX
latency() {
	local tag=$1 count=$2 gap=$3 step poller rc=0
	step=$((N / (count + 1)))
	[ "$step" -ge 1 ] || step=1
	psqlc dst -c "TRUNCATE bench_arrival"
	"$W/latprobe" poll "host=$H port=$PG_PORT dbname=dst user=postgres" "$count" 120 "$LAT_POLL_US" \
		>"$W/lat_$tag.poll" &
	poller=$!
	sleep 0.2
	"$W/latprobe" write "host=$H port=$PG_PORT dbname=src user=postgres" "$count" "$gap" \
		"$step" "$step" "$tag" >"$W/lat_$tag.write" || die "latprobe write failed"
	wait "$poller" || rc=$?
	[ $rc = 0 ] || die "latency $tag: not every token reached dst (latprobe poll exit $rc)"
	# token commit_us late_us | token arrived_us seen_us
	awk 'NR==FNR {c[$1]=$2; next} ($1 in c) {printf "%.3f %.3f\n", ($3-c[$1])/1000, ($2-c[$1])/1000}' \
		"$W/lat_$tag.write" "$W/lat_$tag.poll" >"$W/lat_$tag.ms"
	[ "$(wc -l <"$W/lat_$tag.ms")" = "$count" ] || die "latency $tag: $(wc -l <"$W/lat_$tag.ms") of $count samples"
	LAT_P50=$(cut -d' ' -f1 "$W/lat_$tag.ms" | pct 50)
	LAT_P99=$(cut -d' ' -f1 "$W/lat_$tag.ms" | pct 99)
	LAT_MAX=$(cut -d' ' -f1 "$W/lat_$tag.ms" | pct 100)
	ARR_P50=$(cut -d' ' -f2 "$W/lat_$tag.ms" | pct 50)
	ARR_P99=$(cut -d' ' -f2 "$W/lat_$tag.ms" | pct 99)
	LATE_MAX=$(awk '{if ($3 > m) m = $3} END{printf "%.1f", m/1000}' "$W/lat_$tag.write")
}
log "MEASURE 3: latency"
latency lat200 $((LAT_RATE * LAT_SECS)) $((1000000 / LAT_RATE))
L200_P50=$LAT_P50 L200_P99=$LAT_P99 L200_MAX=$LAT_MAX L200_A50=$ARR_P50 L200_A99=$ARR_P99
log "  $((LAT_RATE * LAT_SECS)) commits at ${LAT_RATE}/s: visible p50 $LAT_P50 ms, p99 $LAT_P99 ms, max $LAT_MAX ms;" \
	"arrive p50 $ARR_P50 p99 $ARR_P99 (writer at most ${LATE_MAX} ms behind schedule)"
sleep 2
latency latpeer "$LAT_COUNT" $((LAT_GAP_MS * 1000))
LP_P50=$LAT_P50 LP_P99=$LAT_P99 LP_MAX=$LAT_MAX LP_A50=$ARR_P50 LP_A99=$ARR_P99
log "  $LAT_COUNT commits ${LAT_GAP_MS} ms apart: visible p50 $LAT_P50 ms, p99 $LAT_P99 ms, max $LAT_MAX ms;" \
	"arrive p50 $ARR_P50 p99 $ARR_P99"
psqlc dst -c "DROP TRIGGER bench_arrival ON acct" -c "DROP FUNCTION bench_arrival_fn()" -c "DROP TABLE bench_arrival"
echo "measure3_rate${LAT_RATE}_p50_ms: $L200_P50"
echo "measure3_rate${LAT_RATE}_p99_ms: $L200_P99"
echo "measure3_rate${LAT_RATE}_max_ms: $L200_MAX"
echo "measure3_rate${LAT_RATE}_arrive_p50_p99_ms: $L200_A50 $L200_A99"
echo "measure3_peer_p50_ms: $LP_P50"
echo "measure3_peer_p99_ms: $LP_P99"
echo "measure3_peer_max_ms: $LP_MAX"
echo "measure3_peer_arrive_p50_p99_ms: $LP_A50 $LP_A99"
fi

# ========================================================== 4. memory
cat >"$W/chunk.sql" <<'EOF'
\set s random(0, :nchunks - 1)
UPDATE acct SET balance = balance + 1, updated_at = now() WHERE id > :s * 1000 AND id <= :s * 1000 + 1000;
EOF
# memory LABEL CHANGES -> sets MEM_KB MEM_S
memory() {
	local label=$1 changes=$2 per
	w=$(wait_converge "$CONVERGE_TIMEOUT_S" 0.1)
	daemon_stop
	psqlc src -c "VACUUM acct" -c "VACUUM $SHADOW"
	per=$(((changes / 1000 + CLIENTS - 1) / CLIENTS))
	local t0
	t0=$(now)
	pgb src -t "$per" -D nchunks=$((N / 1000)) -f "$W/chunk.sql"
	log "  $label: loaded $((per * CLIENTS * 1000)) changes ($((per * CLIENTS)) txns of 1000 rows) in $(fsub "$(now)" "$t0")s"
	drain_backlog "$label" $((per * CLIENTS * 1000))
	MEM_KB=$DRAIN_HWM_KB
	MEM_S=$DRAIN_S
	MEM_CHANGES=$((per * CLIENTS * 1000))
	log "  $label: drained in ${MEM_S}s (journaled after ${DRAIN_CAPTURE_S}s; $(fdiv "$MEM_CHANGES" "$MEM_S" %.0f) changes/s), VmHWM $((MEM_KB / 1024)) MB, VmRSS at end $((DRAIN_RSS_KB / 1024)) MB"
}
if want 4; then
[ "$N" -ge 1000 ] || die "N must be >= 1000 for measure 4"
log "MEASURE 4: daemon memory while draining"
memory small "$MEM_SMALL"
MS_KB=$MEM_KB MS_S=$MEM_S MS_N=$MEM_CHANGES
memory big "$MEM_BIG"
MB_KB=$MEM_KB MB_S=$MEM_S MB_N=$MEM_CHANGES
echo "measure4_vmhwm_kb_${MS_N}: $MS_KB"
echo "measure4_vmhwm_kb_${MB_N}: $MB_KB"
echo "measure4_drain_changes_per_s_${MS_N}: $(fdiv "$MS_N" "$MS_S" %.0f)"
echo "measure4_drain_changes_per_s_${MB_N}: $(fdiv "$MB_N" "$MB_S" %.0f)"
fi

# ========================================================== 5. one big transaction
if want 5; then
[ "$N" -ge 1 ] || die "N must be >= 1 for measure 5"
log "MEASURE 5: peak RSS of run --once draining one $MEM_TXN-row source transaction"
w=$(wait_converge "$CONVERGE_TIMEOUT_S" 0.1)
daemon_stop
psqlc src -c "VACUUM acct" -c "VACUUM $SHADOW"
rounds=$(((MEM_TXN + N - 1) / N))
TXN_N=$((rounds * N))
t0=$(now)
{
	echo "BEGIN;"
	for ((i = 0; i < rounds; i++)); do echo "UPDATE acct SET balance = balance + 1, updated_at = now();"; done
	echo "COMMIT;"
} | psqlc src
log "  loaded one transaction of $TXN_N changes in $(fsub "$(now)" "$t0")s"
s=$(psqlc src -c "$CHECK_SQL")
t0=$(now)
/usr/bin/time -v -o "$W/txn_time.txt" "$BIN" run -c "$CFG" --once >>"$W/daemon.log" 2>&1 ||
	die "run --once failed: $(tail -5 "$W/daemon.log")"
TXN_S=$(fsub "$(now)" "$t0")
TXN_KB=$(awk -F': *' '/Maximum resident set size/{print $2}' "$W/txn_time.txt")
[ "$(psqlc dst -c "$CHECK_SQL")" = "$s" ] || die "measure 5: run --once ended but dst checksum != src"
log "  drained by run --once in ${TXN_S}s, peak RSS $((TXN_KB / 1024)) MB (/usr/bin/time -v)"
echo "measure5_txn_changes: $TXN_N"
echo "measure5_run_once_s: $TXN_S"
echo "measure5_max_rss_kb: $TXN_KB"
daemon_start
fi

w=$(wait_converge "$CONVERGE_TIMEOUT_S" 0.1)
FULL_EQ=no
[ "$(psqlc src -c "$FULLCHECK_SQL")" = "$(psqlc dst -c "$FULLCHECK_SQL")" ] && FULL_EQ=yes
daemon_stop
grep -E ' (error|warn|ERROR|WARN)' "$W/daemon.log" | tail -n 5 >&2 || true

# ========================================================== results
mb() { awk -v k="$1" 'BEGIN{ if (k == "-") print "-"; else printf "%.1f MB", k/1024}'; }
k() { awk -v v="$1" 'BEGIN{ if (v+0 >= 1000) printf "%.1fk", v/1000; else print v}'; }
echo
echo "# shadowsync bench: PostgreSQL $(psqlc postgres -c 'show server_version'), $(nproc) cores," \
	"durable (fsync, synchronous_commit on, shared_buffers=256MB), one cluster: src/dst/ctl databases"
echo "# N=$N rows, pgbench $CLIENTS clients ${T}s x$RUNS, batch_rows=$BATCH_ROWS, final full-row src==dst: $FULL_EQ," \
	"total $(fsub "$(now)" "$BENCH_T0")s"
echo "# load average at start: $LOAD0; at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine makes the TPS figures noisy)"
{
	echo "measure|shadowsync|aim|bucardo"
	echo "source overhead (TPS src/ctl; $SRC_MED/$CTL_MED)|$RATIO|>= 0.85|0.44"
	echo "  same, median of per-pair ratios|$PAIR_MED|>= 0.85|-"
	echo "apply throughput ($CHANGES-change backlog)|$(k "$CATCHUP_RATE")/s (${CATCHUP_S}s)|>= 50k/s|40k/s"
	echo "apply vs plain bulk upsert ($(k "$PLAIN_RATE")/s)|$PLAIN_RATIO|>= 0.5|-"
	echo "latency p50 ($LAT_COUNT commits ${LAT_GAP_MS}ms apart)|$LP_P50 ms|< 50 ms|270 ms"
	echo "latency p99 ($LAT_COUNT commits ${LAT_GAP_MS}ms apart)|$LP_P99 ms|< 250 ms|515-695 ms"
	echo "latency p50 ($LAT_RATE commits/s, ${LAT_SECS}s)|$L200_P50 ms|< 50 ms|-"
	echo "latency p99 ($LAT_RATE commits/s, ${LAT_SECS}s)|$L200_P99 ms|< 250 ms|-"
	echo "peak RSS, $MS_N-change backlog|$(mb "$MS_KB")|< 64 MB|-"
	echo "peak RSS, $MB_N-change backlog|$(mb "$MB_KB")|< 64 MB, flat|-"
	echo "peak RSS, measure-2 backlog|$(mb "$CATCHUP_HWM_KB")|< 64 MB|-"
	echo "peak RSS, one $TXN_N-row source transaction (run --once)|$(mb "$TXN_KB")|< 64 MB|-"
	echo "lag under load: max backlog during ${T}s pgbench|$(k "$BACK_MAX") changes|-|-"
	echo "lag under load: target behind after pgbench ends (median/max)|${LAG_MED}/${LAG_MAX} s|-|30-50 s"
} | column -t -s '|' -o ' | '
