/*
 * torture_gen.c -- the randomized workload and the independent value
 * comparison of the torture test (tests/torture/torture.sh).
 *
 *   torture_gen sql ENGINE SEED COUNT
 *       COUNT source transactions of random DML for ENGINE (pg, mariadb,
 *       sqlite), as one SQL script on stdout; the same SEED gives the same
 *       script.  Statements that fail on the source (a duplicate key, say)
 *       are part of the test: the source rolls them back, the targets must
 *       never see them.
 *   torture_gen canon TYPES
 *       Reads tab-separated rows (one per line) from stdin and writes them
 *       in a canonical form, column i interpreted by TYPES[i]: i integer,
 *       h hex text (upper-cased), n exact decimal (trailing zeros dropped),
 *       f double (compared by value: printed as %.17g, -0 as 0), b boolean
 *       (1/0), t timestamp (T or space, fraction zeros dropped); where a
 *       SQLite database is one side: d a decimal and g a double, both
 *       compared as doubles to 15 significant digits (a SQLite NUMERIC keeps
 *       a double, doc/types.md; and SQLite 3.40's printf, the only way its
 *       shell shows a REAL, is not exact in the 17th digit: DBL_MAX prints
 *       as 1.7976931348623156e+308).  "N" is SQL
 *       NULL in every column.  The output is what torture.sh compares
 *       between the source and every target; it shares no code with
 *       `shadowsync check`.
 *
 * The tables (created by torture.sh on each engine):
 *   tt (id int PK, u varchar(40) UNIQUE, s text, n numeric(18,4), f double,
 *       b boolean, ts timestamp(6), bin bytea/blob)
 *   tc (a int, k varchar(20), v text, PK (a, k))
 * PostgreSQL sources declare tt's primary key DEFERRABLE so that one
 * statement can swap or shift keys.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum engine { PG, MY, LITE };

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [lo, hi]. */
static long pick(long lo, long hi)
{
	return lo + (long)(rnd() % (uint64_t)(hi - lo + 1));
}

static int chance(int percent)
{
	return pick(1, 100) <= percent;
}

#define KEYS 240   /* ids of tt live mostly in 1..KEYS */
#define BIGBASE 100000

static enum engine eng;

/* --- values ------------------------------------------------------------------ */

/* A string literal of the engine holding arbitrary UTF-8 text. */
static void lit_text(const char *s)
{
	const char *p;

	if (eng == MY) {
		/* MariaDB: backslash escapes are on by default; use hex. */
		printf("CONVERT(X'");
		for (p = s; *p; p++)
			printf("%02X", (unsigned char)*p);
		printf("' USING utf8mb4)");
		return;
	}
	putchar('\'');
	for (p = s; *p; p++) {
		if (*p == '\'')
			putchar('\'');
		putchar(*p);
	}
	putchar('\'');
}

static const char *const texts[] = {
	"",
	"plain",
	"with 'quote' and \"double\"",
	"tab\there",
	"new\nline and\r\ncrlf",
	"back\\slash \\N \\\\",
	"unicode \xc3\xa9\xc3\xa0\xc3\xbc \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	"emoji \xf0\x9f\x98\x80\xf0\x9f\x8e\x89",
	"trailing spaces   ",
	"   leading",
	"NULL",
	"N",
	"-- not a comment; DROP TABLE tt;",
	"a",
};

static void val_text(void)
{
	int i;

	if (chance(12)) {
		printf("NULL");
		return;
	}
	i = (int)pick(0, (long)(sizeof texts / sizeof texts[0]) - 1);
	if (chance(30)) {
		char buf[64];

		snprintf(buf, sizeof buf, "%s #%ld", texts[i], pick(0, 99999));
		lit_text(buf);
		return;
	}
	lit_text(texts[i]);
}

