/*
 * test_journal_read.c -- reading the journal: the time index finds the
 * right record (also with indexes lost or wrong); retention removes only
 * what it may; read-only journals (another process) see commits and treat a
 * torn tail as the end for now; waiting and waking; one writer and several
 * reader threads; payloads bigger than a segment.
 *
 * Every test works in its own directory under one mkdtemp() root, removed at
 * the end.
 */
#include "journal_test.h"

#include <pthread.h>
#include <time.h>

static void check_at_time(struct ss_journal *j, int64_t ts, uint64_t want_pos)
{
	struct ss_err err;
	struct ss_jrec rec;
	struct ss_journal_reader *r = ss_journal_reader_new_at_time(j, ts, &err);
	int rc;

	CHECK(r != NULL);
	if (!r) {
		fprintf(stderr, "  at_time: %s\n", err.msg);
		return;
	}
	rc = ss_journal_reader_next(r, &rec, &err);
	if (want_pos == 0) {
		CHECK_INT(rc, 0);
	} else {
		CHECK_INT(rc, 1);
		if (rc == 1 && rec.pos != want_pos)
			fprintf(stderr,
				"  at_time(%" PRId64 "): got %" PRIu64 ", want %" PRIu64 "\n", ts,
				rec.pos, want_pos);
		CHECK_INT(rec.pos, want_pos);
		CHECK(rec.ts_us >= ts);
		if (rc == 1 && (rc = ss_journal_reader_next(r, &rec, &err)) == 1)
			CHECK_INT(rec.pos, want_pos + 1);
	}
	ss_journal_reader_free(r);
}

/* ts of position pos in test_time_index: groups of 4 share a time */
static int64_t ts_of(uint64_t pos)
{
	return 1700000000000000 + (int64_t)(pos / 4) * 10;
}

/* the first position carrying ts_of(pos) */
static uint64_t first_of(uint64_t pos)
{
	return pos < 4 ? 1 : pos / 4 * 4;
}

