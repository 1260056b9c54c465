# harness.sh -- throwaway servers and assertions for the end-to-end tests.
#
# Sourced (bash) by tests/e2e/*.sh:
#
#     . "$(dirname "$0")/../lib/harness.sh"
#     ss_pg_start SRC                 # exports SRC_PORT SRC_HOST SRC_DIR SRC_DSN
#     ss_maria_start DST              # exports DST_PORT DST_SOCK DST_DIR DST_DSN
#     ss_psql SRC -c 'create table t (id int primary key)'
#     ss_assert_eq 1 "$(ss_maria DST -e 'select 1')" "mariadb answers"
#     ss_pass
#
# Every server runs in its own directory under one per-test temp dir, on a
# free port of 127.0.0.1.  An EXIT trap (also reached on SIGINT/SIGTERM/
# SIGHUP) stops every server the test started and removes the temp dir
# (kept when SS_KEEP_TMP=1).  Tests add their own cleanup with ss_on_exit
# instead of calling trap.  A server that does not start is a failure, never
# a skip: its log is printed and the test exits 1.
#
# Functions that export variables (ss_pg_start, ss_maria_start) must run in
# the test's own shell, not inside $(...).
#
# Environment: SS_BIN (binary under test), SS_TMP (parent of temp dirs),
# SS_KEEP_TMP=1, SS_PG_DURABLE=1 (PostgreSQL with fsync on), SS_PG_BINDIR,
# SS_PG_TEMPLATE=0 (always initdb; see _ss_pg_initdb), SS_TEST_CACHE,
# SS_PG_EXTRA_OPTS (added to postgres -o, e.g. "-c wal_level=logical"),
# SS_MARIA_EXTRA_OPTS (added to mariadbd, e.g. "--log-bin=binlog").
# Both are read at each start, so a test can set them for one server only.

if [ -n "${_SS_HARNESS_LOADED:-}" ]; then
	return 0
fi
_SS_HARNESS_LOADED=1

SS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export SS_ROOT

_ss_exit_cmds=()   # ss_on_exit commands, run last-registered first
_ss_pg_names=()    # started PostgreSQL clusters (their NAMEs)
_ss_maria_names=() # started MariaDB servers
_ss_logs=()        # server logs, printed by ss_fail
_ss_ports=()       # ports handed out by this test
_ss_cleaned=0

# One temp dir per test holds every server and every ss_tmpdir, so that a
# dir made inside $(...) is still removed.  Servers run as other users, who
# must be able to enter it.
_SS_TMP=$(mktemp -d "${SS_TMP:-/tmp}/shadowsync-test.XXXXXX") || {
	echo "FAIL: cannot create a temp dir under ${SS_TMP:-/tmp}" >&2
	exit 1
}
chmod 755 "$_SS_TMP"

_ss_log()
{
	echo "harness: $*" >&2
}

# Quote for /bin/sh -c.
_ss_q()
{
	local s=$1
	printf "'%s'" "${s//\'/\'\\\'\'}"
}

# Run a command (given as argv) as USER when we are root, else as ourselves.
_ss_as()
{
	local user=$1 cmd="" a
	shift
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
		return
	fi
	for a in "$@"; do
		cmd+="$(_ss_q "$a") "
	done
	su "$user" -s /bin/sh -c "$cmd"
}

_ss_check_name()
{
	case $1 in
	[A-Za-z_]*) ;;
	*) ss_fail "server name \"$1\" must be a shell variable name" ;;
	esac
	case $1 in
	*[!A-Za-z0-9_]*) ss_fail "server name \"$1\" must be a shell variable name" ;;
	esac
}

_ss_now_ms()
{
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((t / 1000))
}

# --- ports ------------------------------------------------------------------

# Nothing bound to the port, in any state, on any address (IPv4 or IPv6).
_ss_port_free()
{
	local hex f
	hex=$(printf '%04X' "$1")
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] || continue
		if awk -v h=":$hex" 'NR > 1 { if (substr($2, length($2) - 4) == h) found = 1 }
			END { exit !found }' "$f"; then
			return 1
		fi
	done
	# Belt and braces where /proc is not ours (e.g. another network namespace view).
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		return 1
	fi
	return 0
}

# Print a free TCP port in 20000-60000 not yet handed out by this test.
ss_free_port()
{
	local i p u used
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		used=0
		for u in "${_ss_ports[@]+"${_ss_ports[@]}"}"; do
			[ "$u" = "$p" ] && used=1
		done
		[ $used = 0 ] && _ss_port_free "$p" && {
			echo "$p"
			return 0
		}
	done
	echo "FAIL: no free TCP port found in 20000-60000" >&2
	return 1
}

