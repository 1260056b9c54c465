/*
 * test_odbc_sql.c -- the SQL the ODBC dialect generates, per flavour
 * (SQLite, PostgreSQL and MariaDB through ODBC): identifier quoting of
 * names holding quotes, spaces and semicolons; the upsert and delete text
 * for one and several rows and for composite keys; the script splitter
 * that feeds statements one by one to drivers that take one at a time;
 * declared type -> journal type; decoding the exact hex floats the
 * SQLite capture triggers write; and the SQLite timestamp poll (one
 * placeholder per entry of its parameter map, timestamps compared as
 * instants).
 */
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "odbc_int.h"

/* A table "Order Items" (id, "we"ird;--", `b`ack, "a b") with key (id) or
 * (id, a b). */
static void make_table(struct ss_tableinfo *t, const char *schema, int composite)
{
	static const char *names[] = {"id", "we\"ird;--", "b`ack", "a b"};

	memset(t, 0, sizeof *t);
	t->schema = strdup(schema);
	t->name = strdup("Order Items");
	t->ncols = 4;
	t->cols = calloc(4, sizeof *t->cols);
	for (int i = 0; i < 4; i++) {
		t->cols[i].name = strdup(names[i]);
		t->cols[i].type = strdup("text");
		t->cols[i].vtype = SS_V_TEXT;
	}
	t->cols[0].pk_pos = 1;
	t->npk = composite ? 2 : 1;
	t->pk = calloc(2, sizeof *t->pk);
	t->pk[0] = 0;
	if (composite) {
		t->cols[3].pk_pos = 2;
		t->pk[1] = 3;
	}
}

static char *gen_upsert(const struct ss_dialect *d, int composite, int ncols, int nrows)
{
	struct ss_tableinfo t;
	struct ss_buf b;
	int cols[4] = {0, 1, 2, 3};

	make_table(&t, d == &ss_dialect_odbc_sqlite ? "main" : "shop", composite);
	ss_buf_init(&b);
	d->upsert_sql(&t, cols, ncols, nrows, &b);
	ss_tableinfo_free(&t);
	return ss_buf_steal(&b);
}

static char *gen_delete(const struct ss_dialect *d, int composite, int nrows)
{
	struct ss_tableinfo t;
	struct ss_buf b;

	make_table(&t, d == &ss_dialect_odbc_sqlite ? "main" : "shop", composite);
	ss_buf_init(&b);
	d->delete_sql(&t, nrows, &b);
	ss_tableinfo_free(&t);
	return ss_buf_steal(&b);
}

static char *quoted(const struct ss_dialect *d, const char *name)
{
	struct ss_buf b;

	ss_buf_init(&b);
	d->quote_ident(&b, name);
	return ss_buf_steal(&b);
}

#define CHECK_GEN(expr, expected)        \
	do {                             \
		char *s_ = (expr);       \
		CHECK_STR(s_, expected); \
		free(s_);                \
	} while (0)

static void test_flavour_names(void)
{
	CHECK_STR(ss_dialect_odbc_sqlite.name, "sqlite");
	CHECK_STR(ss_dialect_odbc_postgres.name, "odbc-postgres");
	CHECK_STR(ss_dialect_odbc_mariadb.name, "odbc-mariadb");
	CHECK(ss_odbc_flavour_sqlite.d == &ss_dialect_odbc_sqlite);
	CHECK(ss_odbc_flavour_postgres.d == &ss_dialect_odbc_postgres);
	CHECK(ss_odbc_flavour_mariadb.d == &ss_dialect_odbc_mariadb);
	/* only SQLite captures through ODBC */
	CHECK(ss_dialect_odbc_sqlite.capture_txn_more == NULL);
	CHECK(ss_odbc_flavour_sqlite.begin_sql != NULL);
}

/* Every dialect table, native or ODBC, has the entries its callers use
 * without checking (capture_txn_more, check and poll are optional). */
