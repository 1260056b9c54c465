/*
 * test_journal.c -- the journal: records come back exactly as committed, in
 * dense position order, across segment rollovers, reopening and crashes;
 * torn tails are repaired and real damage is reported with file and offset;
 * the time index finds the right record; retention removes only what it may;
 * readers in other threads and other journals see commits, and only commits.
 *
 * Every test works in its own directory under one mkdtemp() root, removed at
 * the end.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "util.h"

static char root[64];
static int64_t fake_now;

static int64_t fake_clock(void)
{
	return fake_now;
}

static void test_dir(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", root, name);
}

static void seg_file(char *out, size_t n, const char *dir, uint64_t first, const char *ext)
{
	snprintf(out, n, "%s/%020" PRIu64 "%s", dir, first, ext);
}

/* Payload of the record at pos: len bytes derived from pos. */
static void fill(uint8_t *b, uint64_t pos, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(pos * 131 + i * 7 + (i >> 8));
}

/* fixed > 0: every payload that long; else 0..200 bytes depending on pos. */
static uint32_t len_for(uint64_t pos, uint32_t fixed)
{
	return fixed ? fixed : (uint32_t)((pos * 37) % 201);
}

/* Append positions from..to (checking each gets the position expected),
 * committing every `every` records and at the end. */
static void append_range(struct ss_journal *j, uint64_t from, uint64_t to, unsigned every,
			 uint32_t fixed)
{
	uint8_t buf[512];
	struct ss_err err;

	for (uint64_t pos = from; pos <= to; pos++) {
		uint64_t got = 0;
		uint32_t len = len_for(pos, fixed);

		fill(buf, pos, len);
		if (ss_journal_append(j, SS_JREC_CHANGE, pos % 5 == 0 ? SS_JREC_TXEND : 0, pos / 3,
				      buf, len, &got, &err) < 0) {
			fprintf(stderr, "  append: %s\n", err.msg);
			CHECK(0);
			return;
		}
		CHECK_INT(got, pos);
		if (every && (pos - from + 1) % every == 0 && ss_journal_commit(j, &err) < 0) {
			fprintf(stderr, "  commit: %s\n", err.msg);
			CHECK(0);
		}
	}
	if (ss_journal_commit(j, &err) < 0) {
		fprintf(stderr, "  commit: %s\n", err.msg);
		CHECK(0);
	}
}

/* Is rec the record append_range wrote at its position? */
static int rec_ok(const struct ss_jrec *rec, uint32_t fixed)
{
	uint8_t buf[512];
	uint32_t len = len_for(rec->pos, fixed);

	fill(buf, rec->pos, len);
	return rec->len == len && memcmp(rec->payload, buf, len) == 0 &&
	       rec->type == SS_JREC_CHANGE &&
	       rec->flags == (rec->pos % 5 == 0 ? SS_JREC_TXEND : 0) && rec->txid == rec->pos / 3;
}

/* Read everything after `after`, expecting after+1 .. last, then 0.
 * Returns the number of records read. */
static uint64_t read_all(struct ss_journal *j, uint64_t after, uint64_t last, uint32_t fixed)
{
	struct ss_err err;
	struct ss_jrec rec;
	struct ss_journal_reader *r = ss_journal_reader_new(j, after, &err);
	uint64_t n = 0, want = after + 1;
	int64_t prev_ts = INT64_MIN;
	int rc;

	if (!r) {
		fprintf(stderr, "  reader_new: %s\n", err.msg);
		CHECK(0);
		return 0;
	}
	while ((rc = ss_journal_reader_next(r, &rec, &err)) == 1) {
		if (rec.pos != want || !rec_ok(&rec, fixed) || rec.ts_us < prev_ts) {
			fprintf(stderr, "  record %" PRIu64 " (wanted %" PRIu64 ") is wrong\n",
				rec.pos, want);
			CHECK(0);
			break;
		}
		prev_ts = rec.ts_us;
		want++;
		n++;
	}
	if (rc < 0)
		fprintf(stderr, "  reader_next: %s\n", err.msg);
	CHECK_INT(rc, 0);
	CHECK_INT(want - 1, last);
	ss_journal_reader_free(r);
	return n;
}

/* Segment files in dir, sorted by first position. */
static size_t list_segs(const char *dir, uint64_t *out, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l == 24 && strcmp(de->d_name + 20, ".seg") == 0 && n < max)
			out[n++] = strtoull(de->d_name, NULL, 10);
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && out[k - 1] > out[k]; k--) {
			uint64_t t = out[k];
			out[k] = out[k - 1];
			out[k - 1] = t;
		}
	return n;
}

