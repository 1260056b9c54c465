/*
 * demo.c -- `shadowsync demo`: the main job on the embedded default, with
 * no server.  Two SQLite databases (through ODBC) under a demo directory,
 * a small shop schema, capture installed on the source, a workload of
 * inserts, updates (one changing a key) and deletes, one `run --once`, and
 * a row-by-row comparison of source and target.  Leaves the config file
 * behind for the user to read and rerun.  Its SQL (schema, workload, the
 * comparison's query) is in ddl/sqlite/demo_*.sql.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "dialect.h"
#include "log.h"
#include "tools.h"

/* The workload, run on the source after capture is installed. */

static const char *const tables[] = {"customers", "orders", "order_lines", NULL};

/* A script of ddl/sqlite/ (compiled in), run whole. */
static int run_sql(struct ss_conn *c, const char *name, struct ss_err *err)
{
	const char *sql = ss_ddl_get(name);

	if (!sql) {
		ss_err_set(err, "%s is not compiled in", name);
		return -1;
	}
	return c->d->exec_script(c, sql, err);
}

static int dump_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_buf *b = arg;

	(void)err;
	for (int i = 0; i < n; i++) {
		if (v[i]) {
			ss_buf_add_varint(b, l[i]);
			ss_buf_add(b, v[i], l[i]);
		} else {
			ss_buf_adds(b, "\xff");
		}
	}
	ss_buf_addc(b, '\n');
	return 0;
}

/* Every row of a table in key order, NULLs and bytes kept exact. */
static int table_dump(struct ss_conn *c, const char *table, struct ss_buf *out, int *rows,
		      struct ss_err *err)
{
	struct ss_buf q, sql;
	size_t before;
	int rc;

	ss_buf_init(&q);
	ss_buf_init(&sql);
	c->d->quote_ident(&q, table);
	const char *kv[] = {"TABLE", q.data, NULL};
	rc = ss_ddl_expand(ss_ddl_get("sqlite/demo_dump.sql"), kv, &sql, err);
	before = out->len;
	if (rc == 0)
		rc = c->d->query(c, sql.data, 0, NULL, NULL, dump_row, out, err);
	ss_buf_free(&q);
	ss_buf_free(&sql);
	if (rc < 0)
		return -1;
	*rows = 0;
	for (size_t i = before; i < out->len; i++)
		*rows += out->data[i] == '\n';
	return 0;
}

/* Remove a journal directory: job subdirectories holding plain files. */
static int remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[4096];

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		if (unlink(sub) < 0 && (errno != EISDIR || remove_tree(sub) < 0)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return rmdir(path);
}

static int write_config(const char *dir, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f,
		"; shadowsync demo: the embedded default, SQLite through ODBC, no server.\n"
		"; Rerun with:  shadowsync run -c %s --once\n\n"
		"[shadowsync]\n"
		"journal_dir = %s/journal\n"
		"fsync = batch\n"
		"log_level = warn\n\n"
		"[database shop]\n"
		"driver = odbc\n"
		"dsn = Driver=SQLite3;Database=%s/shop.db\n\n"
		"[database warehouse]\n"
		"driver = odbc\n"
		"dsn = Driver=SQLite3;Database=%s/warehouse.db\n\n"
		"[job shop]\n"
		"source = shop\n"
		"targets = warehouse\n"
		"tables = main.customers, main.orders, main.order_lines\n"
		"poll_interval = 100ms\n",
		path, dir, dir, dir);
	return fclose(f);
}