static void val_numeric(void)
{
	/* SQLite keeps NUMERIC as a double: its edges stay within 15 digits. */
	static const char *const edge[] = {"0", "-0.0001", "0.0001", "99999999999999.9999",
					   "-99999999999999.9999", "1.5", "-2.25", "12345.6789"};
	static const char *const lite_edge[] = {"0", "-0.0001", "0.0001", "9999999999.9999",
						"-9999999999.9999", "1.5", "-2.25", "12345.6789"};

	if (chance(10)) {
		printf("NULL");
		return;
	}
	if (chance(35)) {
		printf("%s", (eng == LITE ? lite_edge : edge)[pick(0, 7)]);
		return;
	}
	printf("%ld.%04ld", pick(-9999999, 9999999), pick(0, 9999));
}

static void val_double(void)
{
	static const char *const edge[] = {"0.1", "0.30000000000000004", "1e300", "-1e-300",
					   "2.2250738585072014e-308", "123456789.125",
					   "0.3333333333333333", "-0.0", "4.9406564584124654e-324",
					   "1.7976931348623157e308"};

	if (chance(10)) {
		printf("NULL");
		return;
	}
	if (chance(40)) {
		printf("%s", edge[pick(0, 9)]);
		return;
	}
	printf("%.17g", (double)(int64_t)rnd() / 1e9 / (double)pick(1, 1000));
}

static void val_bool(void)
{
	if (chance(10))
		printf("NULL");
	else if (eng == PG)
		printf(chance(50) ? "true" : "false");
	else
		printf(chance(50) ? "1" : "0");
}

static void val_ts(void)
{
	long us = pick(0, 999999);

	if (chance(10)) {
		printf("NULL");
		return;
	}
	printf("'%04ld-%02ld-%02ld %02ld:%02ld:%02ld", pick(1970, 2037), pick(1, 12), pick(1, 28),
	       pick(0, 23), pick(0, 59), pick(0, 59));
	switch (pick(0, 3)) {
	case 0:
		break;
	case 1:
		printf(".5");
		break;
	default:
		printf(".%06ld", us);
	}
	putchar('\'');
}

static void val_bin(void)
{
	long n, i;

	if (chance(12)) {
		printf("NULL");
		return;
	}
	n = chance(10) ? 0 : pick(1, 40);
	printf(eng == PG ? "'\\x" : "X'");
	for (i = 0; i < n; i++)
		printf("%02x", (unsigned)pick(0, 255));
	putchar('\'');
}

/* u: unique, usually 'u<id>' so that swaps through a temporary value make
 * sense; sometimes NULL (several NULLs are allowed), sometimes another. */
static void val_u(long id)
{
	if (chance(8))
		printf("NULL");
	else if (chance(85))
		printf("'u%ld'", id);
	else
		printf("'v%ld'", pick(1, KEYS));
}

/* ", s, n, f, b, ts, bin)": the values after id and u. */
static void rest_values(void)
{
	printf(", ");
	val_text();
	printf(", ");
	val_numeric();
	printf(", ");
	val_double();
	printf(", ");
	val_bool();
	printf(", ");
	val_ts();
	printf(", ");
	val_bin();
	printf(")");
}

static void row_values(long id)
{
	printf("(%ld, ", id);
	val_u(id);
	rest_values();
}

/* --- statements ------------------------------------------------------------------ */

static const char *const cols = "(id, u, s, n, f, b, ts, bin)";

static void upsert_tail(void)
{
	if (eng == MY)
		printf(" ON DUPLICATE KEY UPDATE u = VALUES(u), s = VALUES(s), n = VALUES(n), "
		       "f = VALUES(f), b = VALUES(b), ts = VALUES(ts), bin = VALUES(bin)");
	else
		printf(" ON CONFLICT (id) DO UPDATE SET u = excluded.u, s = excluded.s, "
		       "n = excluded.n, f = excluded.f, b = excluded.b, ts = excluded.ts, "
		       "bin = excluded.bin");
}

static void st_insert(long id, int upsert)
{
	printf("INSERT INTO tt %s VALUES ", cols);
	row_values(id);
	if (upsert)
		upsert_tail();
	printf(";\n");
}

