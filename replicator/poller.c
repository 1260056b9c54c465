/*
 * poller.c -- timestamp-column capture.  See poller.h and
 * doc/timestamp-capture.md.
 *
 * Reading.  A pass pages through the table in (ts, key) order: its first
 * page starts at checkpoint ts - lookback (or at the beginning when there is
 * no checkpoint: the initial load), each further page strictly after the
 * previous page's last (ts, key), so ties on one timestamp are never cut.
 * Every page stops at the database clock minus SS_POLL_SAFETY_US.  A page
 * that is not full ends the pass; the next poll starts a new one.  The
 * checkpoint is the (ts, key) of the furthest row read.
 *
 * Deduplication.  `seen` maps key -> hash of the last journaled image (or
 * DELETED) with its ts, for rows within the look-back window of the
 * checkpoint; a re-read row with the same image is not journaled again.
 *
 * Deletes.  `present` holds the keys journaled as present (kept only with
 * delete_detection = keyscan); a key scan every keyscan_interval journals a
 * 'D' for each of them the source no longer has.
 *
 * Persistence.  After each journal commit (and whenever the checkpoint or
 * the map changed) poll-<tag>.state is rewritten (tmp + fsync + rename),
 * and poll-<tag>.keys when the key set changed.  A crash between the
 * journal commit and the state write re-journals the same images on restart,
 * which is harmless (applying is idempotent).
 */
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define DELETED_HASH 0 /* image hash of a row journaled as deleted */

/* ---- key -> (hash, ts) map: open addressing, linear probing ------------- */

struct kent {
	char *k;
	uint32_t klen;
	uint8_t used, dead;
	uint32_t mark;
	uint64_t hash;
	int64_t ts;
};

struct kmap {
	struct kent *v;
	size_t cap, used, live;
};

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void km_free(struct kmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->v[i].k);
	free(m->v);
	memset(m, 0, sizeof *m);
}

static struct kent *km_slot(struct kmap *m, const char *k, size_t len)
{
	size_t i = (size_t)fnv(k, len) & (m->cap - 1);

	while (m->v[i].used && (m->v[i].klen != len || memcmp(m->v[i].k, k, len) != 0))
		i = (i + 1) & (m->cap - 1);
	return &m->v[i];
}

/* Live entry for k, or NULL. */
static struct kent *km_get(struct kmap *m, const char *k, size_t len)
{
	struct kent *e;

	if (!m->cap)
		return NULL;
	e = km_slot(m, k, len);
	return e->used && !e->dead ? e : NULL;
}

static void km_rehash(struct kmap *m, size_t cap)
{
	struct kmap n = {ss_xcalloc(cap, sizeof(struct kent)), cap, 0, 0};

	for (size_t i = 0; i < m->cap; i++) {
		struct kent *e = &m->v[i];
		if (!e->used)
			continue;
		if (e->dead) {
			free(e->k);
			continue;
		}
		*km_slot(&n, e->k, e->klen) = *e;
		n.used++;
		n.live++;
	}
	free(m->v);
	*m = n;
}

/* Find or add k (a new entry has hash 0, ts 0, mark 0). */
static struct kent *km_put(struct kmap *m, const char *k, size_t len)
{
	struct kent *e;

	if ((m->used + 1) * 10 >= m->cap * 7) {
		size_t cap = m->cap ? m->cap : 64;
		while ((m->live + 1) * 10 >= cap * 5)
			cap *= 2;
		km_rehash(m, cap);
	}
	e = km_slot(m, k, len);
	if (e->used) {
		if (e->dead) {
			e->dead = 0;
			e->hash = 0;
			e->ts = 0;
			e->mark = 0;
			m->live++;
		}
		return e;
	}
	e->k = ss_xmalloc(len ? len : 1);
	memcpy(e->k, k, len);
	e->klen = (uint32_t)len;
	e->used = 1;
	e->dead = 0;
	m->used++;
	m->live++;
	return e;
}

static void km_del(struct kmap *m, struct kent *e)
{
	if (e && e->used && !e->dead) {
		e->dead = 1;
		m->live--;
	}
}

