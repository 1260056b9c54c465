/*
 * capture.c -- trigger-mode capture: shadow rows -> journal.  See capture.h.
 *
 * Transaction boundaries.  Shadow rows are read in id order, which is not
 * commit order, and a batch may cut a big transaction.  For each record we
 * decide whether a target commit may end after it (SS_JREC_TXEND): only
 * when every transaction seen so far (including ones carried over, part
 * journaled, from earlier polls) has all its rows journaled.  A transaction
 * is complete in this batch when the shadow table has no row of it after the
 * batch's last id (capture_txn_more: its rows became visible together, so
 * none can hide before that id); when the batch was not full it holds every
 * visible row, so every transaction in it is complete.  Sources without
 * transaction ids mark every record.
 */
#include "capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "poller.h" /* timestamp capture */
#include "util.h"

struct cap_table {
	struct ss_tableinfo info;
	struct ss_image_col *row_cols; /* all captured (non-excluded) columns */
	int nrow_cols;
	struct ss_image_col *key_cols;
	int nkey_cols;
	int timestamp; /* timestamp capture: capture = timestamp, polled by poller.c */
};

struct cap_txn {
	uint64_t txid;
	uint64_t in_batch;
	uint64_t total; /* rows it has up to its end: more than in_batch if it goes on */
};

struct ss_capture {
	const struct ss_jobconf *job;
	struct ss_journal *journal;
	struct ss_conn *conn;
	int fd;
	struct cap_table *tables;
	int ntables;
	/* per poll */
	struct ss_change change;
	struct ss_buf payloads; /* encoded changes back to back */
	size_t *offs;           /* payload offsets (n + 1) */
	uint64_t *ids, *txids;
	int cap, n;
	int64_t newest_source_us;
	/* transactions carried over from earlier polls, not yet complete:
	 * known from the journal's tail at the first poll, then kept up to
	 * date with what each poll journals */
	uint64_t *pending;
	int npending;
	int pending_loaded;
	struct ss_capture_stats stats;
	char ctx[128];
	/* timestamp capture: one poller per table, kept across reconnects */
	char *state_dir;
	struct ss_poller **pollers;
	int npollers;
};

struct ss_capture *ss_capture_new(const struct ss_jobconf *job, struct ss_journal *journal,
				  const char *state_dir)
{
	struct ss_capture *cap = ss_xcalloc(1, sizeof *cap);

	cap->state_dir = state_dir ? ss_xstrdup(state_dir) : NULL; /* timestamp capture */

	cap->job = job;
	cap->journal = journal;
	cap->fd = -1;
	ss_change_init(&cap->change);
	ss_buf_init(&cap->payloads);
	snprintf(cap->ctx, sizeof cap->ctx, "job %s capture", job->name);
	return cap;
}

static void free_tables(struct ss_capture *cap)
{
	for (int i = 0; i < cap->ntables; i++) {
		ss_tableinfo_free(&cap->tables[i].info);
		free(cap->tables[i].row_cols);
		free(cap->tables[i].key_cols);
	}
	free(cap->tables);
	cap->tables = NULL;
	cap->ntables = 0;
}

void ss_capture_disconnect(struct ss_capture *cap)
{
	ss_db_disconnect(cap->conn);
	cap->conn = NULL;
	cap->fd = -1;
	cap->stats.connected = 0;
	free_tables(cap);
}

void ss_capture_free(struct ss_capture *cap)
{
	if (!cap)
		return;
	ss_capture_disconnect(cap);
	ss_change_release(&cap->change);
	ss_buf_free(&cap->payloads);
	free(cap->offs);
	free(cap->ids);
	free(cap->txids);
	free(cap->pending);
	/* timestamp capture */
	for (int i = 0; i < cap->npollers; i++)
		ss_poller_free(cap->pollers[i]);
	free(cap->pollers);
	free(cap->state_dir);
	free(cap);
}

static int excluded(const struct ss_table_settings *s, const char *col)
{
	for (int i = 0; i < s->nexclude; i++)
		if (strcmp(s->exclude_columns[i], col) == 0)
			return 1;
	return 0;
}