# --- PostgreSQL -----------------------------------------------------------------

_ss_pg_bindir()
{
	if [ -n "${SS_PG_BINDIR:-}" ]; then
		echo "$SS_PG_BINDIR"
		return
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$d" ]; then
		echo "$d"
	elif command -v pg_ctl >/dev/null; then
		dirname "$(command -v pg_ctl)"
	else
		ss_fail "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)"
	fi
}

# initdb into DIR/data.  The result of a first initdb is kept under
# build/test-cache (keyed by server version and options) and later starts
# copy it, which takes half the time; SS_PG_TEMPLATE=0 turns that off.
_ss_pg_initdb()
{
	local name=$1 bindir=$2 dir=$3 key cache tmp
	local args=(-A trust --nosync -U postgres -E UTF8 --locale=C)
	key=$({ "$bindir/postgres" --version; echo "${args[*]}"; } | md5sum | cut -c 1-12)
	cache=${SS_TEST_CACHE:-$SS_ROOT/build/test-cache}/pg-$key
	if [ "${SS_PG_TEMPLATE:-1}" = 1 ] && [ -f "$cache/complete" ] &&
		cp -a "$cache/data" "$dir/data" 2>/dev/null; then
		return 0
	fi
	rm -rf "$dir/data"
	if ! _ss_as postgres "$bindir/initdb" "${args[@]}" -D "$dir/data" \
		>"$dir/initdb.log" 2>&1 </dev/null; then
		cat "$dir/initdb.log" >&2
		ss_fail "initdb for PostgreSQL $name failed"
	fi
	[ "${SS_PG_TEMPLATE:-1}" = 1 ] || return 0
	# Publish atomically: another test may be doing the same right now.
	mkdir -p "${cache%/*}" 2>/dev/null &&
		tmp=$(mktemp -d "${cache%/*}/.pg-$key.XXXXXX" 2>/dev/null) || return 0
	if cp -a "$dir/data" "$tmp/data" && touch "$tmp/complete" &&
		mv -T "$tmp" "$cache" 2>/dev/null; then
		return 0
	fi
	rm -rf "$tmp"
	return 0
}

