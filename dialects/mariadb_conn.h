/*
 * mariadb_conn.h -- what the files on MariaDB Connector/C share: the
 * connection, bound parameters, statements (plain, prepared, cached) and
 * scripts (mariadb.c), used by the capture (mariadb_capture.c) and the
 * apply (mariadb_apply.c).  Not for use outside dialects/mariadb*.c; the
 * MariaDB SQL that every transport uses is in engine.h (mariadb_sql.c).
 */
#ifndef SS_MARIADB_CONN_H
#define SS_MARIADB_CONN_H

#include <mysql.h>

#include "dialect.h"

#define MY_SQL_MODE                                                                  \
	"STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO," \
	"NO_ENGINE_SUBSTITUTION"
#define MY_MAX_ROWS 1000      /* rows per INSERT / DELETE statement */
#define MY_MAX_PARAMS 65535   /* placeholders per statement (protocol limit) */
#define MY_PACKET_MARGIN 4096 /* execute-packet bytes beyond the values */
#define MY_JOB_MAX 32         /* trigger names: 64 characters at most */
#define MY_STMT_CACHE 8
#define MY_TRIGGER_CHECK_US (10 * 1000000LL) /* capture triggers re-checked */

struct my_stmt_cache {
	char *sql;
	MYSQL_STMT *st;
};

struct my_conn {
	struct ss_conn base;
	MYSQL *my;
	char *dbname; /* the default schema; "" when none */
	int in_txn;
	unsigned long server_packet;               /* @@max_allowed_packet; 0 until read */
	struct my_stmt_cache cache[MY_STMT_CACHE]; /* apply statements, by SQL text */
	int cache_next;
	int64_t trig_check_us; /* last check of the capture triggers (mono) */
};

#define MYC(c) ((struct my_conn *)(c))
#define MY(c) (MYC(c)->my)

/* A bound parameter.  data == NULL is SQL NULL (for every type). */
struct my_val {
	enum enum_field_types type; /* STRING, BLOB, NEWDECIMAL or LONGLONG */
	const char *data;
	unsigned long len;
	long long ll;
	my_bool is_null;
	my_bool is_unsigned;
};

void ss_my_val_text(struct my_val *v, const char *s, size_t len);
void ss_my_val_u64(struct my_val *v, uint64_t x);

/* One statement over the text protocol; any result is read and dropped. */
int ss_my_exec_text(struct ss_conn *c, const char *sql, struct ss_err *err) SS_MUST_CHECK;
/* A prepared statement with typed parameters; rows (if any) to cb. */
int ss_my_query_typed(struct ss_conn *c, const char *sql, struct my_val *v, int n, ss_row_cb cb,
		      void *arg, struct ss_err *err) SS_MUST_CHECK;
/* The same for a statement kept prepared while its text repeats (apply). */
int ss_my_exec_cached(struct ss_conn *c, const char *sql, size_t len, struct my_val *v, int n,
		      struct ss_err *err) SS_MUST_CHECK;
/* Row callback: the first column of the first row into *(char **)arg. */
int ss_my_first_text_cb(void *arg, int n, const char *const *v, const size_t *l,
			struct ss_err *err);
/* A script split the way the mariadb client splits it (DELIMITER lines). */
int ss_my_run_statements(struct ss_conn *c, const char *sql, struct ss_err *err) SS_MUST_CHECK;

/* --- capture (mariadb_capture.c) --- */
int ss_my_capture_install_sql(struct ss_conn *c, const char *job, const struct ss_tableinfo *tables,
			      int n, struct ss_buf *out, struct ss_err *err);
int ss_my_capture_uninstall_sql(struct ss_conn *c, const char *job,
				const struct ss_tableinfo *tables, int n, struct ss_buf *out,
				struct ss_err *err);
int ss_my_capture_listen(struct ss_conn *c, const char *job, struct ss_err *err);
int ss_my_capture_drain(struct ss_conn *c, struct ss_err *err);
int ss_my_capture_fetch(struct ss_conn *c, const char *job, int limit, ss_shadow_cb cb, void *arg,
			struct ss_err *err);
int ss_my_capture_delete(struct ss_conn *c, const char *job, const uint64_t *ids, int n,
			 struct ss_err *err);

/* --- apply (mariadb_apply.c) --- */
int ss_my_apply_prepare(struct ss_conn *c, struct ss_err *err);
int ss_my_apply_upsert(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err);
int ss_my_apply_delete(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err);

#endif
