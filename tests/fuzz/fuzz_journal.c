/*
 * fuzz_journal.c -- the journal's segment reader and crash recovery, through
 * the public API only (journal.h): the input is written out as the files of
 * a journal directory, which is then opened read-only and read, opened for
 * writing (recovery) and read, appended to, and reopened.
 *
 * Input ("container"): one flags byte, then files, each
 *     u8 name length, name, u32 little-endian data length, data
 * (names outside [0-9A-Za-z._-] are mangled; ".", ".." and "lock" skipped).
 * Flag bit 0: before writing, give every well-framed record of a *.seg file
 * its correct CRC32C, so that the fuzzer also reaches the checks behind the
 * CRC (positions, times, lengths, segment order, the time index).
 *
 * Properties, beyond "no sanitizer report, no leak":
 *   - a reader returns positions 1 apart, and a failure carries a message
 *     (times are not checked: a record whose CRC matches was written so);
 *   - a reader by time returns no record older than the time asked for;
 *   - recovery (open for writing) that succeeds keeps every record a
 *     read-only reader returned: last_pos does not go below them;
 *   - after recovery the next append gets last_pos + 1, and reopening the
 *     journal succeeds with that same last position (positions never reused).
 *
 * FUZZ_JOURNAL_SEEDS=DIR: instead of fuzzing, write seed inputs made by the
 * real writer into DIR and exit (how tests/fuzz/corpus/journal/ was made).
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "change.h"
#include "crc32c.h"
#include "journal.h"

#define MAX_FILES 8
#define MAX_READ 5000

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char root[4096]; /* mkdtemp'd once per process */
static char jdir[4200];
static volatile unsigned sink; /* keeps the payload reads */

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void clear_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[8400];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (unlink(path) < 0 && errno == EISDIR) {
			clear_dir(path);
			rmdir(path);
		}
	}
	closedir(d);
}

/* Records of a segment image framed as the writer frames them get their
 * CRC recomputed; stops at the first that does not fit. */
static void fix_crcs(uint8_t *p, size_t n)
{
	if (n < 32)
		return;
	uint64_t off = get_u32(p + 12);
	while (off + 36 <= n) {
		uint32_t len = get_u32(p + off);
		if (len > n - off - 36)
			return;
		put_u32(p + off + 4, ss_crc32c(0, p + off + 8, 36 - 8 + (size_t)len));
		off += 36 + len;
	}
}

static int write_files(const uint8_t *data, size_t size)
{
	size_t i = 1;
	int nfiles = 0;

	if (size < 1)
		return -1;
	while (i < size && nfiles < MAX_FILES) {
		char name[256], path[8400];
		size_t nl = data[i++];
		if (nl > size - i)
			break;
		for (size_t k = 0; k < nl; k++) {
			char ch = (char)data[i + k];
			name[k] = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
						  (ch >= 'A' && ch <= 'Z') || ch == '.' ||
						  ch == '-' ?
					  ch :
					  '_';
		}
		name[nl] = '\0';
		i += nl;
		if (size - i < 4)
			break;
		size_t dl = get_u32(data + i);
		i += 4;
		if (dl > size - i)
			dl = size - i;
		if (nl && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
		    strcmp(name, "lock") != 0) {
			uint8_t *buf = malloc(dl + 1);
			memcpy(buf, data + i, dl);
			if ((data[0] & 1) && nl > 4 && strcmp(name + nl - 4, ".seg") == 0)
				fix_crcs(buf, dl);
			snprintf(path, sizeof path, "%s/%s", jdir, name);
			FILE *f = fopen(path, "wb");
			if (f) {
				if (dl)
					fwrite(buf, 1, dl, f);
				fclose(f);
			}
			free(buf);
			nfiles++;
		}
		i += dl;
	}
	return nfiles;
}

/* Reads everything readable after `after`; returns the last position
 * returned (after if none), and whether reading ended in an error. */
static uint64_t read_all(struct ss_journal *j, uint64_t after, int *failed)
{
	struct ss_err err;
	struct ss_jrec rec;
	uint64_t last = after;
	int n = 0, rc;

	memset(&err, 0, sizeof err);
	*failed = 0;
	struct ss_journal_reader *r = ss_journal_reader_new(j, after, &err);
	if (!r) {
		FUZZ_CHECK(err.msg[0], "reader_new failed without a message");
		*failed = 1;
		return last;
	}
	while (n++ < MAX_READ && (rc = ss_journal_reader_next(r, &rec, &err)) == 1) {
		FUZZ_CHECK(rec.pos == last + 1 || last == after, "position %llu after %llu",
			   (unsigned long long)rec.pos, (unsigned long long)last);
		FUZZ_CHECK(rec.pos > after, "position %llu not after %llu",
			   (unsigned long long)rec.pos, (unsigned long long)after);
		FUZZ_CHECK(rec.len == 0 || rec.payload, "payload missing");
		unsigned sum = 0; /* touch every byte: ASan sees an overread */
		for (uint32_t k = 0; k < rec.len; k++)
			sum += rec.payload[k];
		sink += sum;
		last = rec.pos;
	}
	if (n <= MAX_READ && rc < 0) {
		FUZZ_CHECK(err.msg[0], "reader_next failed without a message");
		*failed = 1;
	}
	ss_journal_reader_free(r);
	return last;
}