static long long file_len(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void flip_byte(const char *path, long long off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	CHECK(fd >= 0);
	CHECK(pread(fd, &b, 1, off) == 1);
	b ^= 0x40;
	CHECK(pwrite(fd, &b, 1, off) == 1);
	close(fd);
}

static void append_bytes(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	CHECK(fd >= 0);
	CHECK(write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static struct ss_journal *must_open(const char *dir, enum ss_fsync_mode mode, uint64_t seg_bytes)
{
	struct ss_err err;
	struct ss_journal *j = ss_journal_open(dir, mode, seg_bytes, &err);

	if (!j)
		fprintf(stderr, "  open %s: %s\n", dir, err.msg);
	CHECK(j != NULL);
	return j;
}

static void test_round_trip(void)
{
	char dir[128], path[256];
	uint64_t segs[1000];
	struct ss_journal *j;
	struct ss_journal_reader *r;
	struct ss_jrec rec;
	struct ss_err err;
	long long total = 0;
	size_t n, m;

	test_dir(dir, sizeof dir, "round_trip/sub");
	j = must_open(dir, SS_FSYNC_OFF, 1000);
	if (!j)
		return;
	CHECK_INT(ss_journal_first_pos(j), 0);
	CHECK_INT(ss_journal_last_pos(j), 0);
	CHECK_INT(read_all(j, 0, 0, 0), 0);
	/* a reader created on the empty journal sees what comes later */
	r = ss_journal_reader_new(j, 0, &err);
	CHECK(r != NULL);

	append_range(j, 1, 500, 7, 0);
	CHECK_INT(ss_journal_first_pos(j), 1);
	CHECK_INT(ss_journal_last_pos(j), 500);
	CHECK_INT(read_all(j, 0, 500, 0), 500);
	CHECK_INT(read_all(j, 250, 500, 0), 250);
	CHECK_INT(read_all(j, 499, 500, 0), 1);
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
	CHECK_INT(rec.pos, 1);

	n = list_segs(dir, segs, 1000);
	CHECK(n > 10);
	CHECK_INT(segs[0], 1);
	for (size_t i = 0; i < n; i++) {
		seg_file(path, sizeof path, dir, segs[i], ".seg");
		CHECK(file_len(path) <= 1000);
		total += file_len(path);
	}
	CHECK_INT(ss_journal_bytes(j), total);

	/* one commit spanning many segments, one record per segment */
	append_range(j, 501, 560, 0, 480);
	m = list_segs(dir, segs, 1000);
	CHECK(m >= n + 59);
	for (size_t i = 0; i < m; i++) {
		if (segs[i] <= 501)
			continue;
		seg_file(path, sizeof path, dir, segs[i], ".seg");
		CHECK_INT(file_len(path), 32 + 36 + 480);
	}
	CHECK_INT(read_all(j, 500, 560, 480), 60);

	/* a reader positioned beyond the end waits for that position */
	ss_journal_reader_free(r);
	r = ss_journal_reader_new(j, 565, &err);
	CHECK(r != NULL);
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 0);
	append_range(j, 561, 570, 0, 0);
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
	CHECK_INT(rec.pos, 566);
	ss_journal_reader_free(r);
	ss_journal_free(j);
	ss_journal_free(NULL);
	ss_journal_reader_free(NULL);
}

static void test_reopen(void)
{
	char dir[128];
	struct ss_journal *j;
	int64_t ts_before;

	test_dir(dir, sizeof dir, "reopen");
	j = must_open(dir, SS_FSYNC_BATCH, 4096);
	if (!j)
		return;
	append_range(j, 1, 100, 10, 0);
	ts_before = ss_journal_last_ts(j);
	ss_journal_free(j);

	j = must_open(dir, SS_FSYNC_ALWAYS, 4096);
	if (!j)
		return;
	CHECK_STR(ss_journal_recovery_note(j), "");
	CHECK_INT(ss_journal_first_pos(j), 1);
	CHECK_INT(ss_journal_last_pos(j), 100);
	CHECK_INT(ss_journal_last_ts(j), ts_before);
	/* a clock that went backwards: journal time still does not */
	fake_now = 1000;
	ss_journal_set_clock(j, fake_clock);
	append_range(j, 101, 150, 0, 0);
	CHECK_INT(ss_journal_last_ts(j), ts_before);
	CHECK_INT(read_all(j, 0, 150, 0), 150);
	ss_journal_free(j);

	j = must_open(dir, SS_FSYNC_OFF, 4096);
	if (!j)
		return;
	CHECK_INT(ss_journal_last_pos(j), 150);
	append_range(j, 151, 160, 0, 0);
	CHECK_INT(read_all(j, 0, 160, 0), 160);
	ss_journal_free(j);
}

static void test_uncommitted(void)
{
	char dir[128];
	struct ss_journal *j;
	struct ss_journal_reader *r;
	struct ss_jrec rec;
	struct ss_err err;
	uint64_t pos;

	test_dir(dir, sizeof dir, "uncommitted");
	j = must_open(dir, SS_FSYNC_OFF, 0);
	if (!j)
		return;
	append_range(j, 1, 5, 0, 0);
	r = ss_journal_reader_new(j, 0, &err);
	CHECK(r != NULL);
	CHECK(ss_journal_append(j, 1, 0, 0, "abc", 3, &pos, &err) == 0);
	CHECK_INT(pos, 6);
	CHECK(ss_journal_append(j, 1, 0, 0, "def", 3, &pos, &err) == 0);
	CHECK_INT(pos, 7);
	for (int i = 1; i <= 5; i++) {
		CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
		CHECK_INT(rec.pos, i);
	}
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 0);
	CHECK_INT(ss_journal_last_pos(j), 5);
	CHECK_INT(ss_journal_wait(j, 5, 0), 5);

	ss_journal_discard(j);
	CHECK_INT(ss_journal_last_pos(j), 5);
	append_range(j, 6, 6, 0, 0);
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 1);
	CHECK_INT(rec.pos, 6);
	CHECK(rec_ok(&rec, 0));
	CHECK_INT(ss_journal_reader_next(r, &rec, &err), 0);
	ss_journal_reader_free(r);

	/* never committed: gone after close */
	CHECK(ss_journal_append(j, 1, 0, 0, "xyz", 3, &pos, &err) == 0);
	ss_journal_free(j);
	j = must_open(dir, SS_FSYNC_OFF, 0);
	if (!j)
		return;
	CHECK_INT(ss_journal_last_pos(j), 6);
	CHECK_INT(read_all(j, 0, 6, 0), 6);
	ss_journal_free(j);
}