static void test_tables_complete(void)
{
	const struct ss_dialect *all[] = {&ss_dialect_postgres, &ss_dialect_mariadb,
					  &ss_dialect_odbc_sqlite, &ss_dialect_odbc_postgres,
					  &ss_dialect_odbc_mariadb};

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		const struct ss_dialect *d = all[i];
		CHECK(d->connect && d->disconnect && d->exec && d->exec_script && d->query);
		CHECK(d->begin && d->commit && d->rollback && d->now_us && d->default_schema);
		CHECK(d->table_info && d->list_tables && d->quote_ident);
		CHECK(d->capture_install_sql && d->capture_uninstall_sql && d->capture_listen &&
		      d->capture_drain && d->capture_fetch && d->capture_delete);
		CHECK(d->apply_prepare && d->apply_upsert && d->apply_delete);
		CHECK(d->position_get && d->position_set && d->upsert_sql && d->delete_sql);
	}
}

static void test_quoting(void)
{
	CHECK_GEN(quoted(&ss_dialect_odbc_sqlite, "we\"ird;--"), "\"we\"\"ird;--\"");
	CHECK_GEN(quoted(&ss_dialect_odbc_sqlite, "Order Items"), "\"Order Items\"");
	CHECK_GEN(quoted(&ss_dialect_odbc_sqlite, "b`ack"), "\"b`ack\"");
	CHECK_GEN(quoted(&ss_dialect_odbc_postgres, "we\"ird;--"), "\"we\"\"ird;--\"");
	CHECK_GEN(quoted(&ss_dialect_odbc_postgres, "\"\""), "\"\"\"\"\"\"");
	CHECK_GEN(quoted(&ss_dialect_odbc_mariadb, "b`ack"), "`b``ack`");
	CHECK_GEN(quoted(&ss_dialect_odbc_mariadb, "we\"ird;--"), "`we\"ird;--`");
	CHECK_GEN(quoted(&ss_dialect_odbc_mariadb, "Order Items"), "`Order Items`");
}

static void test_sqlite_upsert(void)
{
	CHECK_GEN(gen_upsert(&ss_dialect_odbc_sqlite, 0, 4, 1),
		  "INSERT INTO \"main\".\"Order Items\" (\"id\", \"we\"\"ird;--\", \"b`ack\", \"a "
		  "b\")"
		  " VALUES (?, ?, ?, ?) ON CONFLICT (\"id\") DO UPDATE SET"
		  " \"we\"\"ird;--\" = excluded.\"we\"\"ird;--\", \"b`ack\" = excluded.\"b`ack\","
		  " \"a b\" = excluded.\"a b\"");
	CHECK_GEN(gen_upsert(&ss_dialect_odbc_sqlite, 1, 4, 2),
		  "INSERT INTO \"main\".\"Order Items\" (\"id\", \"we\"\"ird;--\", \"b`ack\", \"a "
		  "b\")"
		  " VALUES (?, ?, ?, ?), (?, ?, ?, ?) ON CONFLICT (\"id\", \"a b\") DO UPDATE SET"
		  " \"we\"\"ird;--\" = excluded.\"we\"\"ird;--\", \"b`ack\" = excluded.\"b`ack\"");
	/* only key columns: nothing to update */
	CHECK_GEN(gen_upsert(&ss_dialect_odbc_sqlite, 0, 1, 3),
		  "INSERT INTO \"main\".\"Order Items\" (\"id\") VALUES (?), (?), (?)"
		  " ON CONFLICT (\"id\") DO NOTHING");
}

static void test_sqlite_delete(void)
{
	CHECK_GEN(gen_delete(&ss_dialect_odbc_sqlite, 0, 3),
		  "DELETE FROM \"main\".\"Order Items\" WHERE \"id\" IN (?, ?, ?)");
	CHECK_GEN(gen_delete(&ss_dialect_odbc_sqlite, 1, 2),
		  "DELETE FROM \"main\".\"Order Items\" WHERE (\"id\", \"a b\") IN"
		  " (VALUES (?, ?), (?, ?))");
}