static void test_time_index(void)
{
	char dir[128], path[256];
	uint64_t segs[64], probe[] = {1, 2, 3, 4, 5, 50, 123, 4000, 9999, 16001, 29997, 30000};
	struct ss_journal *j, *ro;
	struct ss_err err;
	uint8_t buf[100] = {0};
	size_t n;

	/* small: several segments, one commit per 3 records */
	test_dir(dir, sizeof dir, "time_small");
	j = must_open(dir, SS_FSYNC_OFF, 3000);
	if (!j)
		return;
	ss_journal_set_clock(j, fake_clock);
	for (uint64_t pos = 1; pos <= 400; pos++) {
		fake_now = 1000000 + (int64_t)pos * 10;
		CHECK(ss_journal_append(j, 1, 0, 0, buf, 50, NULL, &err) == 0);
		if (pos % 3 == 0)
			CHECK(ss_journal_commit(j, &err) == 0);
	}
	CHECK(ss_journal_commit(j, &err) == 0);
	CHECK(list_segs(dir, segs, 64) > 5);
	uint64_t small[] = {1, 2, 3, 34, 35, 36, 50, 123, 399, 400};
	for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
		int64_t t = 1000000 + (int64_t)small[i] * 10;

		check_at_time(j, t, small[i]);
		check_at_time(j, t - 5, small[i]);
		check_at_time(j, t + 1, small[i] == 400 ? 0 : small[i] + 1);
	}
	check_at_time(j, 0, 1);
	check_at_time(j, INT64_MIN, 1);
	/* beyond the end: the reader waits for the next record */
	struct ss_journal_reader *r = ss_journal_reader_new_at_time(j, 5000000, &err);
	struct ss_jrec rec;
	CHECK(r != NULL);
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 0);
	fake_now = 4000000;
	CHECK(ss_journal_append(j, 1, 0, 0, buf, 50, NULL, &err) == 0);
	CHECK(ss_journal_commit(j, &err) == 0);
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 0);
	fake_now = 5000000;
	CHECK(ss_journal_append(j, 1, 0, 0, buf, 50, NULL, &err) == 0);
	CHECK(ss_journal_commit(j, &err) == 0);
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
	CHECK_INT(rec.pos, 402);
	ss_journal_reader_free(r);
	ss_journal_free(j);

	/* bigger: 30000 records over several 1 MiB segments, so the index is
	 * sparse (one entry per 64 KiB) and times repeat */
	test_dir(dir, sizeof dir, "time_big");
	j = must_open(dir, SS_FSYNC_OFF, 1 << 20);
	if (!j)
		return;
	ss_journal_set_clock(j, fake_clock);
	for (uint64_t pos = 1; pos <= 30000; pos++) {
		fake_now = ts_of(pos);
		CHECK(ss_journal_append(j, 1, 0, 0, buf, 100, NULL, &err) == 0);
		if (pos % 10 == 0)
			CHECK(ss_journal_commit(j, &err) == 0);
	}
	CHECK(ss_journal_commit(j, &err) == 0);
	n = list_segs(dir, segs, 64);
	CHECK(n >= 4);
	seg_file(path, sizeof path, dir, segs[1], ".idx");
	CHECK(file_len(path) >= 10 * 24);
	for (size_t i = 0; i < sizeof probe / sizeof *probe; i++) {
		check_at_time(j, ts_of(probe[i]), first_of(probe[i]));
	}
	/* segment boundaries */
	for (size_t i = 1; i < n; i++) {
		uint64_t p = segs[i];

		check_at_time(j, ts_of(p), first_of(p));
		check_at_time(j, ts_of(p) + 1, p / 4 * 4 + 4);
	}
	ss_journal_free(j);

	/* time indexes lost: read-only scans, opening for writing rebuilds them */
	for (size_t i = 0; i < n; i++) {
		seg_file(path, sizeof path, dir, segs[i], ".idx");
		CHECK(unlink(path) == 0);
	}
	ro = ss_journal_open_readonly(dir, &err);
	CHECK(ro != NULL);
	if (ro) {
		CHECK_INT(ss_journal_last_pos(ro), 30000);
		for (size_t i = 0; i < sizeof probe / sizeof *probe; i++)
			check_at_time(ro, ts_of(probe[i]), first_of(probe[i]));
		ss_journal_free(ro);
	}
	j = must_open(dir, SS_FSYNC_OFF, 1 << 20);
	if (!j)
		return;
	for (size_t i = 0; i < n; i++) {
		seg_file(path, sizeof path, dir, segs[i], ".idx");
		CHECK(file_len(path) >= 24);
	}
	for (size_t i = 0; i < sizeof probe / sizeof *probe; i++)
		check_at_time(j, ts_of(probe[i]), first_of(probe[i]));
	CHECK_INT(ss_journal_last_pos(j), 30000);
	ss_journal_free(j);
	/* and a second open finds them whole (no rebuild needed, same answers) */
	j = must_open(dir, SS_FSYNC_OFF, 1 << 20);
	if (j) {
		check_at_time(j, ts_of(12345), 12344);
		ss_journal_free(j);
	}
}