int ss_cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	char dir[3000], path[3100], db[3100];
	const char *want = "demo";
	struct ss_config *cfg = NULL;
	struct ss_conn *src = NULL, *dst = NULL;
	struct ss_err err;
	struct ss_buf a, b;
	int o, rc = 1, rows = 0, total = 0;
	int64_t t0 = ss_mono_us();

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'd') {
			ss_tool_usage("demo", stderr);
			return 2;
		}
		want = optarg;
	}
	if (mkdir(want, 0755) < 0 && errno != EEXIST) {
		ss_tool_error("demo", "cannot create %s: %s", want, strerror(errno));
		return 2;
	}
	if (!realpath(want, dir)) {
		ss_tool_error("demo", "%s: %s", want, strerror(errno));
		return 2;
	}
	/* start from a clean state every time */
	const char *files[] = {"shop.db", "warehouse.db", NULL};
	for (int i = 0; files[i]; i++) {
		snprintf(db, sizeof db, "%s/%s", dir, files[i]);
		unlink(db);
	}
	snprintf(db, sizeof db, "%s/journal", dir);
	if (remove_tree(db) < 0) {
		ss_tool_error("demo", "cannot clear %s: %s", db, strerror(errno));
		return 2;
	}
	snprintf(path, sizeof path, "%s/shadowsync.ini", dir);
	if (write_config(dir, path) < 0) {
		ss_tool_error("demo", "cannot write %s: %s", path, strerror(errno));
		return 2;
	}
	cfg = ss_config_load(path, &err);
	if (!cfg) {
		ss_tool_error("demo", "%s", err.msg);
		return 2;
	}
	ss_log_set_level(SS_LOG_WARN);
	ss_buf_init(&a);
	ss_buf_init(&b);
	printf("shadowsync demo in %s\n", dir);
	if (!(src = ss_db_connect(ss_config_db(cfg, "shop"), &err)) ||
	    !(dst = ss_db_connect(ss_config_db(cfg, "warehouse"), &err)))
		goto fail;
	if (run_sql(src, "sqlite/demo_schema.sql", &err) < 0 ||
	    run_sql(dst, "sqlite/demo_schema.sql", &err) < 0)
		goto fail;
	printf("  1. created shop.db (source) and warehouse.db (target): customers, orders, "
	       "order_lines\n");
	{
		struct ss_tableinfo *t = NULL;
		int n = 0;
		struct ss_buf sql;
		ss_buf_init(&sql);
		if (ss_db_job_tables(src, &cfg->jobs[0], &t, &n, &err) < 0 ||
		    src->d->capture_install_sql(src, "shop", t, n, &sql, &err) < 0 ||
		    src->d->exec_script(src, sql.data, &err) < 0) {
			ss_tableinfo_free_array(t, n);
			ss_buf_free(&sql);
			goto fail;
		}
		ss_tableinfo_free_array(t, n);
		ss_buf_free(&sql);
	}
	printf("  2. installed capture triggers on the source (see: shadowsync install -c %s "
	       "--dry-run)\n",
	       path);
	if (run_sql(src, "sqlite/demo_workload.sql", &err) < 0)
		goto fail;
	printf("  3. ran a workload: inserts, updates (one changing a primary key), deletes, "
	       "NULLs,\n"
	       "     '' vs NULL, unicode, binary\n");
	ss_db_disconnect(src);
	src = NULL;
	if (ss_daemon_run(cfg, NULL, 1) != 0) {
		ss_tool_error("demo", "replication failed (see the messages above)");
		goto done;
	}
	printf("  4. replicated: shadowsync run -c %s --once\n", path);
	if (!(src = ss_db_connect(ss_config_db(cfg, "shop"), &err)))
		goto fail;
	for (int i = 0; tables[i]; i++) {
		int rs, rt;
		ss_buf_reset(&a);
		ss_buf_reset(&b);
		if (table_dump(src, tables[i], &a, &rs, &err) < 0 ||
		    table_dump(dst, tables[i], &b, &rt, &err) < 0)
			goto fail;
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0 || rs != rt) {
			ss_tool_error("demo", "table %s differs between source and target",
				      tables[i]);
			goto done;
		}
		rows += rs;
		total++;
	}
	printf("  5. compared row by row: %d tables, %d rows, target equals source\n", total, rows);
	printf("done in %.2f s.  Next: read %s, then doc/user-guide.md;\n"
	       "`shadowsync journal -c %s dump` shows what was captured.\n",
	       (double)(ss_mono_us() - t0) / 1e6, path, path);
	rc = 0;
	goto done;
fail:
	ss_tool_error("demo", "%s", err.msg);
done:
	ss_db_disconnect(src);
	ss_db_disconnect(dst);
	ss_buf_free(&a);
	ss_buf_free(&b);
	ss_config_free(cfg);
	return rc;
}
