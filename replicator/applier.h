/*
 * applier.h -- applying a job's journal to one target database.
 *
 * One ss_applier per (job, target), each on its own thread (the client
 * libraries block), each reading the journal from its own position.  A
 * target commit holds whole source transactions and the new position
 * (written in the same transaction), so after any crash the applier resumes
 * exactly where the target says it is.  A target that is down is retried
 * with capped exponential backoff and holds back nothing else; a change the
 * target rejects for good stops this applier with the table, key and the
 * database's message.
 */
#ifndef SS_APPLIER_H
#define SS_APPLIER_H

#include <stdint.h>

#include "config.h"
#include "journal.h"

struct ss_applier;

enum ss_applier_state {
	SS_APPLIER_STARTING,
	SS_APPLIER_RUNNING,  /* connected, applying or caught up */
	SS_APPLIER_RETRYING, /* target unreachable or transient error: backing off */
	SS_APPLIER_FAILED,   /* stopped on a change the target rejects */
	SS_APPLIER_STOPPED,
};

struct ss_applier_stats {
	int state;
	uint64_t applied_pos; /* last journal position committed on the target */
	int position_known;   /* applied_pos was read from the target */
	uint64_t changes;     /* applied since start */
	uint64_t commits;
	int64_t last_commit_us;
	int64_t last_source_us; /* source capture time of the newest applied change */
	uint64_t errors;        /* errors met (each retry, and the one that stopped it) */
	char last_error[1024];
};

struct ss_applier *ss_applier_new(const struct ss_jobconf *job, const struct ss_dbconf *target,
				  struct ss_journal *journal);
/* Before start: the job lease's epoch this process holds and the journal's
 * identity, written with every position.  The applier refuses a target
 * whose position belongs to another journal, and stops for good (fenced)
 * when the target holds a higher epoch: another process owns the job. */
void ss_applier_set_owner(struct ss_applier *a, uint64_t epoch, const char *journal_id);
int ss_applier_start(struct ss_applier *a) SS_MUST_CHECK; /* spawns the thread */
/* Ask the thread to stop after its current transaction, and join it. */
void ss_applier_stop(struct ss_applier *a);
void ss_applier_free(struct ss_applier *a);
void ss_applier_get_stats(struct ss_applier *a, struct ss_applier_stats *out);
const char *ss_applier_target(const struct ss_applier *a);

/* target.c: which table on a target receives a source table's changes. */

/* The target table's name: target_table as written (without a schema: the
 * target's default schema), else the source's name with the source's
 * default schema mapped to the target's. */
void ss_applier_target_name(const struct ss_jobconf *job, const char *src_schema,
			    const char *src_default_schema, const char *table,
			    const char *dst_default_schema, char **schema_out, char **name_out);

/* Introspect the target table of a source table on connection dst: the
 * name above; failing that, for a table in the source's default schema, the
 * schema named like the source's (a MariaDB database test -> PostgreSQL
 * schema test).  src_ident (ss_db_identity of the source; NULL: unknown)
 * refuses, not transient, a target table that is the source table itself.
 * Shared by the appliers and `shadowsync check`. */
struct ss_conn;
struct ss_tableinfo;
int ss_applier_find_target(struct ss_conn *dst, const struct ss_jobconf *job, const char *src_ident,
			   const char *src_schema, const char *table, struct ss_tableinfo *out,
			   struct ss_err *err) SS_MUST_CHECK;

/* At an applier's start: connect to the job's source once; *src_ident gets
 * the source's identity (malloc'd; stays NULL when the source cannot be
 * reached).  When dst reaches the same database, a table of the job whose
 * target is itself is an error (-1, not transient) naming it. */
int ss_applier_check_targets(struct ss_conn *dst, const struct ss_jobconf *job, char **src_ident,
			     struct ss_err *err) SS_MUST_CHECK;

#endif
