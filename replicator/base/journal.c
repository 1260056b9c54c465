/*
 * journal.c -- the journal: shadowsync's local, durable, time-indexed store
 * between capture and the appliers.  See journal.h.
 *
 * This file owns the journal object: opening a directory for writing
 * (creating it, the writer's flock, running recovery over the segments) or
 * for reading only, freeing it, the published state every thread may ask
 * for (first and last position, size) and waiting for new commits.  The
 * on-disk format and recovery are in journal_segment.c, appending and
 * committing and retention in journal_write.c, readers in journal_read.c.
 * The journal does not know what a payload means (capture encodes, appliers
 * decode), when to retain (the daemon works that out from the appliers'
 * positions and journal_retention), or where an applier keeps its position
 * (the target).
 */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* fsync the directory holding `path` (".", for a name without a slash). */
static int fsync_parent(const char *dir, const char *path, struct ss_err *err)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(parent, sizeof parent, ".");
	else if (slash == path)
		snprintf(parent, sizeof parent, "/");
	else
		snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path);
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		ss_err_set(err, "journal %s: fsync of the directory %s: %s", dir, parent,
			   strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Create DIR and any missing parent, each 0700 whatever the umask, and make
 * each creation durable (fsync of the directory that holds it). */
static int mkdir_p(const char *dir, struct ss_err *err)
{
	char tmp[PATH_MAX];
	struct stat st;

	snprintf(tmp, sizeof tmp, "%s", dir);
	for (char *p = tmp + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(tmp, 0700) == 0) {
			if (chmod(tmp, 0700) < 0) {
				ss_err_set(err, "journal %s: chmod %s: %s", dir, tmp,
					   strerror(errno));
				return -1;
			}
			if (fsync_parent(dir, tmp, err) < 0)
				return -1;
		} else if (errno != EEXIST) {
			ss_err_set(err, "journal %s: cannot create directory %s: %s", dir, tmp,
				   strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ss_err_set(err, "journal %s: not a directory", dir);
		return -1;
	}
	return 0;
}

/* Read DIR/id into j->id.  0: read; 1: there is none; -1: unreadable or not
 * an identity. */
static int id_read(struct ss_journal *j, struct ss_err *err)
{
	char path[PATH_MAX], buf[65]; /* NUL-terminated for strspn */
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%s", j->dir, SS_JN_ID_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0) {
		ss_err_set(err, "journal %s: cannot open %s: %s", j->dir, path, strerror(errno));
		return -1;
	}
	n = ss_jn_pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	if (n < 0) {
		ss_err_set(err, "journal %s: read %s: %s", j->dir, path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	if (n == SS_JN_ID_HEX + 1 && buf[SS_JN_ID_HEX] == '\n')
		n--;
	if (n != SS_JN_ID_HEX || strspn(buf, "0123456789abcdef") < SS_JN_ID_HEX) {
		ss_err_set(err,
			   "journal %s: %s does not hold a journal identity (%d hex digits and a "
			   "newline); the journal is damaged",
			   j->dir, path, SS_JN_ID_HEX);
		return -1;
	}
	memcpy(j->id, buf, SS_JN_ID_HEX);
	j->id[SS_JN_ID_HEX] = '\0';
	return 0;
}

/* A new journal's identity: 128 random bits, hex, written durably. */
static int id_create(struct ss_journal *j, struct ss_err *err)
{
	uint8_t b[SS_JN_ID_HEX / 2];
	char text[SS_JN_ID_HEX + 2];
	size_t got = 0;

	while (got < sizeof b) {
		ssize_t n = getrandom(b + got, sizeof b - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ss_err_set(err, "journal %s: getrandom: %s", j->dir, strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof b; i++)
		snprintf(text + 2 * i, 3, "%02x", b[i]);
	text[SS_JN_ID_HEX] = '\n';
	text[SS_JN_ID_HEX + 1] = '\0';
	if (ss_jn_write_file(j, SS_JN_ID_FILE, text, SS_JN_ID_HEX + 1, err) < 0)
		return -1;
	memcpy(j->id, text, SS_JN_ID_HEX);
	j->id[SS_JN_ID_HEX] = '\0';
	return 0;
}

/* The identity of the journal in j->dir, created when the journal is new (no
 * segment, no identity).  Segments without an identity are damage, never a
 * new journal: a target's position must not silently move to another one. */
static int id_load(struct ss_journal *j, size_t nsegs, struct ss_err *err)
{
	int rc = id_read(j, err);

	if (rc <= 0)
		return rc;
	if (nsegs) {
		ss_err_set(err,
			   "journal %s: the identity file %s/%s is missing but the directory holds "
			   "journal segments: the journal is damaged or was written by an older "
			   "shadowsync; move the directory aside to start a new journal (the "
			   "targets must then be re-synced)",
			   j->dir, j->dir, SS_JN_ID_FILE);
		return -1;
	}
	if (j->readonly)
		return 0; /* nothing written yet: no identity to report */
	return id_create(j, err);
}

static struct ss_journal *j_new(const char *dir, int readonly, struct ss_err *err)
{
	struct ss_journal *j;
	pthread_condattr_t ca;

	if (!dir || !*dir || strlen(dir) + 40 >= PATH_MAX) {
		ss_err_set(err, "journal directory \"%s\" is empty or too long", dir ? dir : "");
		return NULL;
	}
	j = ss_xcalloc(1, sizeof *j);
	j->dir = ss_xstrdup(dir);
	j->readonly = readonly;
	j->lock_fd = -1;
	j->end_fd = -1;
	j->now = ss_now_us;
	j->cur.fd = j->cur.ifd = -1;
	ss_buf_init(&j->wbuf);
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	return j;
}

struct ss_journal *ss_journal_open(const char *dir, enum ss_fsync_mode mode, uint64_t segment_bytes,
				   struct ss_err *err)
{
	struct ss_journal *j = j_new(dir, 0, err);
	char path[PATH_MAX];
	uint64_t *firsts = NULL;
	size_t n = 0;
	struct stat st;
	struct ss_jn_end end = {0};
	int has_end;

	if (!j)
		return NULL;
	j->mode = mode;
	j->segment_bytes = segment_bytes ? segment_bytes : SS_JN_DEFAULT_SEGMENT_BYTES;
	if (mkdir_p(dir, err) < 0)
		goto fail;
	snprintf(path, sizeof path, "%s/lock", dir);
	j->lock_fd = ss_jn_open_private(path, O_RDWR | O_CREAT);
	if (j->lock_fd < 0) {
		ss_err_set(err, "journal %s: cannot open %s: %s", dir, path, strerror(errno));
		goto fail;
	}
	if (flock(j->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			ss_err_set(err, "journal %s is in use by another shadowsync process", dir);
		else
			ss_err_set(err, "journal %s: cannot lock %s: %s", dir, path,
				   strerror(errno));
		goto fail;
	}
	if (ss_jn_list_dir(j, 1, &firsts, &n, err) < 0)
		goto fail;
	has_end = ss_jn_end_read(j, &j->end, err);
	if (has_end < 0 || id_load(j, n || (has_end == 0 && j->end.pos), err) < 0)
		goto fail;
	if (has_end == 1 && n) {
		ss_err_set(err,
			   "journal %s: %s/%s, the record of what the journal made durable, is "
			   "missing while segments exist: the journal is damaged",
			   dir, dir, SS_JN_END_FILE);
		goto fail;
	}
	if (ss_jn_end_open(j, has_end == 1, err) < 0)
		goto fail;
	/* a newest segment whose header never got written whole (and that held
	 * nothing acknowledged: else recovery reports it) */
	if (n && firsts[n - 1] > j->end.pos) {
		ss_jn_path(j, firsts[n - 1], ".seg", path, sizeof path);
		if (stat(path, &st) == 0 && st.st_size < SS_JN_SEG_HDR) {
			unlink(path);
			ss_jn_note(j,
				   "journal %s: removed %s, its header was incomplete (%lld bytes)",
				   dir, path, (long long)st.st_size);
			ss_jn_path(j, firsts[--n], ".idx", path, sizeof path);
			unlink(path);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct ss_jn_seg s = {.first_pos = firsts[i]};

		if (i + 1 < n ? ss_jn_seg_sealed(j, &s, firsts[i + 1], err) :
				ss_jn_seg_recover_last(j, &s, err))
			goto fail;
		ss_jn_push_seg(&j->segs, &j->nsegs, &j->capsegs, &s);
		j->total_bytes += s.bytes;
		if (s.last_pos >= s.first_pos) {
			j->last_pos = s.last_pos;
			j->last_ts = s.last_ts;
		}
	}
	if (j->last_pos < j->end.pos) {
		ss_jn_end_lost(j, j->end.seg, j->end.off,
			       "the segment is missing or ends before its committed records", err);
		goto fail;
	}
	/* what recovery kept is acknowledged from now on (readers will see it):
	 * make it durable and record it */
	if (j->cur.fd >= 0 && j->mode != SS_FSYNC_OFF && fdatasync(j->cur.fd) < 0) {
		ss_jn_path(j, j->cur.first_pos, ".seg", path, sizeof path);
		ss_err_set(err, "journal %s: fsync %s: %s", dir, path, strerror(errno));
		goto fail;
	}
	for (size_t i = j->nsegs; i-- > 0 && j->last_pos;) {
		if (j->segs[i].last_pos >= j->segs[i].first_pos) {
			end.pos = j->last_pos; /* the newest segment may hold no record */
			end.seg = j->segs[i].first_pos;
			end.off = j->segs[i].bytes;
			break;
		}
	}
	if (ss_jn_end_write(j, &end, j->mode != SS_FSYNC_OFF, err) < 0)
		goto fail;
	j->pend_pos = j->last_pos;
	j->pend_ts = j->last_ts;
	free(firsts);
	return j;
fail:
	free(firsts);
	ss_journal_free(j);
	return NULL;
}

struct ss_journal *ss_journal_open_readonly(const char *dir, struct ss_err *err)
{
	struct ss_journal *j = j_new(dir, 1, err);
	struct stat st;
	int rc;

	if (!j)
		return NULL;
	if (stat(dir, &st) < 0) {
		ss_err_set(err, "journal %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		ss_err_set(err, "journal %s: not a directory", dir);
		goto fail;
	}
	pthread_mutex_lock(&j->mu);
	rc = ss_jn_ro_refresh(j, err);
	pthread_mutex_unlock(&j->mu);
	if (rc < 0 || id_load(j, j->nsegs, err) < 0)
		goto fail;
	return j;
fail:
	ss_journal_free(j);
	return NULL;
}

void ss_journal_free(struct ss_journal *j)
{
	if (!j)
		return;
	ss_jn_wseg_close(&j->cur);
	if (j->end_fd >= 0) {
		/* a clean close leaves the committed end durable too */
		if (j->end_dirty && j->mode != SS_FSYNC_OFF)
			(void)fdatasync(j->end_fd);
		close(j->end_fd);
	}
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	ss_buf_free(&j->wbuf);
	free(j->segs);
	free(j->stage);
	free(j->created);
	free(j->dir);
	free(j);
}

const char *ss_journal_id(const struct ss_journal *j)
{
	return j ? j->id : "";
}

const char *ss_journal_recovery_note(const struct ss_journal *j)
{
	return j ? j->note : "";
}

void ss_journal_set_clock(struct ss_journal *j, int64_t (*now)(void))
{
	j->now = now ? now : ss_now_us;
}
uint64_t ss_journal_first_pos(struct ss_journal *j)
{
	uint64_t v = 0;

	pthread_mutex_lock(&j->mu);
	if (j->nsegs && j->last_pos >= j->segs[0].first_pos)
		v = j->segs[0].first_pos;
	pthread_mutex_unlock(&j->mu);
	return v;
}

uint64_t ss_journal_last_pos(struct ss_journal *j)
{
	uint64_t v;

	pthread_mutex_lock(&j->mu);
	v = j->last_pos;
	pthread_mutex_unlock(&j->mu);
	return v;
}

int64_t ss_journal_last_ts(struct ss_journal *j)
{
	int64_t v;

	pthread_mutex_lock(&j->mu);
	v = j->last_ts;
	pthread_mutex_unlock(&j->mu);
	return v;
}

uint64_t ss_journal_bytes(struct ss_journal *j)
{
	uint64_t v;

	pthread_mutex_lock(&j->mu);
	v = j->total_bytes;
	pthread_mutex_unlock(&j->mu);
	return v;
}

static struct timespec mono_at(int64_t us)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	us += (int64_t)ts.tv_nsec / 1000;
	ts.tv_sec += us / 1000000;
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	return ts;
}

uint64_t ss_journal_wait(struct ss_journal *j, uint64_t after_pos, int64_t timeout_us)
{
	int64_t deadline = timeout_us >= 0 ? ss_mono_us() + timeout_us : INT64_MAX;
	uint64_t gen, v;

	pthread_mutex_lock(&j->mu);
	gen = j->wake_gen;
	for (;;) {
		struct ss_err ignored;
		int64_t now, slice;

		if (j->readonly)
			(void)ss_jn_ro_refresh(j, &ignored);
		if (j->last_pos > after_pos || j->wake_gen != gen)
			break;
		now = ss_mono_us();
		if (now >= deadline)
			break;
		slice = deadline - now;
		if (j->readonly && slice > SS_JN_RO_POLL_US)
			slice = SS_JN_RO_POLL_US;
		if (slice > 3600 * INT64_C(1000000))
			slice = 3600 * INT64_C(1000000);
		struct timespec at = mono_at(slice);

		pthread_cond_timedwait(&j->cv, &j->mu, &at);
	}
	v = j->last_pos;
	pthread_mutex_unlock(&j->mu);
	return v;
}

void ss_journal_wake_all(struct ss_journal *j)
{
	pthread_mutex_lock(&j->mu);
	j->wake_gen++;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}