/* What the journal recorded as durably committed (DIR/committed).  Putting
 * an older copy back makes the commits since then look like a crash before
 * their fsync returned: written, maybe torn, never acknowledged. */
struct committed_end {
	char data[8192];
	ssize_t len;
};

static void end_save(const char *dir, struct committed_end *e)
{
	char path[256];
	int fd;

	snprintf(path, sizeof path, "%s/committed", dir);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	e->len = fd >= 0 ? read(fd, e->data, sizeof e->data) : -1;
	CHECK(e->len > 0);
	if (fd >= 0)
		close(fd);
}

static void end_restore(const char *dir, const struct committed_end *e)
{
	char path[256];
	int fd;

	snprintf(path, sizeof path, "%s/committed", dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	CHECK(e->len > 0 && write(fd, e->data, (size_t)e->len) == e->len);
	if (fd >= 0)
		close(fd);
}

/* Write 3 segments' worth, return the first position of the last one; the
 * last commit (57..60) was written but never acknowledged. */
static uint64_t three_segments(const char *dir, uint64_t *last)
{
	uint64_t segs[16];
	struct committed_end saved;
	struct ss_journal *j = must_open(dir, SS_FSYNC_OFF, 2000);

	if (!j)
		return 0;
	append_range(j, 1, 56, 4, 0);
	end_save(dir, &saved);
	append_range(j, 57, 60, 0, 0);
	*last = ss_journal_last_pos(j);
	ss_journal_free(j);
	end_restore(dir, &saved); /* the last commit was never acknowledged */
	size_t n = list_segs(dir, segs, 16);
	CHECK(n >= 3);
	return n ? segs[n - 1] : 0;
}

static void test_torn_tail(void)
{
	char dir[128], path[256], note[512];
	struct ss_journal *j;
	uint64_t last, lastseg;
	long long size;

	/* cut short: the last record loses its final bytes */
	test_dir(dir, sizeof dir, "torn_cut");
	lastseg = three_segments(dir, &last);
	seg_file(path, sizeof path, dir, lastseg, ".seg");
	size = file_len(path);
	CHECK(truncate(path, size - 3) == 0);
	j = must_open(dir, SS_FSYNC_BATCH, 2000);
	if (!j)
		return;
	snprintf(note, sizeof note, "%020" PRIu64 ".seg:", lastseg);
	CHECK(strstr(ss_journal_recovery_note(j), "torn") != NULL);
	CHECK(strstr(ss_journal_recovery_note(j), note) != NULL);
	CHECK_INT(ss_journal_last_pos(j), last - 1);
	CHECK_INT(file_len(path), size - 36 - len_for(last, 0));
	append_range(j, last, last + 20, 3, 0);
	CHECK_INT(read_all(j, 0, last + 20, 0), last + 20);
	ss_journal_free(j);

	/* garbage after the last record, then a plausible header running past
	 * the end */
	test_dir(dir, sizeof dir, "torn_garbage");
	lastseg = three_segments(dir, &last);
	seg_file(path, sizeof path, dir, lastseg, ".seg");
	size = file_len(path);
	uint8_t junk[100];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 97 + 13);
	append_bytes(path, junk, sizeof junk);
	j = must_open(dir, SS_FSYNC_OFF, 2000);
	if (!j)
		return;
	CHECK(strstr(ss_journal_recovery_note(j), "truncated 100 bytes") != NULL);
	CHECK_INT(ss_journal_last_pos(j), last);
	CHECK_INT(file_len(path), size);
	ss_journal_free(j);
	uint8_t hdr[40] = {0};
	hdr[0] = 0x00;
	hdr[1] = 0x10; /* length 4096 */
	append_bytes(path, hdr, sizeof hdr);
	j = must_open(dir, SS_FSYNC_OFF, 2000);
	if (!j)
		return;
	CHECK(strstr(ss_journal_recovery_note(j), "truncated 40 bytes") != NULL);
	append_range(j, last + 1, last + 10, 0, 0);
	CHECK_INT(read_all(j, 0, last + 10, 0), last + 10);
	ss_journal_free(j);

	/* a bad CRC in the very last record, nothing after it: torn */
	test_dir(dir, sizeof dir, "torn_crc");
	lastseg = three_segments(dir, &last);
	seg_file(path, sizeof path, dir, lastseg, ".seg");
	flip_byte(path, file_len(path) - 1);
	j = must_open(dir, SS_FSYNC_OFF, 2000);
	if (!j)
		return;
	CHECK(strstr(ss_journal_recovery_note(j), "torn") != NULL);
	CHECK_INT(ss_journal_last_pos(j), last - 1);
	ss_journal_free(j);

	/* a segment file whose header never got written, and a .tmp leftover */
	test_dir(dir, sizeof dir, "torn_header");
	lastseg = three_segments(dir, &last);
	seg_file(path, sizeof path, dir, last + 1, ".seg");
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, "SSJRNL", 6) == 6);
	close(fd);
	seg_file(path, sizeof path, dir, last + 2, ".seg.tmp");
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	j = must_open(dir, SS_FSYNC_OFF, 2000);
	if (!j)
		return;
	CHECK(strstr(ss_journal_recovery_note(j), "header was incomplete") != NULL);
	CHECK(strstr(ss_journal_recovery_note(j), "unfinished segment") != NULL);
	CHECK_INT(file_len(path), -1);
	CHECK_INT(ss_journal_last_pos(j), last);
	append_range(j, last + 1, last + 30, 0, 0);
	CHECK_INT(read_all(j, 0, last + 30, 0), last + 30);
	ss_journal_free(j);
}

