/*
 * odbc.c -- the ODBC dialect (being written; until then a configured odbc
 * database is refused with a clear error).
 */
#include "dialect.h"

struct ss_conn *ss_odbc_connect(const struct ss_dbconf *db, struct ss_err *err)
{
	ss_err_set(err, "database %s: driver odbc is not supported by this build yet", db->name);
	return NULL;
}