/* ---- the poller --------------------------------------------------------- */

struct pending {
	size_t koff, klen; /* key string in p->keys */
	uint64_t hash;
	int64_t ts;
	char op;
};

struct ss_poller {
	const struct ss_jobconf *job;
	struct ss_journal *journal;
	char *schema, *name;
	struct ss_table_settings s;
	char ctx[256];
	char *state_path, *keys_path;
	int loaded;
	/* checkpoint: furthest (ts, key) read */
	int has_cp;
	int64_t cp_ts;
	struct ss_buf cp_key;
	/* current pass */
	int from; /* enum ss_poll_from */
	int64_t cur_ts;
	char **cur_keys; /* native key texts of the last row of the last page */
	int ncur;
	struct kmap seen, present;
	int present_valid; /* the key set is known (else rebuilt by the next scan) */
	int state_dirty, keys_dirty;
	uint32_t scan_gen;
	int64_t next_scan_mono;
	int64_t newest_us;
	/* per page */
	const struct ss_poll_table *t;
	struct ss_change change;
	struct ss_buf payloads, keys, kbuf;
	struct ss_buf fixed;           /* a row image after ops->image_fix */
	const struct ss_poll_ops *ops; /* of the poll in progress */
	size_t *offs;
	struct pending *pend;
	int n, cap, rows;
	int64_t last_ts;
	char **last_keys;
	int last_nkeys;
};

struct ss_poller *ss_poller_new(const struct ss_jobconf *job, struct ss_journal *journal,
				const char *state_dir, const char *schema, const char *name)
{
	struct ss_poller *p = ss_xcalloc(1, sizeof *p);
	char tag[17];

	p->job = job;
	p->journal = journal;
	p->schema = ss_xstrdup(schema);
	p->name = ss_xstrdup(name);
	ss_config_table_settings(job, schema, name, &p->s);
	snprintf(p->ctx, sizeof p->ctx, "job %s poll %s.%s", job->name, schema, name);
	if (state_dir) {
		struct ss_buf b;
		ss_ddl_table_tag(job->name, schema, name, tag);
		ss_buf_init(&b);
		ss_buf_addf(&b, "%s/poll-%s.state", state_dir, tag);
		p->state_path = ss_buf_steal(&b);
		ss_buf_addf(&b, "%s/poll-%s.keys", state_dir, tag);
		p->keys_path = ss_buf_steal(&b);
	}
	ss_buf_init(&p->cp_key);
	ss_buf_init(&p->payloads);
	ss_buf_init(&p->keys);
	ss_buf_init(&p->kbuf);
	ss_buf_init(&p->fixed);
	ss_change_init(&p->change);
	p->from = SS_POLL_FROM_START;
	return p;
}