static void st_multi_insert(void)
{
	long n = pick(2, 20), i, base = pick(1, KEYS);

	if (eng == MY)
		printf("INSERT IGNORE INTO tt %s VALUES ", cols);
	else if (eng == LITE)
		printf("INSERT OR IGNORE INTO tt %s VALUES ", cols);
	else
		printf("INSERT INTO tt %s VALUES ", cols);
	for (i = 0; i < n; i++) {
		if (i)
			printf(", ");
		row_values(base + i * pick(1, 3));
	}
	if (eng == PG)
		printf(" ON CONFLICT DO NOTHING");
	printf(";\n");
}

static void st_replace(void)
{
	/* Conflict resolution that deletes the rows the new one collides with,
	 * on the key or on u. */
	long id = pick(1, KEYS), other = chance(50) ? id : pick(1, KEYS);

	if (eng == PG) {
		st_insert(id, 1);
		return;
	}
	if (eng == LITE && chance(30)) {
		printf("UPDATE OR REPLACE tt SET u = 'u%ld' WHERE id = %ld;\n", other, id);
		return;
	}
	if (eng == MY)
		printf("REPLACE INTO tt %s VALUES ", cols);
	else
		printf("%s INTO tt %s VALUES ", chance(50) ? "INSERT OR REPLACE" : "REPLACE", cols);
	printf("(%ld, 'u%ld'", id, other);
	rest_values();
	printf(";\n");
}

static void st_update_one(void)
{
	long id = pick(1, KEYS);

	printf("UPDATE tt SET ");
	switch (pick(0, 4)) {
	case 0:
		printf("s = ");
		val_text();
		break;
	case 1:
		printf("n = ");
		val_numeric();
		printf(", f = ");
		val_double();
		break;
	case 2:
		printf("b = ");
		val_bool();
		printf(", ts = ");
		val_ts();
		break;
	case 3:
		printf("bin = ");
		val_bin();
		printf(", s = %s", chance(50) ? "NULL" : "''");
		break;
	default:
		printf("u = ");
		val_u(pick(1, KEYS));
	}
	printf(" WHERE id = %ld;\n", id);
}

static void st_update_range(void)
{
	long a = pick(1, KEYS), b = a + pick(0, 40);

	if (chance(50))
		printf("UPDATE tt SET n = n + 1, s = %s WHERE id BETWEEN %ld AND %ld;\n",
		       eng == MY ? "CONCAT(COALESCE(s, ''), '.')" : "COALESCE(s, '') || '.'", a,
		       b);
	else
		printf("UPDATE tt SET b = NOT b, f = f / 2 WHERE id BETWEEN %ld AND %ld;\n", a, b);
}

static void st_key_change(void)
{
	long from = pick(1, KEYS), to = chance(50) ? pick(1, KEYS) : pick(BIGBASE, BIGBASE + 500);

	printf("UPDATE tt SET id = %ld WHERE id = %ld;\n", to, from);
}

static void st_key_swap(void)
{
	long a = pick(1, KEYS), b = pick(1, KEYS);

	if (eng != PG) { /* a swap in one statement needs a deferrable key */
		st_key_change();
		return;
	}
	printf("UPDATE tt SET id = %ld - id WHERE id IN (%ld, %ld);\n", a + b, a, b);
}

static void st_key_shift(void)
{
	long a = pick(1, KEYS), b = a + pick(1, 15), d = chance(70) ? 1 : pick(2, 5);

	if (eng == MY)
		printf("UPDATE tt SET id = id + %ld WHERE id BETWEEN %ld AND %ld ORDER BY id DESC;\n",
		       d, a, b);
	else
		printf("UPDATE tt SET id = id + %ld WHERE id BETWEEN %ld AND %ld;\n", d, a, b);
}

static void st_delete(void)
{
	long a = pick(1, KEYS);

	if (chance(60))
		printf("DELETE FROM tt WHERE id = %ld;\n", a);
	else
		printf("DELETE FROM tt WHERE id BETWEEN %ld AND %ld;\n", a, a + pick(0, 12));
}

