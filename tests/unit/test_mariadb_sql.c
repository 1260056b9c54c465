/*
 * test_mariadb_sql.c -- SQL text the MariaDB dialect generates without a
 * server: backtick quoting of hostile identifiers (backticks, quotes,
 * semicolons, comment starters, spaces, unicode), and the exact upsert and
 * delete statements the applier runs for a composite-key table (placeholder
 * counts, the key guard of ON DUPLICATE KEY UPDATE, the OR form of a
 * composite-key delete, the IN form of a one-column key), and the
 * timestamp poll's placeholders: one per entry of the parameter map, the
 * page's timestamp taken twice after a key (once to bound the index range).
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "dialect.h"
#include "util.h"

static char *quoted(const char *ident)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_dialect_mariadb.quote_ident(&b, ident);
	return ss_buf_steal(&b);
}

static void test_quote_ident(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain", "`plain`"},
		{"Order Items", "`Order Items`"},
		{"back`tick", "`back``tick`"},
		{"`", "````"},
		{"``x``", "`````x`````"},
		{"we\"ird;--", "`we\"ird;--`"},
		{"it's", "`it's`"},
		{"a.b", "`a.b`"},
		{"x`; DROP TABLE t; --", "`x``; DROP TABLE t; --`"},
		{"emoji 😀 é", "`emoji 😀 é`"},
		{"", "``"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *q = quoted(cases[i].in);
		CHECK_STR(q, cases[i].out);
		free(q);
	}
}

static void test_qualified_name(void)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_tableinfo_qname(&ss_dialect_mariadb, "Sales", "tick`s", &b);
	CHECK_STR(b.data, "`Sales`.`tick``s`");
	ss_buf_reset(&b);
	ss_tableinfo_qname(&ss_dialect_mariadb, NULL, "t", &b);
	CHECK_STR(b.data, "`t`");
	ss_buf_free(&b);
}

/* `Sales`.`Order Items` ("order id" int, "line`no" varchar, "we\"ird;--"
 * text, amount decimal), primary key (order id, line`no). */
static struct ss_colinfo cols[] = {
	{"order id", "int(11)", SS_V_INT, 0, 1, -1, -1},
	{"line`no", "varchar(20)", SS_V_TEXT, 0, 2, -1, -1},
	{"we\"ird;--", "text", SS_V_TEXT, 1, 0, -1, -1},
	{"amount", "decimal(38,10)", SS_V_NUMERIC, 1, 0, 38, 10},
};
static int pk[] = {0, 1};
static const struct ss_tableinfo table = {"Sales", "Order Items", cols, 4, pk, 2};

static void test_upsert_composite(void)
{
	struct ss_buf b;
	int all[] = {0, 1, 2, 3};

	ss_buf_init(&b);
	ss_dialect_mariadb.upsert_sql(&table, all, 4, 2, &b);
	CHECK_STR(
		b.data,
		"INSERT INTO `Sales`.`Order Items` (`order id`, `line``no`, `we\"ird;--`, `amount`)"
		" VALUES (?, ?, ?, ?), (?, ?, ?, ?)"
		" ON DUPLICATE KEY UPDATE"
		" `order id` = IF(`order id` <=> VALUES(`order id`), `order id`, NULL),"
		" `line``no` = IF(`line``no` <=> VALUES(`line``no`), `line``no`, NULL),"
		" `we\"ird;--` = VALUES(`we\"ird;--`), `amount` = VALUES(`amount`)");

	/* a subset of the columns (excluded columns), one row */
	int some[] = {1, 0, 3};
	ss_buf_reset(&b);
	ss_dialect_mariadb.upsert_sql(&table, some, 3, 1, &b);
	CHECK_STR(b.data, "INSERT INTO `Sales`.`Order Items` (`line``no`, `order id`, `amount`)"
			  " VALUES (?, ?, ?)"
			  " ON DUPLICATE KEY UPDATE"
			  " `order id` = IF(`order id` <=> VALUES(`order id`), `order id`, NULL),"
			  " `line``no` = IF(`line``no` <=> VALUES(`line``no`), `line``no`, NULL),"
			  " `amount` = VALUES(`amount`)");

	/* only key columns: the update is the key guard alone */
	ss_buf_reset(&b);
	ss_dialect_mariadb.upsert_sql(&table, all, 2, 1, &b);
	CHECK_STR(b.data, "INSERT INTO `Sales`.`Order Items` (`order id`, `line``no`) VALUES (?, ?)"
			  " ON DUPLICATE KEY UPDATE"
			  " `order id` = IF(`order id` <=> VALUES(`order id`), `order id`, NULL),"
			  " `line``no` = IF(`line``no` <=> VALUES(`line``no`), `line``no`, NULL)");
	ss_buf_free(&b);
}