static void free_strv(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void ss_poller_free(struct ss_poller *p)
{
	if (!p)
		return;
	free(p->schema);
	free(p->name);
	free(p->state_path);
	free(p->keys_path);
	ss_buf_free(&p->cp_key);
	ss_buf_free(&p->payloads);
	ss_buf_free(&p->keys);
	ss_buf_free(&p->kbuf);
	ss_buf_free(&p->fixed);
	ss_change_release(&p->change);
	free_strv(p->cur_keys, p->ncur);
	free_strv(p->last_keys, p->last_nkeys);
	km_free(&p->seen);
	km_free(&p->present);
	free(p->offs);
	free(p->pend);
	free(p);
}

int ss_poller_is(const struct ss_poller *p, const char *schema, const char *name)
{
	return strcmp(p->schema, schema) == 0 && strcmp(p->name, name) == 0;
}

int64_t ss_poller_newest_us(const struct ss_poller *p)
{
	return p->newest_us;
}

static int keyscan_on(const struct ss_poller *p)
{
	return p->s.delete_detection == SS_DELDET_KEYSCAN;
}

/* Key string of native key texts: varint length + bytes each. */
static void key_string(const char *const *v, const size_t *l, int n, struct ss_buf *out)
{
	for (int i = 0; i < n; i++) {
		ss_buf_add_varint(out, v[i] ? l[i] + 1 : 0);
		if (v[i])
			ss_buf_add(out, v[i], l[i]);
	}
}

/* ---- state files ---------------------------------------------------------- */

static int write_atomic(const char *path, const struct ss_buf *b, struct ss_err *err)
{
	struct ss_buf tmp;
	int fd, rc = -1;

	ss_buf_init(&tmp);
	ss_buf_addf(&tmp, "%s.tmp", path);
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ss_err_set(err, "poll state %s: %s", tmp.data, strerror(errno));
		goto done;
	}
	for (size_t off = 0; off < b->len;) {
		ssize_t w = write(fd, b->data + off, b->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ss_err_set(err, "poll state %s: write: %s", tmp.data, strerror(errno));
			close(fd);
			goto done;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		ss_err_set(err, "poll state %s: fsync: %s", tmp.data, strerror(errno));
		goto done;
	}
	if (rename(tmp.data, path) < 0) {
		ss_err_set(err, "poll state %s: rename: %s", path, strerror(errno));
		goto done;
	}
	{
		/* the rename itself durable */
		char *dir = ss_xstrdup(path), *slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0) {
				(void)fsync(dfd);
				close(dfd);
			}
		}
		free(dir);
	}
	rc = 0;
done:
	if (rc < 0)
		unlink(tmp.data);
	ss_buf_free(&tmp);
	return rc;
}

static void hex_line(struct ss_buf *out, const char *k, size_t n)
{
	if (n == 0)
		ss_buf_addc(out, '-');
	else
		ss_hex_encode((const uint8_t *)k, n, out);
}

static int save_state(struct ss_poller *p, struct ss_err *err)
{
	struct ss_buf b;
	int rc = 0;

	if (!p->state_path)
		return 0;
	ss_buf_init(&b);
	if (p->keys_dirty && keyscan_on(p) && p->present_valid) {
		ss_buf_adds(&b, "shadowsync poll keys 1\n");
		for (size_t i = 0; i < p->present.cap; i++) {
			const struct kent *e = &p->present.v[i];
			if (!e->used || e->dead)
				continue;
			hex_line(&b, e->k, e->klen);
			ss_buf_addc(&b, '\n');
		}
		ss_buf_adds(&b, "end\n");
		if (write_atomic(p->keys_path, &b, err) < 0)
			rc = -1;
		else
			p->keys_dirty = 0;
		ss_buf_reset(&b);
	}
	if (rc == 0 && p->state_dirty) {
		ss_buf_adds(&b, "shadowsync poll state 1\n");
		ss_buf_addf(&b, "column %s\n", p->s.timestamp_column);
		if (p->has_cp) {
			ss_buf_addf(&b, "checkpoint %" PRId64 " ", p->cp_ts);
			hex_line(&b, p->cp_key.data, p->cp_key.len);
			ss_buf_addc(&b, '\n');
		}
		for (size_t i = 0; i < p->seen.cap; i++) {
			const struct kent *e = &p->seen.v[i];
			if (!e->used || e->dead)
				continue;
			ss_buf_addf(&b, "seen %016" PRIx64 " %" PRId64 " ", e->hash, e->ts);
			hex_line(&b, e->k, e->klen);
			ss_buf_addc(&b, '\n');
		}
		ss_buf_adds(&b, "end\n");
		if (write_atomic(p->state_path, &b, err) < 0)
			rc = -1;
		else
			p->state_dirty = 0;
	}
	ss_buf_free(&b);
	return rc;
}

static int unhex(const char *s, struct ss_buf *out)
{
	ss_buf_reset(out);
	if (strcmp(s, "-") == 0)
		return 0;
	return ss_hex_decode(s, strlen(s), out);
}