static void st_tc(void)
{
	long a = pick(1, 20);
	char k = (char)('a' + pick(0, 9));

	switch (pick(0, 4)) {
	case 0:
	case 1:
		printf("INSERT INTO tc VALUES (%ld, 'k%c', ", a, k);
		val_text();
		if (eng == MY)
			printf(") ON DUPLICATE KEY UPDATE v = VALUES(v);\n");
		else
			printf(") ON CONFLICT (a, k) DO UPDATE SET v = excluded.v;\n");
		break;
	case 2:
		printf("UPDATE tc SET k = 'k%c' WHERE a = %ld AND k = 'k%c';\n",
		       (char)('a' + pick(0, 9)), a, k);
		break;
	case 3:
		printf("UPDATE tc SET a = a + 1 WHERE a = %ld%s;\n", a,
		       eng == MY ? " ORDER BY a DESC" : "");
		break;
	default:
		printf("DELETE FROM tc WHERE a = %ld;\n", a);
	}
}

static void begin(void)
{
	printf(eng == MY ? "START TRANSACTION;\n" : "BEGIN;\n");
}

static void commit(void)
{
	printf("COMMIT;\n");
}

/* Swap u between two rows through a temporary value, in three commits. */
static void tx_unique_swap(void)
{
	long a = pick(1, KEYS), b = pick(1, KEYS);

	if (a == b)
		return;
	printf("UPDATE tt SET u = 'tmp%ld' WHERE id = %ld;\n", a, a);
	printf("UPDATE tt SET u = 'u%ld' WHERE id = %ld;\n", a, b);
	printf("UPDATE tt SET u = 'u%ld' WHERE id = %ld;\n", b, a);
}

/* Many rows in one transaction, in a key range of their own. */
static void tx_large(void)
{
	long base = BIGBASE + 1000 + pick(0, 20) * 5000, n = pick(200, 2500);

	begin();
	if (eng == PG)
		printf("INSERT INTO tt (id, u, s, n, f, b, ts, bin) SELECT g, NULL, 'bulk ' || g, "
		       "g / 7.0, g / 3.0, g %% 2 = 0, TIMESTAMP '2026-01-01' + g * INTERVAL '1 s', "
		       "NULL FROM generate_series(%ld, %ld) g ON CONFLICT DO NOTHING;\n",
		       base, base + n);
	else if (eng == MY)
		printf("INSERT IGNORE INTO tt (id, u, s, n, f, b, ts, bin) SELECT seq, NULL, "
		       "CONCAT('bulk ', seq), seq / 7.0, seq / 3e0, seq %% 2 = 0, "
		       "TIMESTAMP '2026-01-01' + INTERVAL seq SECOND, NULL FROM seq_%ld_to_%ld;\n",
		       base, base + n);
	else
		printf("WITH RECURSIVE g(x) AS (SELECT %ld UNION ALL SELECT x + 1 FROM g WHERE x < "
		       "%ld) INSERT OR IGNORE INTO tt (id, u, s, n, f, b, ts, bin) SELECT x, NULL, "
		       "'bulk ' || x, round(x / 7.0, 4), x / 3.0, x %% 2 = 0, datetime('2026-01-01', '+' || x "
		       "|| ' seconds'), NULL FROM g;\n",
		       base, base + n);
	if (chance(50))
		printf("UPDATE tt SET s = 'bulk-updated' WHERE id BETWEEN %ld AND %ld;\n", base,
		       base + n / 2);
	if (chance(50))
		printf("DELETE FROM tt WHERE id BETWEEN %ld AND %ld;\n", base + n / 3, base + n);
	commit();
}

static void tx_savepoint(void)
{
	begin();
	st_insert(pick(1, KEYS), 1);
	printf("SAVEPOINT sp1;\n");
	st_update_range();
	st_delete();
	st_key_change();
	printf("ROLLBACK TO SAVEPOINT sp1;\n");
	st_update_one();
	commit();
}