/* Build the image column lists of a table once, from its catalog info. */
static void table_cols(const struct ss_jobconf *job, struct cap_table *t)
{
	struct ss_table_settings s;

	ss_config_table_settings(job, t->info.schema, t->info.name, &s);
	t->timestamp = s.capture == SS_CAPTURE_TIMESTAMP; /* timestamp capture */
	t->row_cols = ss_xcalloc((size_t)t->info.ncols, sizeof *t->row_cols);
	t->key_cols = ss_xcalloc((size_t)t->info.npk + 1, sizeof *t->key_cols);
	for (int i = 0; i < t->info.ncols; i++) {
		const struct ss_colinfo *c = &t->info.cols[i];
		if (c->pk_pos || !excluded(&s, c->name)) {
			t->row_cols[t->nrow_cols].name = c->name;
			t->row_cols[t->nrow_cols++].vtype = c->vtype;
		}
	}
	for (int k = 0; k < t->info.npk; k++) {
		const struct ss_colinfo *c = &t->info.cols[t->info.pk[k]];
		t->key_cols[t->nkey_cols].name = c->name;
		t->key_cols[t->nkey_cols++].vtype = c->vtype;
	}
}

int ss_capture_connect(struct ss_capture *cap, struct ss_err *err)
{
	struct ss_conn *c;

	if (cap->conn)
		return 0;
	c = ss_db_connect(cap->job->source, err);
	if (!c)
		return -1;
	return ss_capture_attach(cap, c, err);
}

int ss_capture_attach(struct ss_capture *cap, struct ss_conn *conn, struct ss_err *err)
{
	struct ss_tableinfo *infos = NULL;
	int n = 0;

	ss_capture_disconnect(cap);
	cap->conn = conn;
	if (ss_db_job_tables(cap->conn, cap->job, &infos, &n, err) < 0)
		goto fail;
	cap->tables = ss_xcalloc((size_t)n, sizeof *cap->tables);
	for (int i = 0; i < n; i++) {
		cap->tables[i].info = infos[i]; /* take ownership */
		table_cols(cap->job, &cap->tables[i]);
	}
	cap->ntables = n;
	free(infos);
	/* -1 with no message: the database has no notifications; poll only */
	ss_err_clear(err);
	cap->fd = cap->conn->d->capture_listen ?
			  cap->conn->d->capture_listen(cap->conn, cap->job->name, err) :
			  -1;
	if (cap->fd < 0 && err->msg[0])
		goto fail;
	cap->stats.connected = 1;
	ss_log_info(cap->ctx, "connected to %s, %d table%s, %s", cap->job->source->name, n,
		    n == 1 ? "" : "s", cap->fd >= 0 ? "listening for wake-ups" : "polling");
	return 0;
fail:
	ss_capture_disconnect(cap);
	return -1;
}

int ss_capture_connected(const struct ss_capture *cap)
{
	return cap->conn != NULL;
}

struct ss_conn *ss_capture_conn(struct ss_capture *cap)
{
	return cap->conn;
}

int ss_capture_fd(const struct ss_capture *cap)
{
	return cap->fd;
}

int ss_capture_drain(struct ss_capture *cap, struct ss_err *err)
{
	if (!cap->conn || !cap->conn->d->capture_drain)
		return 0;
	return cap->conn->d->capture_drain(cap->conn, err);
}

static struct cap_table *find_table(struct ss_capture *cap, const char *schema, const char *name)
{
	for (int i = 0; i < cap->ntables; i++)
		if (strcmp(cap->tables[i].info.name, name) == 0 &&
		    strcmp(cap->tables[i].info.schema, schema) == 0)
			return &cap->tables[i];
	return NULL;
}