static void test_postgres_sql(void)
{
	CHECK_GEN(
		gen_upsert(&ss_dialect_odbc_postgres, 0, 2, 2),
		"INSERT INTO \"shop\".\"Order Items\" (\"id\", \"we\"\"ird;--\") VALUES (?, ?), "
		"(?, ?)"
		" ON CONFLICT (\"id\") DO UPDATE SET \"we\"\"ird;--\" = EXCLUDED.\"we\"\"ird;--\"");
	CHECK_GEN(gen_upsert(&ss_dialect_odbc_postgres, 1, 1, 1),
		  "INSERT INTO \"shop\".\"Order Items\" (\"id\") VALUES (?)"
		  " ON CONFLICT (\"id\", \"a b\") DO NOTHING");
	CHECK_GEN(gen_delete(&ss_dialect_odbc_postgres, 0, 2),
		  "DELETE FROM \"shop\".\"Order Items\" WHERE (\"id\") IN (?, ?)");
	/* row constructors, not VALUES: untyped parameters take the key types */
	CHECK_GEN(
		gen_delete(&ss_dialect_odbc_postgres, 1, 2),
		"DELETE FROM \"shop\".\"Order Items\" WHERE (\"id\", \"a b\") IN ((?, ?), (?, ?))");
}

/* MariaDB through ODBC runs the native dialect's statements (one engine's
 * SQL): the upsert keeps the key guard, so a conflict on a secondary unique
 * key is an error rather than an overwrite of another row. */
static void test_mariadb_sql(void)
{
	CHECK_GEN(gen_upsert(&ss_dialect_odbc_mariadb, 0, 4, 2),
		  "INSERT INTO `shop`.`Order Items` (`id`, `we\"ird;--`, `b``ack`, `a b`)"
		  " VALUES (?, ?, ?, ?), (?, ?, ?, ?) ON DUPLICATE KEY UPDATE"
		  " `id` = IF(`id` <=> VALUES(`id`), `id`, NULL),"
		  " `we\"ird;--` = VALUES(`we\"ird;--`), `b``ack` = VALUES(`b``ack`),"
		  " `a b` = VALUES(`a b`)");
	CHECK_GEN(gen_upsert(&ss_dialect_odbc_mariadb, 0, 1, 1),
		  "INSERT INTO `shop`.`Order Items` (`id`) VALUES (?) ON DUPLICATE KEY UPDATE"
		  " `id` = IF(`id` <=> VALUES(`id`), `id`, NULL)");
	CHECK_GEN(gen_delete(&ss_dialect_odbc_mariadb, 0, 1),
		  "DELETE FROM `shop`.`Order Items` WHERE `id` IN (?)");
	CHECK_GEN(gen_delete(&ss_dialect_odbc_mariadb, 1, 3),
		  "DELETE FROM `shop`.`Order Items` WHERE (`id` = ? AND `a b` = ?)"
		  " OR (`id` = ? AND `a b` = ?) OR (`id` = ? AND `a b` = ?)");
	for (int composite = 0; composite < 2; composite++) {
		char *odbc = gen_upsert(&ss_dialect_odbc_mariadb, composite, 4, 3);
		char *native = gen_upsert(&ss_dialect_mariadb, composite, 4, 3);
		CHECK_STR(odbc, native);
		free(odbc);
		free(native);
		odbc = gen_delete(&ss_dialect_odbc_mariadb, composite, 3);
		native = gen_delete(&ss_dialect_mariadb, composite, 3);
		CHECK_STR(odbc, native);
		free(odbc);
		free(native);
	}
	CHECK(ss_dialect_odbc_mariadb.quote_ident == ss_dialect_mariadb.quote_ident);
	CHECK(ss_dialect_odbc_mariadb.table_info == ss_dialect_mariadb.table_info);
}

struct split {
	char *stmts[16];
	int n;
};

static int collect(void *arg, const char *stmt, size_t len)
{
	struct split *s = arg;

	if (s->n < 16)
		s->stmts[s->n++] = strndup(stmt, len);
	return 0;
}

static void split_free(struct split *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->stmts[i]);
	s->n = 0;
}

