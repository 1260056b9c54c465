/*
 * test_journal.c -- the journal's writer and recovery: records come back
 * exactly as committed, in dense position order, across segment rollovers,
 * reopening and crashes; torn tails of unacknowledged commits are repaired,
 * while damage to anything durably committed (or anywhere in the middle) is
 * reported with file and offset and never cut; a failed commit leaves
 * nothing behind; one writer; the journal's identity; private files; the
 * segment scanner fuzzing uses.  Reading (time index, retention, read-only
 * journals, waiting, concurrency) is in test_journal_read.c.
 *
 * Every test works in its own directory under one mkdtemp() root, removed at
 * the end.
 */
#include "journal_test.h"

#include <signal.h>
#include <sys/resource.h>

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

	/* a newest segment holding nothing but its header (a crash right after
	 * a rollover created it): the committed end stays in the one before,
	 * however often the journal is reopened */
	test_dir(dir, sizeof dir, "durable_empty_newest");
	durable_journal(dir);
	{
		uint8_t h[32] = "SSJRNL1\n";
		int fd;

		h[8] = 1;
		h[12] = 32;
		h[16] = 101;
		seg_file(path, sizeof path, dir, 101, ".seg");
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0);
		CHECK(write(fd, h, sizeof h) == (ssize_t)sizeof h);
		close(fd);
	}
	for (int round = 0; round < 3; round++) {
		j = must_open(dir, SS_FSYNC_BATCH, 4096);
		if (!j)
			break;
		CHECK_INT(ss_journal_last_pos(j), 100);
		ss_journal_free(j);
	}
	j = must_open(dir, SS_FSYNC_BATCH, 4096);
	if (j) {
		append_range(j, 101, 110, 0, 100);
		CHECK_INT(read_all(j, 0, 110, 100), 110);
		ss_journal_free(j);
	}
	seg_file(path, sizeof path, dir, 101, ".seg");
	CHECK(truncate(path, 32 + 5 * 136) == 0);
	expect_refused(dir, 101, "offset 712");

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

static uint8_t *slurp(const char *path, size_t *len)
{
	long long n = file_len(path);
	uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
	int fd = open(path, O_RDONLY);

	CHECK(n >= 0 && fd >= 0 && b);
	*len = 0;
	if (fd >= 0 && b && n > 0 && read(fd, b, (size_t)n) == n)
		*len = (size_t)n;
	if (fd >= 0)
		close(fd);
	return b;
}

/* ss_journal_scan_segment: a segment image checked in memory as recovery
 * checks the newest segment, and nothing it is given makes it crash. */
static void test_scan_segment(void)
{
	char dir[128], path[256];
	struct ss_journal *j;
	struct ss_journal_scan sc;
	struct ss_err err;
	uint8_t *img, *m;
	size_t len;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int ok = 0, bad = 0;

	test_dir(dir, sizeof dir, "scan");
	j = must_open(dir, SS_FSYNC_OFF, 4096);
	if (!j)
		return;
	append_range(j, 1, 40, 7, 100); /* segment 1 holds 1..29 */
	ss_journal_free(j);
	seg_file(path, sizeof path, dir, 1, ".seg");
	img = slurp(path, &len);
	CHECK_INT(len, 32 + 29 * 136);

	CHECK_INT(ss_journal_scan_segment(img, len, &sc, &err), 0);
	CHECK_INT(sc.first_pos, 1);
	CHECK_INT(sc.records, 29);
	CHECK_INT(sc.valid_end, len);
	CHECK_INT(sc.torn_bytes, 0);
	/* a torn tail */
	CHECK_INT(ss_journal_scan_segment(img, len - 50, &sc, &err), 0);
	CHECK_INT(sc.records, 28);
	CHECK_INT(sc.torn_bytes, 136 - 50);
	/* damage with valid records after it */
	m = malloc(len);
	memcpy(m, img, len);
	m[32 + 5 * 136 + 40] ^= 0x40;
	CHECK_INT(ss_journal_scan_segment(m, len, &sc, &err), -1);
	CHECK(strstr(err.msg, "offset 712") != NULL);
	CHECK(strstr(err.msg, "valid records follow") != NULL);
	CHECK_INT(sc.records, 5);
	/* not a segment at all */
	CHECK_INT(ss_journal_scan_segment("SSJRNL", 6, &sc, &err), -1);
	CHECK(strstr(err.msg, "incomplete") != NULL);
	CHECK_INT(ss_journal_scan_segment(NULL, 0, &sc, &err), -1);

	/* mutations of the image and random bytes: an answer, never a crash
	 * (the real fuzzing is tests/fuzz) */
	for (int round = 0; round < 3000; round++) {
		size_t n = len;

		memcpy(m, img, len);
		for (int k = 0; k < 1 + round % 8; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t at = (size_t)(seed >> 33) % len;

			m[at] = (uint8_t)(seed >> 17);
			if (round % 5 == 0 && at < 40)
				m[at] = 0xff; /* lengths and header sizes at their extreme */
		}
		if (round % 3 == 0)
			n = (size_t)(seed >> 40) % (len + 1);
		if (ss_journal_scan_segment(m, n, &sc, &err) == 0) {
			ok++;
			CHECK(sc.valid_end + sc.torn_bytes <= n);
		} else {
			bad++;
		}
	}
	CHECK(ok > 0 && bad > 0);
	free(m);
	free(img);
}

int main(void)
{
	if (root_make("journal") < 0)
		return 1;
	UNIT_RUN(test_round_trip);
	UNIT_RUN(test_reopen);
	UNIT_RUN(test_uncommitted);
	UNIT_RUN(test_torn_tail);
	UNIT_RUN(test_corruption);
	UNIT_RUN(test_failed_commit);
	UNIT_RUN(test_second_writer);
	UNIT_RUN(test_identity);
	UNIT_RUN(test_permissions);
	UNIT_RUN(test_durable_truncation);
	UNIT_RUN(test_scan_segment);
	root_remove();
	return UNIT_DONE();
}