static int on_shadow_row(void *arg, const struct ss_shadow_row *r, struct ss_err *err)
{
	struct ss_capture *cap = arg;
	struct ss_change *c = &cap->change;
	struct cap_table *t = find_table(cap, r->schema, r->table);

	if (!t) {
		/* Not (or no longer) one of the job's tables, e.g. after its
		 * config changed without reinstalling: still journaled so nothing
		 * is lost silently, but every column is unknown, so refuse. */
		ss_err_set(err,
			   "database %s: shadow row %llu is for table %s.%s, which job %s does "
			   "not replicate (reinstall capture after changing tables)",
			   cap->job->source->name, (unsigned long long)r->id, r->schema, r->table,
			   cap->job->name);
		return -1;
	}
	if (t->timestamp) { /* timestamp capture: must not also have triggers */
		ss_err_set(err,
			   "database %s: shadow row %llu is for table %s.%s, which job %s captures "
			   "by timestamp (remove its capture trigger: uninstall, then install)",
			   cap->job->source->name, (unsigned long long)r->id, r->schema, r->table,
			   cap->job->name);
		return -1;
	}
	ss_change_reset(c);
	c->op = r->op;
	c->txid = r->txid;
	c->source_id = r->id;
	c->source_ts_us = r->captured_us;
	c->schema = t->info.schema;
	c->schema_len = strlen(t->info.schema);
	c->table = t->info.name;
	c->table_len = strlen(t->info.name);
	int (*parse)(struct ss_change *, int, const char *, size_t, const struct ss_image_col *,
		     int, struct ss_err *) = r->text_values ? ss_image_parse_text : ss_image_parse;
	if (parse(c, 1, r->key_image, r->key_len, t->key_cols, t->nkey_cols, err) < 0 ||
	    (r->op != 'D' && r->row_image &&
	     parse(c, 0, r->row_image, r->row_len, t->row_cols, t->nrow_cols, err) < 0)) {
		ss_err_prefix(err, "database %s: shadow row %llu of %s.%s", cap->job->source->name,
			      (unsigned long long)r->id, r->schema, r->table);
		return -1;
	}
	if (c->nkey != t->nkey_cols) {
		ss_err_set(err,
			   "database %s: shadow row %llu of %s.%s: key image lacks key columns",
			   cap->job->source->name, (unsigned long long)r->id, r->schema, r->table);
		return -1;
	}
	ss_change_finish(c);
	if (cap->n + 1 >= cap->cap) {
		cap->cap = cap->cap ? cap->cap * 2 : 1024;
		cap->offs = ss_xrealloc(cap->offs, sizeof *cap->offs * (size_t)(cap->cap + 1));
		cap->ids = ss_xrealloc(cap->ids, sizeof *cap->ids * (size_t)cap->cap);
		cap->txids = ss_xrealloc(cap->txids, sizeof *cap->txids * (size_t)cap->cap);
	}
	cap->offs[cap->n] = cap->payloads.len;
	ss_change_encode(c, &cap->payloads);
	cap->ids[cap->n] = r->id;
	cap->txids[cap->n] = r->txid;
	cap->n++;
	cap->offs[cap->n] = cap->payloads.len;
	if (r->captured_us > cap->newest_source_us)
		cap->newest_source_us = r->captured_us;
	return 0;
}

/* txid -> index in tx, open addressing; built once per poll */
struct txn_map {
	int *slot;
	size_t mask;
};

static void map_init(struct txn_map *m, int n)
{
	size_t sz = 16;

	while (sz < (size_t)n * 2)
		sz *= 2;
	m->slot = ss_xmalloc(sizeof *m->slot * sz);
	for (size_t i = 0; i < sz; i++)
		m->slot[i] = -1;
	m->mask = sz - 1;
}