static void test_retention(void)
{
	char dir[128], path[256];
	uint64_t segs[64], after[64];
	struct ss_journal *j;
	struct ss_journal_reader *r;
	struct ss_jrec rec;
	struct ss_err err;
	size_t n, m;
	int rc;

	test_dir(dir, sizeof dir, "retention");
	j = must_open(dir, SS_FSYNC_BATCH, 2000);
	if (!j)
		return;
	ss_journal_set_clock(j, fake_clock);
	for (uint64_t pos = 1; pos <= 300; pos++) {
		uint8_t buf[50];

		fake_now = (int64_t)pos * 1000;
		fill(buf, pos, 50);
		CHECK(ss_journal_append(j, 1, 0, 0, buf, 50, NULL, &err) == 0);
		if (pos % 7 == 0)
			CHECK(ss_journal_commit(j, &err) == 0);
	}
	CHECK(ss_journal_commit(j, &err) == 0);
	n = list_segs(dir, segs, 64);
	CHECK(n > 10);

	/* a reader half way through */
	r = ss_journal_reader_new(j, 0, &err);
	CHECK(r != NULL);
	for (int i = 1; i <= 150; i++)
		CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);

	CHECK_INT(ss_journal_retain(j, 100, 1, &err), 0); /* nothing that old */
	CHECK_INT(ss_journal_retain(j, segs[1] - 2, INT64_MAX, &err), 0);
	rc = ss_journal_retain(j, 100, INT64_MAX, &err);
	m = list_segs(dir, after, 64);
	CHECK(rc > 0);
	CHECK_INT(m, n - (size_t)rc);
	CHECK_INT(ss_journal_first_pos(j), after[0]);
	CHECK(after[0] <= 101); /* position 101 is kept */
	for (size_t i = 0; i < (size_t)rc; i++) {
		CHECK(segs[i + 1] - 1 <= 100); /* removed: all applied */
		seg_file(path, sizeof path, dir, segs[i], ".idx");
		CHECK_INT(file_len(path), -1);
	}
	CHECK(after[1] - 1 > 100); /* the first kept one was not */

	/* the reader goes on */
	for (uint64_t want = 151; want <= 300; want++) {
		CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
		CHECK_INT(rec.pos, want);
	}
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 0);
	ss_journal_reader_free(r);

	/* by age: segments whose last record is older than position 200's */
	rc = ss_journal_retain(j, 300, 200 * 1000, &err);
	CHECK(rc > 0);
	m = list_segs(dir, after, 64);
	CHECK(after[0] <= 200);
	CHECK(after[1] - 1 >= 200);

	/* everything applied and old: all but the newest segment */
	rc = ss_journal_retain(j, UINT64_MAX, INT64_MAX, &err);
	CHECK_INT(rc, (int)m - 1);
	CHECK_INT(list_segs(dir, after, 64), 1);
	CHECK_INT(ss_journal_first_pos(j), after[0]);
	CHECK_INT(ss_journal_last_pos(j), 300);
	CHECK_INT(ss_journal_retain(j, UINT64_MAX, INT64_MAX, &err), 0);
	seg_file(path, sizeof path, dir, after[0], ".seg");
	CHECK_INT(ss_journal_bytes(j), file_len(path));

	r = ss_journal_reader_new(j, 0, &err);
	CHECK(r == NULL);
	char want[128];
	snprintf(want, sizeof want, "position 1 is no longer kept (oldest is %" PRIu64 ")",
		 after[0]);
	CHECK(strstr(err.msg, want) != NULL);
	CHECK(strstr(err.msg, dir) != NULL);
	r = ss_journal_reader_new(j, after[0] - 1, &err);
	CHECK(r != NULL);
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
	CHECK_INT(rec.pos, after[0]);
	ss_journal_reader_free(r);
	ss_journal_free(j);

	j = must_open(dir, SS_FSYNC_OFF, 2000);
	if (!j)
		return;
	CHECK_INT(ss_journal_first_pos(j), after[0]);
	CHECK_INT(ss_journal_last_pos(j), 300);
	ss_journal_free(j);
}

static void test_readonly(void)
{
	char dir[128], path[256];
	uint64_t segs[64];
	struct ss_journal *j, *ro;
	struct ss_journal_reader *r, *rt;
	struct ss_jrec rec;
	struct ss_err err;
	uint64_t pos;

	test_dir(dir, sizeof dir, "readonly");
	CHECK(ss_journal_open_readonly(dir, &err) == NULL);
	CHECK(strstr(err.msg, dir) != NULL);
	j = must_open(dir, SS_FSYNC_OFF, 2000);
	if (!j)
		return;
	append_range(j, 1, 10, 0, 0);
	ro = ss_journal_open_readonly(dir, &err);
	CHECK(ro != NULL);
	if (!ro)
		return;
	CHECK_INT(ss_journal_last_pos(ro), 10);
	CHECK_INT(ss_journal_first_pos(ro), 1);
	r = ss_journal_reader_new(ro, 0, &err);
	rt = ss_journal_reader_new_at_time(ro, ss_journal_last_ts(ro) + 1, &err);
	CHECK(r != NULL && rt != NULL);
	for (uint64_t want = 1; want <= 10; want++) {
		CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
		CHECK_INT(rec.pos, want);
		CHECK(rec_ok(&rec, 0));
	}
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 0);

	/* committed later, across new segments; then some not committed */
	append_range(j, 11, 110, 9, 0);
	for (pos = 111; pos <= 115; pos++) {
		uint8_t buf[256];

		fill(buf, pos, len_for(pos, 0));
		CHECK(ss_journal_append(j, SS_JREC_CHANGE, pos % 5 == 0 ? SS_JREC_TXEND : 0,
					pos / 3, buf, len_for(pos, 0), NULL, &err) == 0);
	}
	for (uint64_t want = 11; want <= 110; want++) {
		int rc = ss_journal_reader_next(r, &rec, &err);

		CHECK_INT(rc, 1);
		if (rc != 1) {
			fprintf(stderr, "  %s\n", rc < 0 ? err.msg : "end of data");
			break;
		}
		CHECK_INT(rec.pos, want);
		CHECK(rec_ok(&rec, 0));
	}
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 0);
	CHECK_INT(ss_journal_reader_next(rt, &rec, &err), 1);
	CHECK(rec.pos > 10);
	CHECK_INT(ss_journal_wait(ro, 110, 0), 110);
	CHECK(ss_journal_commit(j, &err) == 0);
	CHECK_INT(ss_journal_wait(ro, 110, 5000000), 115);
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
	CHECK_INT(rec.pos, 111);

	/* read-only means read-only */
	CHECK(ss_journal_append(ro, 1, 0, 0, "x", 1, NULL, &err) < 0);
	CHECK(strstr(err.msg, "read-only") != NULL);
	CHECK(ss_journal_retain(ro, UINT64_MAX, INT64_MAX, &err) < 0);
	ss_journal_reader_free(r);
	ss_journal_reader_free(rt);
	ss_journal_free(ro);
	ss_journal_free(j);

	/* a torn tail is the end of the data, and is left alone */
	size_t n = list_segs(dir, segs, 64);
	seg_file(path, sizeof path, dir, segs[n - 1], ".seg");
	long long size = file_len(path);
	append_bytes(path, "\x50\x00\x00\x00garbage", 11);
	ro = ss_journal_open_readonly(dir, &err);
	CHECK(ro != NULL);
	if (!ro)
		return;
	CHECK_INT(ss_journal_last_pos(ro), 115);
	CHECK_INT(read_all(ro, 100, 115, 0) + 0, 15);
	CHECK_INT(file_len(path), size + 11);
	ss_journal_free(ro);
}