static void load_state(struct ss_poller *p)
{
	FILE *f;
	char *line = NULL, *col = NULL;
	size_t cap = 0;
	int ok = 0, keys_ok = 0;
	struct ss_buf k;

	p->loaded = 1;
	p->present_valid = 1;
	if (!p->state_path)
		return;
	ss_buf_init(&k);
	f = fopen(p->state_path, "r");
	if (f) {
		while (getline(&line, &cap, f) > 0) {
			char *nl = strchr(line, '\n');
			char *endp;
			if (nl)
				*nl = '\0';
			if (strncmp(line, "column ", 7) == 0) {
				free(col);
				col = ss_xstrdup(line + 7);
			} else if (strncmp(line, "checkpoint ", 11) == 0) {
				p->cp_ts = strtoll(line + 11, &endp, 10);
				if (*endp != ' ' || unhex(endp + 1, &k) < 0)
					break;
				ss_buf_reset(&p->cp_key);
				ss_buf_add(&p->cp_key, k.data, k.len);
				p->has_cp = 1;
			} else if (strncmp(line, "seen ", 5) == 0) {
				uint64_t h = strtoull(line + 5, &endp, 16);
				int64_t ts = strtoll(endp, &endp, 10);
				if (*endp != ' ' || unhex(endp + 1, &k) < 0)
					break;
				struct kent *e = km_put(&p->seen, k.data, k.len);
				e->hash = h;
				e->ts = ts;
			} else if (strcmp(line, "end") == 0) {
				ok = 1;
			}
		}
		fclose(f);
		if (!ok || !col || strcmp(col, p->s.timestamp_column) != 0) {
			ss_log_warn(p->ctx, "poll state %s %s: starting with a full read",
				    p->state_path,
				    !ok ? "is incomplete" : "is for another timestamp column");
			p->has_cp = 0;
			km_free(&p->seen);
		}
	}
	if (p->has_cp && keyscan_on(p)) {
		f = fopen(p->keys_path, "r");
		if (f) {
			while (getline(&line, &cap, f) > 0) {
				char *nl = strchr(line, '\n');
				if (nl)
					*nl = '\0';
				if (strcmp(line, "end") == 0) {
					keys_ok = 1;
					break;
				}
				if (strncmp(line, "shadowsync ", 11) == 0)
					continue;
				if (unhex(line, &k) < 0)
					break;
				km_put(&p->present, k.data, k.len);
			}
			fclose(f);
		}
		if (!keys_ok) {
			km_free(&p->present);
			p->present_valid = 0; /* the next key scan rebuilds it */
			ss_log_warn(p->ctx,
				    "no complete key set in %s: the next key scan rebuilds it "
				    "(rows deleted before then are not detected)",
				    p->keys_path);
		}
	}
	if (p->has_cp)
		ss_log_info(p->ctx,
			    "resuming from checkpoint %lld (%zu images in the look-back window)",
			    (long long)p->cp_ts, p->seen.live);
	free(line);
	free(col);
	ss_buf_free(&k);
}

/* ---- reading a page ------------------------------------------------------- */

static void set_keys(char ***dst, int *ndst, const char *const *v, const size_t *l, int n)
{
	free_strv(*dst, *ndst);
	*dst = ss_xcalloc((size_t)n + 1, sizeof **dst);
	for (int i = 0; i < n; i++)
		(*dst)[i] = v[i] ? ss_xstrndup(v[i], l[i]) : NULL;
	*ndst = n;
}

static void add_pending(struct ss_poller *p, const char *k, size_t klen, uint64_t hash, int64_t ts,
			char op, int journaled)
{
	if (p->n + 1 >= p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		p->offs = ss_xrealloc(p->offs, sizeof *p->offs * (size_t)(p->cap + 1));
		p->pend = ss_xrealloc(p->pend, sizeof *p->pend * (size_t)p->cap);
	}
	p->pend[p->n].koff = p->keys.len;
	p->pend[p->n].klen = klen;
	p->pend[p->n].hash = hash;
	p->pend[p->n].ts = ts;
	p->pend[p->n].op = journaled ? op : 0;
	ss_buf_add(&p->keys, k, klen);
	p->offs[p->n] = p->payloads.len;
	if (journaled)
		ss_change_encode(&p->change, &p->payloads);
	p->n++;
	p->offs[p->n] = p->payloads.len;
}