static void test_corruption(void)
{
	char dir[128], path[256], want[128];
	uint64_t segs[64];
	struct ss_journal *j, *ro;
	struct ss_journal_reader *r;
	struct ss_jrec rec;
	struct ss_err err;
	size_t n;
	int rc = 0, got = 0;

	/* 100-byte payloads: 136-byte records, 29 per 4096-byte segment */
	test_dir(dir, sizeof dir, "corrupt");
	j = must_open(dir, SS_FSYNC_OFF, 4096);
	if (!j)
		return;
	append_range(j, 1, 200, 9, 100);
	ss_journal_free(j);
	n = list_segs(dir, segs, 64);
	CHECK_INT(n, 7);
	CHECK_INT(segs[1], 30);
	CHECK_INT(segs[6], 175);

	/* in an older segment: opening succeeds, reading stops there */
	seg_file(path, sizeof path, dir, 30, ".seg");
	flip_byte(path, 32 + 5 * 136 + 40);
	j = must_open(dir, SS_FSYNC_OFF, 4096);
	if (!j)
		return;
	r = ss_journal_reader_new(j, 0, &err);
	CHECK(r != NULL);
	while ((rc = ss_journal_reader_next(r, &rec, &err)) == 1)
		got++;
	CHECK_INT(rc, -1);
	CHECK_INT(got, 29 + 5);
	snprintf(want, sizeof want, "%020" PRIu64 ".seg at offset %d", (uint64_t)30, 32 + 5 * 136);
	if (!strstr(err.msg, want))
		fprintf(stderr, "  message: %s\n", err.msg);
	CHECK(strstr(err.msg, want) != NULL);
	CHECK(strstr(err.msg, "CRC") != NULL);
	ss_journal_reader_free(r);

	/* the same through a read-only journal */
	ro = ss_journal_open_readonly(dir, &err);
	CHECK(ro != NULL);
	if (ro) {
		r = ss_journal_reader_new(ro, 20, &err);
		got = 0;
		while ((rc = ss_journal_reader_next(r, &rec, &err)) == 1)
			got++;
		CHECK_INT(rc, -1);
		CHECK_INT(got, 9 + 5);
		CHECK(strstr(err.msg, want) != NULL);
		ss_journal_reader_free(r);
		ss_journal_free(ro);
	}
	/* starting past the damage is fine */
	CHECK_INT(read_all(j, 60, 200, 100), 140);
	ss_journal_free(j);

	/* in the newest segment with valid records after it: open fails */
	seg_file(path, sizeof path, dir, 175, ".seg");
	flip_byte(path, 32 + 3 * 136 + 20);
	j = ss_journal_open(dir, SS_FSYNC_OFF, 4096, &err);
	CHECK(j == NULL);
	snprintf(want, sizeof want, "%020" PRIu64 ".seg at offset %d", (uint64_t)175, 32 + 3 * 136);
	if (!strstr(err.msg, want))
		fprintf(stderr, "  message: %s\n", err.msg);
	CHECK(strstr(err.msg, want) != NULL);
	CHECK(strstr(err.msg, "valid records follow") != NULL);
	ss_journal_free(j);
	/* and nothing was truncated */
	CHECK_INT(file_len(path), 32 + 26 * 136);

	/* a segment missing from the middle */
	test_dir(dir, sizeof dir, "gap");
	j = must_open(dir, SS_FSYNC_OFF, 4096);
	if (!j)
		return;
	append_range(j, 1, 200, 0, 100);
	ss_journal_free(j);
	seg_file(path, sizeof path, dir, 88, ".seg");
	CHECK(unlink(path) == 0);
	j = ss_journal_open(dir, SS_FSYNC_OFF, 4096, &err);
	CHECK(j == NULL);
	CHECK(strstr(err.msg, "ends at position 87 but the next segment starts at 117") != NULL);
	ro = ss_journal_open_readonly(dir, &err);
	CHECK(ro == NULL);
}

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

