/*
 * journal_test.h -- what the journal's unit tests (test_journal*.c) share:
 * a temp root, records whose payload is derived from their position (so a
 * reader can check every byte), and small file manipulations that play a
 * crash or damage.
 */
#ifndef SS_JOURNAL_TEST_H
#define SS_JOURNAL_TEST_H

#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "util.h"

static char root[64] __attribute__((unused));
static int64_t fake_now __attribute__((unused));

static inline int64_t fake_clock(void)
{
	return fake_now;
}

static inline void test_dir(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", root, name);
}

static inline void seg_file(char *out, size_t n, const char *dir, uint64_t first, const char *ext)
{
	snprintf(out, n, "%s/%020" PRIu64 "%s", dir, first, ext);
}

/* Payload of the record at pos: len bytes derived from pos. */
static inline void fill(uint8_t *b, uint64_t pos, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(pos * 131 + i * 7 + (i >> 8));
}

/* fixed > 0: every payload that long; else 0..200 bytes depending on pos. */
static inline uint32_t len_for(uint64_t pos, uint32_t fixed)
{
	return fixed ? fixed : (uint32_t)((pos * 37) % 201);
}

/* Append positions from..to (checking each gets the position expected),
 * committing every `every` records and at the end. */
static inline void append_range(struct ss_journal *j, uint64_t from, uint64_t to, unsigned every,
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
static inline int rec_ok(const struct ss_jrec *rec, uint32_t fixed)
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
static inline uint64_t read_all(struct ss_journal *j, uint64_t after, uint64_t last, uint32_t fixed)
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
static inline size_t list_segs(const char *dir, uint64_t *out, size_t max)
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

static inline long long file_len(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static inline void flip_byte(const char *path, long long off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	CHECK(fd >= 0);
	CHECK(pread(fd, &b, 1, off) == 1);
	b ^= 0x40;
	CHECK(pwrite(fd, &b, 1, off) == 1);
	close(fd);
}

static inline void append_bytes(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	CHECK(fd >= 0);
	CHECK(write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static inline struct ss_journal *must_open(const char *dir, enum ss_fsync_mode mode,
					   uint64_t seg_bytes)
{
	struct ss_err err;
	struct ss_journal *j = ss_journal_open(dir, mode, seg_bytes, &err);

	if (!j)
		fprintf(stderr, "  open %s: %s\n", dir, err.msg);
	CHECK(j != NULL);
	return j;
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The temp root every test works under; 0, or -1 if it cannot be made. */
static inline int root_make(const char *name)
{
	snprintf(root, sizeof root, "/tmp/ss_%s_test.XXXXXX", name);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

static inline void root_remove(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