static void change_start(struct ss_poller *p, char op, int64_t ts)
{
	struct ss_change *c = &p->change;

	ss_change_reset(c);
	c->op = op;
	c->txid = 0;
	c->source_id = 0;
	c->source_ts_us = ts;
	c->schema = p->t->info->schema;
	c->schema_len = strlen(c->schema);
	c->table = p->t->info->name;
	c->table_len = strlen(c->table);
}

static int on_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_poller *p = arg;
	const struct ss_poll_table *t = p->t;
	int npk = t->info->npk;
	const char *img;
	size_t ilen;
	int64_t ts;
	int deleted;
	uint64_t h;
	struct kent *e;

	if (n < 3 + npk || !v[0] || !v[1]) {
		ss_err_set(err, "poll query returned %d columns", n);
		return -1;
	}
	img = v[0];
	ilen = l[0];
	ts = strtoll(v[1], NULL, 10);
	deleted = v[2] && v[2][0] == '1';
	if (p->ops->image_fix && p->ops->image_fix(t->info, img, ilen, &p->fixed)) {
		img = p->fixed.data;
		ilen = p->fixed.len;
	}
	p->rows++;
	p->last_ts = ts;
	set_keys(&p->last_keys, &p->last_nkeys, v + 3, l + 3, npk);
	ss_buf_reset(&p->kbuf);
	key_string(v + 3, l + 3, npk, &p->kbuf);
	h = deleted ? DELETED_HASH : fnv(img, ilen);
	if (!deleted && h == DELETED_HASH)
		h = 1;
	e = km_get(&p->seen, p->kbuf.data, p->kbuf.len);
	if (e && e->hash == h) {
		/* same image already journaled: only remember its newer ts */
		add_pending(p, p->kbuf.data, p->kbuf.len, h, ts, 0, 0);
		return 0;
	}
	if (!e && deleted && keyscan_on(p) && p->present_valid &&
	    !km_get(&p->present, p->kbuf.data, p->kbuf.len) && p->has_cp) {
		/* soft-deleted and never journaled as present: nothing to delete */
		add_pending(p, p->kbuf.data, p->kbuf.len, h, ts, 0, 0);
		return 0;
	}
	change_start(p, deleted ? 'D' : 'U', ts);
	int (*parse)(struct ss_change *, int, const char *, size_t, const struct ss_image_col *,
		     int, struct ss_err *) =
		p->ops->text_values ? ss_image_parse_text : ss_image_parse;
	if (parse(&p->change, 1, img, ilen, t->key_cols, t->nkey_cols, err) < 0 ||
	    (!deleted && parse(&p->change, 0, img, ilen, t->row_cols, t->nrow_cols, err) < 0)) {
		ss_err_prefix(err, "table %s.%s", p->schema, p->name);
		return -1;
	}
	if (p->change.nkey != t->nkey_cols) {
		ss_err_set(err, "table %s.%s: row image lacks key columns", p->schema, p->name);
		return -1;
	}
	ss_change_finish(&p->change);
	add_pending(p, p->kbuf.data, p->kbuf.len, h, ts, p->change.op, 1);
	return 0;
}

static int journal_page(struct ss_poller *p, int *njournaled, struct ss_err *err)
{
	int cnt = 0;

	for (int i = 0; i < p->n; i++) {
		if (!p->pend[i].op)
			continue;
		if (ss_journal_append(p->journal, SS_JREC_CHANGE, SS_JREC_TXEND, 0,
				      p->payloads.data + p->offs[i],
				      (uint32_t)(p->offs[i + 1] - p->offs[i]), NULL, err) < 0) {
			ss_journal_discard(p->journal);
			return -1;
		}
		cnt++;
	}
	if (cnt && ss_journal_commit(p->journal, err) < 0) {
		ss_journal_discard(p->journal);
		return -1;
	}
	*njournaled = cnt;
	return 0;
}