static size_t map_h(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static struct cap_txn *map_find(struct txn_map *m, struct cap_txn *v, uint64_t txid)
{
	for (size_t s = map_h(txid) & m->mask; m->slot[s] >= 0; s = (s + 1) & m->mask)
		if (v[m->slot[s]].txid == txid)
			return &v[m->slot[s]];
	return NULL;
}

static void map_add(struct txn_map *m, int idx, uint64_t txid)
{
	size_t s = map_h(txid) & m->mask;

	while (m->slot[s] >= 0)
		s = (s + 1) & m->mask;
	m->slot[s] = idx;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and de-duplicate v[0..n); returns the new n. */
static int uniq_u64(uint64_t *v, int n)
{
	int m = 0;

	qsort(v, (size_t)n, sizeof *v, cmp_u64);
	for (int i = 0; i < n; i++)
		if (m == 0 || v[m - 1] != v[i])
			v[m++] = v[i];
	return m;
}

/* The transactions open at the end of the journal: those of the records
 * after its last SS_JREC_TXEND.  Some of them may have ended there (their
 * last row came while another was still open); they are dropped by the
 * next polls that find no row of them.  Read back from the end in growing
 * windows, so a short open tail costs a short read. */
static int load_pending(struct ss_capture *cap, struct ss_err *err)
{
	uint64_t last = ss_journal_last_pos(cap->journal),
		 first = ss_journal_first_pos(cap->journal);
	uint64_t window = 1024, *v = NULL;
	int n = 0, cap_v = 0, rc = -1;

	if (last == 0 || first == 0)
		return 0;
	for (;;) {
		uint64_t from = last - first + 1 > window ? last - window : first - 1;
		struct ss_journal_reader *r = ss_journal_reader_new(cap->journal, from, err);
		struct ss_jrec rec;
		int got, found = 0;
		if (!r)
			goto done;
		n = 0;
		while ((got = ss_journal_reader_next(r, &rec, err)) > 0 && rec.pos <= last) {
			if (rec.flags & SS_JREC_TXEND) {
				n = 0; /* everything before it ended */
				found = 1;
				continue;
			}
			if (n > 0 && v[n - 1] == rec.txid)
				continue;
			if (n == cap_v) {
				if (n >= 4096)
					n = uniq_u64(v, n);
				if (n == cap_v) {
					cap_v = cap_v ? cap_v * 2 : 64;
					v = ss_xrealloc(v, sizeof *v * (size_t)cap_v);
				}
			}
			v[n++] = rec.txid;
		}
		ss_journal_reader_free(r);
		if (got < 0)
			goto done;
		if (found || from == first - 1)
			break;
		window *= 4;
	}
	n = n ? uniq_u64(v, n) : 0;
	free(cap->pending);
	cap->pending = v;
	cap->npending = n;
	v = NULL;
	if (n)
		ss_log_info(cap->ctx, "%d source transaction%s open at the end of the journal", n,
			    n == 1 ? "" : "s");
	rc = 0;
done:
	free(v);
	return rc;
}

/* Compute the TXEND flag of each record (see the comment at the top) and
 * the transactions still open after the batch (*open_out, *nopen_out: what
 * cap->pending becomes once the batch is durable). */
static int txn_flags(struct ss_capture *cap, int full, uint8_t *flags, uint64_t **open_out,
		     int *nopen_out, struct ss_err *err)
{
	struct cap_txn *tx = NULL;
	int ntx = 0, nbatch, rc = -1;
	uint64_t *open = NULL;
	int nopen = 0;
	struct txn_map map = {NULL, 0};

	*open_out = NULL;
	*nopen_out = 0;
	if (!cap->conn->d->capture_txn_more) {
		memset(flags, SS_JREC_TXEND, (size_t)cap->n);
		return 0;
	}
	tx = ss_xcalloc((size_t)cap->n + (size_t)cap->npending + 1, sizeof *tx);
	map_init(&map, cap->n + cap->npending);
	for (int i = 0; i < cap->n; i++) {
		struct cap_txn *t = map_find(&map, tx, cap->txids[i]);
		if (!t) {
			map_add(&map, ntx, cap->txids[i]);
			t = &tx[ntx++];
			t->txid = cap->txids[i];
		}
		t->in_batch++;
	}
	nbatch = ntx;
	/* carried transactions with no row in a full batch: asked too */
	for (int i = 0; full && i < cap->npending; i++)
		if (!map_find(&map, tx, cap->pending[i])) {
			map_add(&map, ntx, cap->pending[i]);
			tx[ntx++].txid = cap->pending[i];
		}
	if (full) {
		/* rows are read in id order: the last one has the largest id */
		uint64_t *ids = ss_xcalloc((size_t)ntx, sizeof *ids);
		uint8_t *more = ss_xcalloc((size_t)ntx, 1);
		for (int i = 0; i < ntx; i++)
			ids[i] = tx[i].txid;
		int r = cap->conn->d->capture_txn_more(cap->conn, cap->job->name, ids, ntx,
						       cap->ids[cap->n - 1], more, err);
		/* a transaction with more rows does not end in this batch */
		for (int i = 0; i < ntx; i++)
			tx[i].total = tx[i].in_batch + more[i];
		free(ids);
		free(more);
		if (r < 0)
			goto done;
	} else {
		for (int i = 0; i < ntx; i++)
			tx[i].total = tx[i].in_batch;
	}
	/* walk: open = pending carried over + transactions begun and not ended */
	open = ss_xcalloc((size_t)(cap->npending + ntx + 1), sizeof *open);
	for (int i = 0; i < cap->npending; i++) {
		/* A carried transaction absent from the batch has no rows left
		 * (it ended with an earlier poll's rows) unless the batch was full
		 * and the source still has rows of it after the batch: its rows
		 * became visible together, so none can hide before the batch's
		 * last id. */
		struct cap_txn *t = map_find(&map, tx, cap->pending[i]);
		if (t && (t - tx < nbatch || t->total > 0))
			open[nopen++] = cap->pending[i];
	}
	for (int i = 0; i < nbatch; i++)
		tx[i].in_batch = 0;
	for (int i = 0; i < cap->n; i++) {
		struct cap_txn *t = map_find(&map, tx, cap->txids[i]);
		int k;
		for (k = 0; k < nopen && open[k] != t->txid; k++)
			;
		if (k == nopen)
			open[nopen++] = t->txid;
		t->in_batch++;
		if (t->in_batch >= t->total) { /* all its rows are in: it ends here */
			open[k] = open[--nopen];
		}
		flags[i] = nopen == 0 ? SS_JREC_TXEND : 0;
	}
	*open_out = open;
	*nopen_out = nopen;
	open = NULL;
	rc = 0;
done:
	free(map.slot);
	free(open);
	free(tx);
	return rc;
}

static int trigger_poll(struct ss_capture *cap, int *full, struct ss_err *err)
{
	const struct ss_dialect *d;
	int limit = (int)cap->job->batch_rows;
	uint8_t *flags = NULL;
	uint64_t pos, *open = NULL;
	int nopen = 0;

	*full = 0;
	d = cap->conn->d;
	if (!cap->pending_loaded) {
		if (load_pending(cap, err) < 0)
			return -1;
		cap->pending_loaded = 1;
	}
	cap->n = 0;
	ss_buf_reset(&cap->payloads);
	cap->stats.polls++;
	cap->stats.last_poll_us = ss_now_us();
	if (d->begin(cap->conn, err) < 0)
		goto fail;
	if (d->capture_fetch(cap->conn, cap->job->name, limit, on_shadow_row, cap, err) < 0)
		goto fail;
	if (cap->n == 0) {
		if (d->commit(cap->conn, err) < 0)
			goto fail;
		/* no visible row: every carried transaction has ended (a
		 * committed transaction's rows are visible together) */
		cap->npending = 0;
		return 0;
	}
	*full = cap->n >= limit;
	flags = ss_xmalloc((size_t)cap->n);
	if (txn_flags(cap, *full, flags, &open, &nopen, err) < 0)
		goto fail;
	for (int i = 0; i < cap->n; i++) {
		if (ss_journal_append(cap->journal, SS_JREC_CHANGE, flags[i], cap->txids[i],
				      cap->payloads.data + cap->offs[i],
				      (uint32_t)(cap->offs[i + 1] - cap->offs[i]), &pos, err) < 0) {
			ss_journal_discard(cap->journal);
			goto fail;
		}
	}
	if (ss_journal_commit(cap->journal, err) < 0) {
		ss_journal_discard(cap->journal);
		goto fail;
	}
	/* durable: the journal's open transactions are these now, whatever
	 * happens to the shadow rows */
	free(cap->pending);
	cap->pending = open;
	cap->npending = nopen;
	open = NULL;
	ss_crashpoint("capture_after_journal");
	/* durable: now, and only now, consume exactly these rows */
	if (d->capture_delete(cap->conn, cap->job->name, cap->ids, cap->n, err) < 0 ||
	    d->commit(cap->conn, err) < 0) {
		ss_log_warn(cap->ctx,
			    "journaled %d changes but could not delete their shadow rows (%s); "
			    "they will be captured again (applying them twice is harmless)",
			    cap->n, err->msg);
		goto fail;
	}
	ss_crashpoint("capture_after_delete");
	free(flags);
	cap->stats.changes += (uint64_t)cap->n;
	cap->stats.last_change_source_us = cap->newest_source_us;
	cap->stats.last_error[0] = '\0';
	return cap->n;
fail:
	/* cap->pending still describes the journal: it changes only with a
	 * durable journal commit */
	free(flags);
	free(open);
	if (cap->conn) {
		struct ss_err e2;
		if (d->rollback(cap->conn, &e2) < 0 || err->transient)
			ss_capture_disconnect(cap);
	}
	return -1;
}

/* ---- timestamp capture (poller.c) ---------------------------------------- */

static struct ss_poller *find_poller(struct ss_capture *cap, const struct cap_table *t)
{
	for (int i = 0; i < cap->npollers; i++)
		if (ss_poller_is(cap->pollers[i], t->info.schema, t->info.name))
			return cap->pollers[i];
	cap->pollers =
		ss_xrealloc(cap->pollers, sizeof *cap->pollers * (size_t)(cap->npollers + 1));
	cap->pollers[cap->npollers] =
		ss_poller_new(cap->job, cap->journal, cap->state_dir, t->info.schema, t->info.name);
	return cap->pollers[cap->npollers++];
}

/* One page of every timestamp-captured table. */
static int timestamp_poll(struct ss_capture *cap, int *full, struct ss_err *err)
{
	int total = 0;

	for (int i = 0; i < cap->ntables; i++) {
		struct cap_table *t = &cap->tables[i];
		struct ss_poll_table pt = {&t->info, t->row_cols, t->nrow_cols, t->key_cols,
					   t->nkey_cols};
		struct ss_poller *p;
		int f = 0, n;

		if (!t->timestamp)
			continue;
		p = find_poller(cap, t);
		n = ss_poller_poll(p, cap->conn, &pt, &f, err);
		if (n < 0) {
			if (err->transient)
				ss_capture_disconnect(cap);
			return -1;
		}
		total += n;
		*full |= f;
		if (ss_poller_newest_us(p) > cap->stats.last_change_source_us)
			cap->stats.last_change_source_us = ss_poller_newest_us(p);
	}
	cap->stats.changes += (uint64_t)total;
	return total;
}

int ss_capture_poll(struct ss_capture *cap, int *full, struct ss_err *err)
{
	int ntrigger = 0, ntimestamp = 0, n = 0, m, f = 0;

	*full = 0;
	if (ss_capture_connect(cap, err) < 0)
		return -1;
	for (int i = 0; i < cap->ntables; i++) {
		if (cap->tables[i].timestamp)
			ntimestamp++;
		else
			ntrigger++;
	}
	/* no trigger-mode table: no shadow table to read (none installed) */
	if (ntrigger > 0 || ntimestamp == 0) {
		n = trigger_poll(cap, full, err);
		if (n < 0 || ntimestamp == 0)
			return n;
		/* Timestamp records end a target transaction each: not while a
		 * trigger-captured transaction is open in the journal (that
		 * needs a full batch, so the next poll comes at once). */
		if (cap->npending > 0) {
			*full = 1;
			return n;
		}
	}
	cap->stats.polls += ntrigger ? 0 : 1;
	cap->stats.last_poll_us = ss_now_us();
	m = timestamp_poll(cap, &f, err);
	if (m < 0)
		return -1;
	*full |= f;
	cap->stats.last_error[0] = '\0';
	return n + m;
}

void ss_capture_get_stats(const struct ss_capture *cap, struct ss_capture_stats *out)
{
	*out = cap->stats;
}

int ss_capture_has_timestamp(const struct ss_capture *cap)
{
	for (int i = 0; cap && i < cap->ntables; i++)
		if (cap->tables[i].timestamp)
			return 1;
	return 0;
}

void ss_capture_set_error(struct ss_capture *cap, const char *msg)
{
	snprintf(cap->stats.last_error, sizeof cap->stats.last_error, "%s", msg);
}