/* A commit whose write fails (file size limit: EFBIG) leaves nothing
 * behind, and can be retried. */
static void test_failed_commit(void)
{
	char dir[128], path[256];
	uint64_t segs[16];
	struct ss_journal *j;
	struct ss_err err;
	struct rlimit old, lim;
	uint8_t buf[100];
	long long size, isize;

	test_dir(dir, sizeof dir, "failed_commit");
	j = must_open(dir, SS_FSYNC_BATCH, 64 * 1024);
	if (!j)
		return;
	append_range(j, 1, 100, 0, 100);
	seg_file(path, sizeof path, dir, 1, ".seg");
	size = file_len(path);
	CHECK_INT(size, 32 + 100 * 136);
	seg_file(path, sizeof path, dir, 1, ".idx");
	isize = file_len(path);

	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 48 * 1024;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	for (uint64_t pos = 101; pos <= 500; pos++) {
		fill(buf, pos, 100);
		CHECK(ss_journal_append(j, SS_JREC_CHANGE, pos % 5 == 0 ? SS_JREC_TXEND : 0,
					pos / 3, buf, 100, NULL, &err) == 0);
	}
	CHECK(ss_journal_commit(j, &err) < 0);
	CHECK(strstr(err.msg, "00000000000000000001.seg") != NULL);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK_INT(ss_journal_last_pos(j), 100);
	CHECK_INT(read_all(j, 0, 100, 100), 100);
	seg_file(path, sizeof path, dir, 1, ".seg");
	CHECK_INT(file_len(path), size);
	seg_file(path, sizeof path, dir, 1, ".idx");
	CHECK_INT(file_len(path), isize);
	CHECK_INT(list_segs(dir, segs, 16), 1);

	/* retried, it goes through (and rolls over) */
	CHECK(ss_journal_commit(j, &err) == 0);
	CHECK_INT(ss_journal_last_pos(j), 500);
	CHECK(list_segs(dir, segs, 16) > 1);
	CHECK_INT(read_all(j, 0, 500, 100), 500);
	ss_journal_free(j);
	j = must_open(dir, SS_FSYNC_OFF, 64 * 1024);
	if (j) {
		CHECK_STR(ss_journal_recovery_note(j), "");
		CHECK_INT(read_all(j, 0, 500, 100), 500);
		ss_journal_free(j);
	}

	/* failing in a segment the commit created: that segment goes away */
	test_dir(dir, sizeof dir, "failed_commit2");
	j = must_open(dir, SS_FSYNC_OFF, 64 * 1024);
	if (!j)
		return;
	append_range(j, 1, 10, 0, 100);
	uint8_t *big = calloc(1, 60000);
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	for (uint64_t pos = 11; pos <= 210; pos++) {
		fill(buf, pos, 100);
		CHECK(ss_journal_append(j, SS_JREC_CHANGE, pos % 5 == 0 ? SS_JREC_TXEND : 0,
					pos / 3, buf, 100, NULL, &err) == 0);
	}
	CHECK(ss_journal_append(j, SS_JREC_CHANGE, 0, 0, big, 60000, NULL, &err) == 0);
	CHECK(ss_journal_commit(j, &err) < 0);
	CHECK(strstr(err.msg, "00000000000000000211.seg") != NULL);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK_INT(list_segs(dir, segs, 16), 1);
	seg_file(path, sizeof path, dir, 1, ".seg");
	CHECK_INT(file_len(path), 32 + 10 * 136);
	CHECK_INT(read_all(j, 0, 10, 100), 10);
	ss_journal_discard(j);
	append_range(j, 11, 20, 0, 100);
	CHECK_INT(read_all(j, 0, 20, 100), 20);
	free(big);
	ss_journal_free(j);
}