/* After the commit: the maps learn what was journaled. */
static void apply_pending(struct ss_poller *p)
{
	for (int i = 0; i < p->n; i++) {
		const struct pending *q = &p->pend[i];
		const char *k = p->keys.data + q->koff;
		struct kent *e = km_put(&p->seen, k, q->klen);

		if (e->hash != q->hash || e->ts != q->ts)
			p->state_dirty = 1;
		e->hash = q->hash;
		if (q->ts > e->ts)
			e->ts = q->ts;
		if (q->ts > p->newest_us && q->op)
			p->newest_us = q->ts;
		if (!keyscan_on(p) || !q->op)
			continue;
		if (q->op == 'D') {
			struct kent *pe = km_get(&p->present, k, q->klen);
			if (pe) {
				km_del(&p->present, pe);
				p->keys_dirty = 1;
			}
		} else if (!km_get(&p->present, k, q->klen)) {
			km_put(&p->present, k, q->klen);
			p->keys_dirty = 1;
		}
	}
}

/* Forget images older than the look-back window of the checkpoint. */
static void prune_seen(struct ss_poller *p)
{
	int64_t horizon = p->cp_ts - p->s.lookback_us;

	for (size_t i = 0; i < p->seen.cap; i++) {
		struct kent *e = &p->seen.v[i];
		if (e->used && !e->dead && e->ts < horizon) {
			km_del(&p->seen, e);
			p->state_dirty = 1;
		}
	}
	if (p->seen.used > 64 && p->seen.live * 4 < p->seen.used)
		km_rehash(&p->seen, p->seen.cap);
}

/* ---- key scan ------------------------------------------------------------- */

static int on_key(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_poller *p = arg;
	struct kent *e;

	(void)err;
	ss_buf_reset(&p->kbuf);
	key_string(v, l, n < p->t->info->npk ? n : p->t->info->npk, &p->kbuf);
	if (!p->present_valid) {
		e = km_put(&p->present, p->kbuf.data, p->kbuf.len);
	} else {
		e = km_get(&p->present, p->kbuf.data, p->kbuf.len);
		if (!e)
			return 0; /* not journaled yet: the poll will find it */
	}
	e->mark = p->scan_gen;
	return 0;
}

/* Journal a 'D' for every key in `present` that the source no longer has. */
static int keyscan(struct ss_poller *p, struct ss_conn *c, const struct ss_poll_spec *spec,
		   int *njournaled, struct ss_err *err)
{
	struct ss_buf sql, val;
	const struct ss_poll_table *t = p->t;
	int npk = t->info->npk, rc = -1, was_valid = p->present_valid;

	ss_buf_init(&sql);
	ss_buf_init(&val);
	c->d->poll->keyscan_sql(spec, &sql);
	if (++p->scan_gen == 0)
		p->scan_gen = 1;
	if (c->d->query(c, sql.data, 0, NULL, NULL, on_key, p, err) < 0)
		goto done;
	if (!was_valid) {
		p->present_valid = 1;
		p->keys_dirty = 1;
		ss_log_info(p->ctx, "key set rebuilt from the source: %zu keys", p->present.live);
		rc = 0;
		goto done;
	}
	p->n = 0;
	ss_buf_reset(&p->payloads);
	ss_buf_reset(&p->keys);
	for (size_t i = 0; i < p->present.cap; i++) {
		struct kent *e = &p->present.v[i];
		const uint8_t *kp, *end;
		if (!e->used || e->dead || e->mark == p->scan_gen)
			continue;
		/* gone from the source: 'D' of its key (texts -> journal form) */
		change_start(p, 'D', 0);
		kp = (const uint8_t *)e->k;
		end = kp + e->klen;
		for (int k = 0; k < npk; k++) {
			uint64_t len;
			if (ss_varint_get(&kp, end, &len) < 0 || len == 0 ||
			    (uint64_t)(end - kp) < len - 1) {
				ss_err_set(err, "table %s.%s: bad key in the key set", p->schema,
					   p->name);
				goto done;
			}
			ss_buf_reset(&val);
			if (ss_value_normalize(t->key_cols[k].vtype, (const char *)kp,
					       (size_t)(len - 1), &val, err) < 0) {
				ss_err_prefix(err, "table %s.%s key %s", p->schema, p->name,
					      t->key_cols[k].name);
				goto done;
			}
			struct ss_field *f = ss_change_add_key(&p->change);
			ss_change_field_store(&p->change, f, t->key_cols[k].name,
					      strlen(t->key_cols[k].name), t->key_cols[k].vtype,
					      val.data ? val.data : "", val.len);
			kp += len - 1;
		}
		ss_change_finish(&p->change);
		add_pending(p, e->k, e->klen, DELETED_HASH, p->cp_ts, 'D', 1);
	}
	if (journal_page(p, njournaled, err) < 0)
		goto done;
	for (int i = 0; i < p->n; i++) {
		const char *k = p->keys.data + p->pend[i].koff;
		km_del(&p->present, km_get(&p->present, k, p->pend[i].klen));
		/* a re-insert with the same image must be journaled again */
		km_del(&p->seen, km_get(&p->seen, k, p->pend[i].klen));
		p->keys_dirty = p->state_dirty = 1;
	}
	if (*njournaled)
		ss_log_info(p->ctx, "key scan: %d deleted row%s", *njournaled,
			    *njournaled == 1 ? "" : "s");
	rc = 0;
done:
	p->n = 0;
	ss_buf_free(&sql);
	ss_buf_free(&val);
	return rc;
}

