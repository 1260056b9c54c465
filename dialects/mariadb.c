/*
 * mariadb.c -- the MariaDB/MySQL dialect (being written; until then a
 * configured mariadb database is refused with a clear error).
 */
#include "dialect.h"

static struct ss_conn *my_connect(const struct ss_dbconf *db, struct ss_err *err)
{
	ss_err_set(err, "database %s: driver mariadb is not supported by this build yet", db->name);
	return NULL;
}

const struct ss_dialect ss_dialect_mariadb = {
	.name = "mariadb",
	.connect = my_connect,
};