static void test_script_split(void)
{
	struct split s = {{0}, 0};

	ss_odbc_split_script("-- a comment; not a statement\n"
			     "BEGIN IMMEDIATE;\n"
			     "CREATE TABLE \"x;y\" (a TEXT DEFAULT 'it''s; fine', [b;c] INT);\n"
			     "/* block; comment */ INSERT INTO t VALUES (';', \"--\");\n"
			     "CREATE TRIGGER tr AFTER UPDATE ON t FOR EACH ROW\n"
			     "BEGIN\n"
			     "    INSERT INTO l SELECT CASE WHEN NEW.a THEN 1 ELSE 2 END;\n"
			     "    INSERT INTO l VALUES (CASE NEW.b WHEN 1 THEN 'END' END);\n"
			     "END;\n"
			     "COMMIT;\n"
			     "SELECT 1",
			     collect, &s);
	CHECK_INT(s.n, 6);
	CHECK_STR(s.stmts[0], "BEGIN IMMEDIATE");
	CHECK_STR(s.stmts[1], "CREATE TABLE \"x;y\" (a TEXT DEFAULT 'it''s; fine', [b;c] INT)");
	CHECK_STR(s.stmts[2], "INSERT INTO t VALUES (';', \"--\")");
	CHECK(s.n > 3 && strncmp(s.stmts[3], "CREATE TRIGGER tr", 17) == 0);
	CHECK(s.n > 3 && strstr(s.stmts[3], "'END' END);\nEND") != NULL);
	CHECK_STR(s.stmts[4], "COMMIT");
	CHECK_STR(s.stmts[5], "SELECT 1");
	split_free(&s);

	/* nothing but comments and blanks */
	ss_odbc_split_script("  -- only\n /* comments */ \n;", collect, &s);
	CHECK_INT(s.n, 0);
	split_free(&s);
}

static void test_vtype_from_decl(void)
{
	CHECK_INT(ss_odbc_vtype_from_decl("INTEGER"), SS_V_INT);
	CHECK_INT(ss_odbc_vtype_from_decl("bigint"), SS_V_INT);
	CHECK_INT(ss_odbc_vtype_from_decl("VARCHAR(20)"), SS_V_TEXT);
	CHECK_INT(ss_odbc_vtype_from_decl(""), SS_V_TEXT);
	CHECK_INT(ss_odbc_vtype_from_decl("BLOB"), SS_V_BINARY);
	CHECK_INT(ss_odbc_vtype_from_decl("REAL"), SS_V_FLOAT);
	CHECK_INT(ss_odbc_vtype_from_decl("DOUBLE PRECISION"), SS_V_FLOAT);
	CHECK_INT(ss_odbc_vtype_from_decl("FLOAT"), SS_V_FLOAT);
	CHECK_INT(ss_odbc_vtype_from_decl("NUMERIC(10,2)"), SS_V_NUMERIC);
	CHECK_INT(ss_odbc_vtype_from_decl("DECIMAL"), SS_V_NUMERIC);
	CHECK_INT(ss_odbc_vtype_from_decl("BOOLEAN"), SS_V_BOOL);
	CHECK_INT(ss_odbc_vtype_from_decl("DATE"), SS_V_DATE);
	CHECK_INT(ss_odbc_vtype_from_decl("DATETIME"), SS_V_TIMESTAMP);
	CHECK_INT(ss_odbc_vtype_from_decl("TIMESTAMP"), SS_V_TIMESTAMP);
	CHECK_INT(ss_odbc_vtype_from_decl("TIMESTAMP WITH TIME ZONE"), SS_V_TIMESTAMPTZ);
	CHECK_INT(ss_odbc_vtype_from_decl("JSON"), SS_V_JSON);
	CHECK_INT(ss_odbc_vtype_from_decl("UUID"), SS_V_UUID);
}

static char *fmt_double(double v)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_odbc_format_double(v, &b);
	return ss_buf_steal(&b);
}

static char *fmt_plain(double v)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_odbc_plain_decimal(v, &b);
	return ss_buf_steal(&b);
}

static void test_number_text(void)
{
	CHECK_GEN(fmt_double(0.1), "0.1");
	CHECK_GEN(fmt_double(-0.0), "-0");
	CHECK_GEN(fmt_double(5e-324), "5e-324");
	CHECK_GEN(fmt_double(1.7976931348623157e308), "1.7976931348623157e+308");
	CHECK_GEN(fmt_double(1e20), "1e+20");
	CHECK_GEN(fmt_double(1.0 / 3), "0.3333333333333333");
	CHECK_GEN(fmt_plain(1.1), "1.1");
	CHECK_GEN(fmt_plain(-0.001), "-0.001");
	CHECK_GEN(fmt_plain(1.2345678901234567e19), "12345678901234567000");
	CHECK_GEN(fmt_plain(250), "250");
}