struct waiter {
	struct ss_journal *j;
	uint64_t after;
	int64_t timeout;
	uint64_t got;
	uint64_t read_pos;
	volatile int done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct ss_err err;
	struct ss_jrec rec;
	struct ss_journal_reader *r = ss_journal_reader_new(w->j, w->after, &err);

	w->got = ss_journal_wait(w->j, w->after, w->timeout);
	if (r && ss_journal_reader_next(r, &rec, &err) == 1)
		w->read_pos = rec.pos;
	ss_journal_reader_free(r);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_wait(void)
{
	char dir[128];
	struct ss_journal *j;
	struct waiter w = {0};
	pthread_t t;
	int64_t t0;

	test_dir(dir, sizeof dir, "wait");
	j = must_open(dir, SS_FSYNC_OFF, 0);
	if (!j)
		return;
	CHECK_INT(ss_journal_wait(j, 0, 1000), 0); /* times out */

	/* woken by a commit */
	w.j = j;
	w.timeout = 20 * 1000000;
	t0 = ss_mono_us();
	CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0);
	usleep(50000);
	append_range(j, 1, 3, 0, 0);
	pthread_join(t, NULL);
	CHECK_INT(w.got, 3);
	CHECK_INT(w.read_pos, 1);
	CHECK(ss_mono_us() - t0 < 10 * 1000000);

	/* woken by wake_all, with nothing new */
	memset(&w, 0, sizeof w);
	w.j = j;
	w.after = 3;
	w.timeout = 60 * 1000000;
	t0 = ss_mono_us();
	CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0);
	while (!__atomic_load_n(&w.done, __ATOMIC_SEQ_CST) && ss_mono_us() - t0 < 30 * 1000000) {
		usleep(10000);
		ss_journal_wake_all(j);
	}
	pthread_join(t, NULL);
	CHECK_INT(w.got, 3);
	CHECK_INT(w.read_pos, 0);
	CHECK(ss_mono_us() - t0 < 30 * 1000000);
	ss_journal_free(j);
}

/* One writer thread, three readers following it with ss_journal_wait, and
 * one more through a read-only journal (as another process would). */
#define CONC_N 60000

struct conc_reader {
	struct ss_journal *j;
	struct ss_journal *writer; /* records must be committed there */
	uint64_t read;
	int bad;
};

static void *conc_read(void *arg)
{
	struct conc_reader *c = arg;
	struct ss_err err;
	struct ss_jrec rec;
	struct ss_journal_reader *r = ss_journal_reader_new(c->j, 0, &err);

	if (!r) {
		c->bad = 1;
		return NULL;
	}
	while (c->read < CONC_N) {
		int rc = ss_journal_reader_next(r, &rec, &err);

		if (rc == 0) {
			ss_journal_wait(c->j, c->read, 1000000);
			continue;
		}
		if (rc < 0 || rec.pos != c->read + 1 || !rec_ok(&rec, 0) ||
		    (c->writer && rec.pos > ss_journal_last_pos(c->writer))) {
			if (rc < 0)
				fprintf(stderr, "  reader: %s\n", err.msg);
			c->bad = 1;
			break;
		}
		c->read++;
	}
	ss_journal_reader_free(r);
	return NULL;
}