/* 100-byte payloads (136-byte records, 29 per 4096-byte segment), 1..100
 * committed durably in commits of 9: segments 1, 30, 59, 88 (88..100, 1800
 * bytes). */
static void durable_journal(const char *dir)
{
	struct ss_journal *j = must_open(dir, SS_FSYNC_BATCH, 4096);

	if (!j)
		return;
	append_range(j, 1, 100, 9, 100);
	ss_journal_free(j);
}

/* Opening fails, naming the segment file and the offset, and changes
 * nothing: twice the same answer, the file untouched. */
static void expect_refused(const char *dir, uint64_t seg, const char *offset_text)
{
	char path[256], name[64];
	struct ss_journal *j;
	struct ss_err err;
	long long before;

	seg_file(path, sizeof path, dir, seg, ".seg");
	snprintf(name, sizeof name, "%020" PRIu64 ".seg", seg);
	before = file_len(path);
	for (int round = 0; round < 2; round++) {
		j = ss_journal_open(dir, SS_FSYNC_BATCH, 4096, &err);
		CHECK(j == NULL);
		if (j) {
			fprintf(stderr, "  %s opened, last position %" PRIu64 " (note: %s)\n", dir,
				ss_journal_last_pos(j), ss_journal_recovery_note(j));
			ss_journal_free(j);
			return;
		}
		if (!strstr(err.msg, name) || !strstr(err.msg, offset_text))
			fprintf(stderr, "  message: %s\n", err.msg);
		CHECK(strstr(err.msg, name) != NULL);
		CHECK(strstr(err.msg, offset_text) != NULL);
		CHECK_INT(file_len(path), before);
	}
}

/* Issue 11, defect 13: a segment cut below what was durably committed (and
 * may have been applied by a target) is corruption, never a torn tail; the
 * journal never hands out a position it handed out before.  A torn tail of
 * a commit that was never acknowledged is still cut, with a note. */
