/*
 * journal_id.c -- a journal directory's identity (DIR/id).  See
 * journal_id.h.
 *
 * Owns the id file: 32 lowercase hex digits and a newline, from the
 * kernel's random source, written to id.tmp, fsync'd, renamed, and the
 * directory fsync'd.  Where the identity is recorded (the targets' position
 * rows, the source's lease row) is the engine's business.
 */
#include "journal_id.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static int read_id(const char *path, char out[SS_JOURNAL_ID_LEN + 1], struct ss_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	char buf[SS_JOURNAL_ID_LEN + 2];

	out[0] = '\0';
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		ss_err_set(err, "journal identity %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < SS_JOURNAL_ID_LEN || strspn(buf, "0123456789abcdef") < SS_JOURNAL_ID_LEN) {
		ss_err_set(err, "journal identity %s: not %d hex digits (damaged?)", path,
			   SS_JOURNAL_ID_LEN);
		return -1;
	}
	memcpy(out, buf, SS_JOURNAL_ID_LEN);
	out[SS_JOURNAL_ID_LEN] = '\0';
	return 0;
}

static int sync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

static int create_id(const char *dir, const char *path, char out[SS_JOURNAL_ID_LEN + 1],
		     struct ss_err *err)
{
	unsigned char rnd[SS_JOURNAL_ID_LEN / 2];
	char tmp[4200], text[SS_JOURNAL_ID_LEN + 2];
	int fd;

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		ss_err_set(err, "journal %s: no random bytes for its identity: %s", dir,
			   strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(text + 2 * i, 3, "%02x", rnd[i]);
	text[SS_JOURNAL_ID_LEN] = '\n';
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, SS_JOURNAL_ID_LEN + 1) != SS_JOURNAL_ID_LEN + 1 ||
	    fsync(fd) < 0) {
		ss_err_set(err, "journal identity %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0 || sync_path(dir, O_RDONLY | O_DIRECTORY) < 0) {
		ss_err_set(err, "journal identity %s: %s", path, strerror(errno));
		return -1;
	}
	memcpy(out, text, SS_JOURNAL_ID_LEN);
	out[SS_JOURNAL_ID_LEN] = '\0';
	return 0;
}

int ss_journal_dir_id(const char *dir, int create, char out[SS_JOURNAL_ID_LEN + 1],
		      struct ss_err *err)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/id", dir);
	if (read_id(path, out, err) < 0)
		return -1;
	if (out[0] || !create)
		return 0;
	return create_id(dir, path, out, err);
}
