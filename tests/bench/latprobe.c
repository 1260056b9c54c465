/*
 * latprobe.c -- latency probe for tests/bench/bench.sh (not part of the
 * shadowsync binary; bench.sh compiles it into its temp dir).
 *
 *   latprobe write CONNINFO COUNT GAP_US FIRST_ID STEP TAG
 *       Open loop: commit k (k = 0..COUNT-1) is issued at t0 + k*GAP_US (or
 *       at once when behind schedule) as one autocommit statement
 *           UPDATE acct SET note = 'TAG-k' WHERE id = FIRST_ID + k*STEP
 *       and prints "TAG-k commit_us late_us" when PQexec returned (the
 *       COMMIT is durable and visible on the source), commit_us being
 *       CLOCK_REALTIME in microseconds.
 *
 *   latprobe poll CONNINFO EXPECTED TIMEOUT_S POLL_US
 *       Polls the target's side table bench_arrival (filled by an ALWAYS
 *       trigger on acct: token, clock_timestamp()) every POLL_US and prints
 *       "token arrived_us seen_us" for each new row: arrived_us is when the
 *       applier's statement wrote the row (inside its transaction), seen_us
 *       when this poller first saw it committed (visible).  Stops after
 *       EXPECTED rows or TIMEOUT_S seconds (exit 3).
 *
 * Both sides use CLOCK_REALTIME of this one machine (the server's
 * clock_timestamp() too), so the differences are comparable.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void sleep_until(long long t)
{
	for (;;) {
		long long d = t - now_us();
		if (d <= 0)
			return;
		struct timespec ts = {(time_t)(d / 1000000), (long)(d % 1000000) * 1000};
		nanosleep(&ts, NULL);
	}
}

static PGconn *conn(const char *ci)
{
	PGconn *c = PQconnectdb(ci);

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "latprobe: connect: %s", PQerrorMessage(c));
		exit(2);
	}
	return c;
}

static int do_write(const char *ci, long count, long gap_us, long first, long step, const char *tag)
{
	PGconn *c = conn(ci);
	PGresult *r = PQprepare(c, "u", "UPDATE acct SET note = $1 WHERE id = $2", 2, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "latprobe: prepare: %s", PQerrorMessage(c));
		return 2;
	}
	PQclear(r);
	long long t0 = now_us() + 20000;
	for (long k = 0; k < count; k++) {
		char tok[64], id[32];
		long long due = t0 + k * gap_us, late;
		sleep_until(due);
		late = now_us() - due;
		snprintf(tok, sizeof tok, "%s-%ld", tag, k);
		snprintf(id, sizeof id, "%ld", first + k * step);
		const char *p[2] = {tok, id};
		r = PQexecPrepared(c, "u", 2, p, NULL, NULL, 0);
		long long done = now_us();
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "latprobe: update: %s", PQerrorMessage(c));
			return 2;
		}
		PQclear(r);
		printf("%s %lld %lld\n", tok, done, late);
	}
	fflush(stdout);
	PQfinish(c);
	return 0;
}

static int do_poll(const char *ci, long expected, long timeout_s, long poll_us)
{
	PGconn *c = conn(ci);
	PGresult *r = PQprepare(c, "p",
				"SELECT seq, token, (extract(epoch FROM arrived) * 1000000)::bigint"
				" FROM bench_arrival WHERE seq > $1 ORDER BY seq",
				1, NULL);
	long long last = 0, deadline = now_us() + timeout_s * 1000000LL;
	long seen = 0;

	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "latprobe: prepare: %s", PQerrorMessage(c));
		return 2;
	}
	PQclear(r);
	while (seen < expected) {
		char lastbuf[32];
		long long t = now_us();
		if (t > deadline) {
			fprintf(stderr, "latprobe: only %ld of %ld tokens arrived within %ld s\n",
				seen, expected, timeout_s);
			fflush(stdout);
			return 3;
		}
		snprintf(lastbuf, sizeof lastbuf, "%lld", last);
		const char *p[1] = {lastbuf};
		r = PQexecPrepared(c, "p", 1, p, NULL, NULL, 0);
		long long seen_us = now_us();
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "latprobe: poll: %s", PQerrorMessage(c));
			return 2;
		}
		for (int i = 0; i < PQntuples(r); i++) {
			last = atoll(PQgetvalue(r, i, 0));
			printf("%s %s %lld\n", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), seen_us);
			seen++;
		}
		PQclear(r);
		sleep_until(t + poll_us);
	}
	fflush(stdout);
	PQfinish(c);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 8 && strcmp(argv[1], "write") == 0)
		return do_write(argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]), atol(argv[6]),
				argv[7]);
	if (argc == 6 && strcmp(argv[1], "poll") == 0)
		return do_poll(argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]));
	fprintf(stderr, "usage: latprobe write CONNINFO COUNT GAP_US FIRST_ID STEP TAG\n"
			"       latprobe poll CONNINFO EXPECTED TIMEOUT_S POLL_US\n");
	return 2;
}