static void test_durable_truncation(void)
{
	char dir[128], path[256];
	struct committed_end saved;
	struct ss_journal *j;
	struct ss_err err;

	/* cut in the middle of the last committed record */
	test_dir(dir, sizeof dir, "durable_cut");
	durable_journal(dir);
	seg_file(path, sizeof path, dir, 88, ".seg");
	CHECK_INT(file_len(path), 32 + 13 * 136);
	CHECK(truncate(path, 32 + 13 * 136 - 50) == 0);
	expect_refused(dir, 88, "offset 1664");

	/* cut at a record boundary: no torn record at all, two records gone */
	test_dir(dir, sizeof dir, "durable_boundary");
	durable_journal(dir);
	seg_file(path, sizeof path, dir, 88, ".seg");
	CHECK(truncate(path, 32 + 11 * 136) == 0);
	expect_refused(dir, 88, "offset 1528");

	/* cut to the bare header */
	test_dir(dir, sizeof dir, "durable_header");
	durable_journal(dir);
	seg_file(path, sizeof path, dir, 88, ".seg");
	CHECK(truncate(path, 32) == 0);
	expect_refused(dir, 88, "offset 32");

	/* the newest segment removed: the one before is whole, but positions
	 * 88..100 were committed */
	test_dir(dir, sizeof dir, "durable_gone");
	durable_journal(dir);
	seg_file(path, sizeof path, dir, 88, ".seg");
	CHECK(unlink(path) == 0);
	seg_file(path, sizeof path, dir, 88, ".idx");
	unlink(path);
	expect_refused(dir, 88, "offset 1800");

	/* every segment removed (identity and the rest left) */
	test_dir(dir, sizeof dir, "durable_empty");
	durable_journal(dir);
	for (uint64_t s = 1; s <= 88; s += 29) {
		seg_file(path, sizeof path, dir, s, ".seg");
		CHECK(unlink(path) == 0);
	}
	expect_refused(dir, 88, "offset 1800");

	/* an older segment cut short, at a record boundary and mid-record */
	test_dir(dir, sizeof dir, "durable_older");
	durable_journal(dir);
	seg_file(path, sizeof path, dir, 30, ".seg");
	CHECK(truncate(path, 32 + 20 * 136) == 0);
	expect_refused(dir, 30, "offset 2752");
	CHECK(truncate(path, 32 + 10 * 136 + 7) == 0);
	expect_refused(dir, 30, "offset 1392");

	/* the record of the committed end missing while segments exist */
	test_dir(dir, sizeof dir, "durable_noend");
	durable_journal(dir);
	snprintf(path, sizeof path, "%s/committed", dir);
	CHECK(unlink(path) == 0);
	j = ss_journal_open(dir, SS_FSYNC_BATCH, 4096, &err);
	CHECK(j == NULL);
	if (!j)
		CHECK(strstr(err.msg, path) != NULL);
	ss_journal_free(j);

	/* a torn copy of it (a crash while it was written): the other copy is
	 * an earlier commit's, which only ever lets less be cut, never more */
	for (int slot = 0; slot < 2; slot++) {
		test_dir(dir, sizeof dir, slot ? "durable_slot1" : "durable_slot0");
		durable_journal(dir);
		snprintf(path, sizeof path, "%s/committed", dir);
		flip_byte(path, slot * 4096 + 20);
		j = must_open(dir, SS_FSYNC_BATCH, 4096);
		if (!j)
			continue;
		CHECK_STR(ss_journal_recovery_note(j), "");
		CHECK_INT(ss_journal_last_pos(j), 100);
		ss_journal_free(j);
	}
	/* both copies damaged: refused, naming the file */
	test_dir(dir, sizeof dir, "durable_slots");
	durable_journal(dir);
	snprintf(path, sizeof path, "%s/committed", dir);
	flip_byte(path, 20);
	flip_byte(path, 4096 + 20);
	j = ss_journal_open(dir, SS_FSYNC_BATCH, 4096, &err);
	CHECK(j == NULL);
	if (!j)
		CHECK(strstr(err.msg, path) != NULL);
	ss_journal_free(j);

	/* a crash before the last commit's fsync returned: its torn tail is
	 * cut (noted), and the positions it would have taken, never
	 * acknowledged, are handed out again */
	test_dir(dir, sizeof dir, "durable_torn");
	j = must_open(dir, SS_FSYNC_BATCH, 4096);
	if (!j)
		return;
	append_range(j, 1, 90, 9, 100);
	end_save(dir, &saved);
	append_range(j, 91, 100, 0, 100);
	ss_journal_free(j);
	end_restore(dir, &saved);
	seg_file(path, sizeof path, dir, 88, ".seg");
	CHECK(truncate(path, 32 + 13 * 136 - 50) == 0);
	j = must_open(dir, SS_FSYNC_BATCH, 4096);
	if (!j)
		return;
	CHECK(strstr(ss_journal_recovery_note(j), "torn") != NULL);
	CHECK_INT(ss_journal_last_pos(j), 99);
	append_range(j, 100, 100, 0, 100);
	CHECK_INT(read_all(j, 0, 100, 100), 100);
	ss_journal_free(j);
	/* what recovery kept is now acknowledged too */
	CHECK(truncate(path, 32 + 12 * 136) == 0);
	expect_refused(dir, 88, "offset 1664");
	/* but the cut may not reach below the committed end */
	test_dir(dir, sizeof dir, "durable_torn2");
	j = must_open(dir, SS_FSYNC_BATCH, 4096);
	if (!j)
		return;
	append_range(j, 1, 90, 9, 100);
	end_save(dir, &saved);
	append_range(j, 91, 100, 0, 100);
	ss_journal_free(j);
	end_restore(dir, &saved);
	seg_file(path, sizeof path, dir, 88, ".seg");
	CHECK(truncate(path, 32 + 2 * 136 + 9) == 0);
	expect_refused(dir, 88, "offset 304");
}

static void test_second_writer(void)
{
	char dir[128], want[256];
	struct ss_journal *j, *j2;
	struct ss_err err;

	test_dir(dir, sizeof dir, "locked");
	j = must_open(dir, SS_FSYNC_OFF, 0);
	j2 = ss_journal_open(dir, SS_FSYNC_OFF, 0, &err);
	CHECK(j2 == NULL);
	snprintf(want, sizeof want, "journal %s is in use by another shadowsync process", dir);
	CHECK_STR(err.msg, want);
	ss_journal_free(j2);
	ss_journal_free(j);
	j2 = must_open(dir, SS_FSYNC_OFF, 0);
	ss_journal_free(j2);
}