static void test_concurrent(void)
{
	char dir[128];
	struct ss_journal *j, *ro;
	struct conc_reader c[4];
	struct ss_err err;
	pthread_t t[4];
	uint64_t pos = 1;
	unsigned step = 1;

	test_dir(dir, sizeof dir, "concurrent");
	j = must_open(dir, SS_FSYNC_OFF, 64 * 1024);
	if (!j)
		return;
	ro = ss_journal_open_readonly(dir, &err);
	CHECK(ro != NULL);
	if (!ro)
		return;
	for (int i = 0; i < 4; i++) {
		c[i] = (struct conc_reader){.j = i < 3 ? j : ro, .writer = i < 3 ? j : NULL};
		CHECK(pthread_create(&t[i], NULL, conc_read, &c[i]) == 0);
	}
	while (pos <= CONC_N) {
		uint64_t to = pos + step - 1;

		if (to > CONC_N)
			to = CONC_N;
		append_range(j, pos, to, 0, 0);
		pos = to + 1;
		step = step % 97 + 1;
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(c[i].bad, 0);
		CHECK_INT(c[i].read, CONC_N);
	}
	ss_journal_free(ro);
	ss_journal_free(j);
}

static void test_big_payload(void)
{
	char dir[128], path[256];
	const uint32_t big = 16u << 20;
	uint8_t *p = malloc(big);
	struct ss_journal *j, *ro;
	struct ss_journal_reader *r;
	struct ss_jrec rec;
	struct ss_err err;
	uint64_t segs[16], pos;

	if (!p)
		return;
	for (uint32_t i = 0; i < big; i++)
		p[i] = (uint8_t)(i * 2654435761u >> 13);
	test_dir(dir, sizeof dir, "big");
	j = must_open(dir, SS_FSYNC_BATCH, 1 << 20);
	if (!j)
		goto out;
	CHECK(ss_journal_append(j, 1, 0, 7, "small", 5, &pos, &err) == 0);
	CHECK(ss_journal_append(j, 1, SS_JREC_TXEND, 8, p, big, &pos, &err) == 0);
	CHECK_INT(pos, 2);
	CHECK(ss_journal_append(j, 1, 0, 9, "after", 5, &pos, &err) == 0);
	CHECK(ss_journal_commit(j, &err) == 0);
	CHECK_INT(list_segs(dir, segs, 16), 3);
	seg_file(path, sizeof path, dir, 2, ".seg");
	CHECK_INT(file_len(path), 32 + 36 + (long long)big);

	for (int round = 0; round < 2; round++) {
		r = ss_journal_reader_new(j, 0, &err);
		CHECK(r != NULL);
		CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
		CHECK(rec.len == 5 && memcmp(rec.payload, "small", 5) == 0);
		CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
		CHECK_INT(rec.pos, 2);
		CHECK_INT(rec.len, big);
		CHECK(rec.len == big && memcmp(rec.payload, p, big) == 0);
		CHECK_INT(rec.flags, SS_JREC_TXEND);
		CHECK_INT(rec.txid, 8);
		CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
		CHECK(rec.len == 5 && memcmp(rec.payload, "after", 5) == 0);
		CHECK_INT(ss_journal_reader_next(r, &rec, &err), 0);
		ss_journal_reader_free(r);
		ss_journal_free(j);
		j = must_open(dir, SS_FSYNC_OFF, 1 << 20);
		if (!j)
			goto out;
	}
	ro = ss_journal_open_readonly(dir, &err);
	CHECK(ro != NULL);
	if (ro) {
		r = ss_journal_reader_new(ro, 1, &err);
		CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
		CHECK(rec.len == big && memcmp(rec.payload, p, big) == 0);
		ss_journal_reader_free(r);
		ss_journal_free(ro);
	}
	ss_journal_free(j);
out:
	free(p);
}

int main(void)
{
	if (root_make("journal_read") < 0)
		return 1;
	UNIT_RUN(test_time_index);
	UNIT_RUN(test_retention);
	UNIT_RUN(test_readonly);
	UNIT_RUN(test_wait);
	UNIT_RUN(test_concurrent);
	UNIT_RUN(test_big_payload);
	root_remove();
	return UNIT_DONE();
}
