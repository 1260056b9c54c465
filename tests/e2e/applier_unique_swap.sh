#!/usr/bin/env bash
# needs: server
# A batch the target rejects is retried change by change (issue 11, defect
# 7).  Two rows swap e-mails through a temporary value in three source
# commits: collapsed into one multi-row upsert they violate the targets'
# UNIQUE index on email; applied one change at a time in source order they
# do not.  Both targets (PostgreSQL and MariaDB) must end equal to the
# source, `run --once` exiting 0.  Then a change a target rejects on its own
# (its unique value is held by a row only that target has) stops that
# target alone, naming the table, the key and the database's message; the
# other target keeps going (invariants 4 and 5).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
ss_maria_start MY
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_psql SRC -c "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL UNIQUE, n int)"
ss_psql DST -c "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL UNIQUE, n int)"
ss_maria MY -e "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE, n INT)"
ss_write_job "$T/ss.ini" "$T/journal" "public.users" postgres "$SRC_DSN" \
	postgres "$DST_DSN" mariadb "$MY_DSN"
"$BIN" install -c "$T/ss.ini"

src() { ss_psql SRC -c "SELECT id, email, coalesce(n, -1) FROM users ORDER BY id"; }
pg() { ss_psql DST -c "SELECT id, email, coalesce(n, -1) FROM users ORDER BY id"; }
my() { ss_maria MY -e "SELECT id, email, coalesce(n, -1) FROM users ORDER BY id" | tr '\t' '|'; }

ss_psql SRC -c "INSERT INTO users SELECT g, 'u' || g || '@x', 0 FROM generate_series(1, 20) g"
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run1.log" || { cat "$T/run1.log"; ss_fail "first run failed"; }
ss_assert_eq "$(src)" "$(pg)" "PostgreSQL target after the first run"
ss_assert_eq "$(src)" "$(my)" "MariaDB target after the first run"

# Swap the e-mails of rows 1 and 2 through a temporary value, three commits;
# rows 3 and 4 the same, inside one transaction; other rows change around them.
ss_psql SRC -c "UPDATE users SET email = 'tmp@x' WHERE id = 1"
ss_psql SRC -c "UPDATE users SET email = 'u1@x', n = 1 WHERE id = 2"
ss_psql SRC -c "UPDATE users SET email = 'u2@x', n = 1 WHERE id = 1"
ss_psql SRC -c "BEGIN; UPDATE users SET email = 'tmp@x' WHERE id = 3;
	UPDATE users SET email = 'u3@x' WHERE id = 4; UPDATE users SET email = 'u4@x' WHERE id = 3;
	UPDATE users SET n = 7 WHERE id > 10; COMMIT"
ss_psql SRC -c "INSERT INTO users VALUES (21, 'u21@x', 0); DELETE FROM users WHERE id = 20"
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run2.log" || { cat "$T/run2.log"; ss_fail "run after the e-mail swaps failed"; }
ss_assert_eq "$(src)" "$(pg)" "PostgreSQL target after the e-mail swaps"
ss_assert_eq "$(src)" "$(my)" "MariaDB target after the e-mail swaps"

# A change the PostgreSQL target rejects on its own: only that target has a
# row holding the new e-mail.  It stops naming table, key and message; the
# MariaDB target gets the change; nothing is skipped.
ss_psql DST -c "INSERT INTO users VALUES (99, 'taken@x', 0)"
ss_psql SRC -c "UPDATE users SET n = 2 WHERE id = 5"
ss_psql SRC -c "INSERT INTO users VALUES (22, 'taken@x', 0)"
ss_psql SRC -c "UPDATE users SET n = 3 WHERE id = 6"
rc=0
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run3.log" || rc=$?
[ $rc != 0 ] || { cat "$T/run3.log"; ss_fail "a rejected change did not fail the run"; }
grep -E "target dst1.*users.*key id=22.*(duplicate key|unique)" "$T/run3.log" >/dev/null ||
	{ cat "$T/run3.log"; ss_fail "the error does not name table, key and message"; }
ss_assert_eq "$(src)" "$(my)" "MariaDB target while the PostgreSQL target is stopped"
ss_assert_eq "5|u5@x|0" "$(ss_psql DST -c "SELECT id, email, n FROM users WHERE id = 5")" \
	"the PostgreSQL target committed nothing of the rejected transaction's batch"
# Once the drifted row is gone the target catches up.
ss_psql DST -c "DELETE FROM users WHERE id = 99"
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run4.log" || { cat "$T/run4.log"; ss_fail "run after repair failed"; }
ss_assert_eq "$(src)" "$(pg)" "PostgreSQL target after repair"
ss_pass