static int is_hex_id(const char *s)
{
	return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

static void read_text(const char *path, char *out, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t got = fd >= 0 ? read(fd, out, n - 1) : -1;

	out[got > 0 ? got : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

/* A journal has an identity from its creation: random, durable in DIR/id,
 * the same for every later open (writer or read-only), different for every
 * journal; segments without it are damage, never a new journal. */
static void test_identity(void)
{
	char dir[128], dir2[128], path[256], text[128], id[40], want[300];
	struct ss_journal *j, *ro;
	struct ss_err err;

	test_dir(dir, sizeof dir, "identity");
	j = must_open(dir, SS_FSYNC_OFF, 2000);
	if (!j)
		return;
	snprintf(id, sizeof id, "%s", ss_journal_id(j));
	CHECK(is_hex_id(id));
	append_range(j, 1, 60, 4, 0);
	ss_journal_free(j);
	snprintf(path, sizeof path, "%s/id", dir);
	read_text(path, text, sizeof text);
	snprintf(want, sizeof want, "%s\n", id);
	CHECK_STR(text, want);

	j = must_open(dir, SS_FSYNC_BATCH, 2000);
	if (!j)
		return;
	CHECK_STR(ss_journal_id(j), id);
	ro = ss_journal_open_readonly(dir, &err);
	CHECK(ro != NULL);
	if (ro)
		CHECK_STR(ss_journal_id(ro), id);
	ss_journal_free(ro);
	ss_journal_free(j);

	/* another journal, another identity; a read-only look at a journal
	 * nothing has written yet has none */
	test_dir(dir2, sizeof dir2, "identity2");
	CHECK(mkdir(dir2, 0700) == 0);
	ro = ss_journal_open_readonly(dir2, &err);
	CHECK(ro != NULL);
	if (ro)
		CHECK_STR(ss_journal_id(ro), "");
	ss_journal_free(ro);
	j = must_open(dir2, SS_FSYNC_OFF, 2000);
	if (!j)
		return;
	CHECK(is_hex_id(ss_journal_id(j)));
	CHECK(strcmp(ss_journal_id(j), id) != 0);
	ss_journal_free(j);

	/* segments but no identity: refused, by the writer and by readers */
	CHECK(rename(path, "/tmp/ss_journal_test_id_aside") == 0 || unlink(path) == 0);
	j = ss_journal_open(dir, SS_FSYNC_OFF, 2000, &err);
	CHECK(j == NULL);
	if (!j) {
		CHECK(strstr(err.msg, "identity") != NULL);
		CHECK(strstr(err.msg, path) != NULL);
	}
	ss_journal_free(j);
	ro = ss_journal_open_readonly(dir, &err);
	CHECK(ro == NULL);
	ss_journal_free(ro);
	CHECK_INT(file_len(path), -1);
	unlink("/tmp/ss_journal_test_id_aside");

	/* an identity file that is not one */
	write_text(path, "not an identity\n");
	j = ss_journal_open(dir, SS_FSYNC_OFF, 2000, &err);
	CHECK(j == NULL);
	if (!j)
		CHECK(strstr(err.msg, "identity") != NULL);
	ss_journal_free(j);
	write_text(path, want);
	j = must_open(dir, SS_FSYNC_OFF, 2000);
	if (j)
		CHECK_STR(ss_journal_id(j), id);
	ss_journal_free(j);
}

/* Every directory the journal creates is 0700 and every file 0600, whatever
 * the umask: the journal holds replicated rows. */
static void check_private(const char *dir)
{
	char path[512];
	struct stat st;
	struct dirent *de;
	DIR *d;
	int files = 0;

	CHECK(stat(dir, &st) == 0);
	if ((st.st_mode & 07777) != 0700)
		fprintf(stderr, "  %s: mode %o\n", dir, (unsigned)(st.st_mode & 07777));
	CHECK((st.st_mode & 07777) == 0700);
	d = opendir(dir);
	CHECK(d != NULL);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		CHECK(stat(path, &st) == 0);
		if ((st.st_mode & 07777) != 0600)
			fprintf(stderr, "  %s: mode %o\n", path, (unsigned)(st.st_mode & 07777));
		CHECK((st.st_mode & 07777) == 0600);
		files++;
	}
	closedir(d);
	CHECK(files >= 4); /* lock, id, a segment and its index at least */
}

static void test_permissions(void)
{
	static const mode_t masks[] = {0, 022, 0277};
	char dir[128], parent[128];
	struct stat st;
	mode_t old = umask(0);

	for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		struct ss_journal *j;

		umask(masks[i]);
		snprintf(parent, sizeof parent, "%s/private%zu", root, i);
		snprintf(dir, sizeof dir, "%s/job", parent);
		j = must_open(dir, SS_FSYNC_BATCH, 2000);
		if (!j)
			break;
		append_range(j, 1, 60, 4, 0);
		ss_journal_free(j);
		/* and it can be opened and written again */
		j = must_open(dir, SS_FSYNC_BATCH, 2000);
		if (!j)
			break;
		append_range(j, 61, 70, 0, 0);
		ss_journal_free(j);
		check_private(dir);
		CHECK(stat(parent, &st) == 0 && (st.st_mode & 07777) == 0700);
	}
	umask(old);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/ss_journal_test.XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	UNIT_RUN(test_round_trip);
	UNIT_RUN(test_reopen);
	UNIT_RUN(test_uncommitted);
	UNIT_RUN(test_torn_tail);
	UNIT_RUN(test_corruption);
	UNIT_RUN(test_time_index);
	UNIT_RUN(test_retention);
	UNIT_RUN(test_readonly);
	UNIT_RUN(test_wait);
	UNIT_RUN(test_concurrent);
	UNIT_RUN(test_big_payload);
	UNIT_RUN(test_failed_commit);
	UNIT_RUN(test_second_writer);
	UNIT_RUN(test_identity);
	UNIT_RUN(test_permissions);
	UNIT_RUN(test_durable_truncation);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return UNIT_DONE();
}