static int count_char(const char *s, char ch)
{
	int n = 0;

	for (; *s; s++)
		n += *s == ch;
	return n;
}

static void test_upsert_placeholders(void)
{
	struct ss_buf b;
	int all[] = {0, 1, 2, 3};

	ss_buf_init(&b);
	ss_dialect_mariadb.upsert_sql(&table, all, 4, 1000, &b);
	CHECK_INT(count_char(b.data, '?'), 4000);
	ss_buf_free(&b);
}

static void test_delete_composite(void)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_dialect_mariadb.delete_sql(&table, 3, &b);
	CHECK_STR(b.data, "DELETE FROM `Sales`.`Order Items` WHERE"
			  " (`order id` = ? AND `line``no` = ?)"
			  " OR (`order id` = ? AND `line``no` = ?)"
			  " OR (`order id` = ? AND `line``no` = ?)");
	ss_buf_reset(&b);
	ss_dialect_mariadb.delete_sql(&table, 1, &b);
	CHECK_STR(b.data,
		  "DELETE FROM `Sales`.`Order Items` WHERE (`order id` = ? AND `line``no` = ?)");
	ss_buf_free(&b);
}

static void test_delete_single_key(void)
{
	static struct ss_colinfo c1[] = {
		{"i`d", "bigint(20) unsigned", SS_V_INT, 0, 1, -1, -1},
		{"v", "text", SS_V_TEXT, 1, 0, -1, -1},
	};
	static int pk1[] = {0};
	static const struct ss_tableinfo t1 = {"db", "t", c1, 2, pk1, 1};
	struct ss_buf b;

	ss_buf_init(&b);
	ss_dialect_mariadb.delete_sql(&t1, 3, &b);
	CHECK_STR(b.data, "DELETE FROM `db`.`t` WHERE `i``d` IN (?, ?, ?)");
	ss_buf_free(&b);
}

/* The poll query after a key: placeholders in the SQL match the map, which
 * is (ts, ts, key1, key2, upper). */
static void test_poll_param_map(void)
{
	static struct ss_colinfo pc[] = {
		{"order id", "int(11)", SS_V_INT, 0, 1, -1, -1},
		{"line`no", "varbinary(20)", SS_V_BINARY, 0, 2, -1, -1},
		{"updated_at", "timestamp(6)", SS_V_TIMESTAMPTZ, 0, 0, -1, 6},
	};
	static const struct ss_tableinfo pt = {"Sales", "Order Items", pc, 3, pk, 2};
	const struct ss_poll_spec spec = {&pt, "updated_at", NULL};
	int pmap[8], n, want_key[] = {0, 0, 1, 2, 3};
	struct ss_buf b;

	ss_buf_init(&b);
	n = ss_mariadb_poll_ops.select_sql(&spec, SS_POLL_FROM_KEY, 10, &b, pmap);
	CHECK_INT(n, 5);
	CHECK_INT(count_char(b.data, '?'), 5);
	for (int i = 0; i < 5; i++)
		CHECK_INT(pmap[i], want_key[i]);
	CHECK(strstr(b.data, "UNHEX(?)") != NULL);
	CHECK(strstr(b.data, " LIMIT 10") != NULL);
	ss_buf_reset(&b);
	n = ss_mariadb_poll_ops.select_sql(&spec, SS_POLL_FROM_TS, 10, &b, pmap);
	CHECK_INT(n, 2);
	CHECK_INT(count_char(b.data, '?'), 2);
	CHECK_INT(pmap[0], 0);
	CHECK_INT(pmap[1], 1);
	ss_buf_reset(&b);
	n = ss_mariadb_poll_ops.select_sql(&spec, SS_POLL_FROM_START, 10, &b, pmap);
	CHECK_INT(n, 1);
	CHECK_INT(count_char(b.data, '?'), 1);
	CHECK_INT(pmap[0], 0);
	ss_buf_free(&b);
}

int main(void)
{
	UNIT_RUN(test_quote_ident);
	UNIT_RUN(test_qualified_name);
	UNIT_RUN(test_upsert_composite);
	UNIT_RUN(test_upsert_placeholders);
	UNIT_RUN(test_delete_composite);
	UNIT_RUN(test_delete_single_key);
	UNIT_RUN(test_poll_param_map);
	return UNIT_DONE();
}