/* ---- one poll ------------------------------------------------------------- */

static int check_table(struct ss_poller *p, struct ss_conn *c, const struct ss_tableinfo *ti,
		       struct ss_err *err)
{
	int i;

	if (!c->d->poll) {
		ss_err_set(err,
			   "database %s: capture = timestamp (table %s.%s) is not supported for "
			   "%s databases yet",
			   c->db->name, p->schema, p->name, c->d->name);
		return -1;
	}
	i = ss_tableinfo_col(ti, p->s.timestamp_column);
	if (i < 0) {
		ss_err_set(err, "database %s: table %s.%s has no timestamp_column %s", c->db->name,
			   p->schema, p->name, p->s.timestamp_column);
		return -1;
	}
	if (ti->cols[i].vtype != SS_V_TIMESTAMP && ti->cols[i].vtype != SS_V_TIMESTAMPTZ) {
		ss_err_set(err, "database %s: timestamp_column %s of %s.%s is %s, not a timestamp",
			   c->db->name, p->s.timestamp_column, p->schema, p->name,
			   ti->cols[i].type);
		return -1;
	}
	if (p->s.soft_delete_column && *p->s.soft_delete_column &&
	    ss_tableinfo_col(ti, p->s.soft_delete_column) < 0) {
		ss_err_set(err, "database %s: table %s.%s has no soft_delete_column %s",
			   c->db->name, p->schema, p->name, p->s.soft_delete_column);
		return -1;
	}
	return 0;
}

int ss_poller_poll(struct ss_poller *p, struct ss_conn *c, const struct ss_poll_table *t, int *full,
		   struct ss_err *err)
{
	const struct ss_poll_ops *ops = c->d->poll;
	struct ss_poll_spec spec;
	struct ss_buf sql;
	char tsbuf[2][48];
	const char **params = NULL, **logical = NULL;
	int *pmap = NULL, nbound, np = 0, limit = (int)p->job->batch_rows, njournaled = 0,
	    nscan = 0, rc = -1;
	int64_t now;