# ss_pg_start NAME: initdb + start a cluster; exports NAME_PORT, NAME_HOST,
# NAME_DIR, NAME_SOCKDIR, NAME_DSN.
ss_pg_start()
{
	local name=$1 bindir dir port opts rc
	_ss_check_name "$name"
	bindir=$(_ss_pg_bindir) || exit 1
	dir=$(mktemp -d "$_SS_TMP/pg-$name.XXXXXX") || ss_fail "mktemp for $name"
	mkdir -p "$dir/sock"
	[ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
	_ss_logs+=("$dir/postgres.log")
	_ss_pg_names+=("$name")
	eval "_SS_PGBIN_$name=\$bindir"
	export "${name}_DIR=$dir"

	_ss_pg_initdb "$name" "$bindir" "$dir"

	for _ in 1 2 3; do
		port=$(ss_free_port) || ss_fail "no free port for PostgreSQL $name"
		_ss_ports+=("$port")
		opts="-p $port -k '$dir/sock' -c listen_addresses=127.0.0.1 -c max_connections=100"
		if [ "${SS_PG_DURABLE:-0}" != 1 ]; then
			opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		fi
		opts+=" ${SS_PG_EXTRA_OPTS:-}"
		rc=0
		_ss_as postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
			-o "$opts" start >"$dir/pg_ctl.log" 2>&1 </dev/null || rc=$?
		[ $rc = 0 ] && break
		# Lost a race for the port: try another one.
		grep -q 'could not bind\|Address already in use' "$dir/postgres.log" 2>/dev/null ||
			break
	done
	if [ $rc != 0 ]; then
		cat "$dir/pg_ctl.log" >&2
		ss_fail "PostgreSQL $name did not start (port $port)"
	fi

	export "${name}_PORT=$port" "${name}_HOST=127.0.0.1" "${name}_SOCKDIR=$dir/sock"
	export "${name}_DSN=host=127.0.0.1 port=$port dbname=postgres user=postgres"
}

# ss_psql NAME [psql args...]: psql as postgres on database postgres (-d DB
# overrides), unaligned tuples only, stops at the first error.
ss_psql()
{
	local name=$1 port bindir
	shift
	port=$(_ss_var "${name}_PORT")
	bindir=$(_ss_var "_SS_PGBIN_$name")
	[ -n "$port" ] || ss_fail "ss_psql: no PostgreSQL named $name was started"
	PGCONNECT_TIMEOUT=10 "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -At -h 127.0.0.1 -p "$port" \
		-U postgres -d postgres "$@"
}

# ss_pg_createdb NAME DB
ss_pg_createdb()
{
	local db=${2//\"/\"\"}
	ss_psql "$1" -c "CREATE DATABASE \"$db\"" ||
		ss_fail "cannot create database $2 on PostgreSQL $1"
}

_ss_pg_stop()
{
	local name=$1 dir bindir pid
	dir=$(_ss_var "${name}_DIR")
	bindir=$(_ss_var "_SS_PGBIN_$name")
	[ -f "$dir/data/postmaster.pid" ] || return 0
	pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
	_ss_as postgres "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop \
		>>"$dir/pg_ctl.log" 2>&1 </dev/null
	[ -n "$pid" ] && _ss_wait_gone "$pid" 10
}

# --- MariaDB --------------------------------------------------------------------

# ss_maria_start NAME: install a datadir and start mariadbd; exports
# NAME_PORT, NAME_HOST, NAME_SOCK, NAME_DIR, NAME_DSN (database "test").
ss_maria_start()
{
	local name=$1 dir port pid user=() ok t0
	_ss_check_name "$name"
	dir=$(mktemp -d "$_SS_TMP/maria-$name.XXXXXX") || ss_fail "mktemp for $name"
	if [ "$(id -u)" -eq 0 ]; then
		chown mysql: "$dir"
		user=(--user=mysql)
	fi
	_ss_logs+=("$dir/err.log")
	_ss_maria_names+=("$name")
	export "${name}_DIR=$dir" "${name}_SOCK=$dir/sock"

	# Its own tmpdir: a MariaDB starting up removes the #sql temporary files
	# it finds there, so servers sharing /tmp break each other's queries.
	mkdir -p "$dir/tmp"
	[ "$(id -u)" -eq 0 ] && chown mysql: "$dir/tmp"
	if ! mariadb-install-db --no-defaults --auth-root-authentication-method=normal \
		--datadir="$dir/data" "${user[@]+"${user[@]}"}" --skip-test-db --tmpdir="$dir/tmp" \
		--skip-name-resolve >"$dir/install.log" 2>&1 </dev/null; then
		cat "$dir/install.log" >&2
		ss_fail "mariadb-install-db for MariaDB $name failed"
	fi

	for _ in 1 2 3; do
		port=$(ss_free_port) || ss_fail "no free port for MariaDB $name"
		_ss_ports+=("$port")
		# shellcheck disable=SC2086 # SS_MARIA_EXTRA_OPTS: words on purpose
		mariadbd --no-defaults "${user[@]+"${user[@]}"}" --datadir="$dir/data" \
			--tmpdir="$dir/tmp" --socket="$dir/sock" --port="$port" --bind-address=127.0.0.1 \
			--pid-file="$dir/mariadbd.pid" --log-error="$dir/err.log" \
			--skip-grant-tables=0 --innodb-flush-log-at-trx-commit=2 \
			--innodb-buffer-pool-size=128M --skip-name-resolve \
			${SS_MARIA_EXTRA_OPTS:-} </dev/null >>"$dir/stdout.log" 2>&1 &
		pid=$!
		eval "_SS_MARIAPID_$name=\$pid"
		ok=0
		t0=$(_ss_now_ms)
		while (($(_ss_now_ms) - t0 < 60000)); do
			if mariadb --no-defaults -uroot --socket="$dir/sock" -e 'select 1' \
				>/dev/null 2>&1; then
				ok=1
				break
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		[ $ok = 1 ] && break
		_ss_maria_kill "$pid"
		grep -q 'Address already in use\|Do you already have another' "$dir/err.log" ||
			break
	done
	[ $ok = 1 ] || ss_fail "MariaDB $name did not start (port $port)"

	# root over TCP from 127.0.0.1 without password; a database "test".
	mariadb --no-defaults -uroot --socket="$dir/sock" -e "
		CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
		GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
		CREATE DATABASE IF NOT EXISTS test;" >>"$dir/stdout.log" 2>&1 ||
		ss_fail "cannot set up root@127.0.0.1 on MariaDB $name"
	mariadb --no-defaults -h127.0.0.1 -P "$port" -uroot -e 'select 1' >/dev/null 2>&1 ||
		ss_fail "MariaDB $name does not accept root over TCP on port $port"

	export "${name}_PORT=$port" "${name}_HOST=127.0.0.1"
	export "${name}_DSN=host=127.0.0.1 port=$port user=root dbname=test"
}

# ss_maria NAME [mariadb args...]: batch mode, no column names, as root over
# the socket, database test (-D DB overrides).
ss_maria()
{
	local name=$1 sock
	shift
	sock=$(_ss_var "${name}_SOCK")
	[ -n "$sock" ] || ss_fail "ss_maria: no MariaDB named $name was started"
	mariadb --no-defaults -N -B -uroot --socket="$sock" -D test "$@"
}

_ss_maria_kill()
{
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	_ss_wait_gone "$pid" 30
	wait "$pid" 2>/dev/null
	return 0
}

_ss_maria_stop()
{
	local pid
	pid=$(_ss_var "_SS_MARIAPID_$1")
	[ -n "$pid" ] && _ss_maria_kill "$pid"
}

# --- cleanup --------------------------------------------------------------------

_ss_var()
{
	local v=$1
	echo "${!v:-}"
}

# A process that exited but is not reaped yet (a zombie waiting for a slow
# init) counts as gone.
_ss_alive()
{
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Wait up to S seconds for PID to exit; then SIGKILL it.
_ss_wait_gone()
{
	local pid=$1 n=$(($2 * 20))
	while _ss_alive "$pid" && ((n-- > 0)); do
		sleep 0.05
	done
	if _ss_alive "$pid"; then
		_ss_log "pid $pid did not stop, killing it"
		kill -KILL "$pid" 2>/dev/null
		sleep 0.2
	fi
}

# ss_on_exit CMD: run CMD (a string, eval'd) at exit, before the servers
# stop; commands run last-registered first.
ss_on_exit()
{
	_ss_exit_cmds+=("$*")
}

_ss_cleanup()
{
	local rc=$? i name
	set +e
	trap '' INT TERM HUP
	[ "$_ss_cleaned" = 1 ] && return
	_ss_cleaned=1
	for ((i = ${#_ss_exit_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_ss_exit_cmds[i]}"
	done
	for name in "${_ss_maria_names[@]+"${_ss_maria_names[@]}"}"; do
		_ss_maria_stop "$name"
	done
	for name in "${_ss_pg_names[@]+"${_ss_pg_names[@]}"}"; do
		_ss_pg_stop "$name"
	done
	if [ "${SS_KEEP_TMP:-0}" = 1 ]; then
		_ss_log "kept $_SS_TMP"
	else
		rm -rf "$_SS_TMP"
	fi
	exit $rc
}

trap _ss_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- assertions and helpers -------------------------------------------------------

# ss_fail MSG: report, show the tail of every server log, exit 1.
ss_fail()
{
	local log
	echo "FAIL: $*" >&2
	for log in "${_ss_logs[@]+"${_ss_logs[@]}"}"; do
		[ -f "$log" ] || continue
		echo "--- last 50 lines of $log" >&2
		tail -n 50 "$log" >&2
	done
	exit 1
}

# ss_assert_eq EXPECTED ACTUAL MSG
ss_assert_eq()
{
	if [ "$1" != "$2" ]; then
		ss_fail "$3: expected '$1', got '$2'"
	fi
}

ss_pass()
{
	echo "PASS"
	exit 0
}

# ss_bin: the shadowsync binary under test.
ss_bin()
{
	echo "${SS_BIN:-$SS_ROOT/shadowsync}"
}

# ss_tmpdir: print a fresh directory, removed at exit.
ss_tmpdir()
{
	mktemp -d "$_SS_TMP/tmp.XXXXXX"
}

# ss_wait_for CMD TIMEOUT_S: run CMD (one string: eval'd; several words: a
# command and its arguments) every 0.1 s until it succeeds; returns 1 after
# TIMEOUT_S seconds (may be fractional).
ss_wait_for()
{
	local timeout=${*: -1} deadline
	local -a cmd=("${@:1:$#-1}")
	deadline=$(($(_ss_now_ms) + $(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000 }')))
	while :; do
		if [ ${#cmd[@]} -eq 1 ]; then
			eval "${cmd[0]}" && return 0
		else
			"${cmd[@]}" && return 0
		fi
		(($(_ss_now_ms) >= deadline)) && return 1
		sleep 0.1
	done
}
