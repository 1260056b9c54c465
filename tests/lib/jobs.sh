# jobs.sh -- writing shadowsync configurations and comparing tables in the
# end-to-end tests.  Sourced after harness.sh.
#
#   ss_write_job FILE JOURNAL_DIR TABLES SRC_DRIVER SRC_DSN [DST_DRIVER DST_DSN]...
#       one job "j" from database "src" to targets "dst1", "dst2", ...
#   ss_pg_dump NAME DB QUERY   -> md5 and row count of COPY (QUERY) output
#   ss_daemon_start FILE LOG   `shadowsync run -c FILE` in the background,
#                              output appended to LOG; killed at exit
#   ss_daemon_stop             SIGTERM to that daemon, and wait for it

ss_write_job()
{
	local file=$1 journal=$2 tables=$3 i=1 targets=""
	shift 3
	{
		printf '[shadowsync]\njournal_dir = %s\nfsync = batch\nlog_level = info\n' "$journal"
		printf '[database src]\ndriver = %s\ndsn = %s\n' "$1" "$2"
		shift 2
		while [ $# -ge 2 ]; do
			printf '[database dst%d]\ndriver = %s\ndsn = %s\n' "$i" "$1" "$2"
			targets="${targets:+$targets, }dst$i"
			i=$((i + 1))
			shift 2
		done
		printf '[job j]\nsource = src\ntargets = %s\ntables = %s\npoll_interval = 100ms\nbatch_rows = 500\n' \
			"$targets" "$tables"
	} >"$file"
}

ss_pg_dump()
{
	local name=$1 db=$2 query=$3
	ss_psql "$name" -d "$db" -c "COPY ($query) TO STDOUT" | md5sum | cut -c1-32
}

# Wait until QUERY gives the same md5 on two PostgreSQL databases.
ss_pg_wait_equal()
{
	local a=$1 adb=$2 b=$3 bdb=$4 query=$5 timeout=${6:-60} end
	end=$((SECONDS + timeout))
	while [ $SECONDS -lt $end ]; do
		[ "$(ss_pg_dump "$a" "$adb" "$query")" = "$(ss_pg_dump "$b" "$bdb" "$query")" ] && return 0
		sleep 0.2
	done
	return 1
}

SS_DAEMON_PID=
ss_daemon_start()
{
	"$(ss_bin)" run -c "$1" >>"$2" 2>&1 &
	SS_DAEMON_PID=$!
	if [ -z "${_SS_DAEMON_TRAP:-}" ]; then
		_SS_DAEMON_TRAP=1
		ss_on_exit '[ -n "$SS_DAEMON_PID" ] && kill -KILL "$SS_DAEMON_PID" 2>/dev/null; true'
	fi
}

ss_daemon_stop()
{
	[ -n "$SS_DAEMON_PID" ] || return 0
	kill -TERM "$SS_DAEMON_PID" 2>/dev/null || true
	wait "$SS_DAEMON_PID" 2>/dev/null || true
	SS_DAEMON_PID=
}

# ss_daemon_role FILE LOG ROLE: start `shadowsync run -c FILE` in the
# background (stderr to LOG, SIGKILLed at exit) and wait until it logs ROLE:
# "owner" (it took the job lease) or "standby".  Its pid in SS_ROLE_PID.
SS_ROLE_PID=
ss_daemon_role()
{
	local file=$1 log=$2 role=$3 pat
	"$(ss_bin)" run -c "$file" 2>"$log" &
	SS_ROLE_PID=$!
	ss_on_exit "kill -KILL $SS_ROLE_PID 2>/dev/null || true"
	pat=$([ "$role" = owner ] && echo 'owner of the job' || echo 'standby')
	ss_wait_for "grep -q '$pat' '$log'" 20 || { cat "$log"; ss_fail "$file: not $role"; }
}