	*full = 0;
	if (check_table(p, c, t->info, err) < 0)
		return -1;
	if (!p->loaded)
		load_state(p);
	p->t = t;
	p->ops = ops;
	spec.t = t->info;
	spec.ts_col = p->s.timestamp_column;
	spec.soft_delete_col = p->s.soft_delete_column;
	if (c->d->now_us(c, &now, err) < 0)
		return -1;
	ss_buf_init(&sql);
	if (p->from == SS_POLL_FROM_KEY && p->ncur != t->info->npk)
		p->from = p->has_cp ? SS_POLL_FROM_TS : SS_POLL_FROM_START; /* key changed */
	if (p->from == SS_POLL_FROM_START && p->has_cp)
		p->from = SS_POLL_FROM_TS;
	pmap = ss_xcalloc(2 * ((size_t)t->info->npk + 2), sizeof *pmap);
	nbound = ops->select_sql(&spec, p->from, limit, &sql, pmap);
	logical = ss_xcalloc((size_t)t->info->npk + 3, sizeof *logical);
	if (p->from == SS_POLL_FROM_TS) {
		ops->ts_param(p->cp_ts - p->s.lookback_us, tsbuf[0], sizeof tsbuf[0]);
		logical[np++] = tsbuf[0];
	} else if (p->from == SS_POLL_FROM_KEY) {
		ops->ts_param(p->cur_ts, tsbuf[0], sizeof tsbuf[0]);
		logical[np++] = tsbuf[0];
		for (int k = 0; k < p->ncur; k++)
			logical[np++] = p->cur_keys[k];
	}
	ops->ts_param(now - SS_POLL_SAFETY_US, tsbuf[1], sizeof tsbuf[1]);
	logical[np++] = tsbuf[1];
	params = ss_xcalloc((size_t)nbound + 1, sizeof *params);
	for (int i = 0; i < nbound; i++)
		params[i] = logical[pmap[i]];

	p->n = 0;
	p->rows = 0;
	ss_buf_reset(&p->payloads);
	ss_buf_reset(&p->keys);
	if (c->d->query(c, sql.data, nbound, params, NULL, on_row, p, err) < 0)
		goto done;
	if (journal_page(p, &njournaled, err) < 0)
		goto done;
	apply_pending(p);
	/* advance: the pass cursor, and the checkpoint when past it */
	if (p->rows > 0) {
		if (!p->has_cp || p->last_ts > p->cp_ts ||
		    (p->last_ts == p->cp_ts && p->from != SS_POLL_FROM_TS)) {
			p->has_cp = 1;
			p->cp_ts = p->last_ts;
			ss_buf_reset(&p->cp_key);
			for (int k = 0; k < p->last_nkeys; k++) {
				size_t len = p->last_keys[k] ? strlen(p->last_keys[k]) : 0;
				ss_buf_add_varint(&p->cp_key, p->last_keys[k] ? len + 1 : 0);
				ss_buf_add(&p->cp_key, p->last_keys[k] ? p->last_keys[k] : "", len);
			}
			p->state_dirty = 1;
		}
	}
	if (p->rows >= limit) {
		*full = 1;
		p->from = SS_POLL_FROM_KEY;
		p->cur_ts = p->last_ts;
		free_strv(p->cur_keys, p->ncur);
		p->cur_keys = p->last_keys;
		p->ncur = p->last_nkeys;
		p->last_keys = NULL;
		p->last_nkeys = 0;
	} else {
		/* pass complete: the next one starts from the checkpoint again */
		p->from = p->has_cp ? SS_POLL_FROM_TS : SS_POLL_FROM_START;
		if (keyscan_on(p) && ss_mono_us() >= p->next_scan_mono) {
			p->next_scan_mono = ss_mono_us() + p->s.keyscan_interval_us;
			if (keyscan(p, c, &spec, &nscan, err) < 0)
				goto done;
		}
	}
	if (p->has_cp)
		prune_seen(p);
	if (save_state(p, err) < 0)
		goto done;
	if (njournaled || nscan)
		ss_log_debug(p->ctx, "journaled %d change%s%s", njournaled + nscan,
			     njournaled + nscan == 1 ? "" : "s", *full ? " (more waiting)" : "");
	rc = njournaled + nscan;
done:
	if (rc < 0)
		p->from = p->has_cp ? SS_POLL_FROM_TS : SS_POLL_FROM_START;
	free(params);
	free(logical);
	free(pmap);
	ss_buf_free(&sql);
	return rc;
}