static void at_time(struct ss_journal *j, int64_t ts)
{
	struct ss_err err;
	struct ss_jrec rec;

	memset(&err, 0, sizeof err);
	struct ss_journal_reader *r = ss_journal_reader_new_at_time(j, ts, &err);
	if (!r) {
		FUZZ_CHECK(err.msg[0], "reader_new_at_time failed without a message");
		return;
	}
	for (int n = 0; n < 3; n++) {
		int rc = ss_journal_reader_next(r, &rec, &err);
		if (rc != 1)
			break;
		FUZZ_CHECK(rec.ts_us >= ts, "reader at time %lld returned time %lld", (long long)ts,
			   (long long)rec.ts_us);
	}
	ss_journal_reader_free(r);
}

static int64_t clock_at;
static int64_t fixed_clock(void)
{
	return clock_at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_err err;
	int failed;
	uint64_t ro_last = 0;
	int ro_ok = 0;

	clear_dir(jdir);
	if (write_files(data, size) < 0)
		return 0;
	memset(&err, 0, sizeof err);

	struct ss_journal *ro = ss_journal_open_readonly(jdir, &err);
	if (ro) {
		ro_last = read_all(ro, 0, &failed);
		ro_ok = !failed;
		(void)ss_journal_first_pos(ro);
		(void)ss_journal_bytes(ro);
		at_time(ro, size >= 9 ? (int64_t)get_u32(data + 1) << 20 : 0);
		ss_journal_free(ro);
	} else {
		FUZZ_CHECK(err.msg[0], "open_readonly failed without a message");
	}

	memset(&err, 0, sizeof err);
	struct ss_journal *j = ss_journal_open(jdir, SS_FSYNC_OFF, 4096, &err);
	if (!j) {
		FUZZ_CHECK(err.msg[0], "open failed without a message");
		return 0;
	}
	uint64_t last = ss_journal_last_pos(j);
	if (ro_ok)
		FUZZ_CHECK(last >= ro_last,
			   "recovery cut records a reader had returned: last %llu < %llu (%s)",
			   (unsigned long long)last, (unsigned long long)ro_last,
			   ss_journal_recovery_note(j));
	uint64_t got = read_all(j, 0, &failed);
	if (!failed)
		FUZZ_CHECK(got == last || got == 0 || last == 0, "read up to %llu, last_pos %llu",
			   (unsigned long long)got, (unsigned long long)last);
	at_time(j, ss_journal_last_ts(j));

	/* one more record: the next position, never one already used */
	uint64_t pos = 0;
	clock_at = ss_journal_last_ts(j) + 1;
	ss_journal_set_clock(j, fixed_clock);
	if (ss_journal_append(j, SS_JREC_CHANGE, SS_JREC_TXEND, 7, "fuzz", 4, &pos, &err) == 0) {
		FUZZ_CHECK(pos == last + 1, "append got position %llu after %llu",
			   (unsigned long long)pos, (unsigned long long)last);
		if (ss_journal_commit(j, &err) == 0) {
			FUZZ_CHECK(ss_journal_last_pos(j) == pos, "commit did not publish %llu",
				   (unsigned long long)pos);
			(void)read_all(j, last, &failed);
		} else {
			FUZZ_CHECK(err.msg[0], "commit failed without a message");
			pos = 0;
		}
	} else {
		pos = 0;
	}
	ss_journal_free(j);

	if (pos) {
		j = ss_journal_open(jdir, SS_FSYNC_OFF, 4096, &err);
		FUZZ_CHECK(j != NULL, "a journal recovery accepted does not reopen: %s", err.msg);
		FUZZ_CHECK(ss_journal_last_pos(j) == pos, "reopened at %llu, not %llu",
			   (unsigned long long)ss_journal_last_pos(j), (unsigned long long)pos);
		ss_journal_free(j);
	}
	return 0;
}

/* ---- seeds from the real writer ------------------------------------------ */

