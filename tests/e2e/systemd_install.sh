#!/usr/bin/env bash
# The service recipe works as documented (etc/shadowsync.service): `make
# install DESTDIR=...` lays out the binary, man page, unit and sysusers.d
# entry; the unit passes `systemd-analyze verify`; systemd-sysusers creates
# the user from the entry; the daemon, run as that user with the unit's
# umask, reads its configuration (0640 root:shadowsync in a root-owned
# /etc/shadowsync) and replicates, its journal private (0700/0600), the
# configuration unreadable to other users.  No database server (SQLite).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

[ "$(id -u)" = 0 ] || ss_fail "this test creates the service user: run it as root (CI does)"
BIN=$(ss_bin)
T=$(ss_tmpdir)
chmod 755 "$T"
R=$T/root
make -s -C "$SS_ROOT" install DESTDIR="$R" PREFIX=/usr/local >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; ss_fail "make install failed"; }
for f in usr/local/bin/shadowsync usr/local/share/man/man1/shadowsync.1 \
	usr/local/lib/systemd/system/shadowsync.service usr/local/lib/sysusers.d/shadowsync.conf \
	etc/shadowsync/shadowsync.ini.example; do
	[ -f "$R/$f" ] || ss_fail "make install did not install $f"
done
unit=$R/usr/local/lib/systemd/system/shadowsync.service
grep -q '^ExecStart=/usr/local/bin/shadowsync run -c /etc/shadowsync/shadowsync.ini$' "$unit" ||
	ss_fail "unexpected ExecStart: $(grep ExecStart "$unit")"
! grep -q RestartPreventExitStatus "$unit" || ss_fail "the unit still refuses to restart on exit 2"
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$unit" || ss_fail "the unit has no ExecReload (SIGHUP reload)"

# The unit's syntax, with ExecStart pointing at the installed binary.
if command -v systemd-analyze >/dev/null; then
	sed "s#/usr/local/bin/shadowsync#$R/usr/local/bin/shadowsync#" "$unit" >"$T/shadowsync.service"
	SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no "$T/shadowsync.service" >"$T/verify.log" 2>&1 ||
		{ cat "$T/verify.log"; ss_fail "systemd-analyze verify rejects the unit"; }
	grep -v "Failed to connect\|bus" "$T/verify.log" | grep -q . &&
		{ cat "$T/verify.log"; ss_fail "systemd-analyze verify warns about the unit"; }
fi

# The recipe: the user from sysusers.d, the configuration readable through
# the group, the state directory as StateDirectory= makes it.
systemd-sysusers "$R/usr/local/lib/sysusers.d/shadowsync.conf" >/dev/null 2>&1 ||
	ss_fail "systemd-sysusers could not create the user"
id shadowsync >/dev/null || ss_fail "no shadowsync user after systemd-sysusers"
install -d -m 700 -o shadowsync -g shadowsync "$R/var/lib/shadowsync"
install -d -m 755 -o shadowsync -g shadowsync "$T/data"
for db in src dst; do
	sqlite3 "$T/data/$db.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"
	chown shadowsync: "$T/data/$db.db"
done
cat >"$T/ss.ini" <<EOF2
[shadowsync]
journal_dir = $R/var/lib/shadowsync
[database src]
driver = odbc
dsn = Driver=SQLite3;Database=$T/data/src.db
[database dst]
driver = odbc
dsn = Driver=SQLite3;Database=$T/data/dst.db
[job j]
source = src
targets = dst
tables = main.t
EOF2
install -m 640 -o root -g shadowsync "$T/ss.ini" "$R/etc/shadowsync/shadowsync.ini"
as_service()
{
	setpriv --reuid=shadowsync --regid=shadowsync --init-groups sh -c "umask 077; exec \"\$@\"" sh "$@"
}
as_service "$R/usr/local/bin/shadowsync" install -c "$R/etc/shadowsync/shadowsync.ini" \
	>"$T/i.log" 2>&1 || { cat "$T/i.log"; ss_fail "install as the service user failed"; }
sqlite3 "$T/data/src.db" "INSERT INTO t VALUES (1, 'a'), (2, 'b')"
as_service "$R/usr/local/bin/shadowsync" run -c "$R/etc/shadowsync/shadowsync.ini" --once \
	>"$T/run.log" 2>&1 || { cat "$T/run.log"; ss_fail "run as the service user failed"; }
ss_assert_eq "1|a 2|b" "$(sqlite3 "$T/data/dst.db" 'SELECT id, v FROM t ORDER BY id' | tr '\n' ' ' | sed 's/ $//')" \
	"rows replicated by the service user"

# Private: the journal and the configuration are not for other users.
bad=$(find "$R/var/lib/shadowsync" \( -type d -perm /077 \) -o \( -type f -perm /077 \) | head -n 3)
[ -z "$bad" ] || ss_fail "journal files readable by others: $bad"
if setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$R/etc/shadowsync/shadowsync.ini" \
	>/dev/null 2>&1; then
	ss_fail "another user can read the configuration"
fi
ss_pass