static char *decode(const char *img)
{
	char *cols[] = {"r", "n", "we\"ird"};
	uint8_t vt[] = {SS_V_FLOAT, SS_V_NUMERIC, SS_V_FLOAT};
	struct ss_odbc_floatcols fc = {cols, vt, 3};
	struct ss_buf b;

	ss_buf_init(&b);
	if (!ss_odbc_sqlite_decode_floats(&fc, img, strlen(img), &b)) {
		ss_buf_free(&b);
		return strdup(img);
	}
	return ss_buf_steal(&b);
}

static void test_decode_floats(void)
{
	/* 0.1 and 1.1 as the triggers write them */
	CHECK_GEN(
		decode("{\"id\":1,\"r\":\"0x66666666666668p-58\",\"n\":\"0x46666666666668p-54\"}"),
		"{\"id\":1,\"r\":0.1,\"n\":1.1}");
	/* a text column holding hex-float-looking text is left alone */
	CHECK_GEN(decode("{\"t\":\"0x10p1\",\"r\":\"-0x1p-1074\"}"),
		  "{\"t\":\"0x10p1\",\"r\":-5e-324}");
	/* escaped names, nested JSON, NULL and Infinity pass through */
	CHECK_GEN(decode("{\"j\":{\"r\":\"0x1p0\",\"a\":[1,\"}\"]},\"we\\\"ird\":\"0x3p0\","
			 "\"n\":null,\"r\":\"Infinity\"}"),
		  "{\"j\":{\"r\":\"0x1p0\",\"a\":[1,\"}\"]},\"we\\\"ird\":3,\"n\":null,"
		  "\"r\":\"Infinity\"}");
	CHECK_GEN(decode("{\"n\":\"-0x55aa54c6758f84p9\"}"), "{\"n\":-12345678901234567000}");
}

static int count_q(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '?';
	return n;
}

static void test_sqlite_poll(void)
{
	struct ss_tableinfo t;
	struct ss_buf b;
	int pmap[8], n, want[] = {0, 0, 1, 2, 3};

	make_table(&t, "main", 1);
	t.cols[2].vtype = SS_V_TIMESTAMP; /* "b`ack" is the timestamp */
	const struct ss_poll_spec spec = {&t, "b`ack", NULL};
	ss_buf_init(&b);
	n = ss_sqlite_poll_ops.select_sql(&spec, SS_POLL_FROM_KEY, 7, &b, pmap);
	CHECK_INT(n, 5);
	CHECK_INT(count_q(b.data), 5);
	for (int i = 0; i < 5; i++)
		CHECK_INT(pmap[i], want[i]);
	/* the index bound on the text, the order on the instant */
	CHECK(strstr(b.data, "\"b`ack\" >= substr(?, 1, 19)") != NULL);
	CHECK(strstr(b.data, "ORDER BY (unixepoch(") != NULL);
	ss_buf_reset(&b);
	n = ss_sqlite_poll_ops.select_sql(&spec, SS_POLL_FROM_START, 7, &b, pmap);
	CHECK_INT(n, 1);
	CHECK_INT(count_q(b.data), 1);
	ss_buf_free(&b);
	ss_tableinfo_free(&t);
}

int main(void)
{
	UNIT_RUN(test_flavour_names);
	UNIT_RUN(test_tables_complete);
	UNIT_RUN(test_quoting);
	UNIT_RUN(test_sqlite_upsert);
	UNIT_RUN(test_sqlite_delete);
	UNIT_RUN(test_postgres_sql);
	UNIT_RUN(test_mariadb_sql);
	UNIT_RUN(test_script_split);
	UNIT_RUN(test_vtype_from_decl);
	UNIT_RUN(test_number_text);
	UNIT_RUN(test_decode_floats);
	UNIT_RUN(test_sqlite_poll);
	return UNIT_DONE();
}