static void statement(void)
{
	long r = pick(1, 100);

	if (r <= 14)
		st_insert(pick(1, KEYS), 1);
	else if (r <= 20)
		st_insert(pick(1, KEYS), 0);
	else if (r <= 27)
		st_multi_insert();
	else if (r <= 31)
		st_replace();
	else if (r <= 46)
		st_update_one();
	else if (r <= 53)
		st_update_range();
	else if (r <= 59)
		st_key_change();
	else if (r <= 64)
		st_key_swap();
	else if (r <= 68)
		st_key_shift();
	else if (r <= 78)
		st_delete();
	else
		st_tc();
}

static void transaction(void)
{
	long r = pick(1, 100), n, i;

	if (r <= 3) {
		tx_large();
		return;
	}
	if (r <= 8) {
		tx_savepoint();
		return;
	}
	if (r <= 14) {
		tx_unique_swap();
		return;
	}
	if (r <= 50) { /* autocommit statement */
		statement();
		return;
	}
	n = pick(2, 8);
	begin();
	for (i = 0; i < n; i++)
		statement();
	commit();
}

static int gen_sql(const char *engine, const char *seed, const char *count)
{
	long n = atol(count), i;

	if (strcmp(engine, "pg") == 0)
		eng = PG;
	else if (strcmp(engine, "mariadb") == 0)
		eng = MY;
	else if (strcmp(engine, "sqlite") == 0)
		eng = LITE;
	else {
		fprintf(stderr, "torture_gen: unknown engine %s\n", engine);
		return 2;
	}
	rng_state = strtoull(seed, NULL, 10) * 0x100000001b3ULL + (uint64_t)eng;
	for (i = 0; i < n; i++)
		transaction();
	return 0;
}

/* --- canonical comparison form ------------------------------------------------------ */

static void canon_decimal(char *s)
{
	char *dot = strchr(s, '.'), *end;

	if (dot) {
		end = s + strlen(s);
		while (end > dot + 1 && end[-1] == '0')
			*--end = 0;
		if (end == dot + 1)
			*dot = 0;
	}
	if (strcmp(s, "-0") == 0)
		strcpy(s, "0");
}

static void canon_field(char type, char *v, FILE *out)
{
	char *p;

	if (strcmp(v, "N") == 0) {
		fputs("N", out);
		return;
	}
	switch (type) {
	case 'h':
		for (p = v; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		fputs(v, out);
		break;
	case 'n':
		canon_decimal(v);
		fputs(v, out);
		break;
	case 'd':
	case 'g':
	case 'f': {
		double d = strtod(v, NULL);

		if (d == 0)
			d = 0; /* -0 is 0: MariaDB stores 0 (doc/types.md) */
		fprintf(out, type == 'f' ? "%.17g" : "%.15g", d);
		break;
	}
	case 'b':
		fputs((strcmp(v, "t") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0) ? "1"
											     : "0",
		      out);
		break;
	case 't':
		for (p = v; *p; p++)
			if (*p == 'T')
				*p = ' ';
		canon_decimal(v);
		fputs(v, out);
		break;
	default:
		fputs(v, out);
	}
}

static int canon(const char *types)
{
	char *line = NULL, *p, *f;
	size_t cap = 0;
	ssize_t len;
	size_t i;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		p = line;
		for (i = 0; i < strlen(types); i++) {
			f = strsep(&p, "\t");
			if (f == NULL)
				f = "?missing";
			if (i)
				putchar('\t');
			canon_field(types[i], f, stdout);
		}
		putchar('\n');
	}
	free(line);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "sql") == 0)
		return gen_sql(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "canon") == 0)
		return canon(argv[2]);
	fprintf(stderr, "usage: torture_gen sql pg|mariadb|sqlite SEED COUNT\n"
			"       torture_gen canon TYPES < rows\n");
	return 2;
}