static void pack_file(struct ss_buf *out, const char *dir, const char *name)
{
	char path[8400];
	uint8_t len4[4];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return;
	struct ss_buf b;
	ss_buf_init(&b);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		ss_buf_add(&b, chunk, n);
	fclose(f);
	ss_buf_addc(out, (char)strlen(name));
	ss_buf_adds(out, name);
	put_u32(len4, (uint32_t)b.len);
	ss_buf_add(out, len4, 4);
	ss_buf_add(out, b.data, b.len);
	ss_buf_free(&b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void pack_dir(const char *dir, const char *out_path, uint8_t flags)
{
	struct ss_buf out;
	char *names[64];
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL && n < 64)
		if (e->d_name[0] != '.' && strcmp(e->d_name, "lock") != 0)
			names[n++] = strdup(e->d_name);
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	ss_buf_init(&out);
	ss_buf_addc(&out, (char)flags);
	for (int i = 0; i < n; i++) {
		pack_file(&out, dir, names[i]);
		free(names[i]);
	}
	FILE *f = fopen(out_path, "wb");
	if (f) {
		fwrite(out.data, 1, out.len, f);
		fclose(f);
	}
	ss_buf_free(&out);
}

static int64_t seed_now = 1795000000000000;
static int64_t seed_clock(void)
{
	return seed_now += 1000;
}

/* nrec records of real change payloads, commits of `per` records, segments
 * of seg_bytes. */
static void make_seed(const char *outdir, const char *name, int nrec, int per, uint64_t seg_bytes,
		      uint8_t flags)
{
	struct ss_err err;
	struct ss_change c;
	struct ss_buf payload;
	char out_path[8400];
	static const struct ss_image_col cols[] = {{"id", SS_V_INT}, {"name", SS_V_TEXT}};

	clear_dir(jdir);
	struct ss_journal *j = ss_journal_open(jdir, SS_FSYNC_OFF, seg_bytes, &err);
	if (!j) {
		fprintf(stderr, "seed: %s\n", err.msg);
		exit(1);
	}
	ss_journal_set_clock(j, seed_clock);
	ss_change_init(&c);
	ss_buf_init(&payload);
	for (int i = 1; i <= nrec; i++) {
		char img[128];
		ss_change_reset(&c);
		c.op = i % 3 == 0 ? 'D' : i % 3 == 1 ? 'I' : 'U';
		c.schema = "public";
		c.schema_len = 6;
		c.table = "orders";
		c.table_len = 6;
		c.source_id = (uint64_t)i;
		c.source_ts_us = seed_now;
		snprintf(img, sizeof img, "{\"id\":%d,\"name\":\"row \\u00e9 %d\"}", i, i);
		if (ss_image_parse(&c, 1, img, strlen(img), cols, 1, &err) < 0 ||
		    (c.op != 'D' && ss_image_parse(&c, 0, img, strlen(img), cols, 2, &err) < 0)) {
			fprintf(stderr, "seed: %s\n", err.msg);
			exit(1);
		}
		ss_change_finish(&c);
		ss_buf_reset(&payload);
		ss_change_encode(&c, &payload);
		if (ss_journal_append(j, SS_JREC_CHANGE, i % per == 0 ? SS_JREC_TXEND : 0,
				      (uint64_t)(1000 + i / per), payload.data,
				      (uint32_t)payload.len, NULL, &err) < 0 ||
		    (i % per == 0 && ss_journal_commit(j, &err) < 0)) {
			fprintf(stderr, "seed: %s\n", err.msg);
			exit(1);
		}
	}
	if (ss_journal_commit(j, &err) < 0) {
		fprintf(stderr, "seed: %s\n", err.msg);
		exit(1);
	}
	ss_journal_free(j);
	ss_change_release(&c);
	ss_buf_free(&payload);
	snprintf(out_path, sizeof out_path, "%s/%s", outdir, name);
	pack_dir(jdir, out_path, flags);
}

static void remove_root(void)
{
	clear_dir(root);
	rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	(void)argc;
	(void)argv;
	if (!tmp || !*tmp)
		tmp = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
	snprintf(root, sizeof root, "%s/ss-fuzz-journal-XXXXXX", tmp);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(jdir, sizeof jdir, "%s/j", root);
	if (mkdir(jdir, 0755) < 0) {
		perror("mkdir");
		exit(1);
	}
	atexit(remove_root);
	const char *seeds = getenv("FUZZ_JOURNAL_SEEDS");
	if (seeds) {
		make_seed(seeds, "one-record", 1, 1, 4096, 0);
		make_seed(seeds, "one-segment", 12, 3, 1 << 20, 1);
		make_seed(seeds, "three-segments", 40, 4, 1024, 1);
		make_seed(seeds, "open-transaction", 7, 5, 4096, 0);
		exit(0);
	}
	return 0;
}
