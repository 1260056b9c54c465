/*
 * daemon.c -- the event loop of `shadowsync run`.
 *
 * Owns: per job the lease state (standby or owner, replicator/lease.c), and
 * while it owns the job a journal, a capture and one applier thread per
 * target; a libevent timer per capture (poll_interval, or a capped backoff
 * after an error) and an event on the capture's notification socket for
 * immediate wake-ups; a lease timer per job (a standby's attempts, an
 * owner's renewals); SIGTERM/SIGINT; the retention timer; the HTTP /status
 * and /metrics endpoint.  Captures run on this thread between events, so a
 * signal never interrupts a journal append; appliers stop between target
 * transactions.
 *
 * Taking over a job: the lease is taken on a fresh source connection (its
 * epoch bumped), the journal is chosen (the previous owner's, when its
 * directory is reachable and still holds that journal, else our own), every
 * target is fenced with the new epoch, then the appliers and the capture
 * start, the capture on the connection that holds the lease.  Losing it
 * (that connection dropped, or a renewal finds another epoch) stops the
 * job's capture and appliers and makes the process a standby again.
 */
#include "daemon.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applier.h"
#include "capture.h"
#include "http.h"
#include "journal.h"
#include "lease.h"
#include "poller.h"
#include "log.h"
#include "util.h"

/* How often a standby tries to take the lease. */
#define SS_STANDBY_EVERY_US 1000000

struct job_rt {
	struct ss_daemon *dm;
	struct ss_jobconf *job;
	struct ss_journal *journal;
	struct ss_capture *cap;
	struct ss_applier **apps;
	int napps;
	struct event *timer;
	struct event *fdev;
	int fd;
	int64_t backoff_us;
	int capture_done;       /* --once: drained, no more polls */
	int64_t last_poll_mono; /* when the last poll ended */
	int64_t once_err_mono;  /* --once: since when the capture keeps failing (0: it does not) */
	int64_t *app_err_mono;  /* --once: the same per target */
	char last_error[512];
	uint64_t capture_errors; /* failed polls, for /metrics */
	int64_t last_ok_poll_us; /* wall clock of the last successful poll (0: none) */
	char ctx[128];
	/* the job lease */
	struct ss_lease *lease;
	struct event *lease_timer;
	int owner;            /* holds the lease: journal, capture, appliers exist */
	int64_t renewed_mono; /* the last renewal (or acquisition) */
	int standby_said;     /* "standby" logged for this wait */
	char lease_error[512];
	char journal_dir[4096];
	char journal_id[SS_JOURNAL_ID_MAX];
};

struct ss_daemon {
	struct ss_config *cfg;
	struct event_base *base;
	struct job_rt *jobs;
	int njobs;
	int once;
	int exit_code;
	const char *only_job;  /* --job, or NULL */
	int64_t once_start_us; /* wall clock when run --once started */
	int reload;            /* SIGHUP: reload the configuration when the loop ends */
	struct event *sigterm, *sigint, *sighup, *retention, *once_check;
	struct ss_http *http;
};

static void schedule(struct job_rt *j, int64_t us)
{
	struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};

	evtimer_add(j->timer, &tv);
}

static void on_notify(evutil_socket_t fd, short what, void *arg);

/* --once is for scripts: a database that keeps failing with errors a retry
 * might cure (unreachable, refusing connections) is given up on once it has
 * failed for its connect_timeout (at least 3 s) of retries, instead of an
 * endless wait. */
static int once_given_up(int64_t *since, const struct ss_dbconf *db)
{
	int64_t bound = db->connect_timeout_us, now = ss_mono_us();

	if (bound < 3000000)
		bound = 3000000;
	if (!*since)
		*since = now;
	return now - *since > bound;
}

static void watch_fd(struct job_rt *j)
{
	int fd = ss_capture_fd(j->cap);

	if (fd == j->fd)
		return;
	if (j->fdev) {
		event_free(j->fdev);
		j->fdev = NULL;
	}
	j->fd = fd;
	if (fd >= 0) {
		j->fdev = event_new(j->dm->base, fd, EV_READ | EV_PERSIST, on_notify, j);
		event_add(j->fdev, NULL);
	}
}

/* Notification-driven polls are at least this far apart.  An idle source
 * is polled at once on its first commit; under load, the NOTIFYs of many
 * commits fold into one poll (each poll costs a source commit, a journal
 * fdatasync and the appliers' target commits). */
#define SS_MIN_WAKE_GAP_US 10000

static void do_poll(struct job_rt *j);

/* Poll now, or as soon as the minimum gap since the last poll allows. */
static void wake(struct job_rt *j)
{
	int64_t wait = j->last_poll_mono + SS_MIN_WAKE_GAP_US - ss_mono_us();

	if (j->backoff_us != 0 || j->capture_done)
		return;
	evtimer_del(j->timer);
	if (wait <= 0)
		do_poll(j);
	else
		schedule(j, wait);
}

static void demote(struct job_rt *j, const char *why);

static void do_poll(struct job_rt *j)
{
	struct ss_err err;
	int full = 1, n = 0, rounds = 0, woken = 0;

	if (!j->owner || j->capture_done)
		return;
	/* the lease lives on the capture's session: never reconnect without it */
	if (!ss_capture_connected(j->cap)) {
		demote(j, "the source connection that held the job lease was lost");
		return;
	}
	/* An expiry lease must have time left for this poll: after a stall
	 * (the timers late), renew before consuming anything. */
	if (ss_lease_expires(j->lease, ss_capture_conn(j->cap)) &&
	    ss_mono_us() - j->renewed_mono > ss_lease_renew_every_us(j->lease)) {
		int r = ss_lease_renew(j->lease, ss_capture_conn(j->cap), j->journal_id,
				       j->journal_dir, &err);
		if (r <= 0) {
			demote(j, r == 0 ? "another process took it over" : err.msg);
			return;
		}
		j->renewed_mono = ss_mono_us();
	}
	while (full && rounds++ < 50) {
		n = ss_capture_poll(j->cap, &full, &err);
		if (n < 0 || !ss_capture_connected(j->cap))
			break;
	}
	watch_fd(j);
	/* Notifications libpq read while the poll's own queries ran leave the
	 * socket unreadable: without this look their rows wait for the next
	 * poll_interval. */
	if (n >= 0 && !full) {
		struct ss_err e2;
		woken = ss_capture_drain(j->cap, &e2) > 0;
	}
	j->last_poll_mono = ss_mono_us();
	if (n < 0) {
		j->capture_errors++;
		if (strcmp(err.msg, j->last_error) != 0)
			ss_log_error(j->ctx, "%s", err.msg);
		if (j->dm->once &&
		    (!err.transient || once_given_up(&j->once_err_mono, j->job->source))) {
			/* --once is for scripts: a capture that cannot succeed by
			 * retrying is an error now, not an endless wait */
			if (err.transient)
				ss_log_error(j->ctx, "--once: giving up on database %s: %s",
					     j->job->source->name, err.msg);
			j->dm->exit_code = 1;
			event_base_loopbreak(j->dm->base);
			return;
		}
		snprintf(j->last_error, sizeof j->last_error, "%s", err.msg);
		ss_capture_set_error(j->cap, err.msg);
		j->backoff_us = j->backoff_us ? j->backoff_us * 2 : 100000;
		if (j->backoff_us > j->job->max_backoff_us)
			j->backoff_us = j->job->max_backoff_us;
		schedule(j, j->backoff_us);
		return;
	}
	if (j->last_error[0])
		ss_log_info(j->ctx, "capture recovered");
	j->last_error[0] = '\0';
	j->backoff_us = 0;
	j->once_err_mono = 0;
	j->last_ok_poll_us = ss_now_us();
	if (j->dm->once && n == 0 && !full && ss_capture_has_timestamp(j->cap) &&
	    ss_now_us() < j->dm->once_start_us + SS_POLL_SAFETY_US + 100000) {
		/* a timestamp poll reads up to the clock minus SS_POLL_SAFETY_US:
		 * rows written just before --once started are not visible yet */
		schedule(j, j->job->poll_interval_us);
		return;
	}
	if (j->dm->once && n == 0 && !full) {
		j->capture_done = 1;
		ss_log_info(j->ctx, "--once: everything captured (journal position %llu)",
			    (unsigned long long)ss_journal_last_pos(j->journal));
		return;
	}
	if (woken && !full) {
		schedule(j, SS_MIN_WAKE_GAP_US);
		return;
	}
	schedule(j, full ? 0 : j->job->poll_interval_us);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	do_poll(arg);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct job_rt *j = arg;
	struct ss_err err;

	(void)fd;
	(void)what;
	if (!j->owner)
		return;
	if (ss_capture_drain(j->cap, &err) < 0) {
		ss_log_warn(j->ctx, "notification socket: %s", err.msg);
		ss_capture_disconnect(j->cap);
		event_free(j->fdev);
		j->fdev = NULL;
		j->fd = -1;
	}
	wake(j);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct ss_daemon *dm = arg;

	(void)what;
	ss_log_info(NULL, "signal %d: stopping", (int)sig);
	dm->reload = 0;
	event_base_loopbreak(dm->base);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct ss_daemon *dm = arg;

	(void)sig;
	(void)what;
	ss_log_info(NULL, "SIGHUP: reloading %s", dm->cfg->path);
	dm->reload = 1;
	event_base_loopbreak(dm->base);
}

static void on_retention(evutil_socket_t fd, short what, void *arg)
{
	struct ss_daemon *dm = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < dm->njobs; i++) {
		struct job_rt *j = &dm->jobs[i];
		uint64_t min = UINT64_MAX;
		struct ss_err err;
		if (!j->owner)
			continue;
		for (int t = 0; t < j->napps; t++) {
			struct ss_applier_stats st;
			ss_applier_get_stats(j->apps[t], &st);
			if (!st.position_known)
				min = 0; /* unknown: keep everything */
			else if (st.applied_pos < min)
				min = st.applied_pos;
		}
		if (min == 0 || min == UINT64_MAX)
			continue;
		int r = ss_journal_retain(j->journal, min,
					  ss_now_us() - dm->cfg->journal_retention_us, &err);
		if (r < 0)
			ss_log_warn(j->ctx, "retention: %s", err.msg);
		else if (r > 0)
			ss_log_info(j->ctx, "retention removed %d journal segment%s", r,
				    r == 1 ? "" : "s");
	}
}

static void on_once_check(evutil_socket_t fd, short what, void *arg)
{
	struct ss_daemon *dm = arg;
	int done = 1, failed = 0;

	(void)fd;
	(void)what;
	for (int i = 0; i < dm->njobs; i++) {
		struct job_rt *j = &dm->jobs[i];
		if (!j->owner || !j->capture_done)
			done = 0;
		for (int t = 0; t < j->napps; t++) {
			struct ss_applier_stats st;
			ss_applier_get_stats(j->apps[t], &st);
			int gone = 0; /* failed, or given up on (app_err_mono -1) */
			if (st.state == SS_APPLIER_FAILED) {
				gone = 1;
			} else if (st.state == SS_APPLIER_RETRYING && j->app_err_mono[t] < 0) {
				gone = 1;
			} else if (st.state == SS_APPLIER_RETRYING &&
				   once_given_up(&j->app_err_mono[t], j->job->targets[t])) {
				ss_log_error(j->ctx, "--once: giving up on target %s: %s",
					     ss_applier_target(j->apps[t]), st.last_error);
				j->app_err_mono[t] = -1;
				gone = 1;
			} else if (st.state != SS_APPLIER_RETRYING) {
				j->app_err_mono[t] = 0;
			}
			/* a target that is gone holds back only itself */
			if (gone)
				failed = 1;
			else if (st.state == SS_APPLIER_RETRYING || !st.position_known ||
				 st.applied_pos < ss_journal_last_pos(j->journal))
				done = 0;
		}
	}
	/* a failed target holds back only itself: the others are still
	 * brought to the end of the journal before --once exits */
	if (failed && done) {
		ss_log_error(NULL, "--once: a target failed (see above)");
		dm->exit_code = 1;
		event_base_loopbreak(dm->base);
	} else if (done) {
		ss_log_info(NULL, "--once: every target is at the end of the journal");
		event_base_loopbreak(dm->base);
	}
}

/* ---- status ------------------------------------------------------------- */

/* A standby has no capture or journal: zeros. */
static void cap_stats(struct job_rt *j, struct ss_capture_stats *cs)
{
	memset(cs, 0, sizeof *cs);
	if (j->cap)
		ss_capture_get_stats(j->cap, cs);
}

static uint64_t jlast(struct job_rt *j)
{
	return j->journal ? ss_journal_last_pos(j->journal) : 0;
}

static const char *state_name(int s)
{
	static const char *const names[] = {"starting", "running", "retrying", "failed", "stopped"};
	return s >= 0 && s < 5 ? names[s] : "?";
}

static void status_json(struct ss_daemon *dm, struct ss_buf *out)
{
	int64_t now = ss_now_us();

	ss_buf_adds(out, "{\"jobs\":[");
	for (int i = 0; i < dm->njobs; i++) {
		struct job_rt *j = &dm->jobs[i];
		struct ss_capture_stats cs;
		cap_stats(j, &cs);
		ss_buf_addf(out, "%s{\"job\":", i ? "," : "");
		ss_buf_add_json_str(out, j->job->name, strlen(j->job->name));
		ss_buf_addf(out, ",\"source\":");
		ss_buf_add_json_str(out, j->job->source->name, strlen(j->job->source->name));
		ss_buf_addf(out, ",\"lease\":{\"role\":\"%s\",\"epoch\":%llu,\"journal_id\":",
			    j->owner ? "owner" : "standby",
			    (unsigned long long)(j->owner ? ss_lease_epoch(j->lease) : 0));
		ss_buf_add_json_str(out, j->journal_id, strlen(j->journal_id));
		ss_buf_addc(out, '}');
		ss_buf_addf(
			out,
			",\"capture\":{\"connected\":%s,\"changes\":%llu,\"polls\":%llu,\"error\":",
			cs.connected ? "true" : "false", (unsigned long long)cs.changes,
			(unsigned long long)cs.polls);
		ss_buf_add_json_str(out, cs.last_error, strlen(cs.last_error));
		ss_buf_addf(out,
			    "},\"journal\":{\"first_pos\":%llu,\"last_pos\":%llu,\"bytes\":%llu},"
			    "\"targets\":[",
			    (unsigned long long)(j->journal ? ss_journal_first_pos(j->journal) : 0),
			    (unsigned long long)jlast(j),
			    (unsigned long long)(j->journal ? ss_journal_bytes(j->journal) : 0));
		for (int t = 0; t < j->napps; t++) {
			struct ss_applier_stats st;
			const char *name = ss_applier_target(j->apps[t]);
			ss_applier_get_stats(j->apps[t], &st);
			uint64_t last = jlast(j);
			ss_buf_addf(out, "%s{\"target\":", t ? "," : "");
			ss_buf_add_json_str(out, name, strlen(name));
			ss_buf_addf(
				out,
				",\"state\":\"%s\",\"applied_pos\":%llu,\"behind\":%llu,"
				"\"changes\":%llu,\"seconds_since_commit\":%.3f,\"error\":",
				state_name(st.state), (unsigned long long)st.applied_pos,
				(unsigned long long)(last > st.applied_pos ? last - st.applied_pos :
									     0),
				(unsigned long long)st.changes,
				st.last_commit_us ? (double)(now - st.last_commit_us) / 1e6 : -1.0);
			ss_buf_add_json_str(out, st.last_error, strlen(st.last_error));
			ss_buf_addc(out, '}');
		}
		ss_buf_adds(out, "]}");
	}
	ss_buf_adds(out, "]}\n");
}

/* A label value in the Prometheus text format: \ " and newline escaped. */
static void label(struct ss_buf *out, const char *name, const char *v)
{
	ss_buf_addf(out, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			ss_buf_addc(out, '\\');
		if (*v == '\n') {
			ss_buf_adds(out, "\\n");
			continue;
		}
		ss_buf_addc(out, *v);
	}
	ss_buf_addc(out, '"');
}

static void metric_head(struct ss_buf *out, const char *name, const char *type, const char *help)
{
	ss_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{job="..."[,target="..."]} value */
static void sample(struct ss_buf *out, const char *name, const char *job, const char *target,
		   int decimals, double v)
{
	ss_buf_adds(out, name);
	ss_buf_addc(out, '{');
	label(out, "job", job);
	if (target) {
		ss_buf_addc(out, ',');
		label(out, "target", target);
	}
	ss_buf_addc(out, '}');
	ss_buf_addc(out, ' ');
	ss_buf_addf(out, "%.*f", decimals, v);
	ss_buf_addc(out, '\n');
}

/* Age in seconds of the oldest journaled change the target has not
 * applied (0 when it has applied everything). */
static double lag_seconds(struct job_rt *j, uint64_t applied, int64_t now)
{
	struct ss_journal_reader *r;
	struct ss_jrec rec;
	struct ss_err err;
	double age = 0;

	if (!j->journal || applied >= jlast(j))
		return 0;
	r = ss_journal_reader_new(j->journal, applied, &err);
	if (!r)
		return 0;
	if (ss_journal_reader_next(r, &rec, &err) == 1 && now > rec.ts_us)
		age = (double)(now - rec.ts_us) / 1e6;
	ss_journal_reader_free(r);
	return age;
}

static void metrics_text(struct ss_daemon *dm, struct ss_buf *out)
{
	static const struct {
		const char *name, *type, *help;
	} job_metrics[] = {
		{"shadowsync_captured_changes_total", "counter",
		 "Changes journaled by the capture."},
		{"shadowsync_capture_errors_total", "counter",
		 "Failed capture polls (source unreachable, statement errors)."},
		{"shadowsync_source_up", "gauge",
		 "1 when the capture's last poll of the source succeeded."},
		{"shadowsync_source_last_poll_timestamp_seconds", "gauge",
		 "Unix time of the last successful poll of the source (0: none yet)."},
		{"shadowsync_journal_position", "gauge", "Last journal position."},
		{"shadowsync_journal_bytes", "gauge", "Size of the journal on disk."},
	};
	static const struct {
		const char *name, *type, *help;
	} target_metrics[] = {
		{"shadowsync_applied_position", "gauge",
		 "Journal position committed on the target."},
		{"shadowsync_applied_changes_total", "counter", "Changes applied to the target."},
		{"shadowsync_target_up", "gauge", "1 when the applier is running."},
		{"shadowsync_target_lag_changes", "gauge",
		 "Journaled changes the target has not applied yet."},
		{"shadowsync_target_lag_seconds", "gauge",
		 "Age of the oldest journaled change the target has not applied (0: none)."},
		{"shadowsync_apply_errors_total", "counter",
		 "Errors met by the applier (each retry, and a stop)."},
	};
	int64_t now = ss_now_us();

	for (size_t m = 0; m < sizeof job_metrics / sizeof job_metrics[0]; m++) {
		metric_head(out, job_metrics[m].name, job_metrics[m].type, job_metrics[m].help);
		for (int i = 0; i < dm->njobs; i++) {
			struct job_rt *j = &dm->jobs[i];
			struct ss_capture_stats cs;
			double v = 0;

			cap_stats(j, &cs);
			switch (m) {
			case 0: v = (double)cs.changes; break;
			case 1: v = (double)j->capture_errors; break;
			case 2: v = j->cap && !j->last_error[0] && j->last_ok_poll_us; break;
			case 3: v = (double)j->last_ok_poll_us / 1e6; break;
			case 4: v = (double)jlast(j); break;
			default: v = (double)(j->journal ? ss_journal_bytes(j->journal) : 0);
			}
			sample(out, job_metrics[m].name, j->job->name, NULL, m == 3 ? 3 : 0, v);
		}
	}
	for (size_t m = 0; m < sizeof target_metrics / sizeof target_metrics[0]; m++) {
		metric_head(out, target_metrics[m].name, target_metrics[m].type,
			    target_metrics[m].help);
		for (int i = 0; i < dm->njobs; i++) {
			struct job_rt *j = &dm->jobs[i];
			for (int t = 0; t < j->napps; t++) {
				struct ss_applier_stats st;
				uint64_t last = jlast(j);
				double v;

				ss_applier_get_stats(j->apps[t], &st);
				switch (m) {
				case 0: v = (double)st.applied_pos; break;
				case 1: v = (double)st.changes; break;
				case 2: v = st.state == SS_APPLIER_RUNNING; break;
				case 3:
					v = (double)(last > st.applied_pos ? last - st.applied_pos :
									     0);
					break;
				case 4: v = lag_seconds(j, st.applied_pos, now); break;
				default: v = (double)st.errors;
				}
				sample(out, target_metrics[m].name, j->job->name,
				       ss_applier_target(j->apps[t]), m == 4 ? 3 : 0, v);
			}
		}
	}
}

static void page_status(void *arg, struct ss_buf *out)
{
	status_json(arg, out);
}

static void page_metrics(void *arg, struct ss_buf *out)
{
	metrics_text(arg, out);
}

static const struct ss_http_page pages[] = {
	{"/status", "application/json", page_status},
	{"/metrics", "text/plain; version=0.0.4; charset=utf-8", page_metrics},
};

static int start_http(struct ss_daemon *dm)
{
	struct ss_err err;

	if (!dm->cfg->status_listen || !*dm->cfg->status_listen)
		return 0;
	dm->http = ss_http_new(dm->base, dm->cfg->status_listen, pages, 2, dm, &err);
	if (!dm->http) {
		ss_log_error(NULL, "%s", err.msg);
		return -1;
	}
	ss_log_info(NULL, "status on http://%s/status and /metrics", ss_http_bound(dm->http));
	return 0;
}

/* ---- the job lease --------------------------------------------------------- */

static void lease_after(struct job_rt *j, int64_t us)
{
	struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};

	evtimer_add(j->lease_timer, &tv);
}

/* Stop what owning the job started: appliers first (they stop between
 * target transactions), then the lease, the capture and the journal. */
/* The connection that took the lease is gone (the capture failed to
 * start, say).  A session's lock went with it; an expiry lease (SQLite)
 * would hold the job for lease_timeout after we stopped: give it up on a
 * connection of its own. */
static void release_expiry_lease(struct job_rt *j)
{
	struct ss_err e;
	struct ss_conn *c = ss_db_connect(j->job->source, &e);

	if (!c)
		return;
	if (ss_lease_expires(j->lease, c))
		ss_lease_release(j->lease, c);
	ss_db_disconnect(c);
}

static void stop_owning(struct job_rt *j, int release)
{
	for (int t = 0; t < j->napps; t++)
		ss_applier_stop(j->apps[t]);
	for (int t = 0; t < j->napps; t++)
		ss_applier_free(j->apps[t]);
	free(j->apps);
	free(j->app_err_mono);
	j->apps = NULL;
	j->app_err_mono = NULL;
	j->napps = 0;
	if (j->fdev)
		event_free(j->fdev);
	j->fdev = NULL;
	j->fd = -1;
	if (j->timer)
		evtimer_del(j->timer);
	if (release && j->cap && ss_capture_connected(j->cap)) {
		ss_lease_release(j->lease, ss_capture_conn(j->cap));
	} else if (release && j->owner) {
		release_expiry_lease(j);
	}
	ss_capture_free(j->cap);
	j->cap = NULL;
	ss_journal_free(j->journal);
	j->journal = NULL;
	j->owner = 0;
	j->capture_done = 0;
	j->backoff_us = 0;
	j->last_error[0] = '\0';
}

static void demote(struct job_rt *j, const char *why)
{
	ss_log_warn(j->ctx, "lost the job lease (%s): stopping its capture and appliers, standby",
		    why);
	stop_owning(j, 0);
	j->standby_said = 0;
	/* --once too: it takes the lease again, or fails if another process
	 * took it meanwhile */
	lease_after(j, SS_STANDBY_EVERY_US);
}

/* Open the journal the job continues: the previous owner's when its
 * directory is reachable from here and still holds that journal (shared
 * storage, or the same host), else ours.  Targets fed from the previous
 * owner's journal can then go on; fed from another, they refuse it. */
static struct ss_journal *open_journal(struct job_rt *j, struct ss_err *err)
{
	const struct ss_lease_row *prev = ss_lease_row(j->lease);
	struct ss_config *cfg = j->dm->cfg;
	struct ss_journal *jr = NULL;
	char own[4096], real[4096], idfile[4200];
	struct ss_err e2;

	ss_config_journal_dir(cfg, j->job->name, own, sizeof own);
	snprintf(idfile, sizeof idfile, "%s/id", prev->journal_dir);
	if (prev->journal_dir[0] && prev->journal_id[0] &&
	    (!realpath(own, real) || strcmp(real, prev->journal_dir) != 0) &&
	    access(idfile, F_OK) == 0) {
		jr = ss_journal_open(prev->journal_dir, (enum ss_fsync_mode)cfg->fsync,
				     cfg->journal_segment_size, &e2);
		if (jr && strcmp(ss_journal_id(jr), prev->journal_id) != 0) {
			ss_err_set(&e2, "it holds journal %s now", ss_journal_id(jr));
			ss_journal_free(jr);
			jr = NULL;
		}
		if (jr) {
			ss_log_info(j->ctx, "continuing the previous owner's journal %s (%s)",
				    prev->journal_dir, prev->journal_id);
			snprintf(own, sizeof own, "%s", prev->journal_dir);
		} else {
			ss_log_warn(j->ctx, "the previous owner's journal %s: %s; using %s",
				    prev->journal_dir, e2.msg, own);
		}
	}
	if (!jr)
		jr = ss_journal_open(own, (enum ss_fsync_mode)cfg->fsync, cfg->journal_segment_size,
				     err);
	if (!jr)
		return NULL;
	snprintf(j->journal_id, sizeof j->journal_id, "%s", ss_journal_id(jr));
	if (!realpath(own, j->journal_dir))
		snprintf(j->journal_dir, sizeof j->journal_dir, "%s", own);
	if (*ss_journal_recovery_note(jr))
		ss_log_warn(j->ctx, "journal recovery: %s", ss_journal_recovery_note(jr));
	return jr;
}

/* The lease is ours on conn: journal, fence the targets, start. */
static int take_over(struct job_rt *j, struct ss_conn *conn, struct ss_err *err)
{
	uint64_t epoch = ss_lease_epoch(j->lease);

	j->journal = open_journal(j, err);
	if (!j->journal) {
		ss_db_disconnect(conn);
		return -1;
	}
	j->renewed_mono = ss_mono_us();
	if (ss_lease_renew(j->lease, conn, j->journal_id, j->journal_dir, err) != 1) {
		if (err->msg[0] == '\0')
			ss_err_set(err, "the lease moved on while it was being taken");
		err->transient = 1;
		ss_db_disconnect(conn);
		goto fail;
	}
	/* Fence: from now on a target refuses the positions of any earlier
	 * owner.  An unreachable target is fenced by its applier's first
	 * commit, which carries the epoch too. */
	for (int t = 0, raised = 0; t < j->job->ntargets; t++) {
		struct ss_err fe;
		uint64_t held = 0;
		int r = ss_lease_fence(j->job, j->job->targets[t], epoch, &held, &fe);
		if (r == 0 && raised++ < 3) {
			/* we hold the lease, so the holder of that epoch is gone:
			 * the source's lease row was reset (dropped, restored) */
			ss_log_warn(
				j->ctx,
				"target %s holds lease epoch %llu, above this lease's %llu (was "
				"the source's shadowsync.lease reset?): raising the lease past it",
				j->job->targets[t]->name, (unsigned long long)held,
				(unsigned long long)epoch);
			if (ss_lease_raise(j->lease, conn, held, err) != 1) {
				if (!err->msg[0])
					ss_err_set(err,
						   "the lease moved on while it was being raised");
				err->transient = 1;
				ss_db_disconnect(conn);
				goto fail;
			}
			epoch = ss_lease_epoch(j->lease);
			t = -1; /* fence every target again with the new epoch */
			continue;
		}
		if (r == 0) {
			ss_err_set(err, "target %s holds a newer lease epoch than %llu",
				   j->job->targets[t]->name, (unsigned long long)epoch);
			err->transient = 1;
			ss_db_disconnect(conn);
			goto fail;
		}
		if (r < 0)
			ss_log_warn(
				j->ctx,
				"cannot fence target %s now (%s); its applier fences it when it "
				"connects",
				j->job->targets[t]->name, fe.msg);
	}
	j->cap = ss_capture_new(j->job, j->journal, j->journal_dir);
	if (ss_capture_attach(j->cap, conn, err) < 0)
		goto fail;
	j->owner = 1;
	j->apps = ss_xcalloc((size_t)j->job->ntargets, sizeof *j->apps);
	j->app_err_mono = ss_xcalloc((size_t)j->job->ntargets, sizeof *j->app_err_mono);
	for (int t = 0; t < j->job->ntargets; t++) {
		j->apps[t] = ss_applier_new(j->job, j->job->targets[t], j->journal);
		ss_applier_set_owner(j->apps[t], epoch, j->journal_id);
		if (ss_applier_start(j->apps[t]) < 0) {
			ss_applier_free(j->apps[t]);
			ss_err_set(err, "cannot start applier thread");
			err->transient = 0;
			goto fail;
		}
		j->napps++;
	}
	ss_log_info(j->ctx, "owner of the job (lease epoch %llu, journal %s)",
		    (unsigned long long)epoch, j->journal_id);
	schedule(j, 0);
	return 0;
fail:
	stop_owning(j, 0);
	release_expiry_lease(j);
	return -1;
}

static void lease_tick(struct job_rt *j)
{
	struct ss_err err;
	struct ss_conn *conn;
	int r;

	if (j->owner) {
		if (!ss_capture_connected(j->cap)) {
			demote(j, "the source connection that held the job lease was lost");
			return;
		}
		r = ss_lease_renew(j->lease, ss_capture_conn(j->cap), j->journal_id, j->journal_dir,
				   &err);
		if (r <= 0) {
			demote(j, r == 0 ? "another process took it over" : err.msg);
			return;
		}
		j->renewed_mono = ss_mono_us();
		/* notifications read by the renewal's query */
		if (ss_capture_drain(j->cap, &err) > 0)
			wake(j);
		lease_after(j, ss_lease_renew_every_us(j->lease));
		return;
	}
	ss_err_clear(&err);
	r = ss_lease_try(j->lease, &conn, &err);
	if (r == 1 && take_over(j, conn, &err) == 0) {
		j->lease_error[0] = '\0';
		j->once_err_mono = 0;
		lease_after(j, ss_lease_renew_every_us(j->lease));
		return;
	}
	if (r == 0) {
		const struct ss_lease_row *row = ss_lease_row(j->lease);
		if (j->dm->once) {
			ss_log_error(
				j->ctx,
				"another shadowsync process owns the job (%s, lease epoch %llu): "
				"run --once needs the job to itself; stop that process or run "
				"without --once to wait as its standby",
				row->owner, (unsigned long long)row->epoch);
			j->dm->exit_code = 1;
			event_base_loopbreak(j->dm->base);
			return;
		}
		if (!j->standby_said)
			ss_log_info(j->ctx,
				    "standby: another shadowsync process owns the job (%s, lease "
				    "epoch %llu); taking over when it stops (checking every %d ms)",
				    row->owner, (unsigned long long)row->epoch,
				    SS_STANDBY_EVERY_US / 1000);
		j->standby_said = 1;
		lease_after(j, SS_STANDBY_EVERY_US);
		return;
	}
	if (!err.transient) {
		ss_log_error(j->ctx, "%s", err.msg);
		j->dm->exit_code = 2;
		event_base_loopbreak(j->dm->base);
		return;
	}
	if (j->dm->once && once_given_up(&j->once_err_mono, j->job->source)) {
		ss_log_error(j->ctx, "--once: giving up on database %s: %s", j->job->source->name,
			     err.msg);
		j->dm->exit_code = 1;
		event_base_loopbreak(j->dm->base);
		return;
	}
	if (strcmp(err.msg, j->lease_error) != 0)
		ss_log_warn(j->ctx, "taking the job lease: %s; retrying", err.msg);
	snprintf(j->lease_error, sizeof j->lease_error, "%s", err.msg);
	lease_after(j, SS_STANDBY_EVERY_US);
}

static void on_lease_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lease_tick(arg);
}

/* ---- setup and teardown ------------------------------------------------- */

static void setup_job(struct ss_daemon *dm, struct job_rt *j, struct ss_jobconf *job)
{
	j->dm = dm;
	j->job = job;
	j->fd = -1;
	snprintf(j->ctx, sizeof j->ctx, "job %s", job->name);
	j->lease = ss_lease_new(job);
	j->timer = evtimer_new(dm->base, on_timer, j);
	j->lease_timer = evtimer_new(dm->base, on_lease_timer, j);
	lease_after(j, 0);
}

static void teardown_job(struct job_rt *j)
{
	stop_owning(j, 1);
	if (j->timer)
		event_free(j->timer);
	if (j->lease_timer)
		event_free(j->lease_timer);
	ss_lease_free(j->lease);
}

/* Set up the jobs of dm->cfg (all, or --job's) and the status endpoint.
 * Returns 0, or an exit status. */
static int start_jobs(struct ss_daemon *dm)
{
	struct ss_config *cfg = dm->cfg;

	dm->jobs = ss_xcalloc((size_t)cfg->njobs, sizeof *dm->jobs);
	dm->njobs = 0;
	for (int i = 0; i < cfg->njobs; i++) {
		if (dm->only_job && strcmp(cfg->jobs[i].name, dm->only_job) != 0)
			continue;
		setup_job(dm, &dm->jobs[dm->njobs], &cfg->jobs[i]);
		dm->njobs++;
	}
	if (dm->njobs == 0) {
		ss_log_error(NULL, "no job named \"%s\"", dm->only_job ? dm->only_job : "");
		return 2;
	}
	if (start_http(dm) < 0)
		return 2;
	ss_log_info(NULL, "shadowsync %s running %d job%s", SS_VERSION, dm->njobs,
		    dm->njobs == 1 ? "" : "s");
	return 0;
}

static void stop_jobs(struct ss_daemon *dm)
{
	for (int i = 0; i < dm->njobs; i++)
		teardown_job(&dm->jobs[i]);
	free(dm->jobs);
	dm->jobs = NULL;
	dm->njobs = 0;
	ss_http_free(dm->http);
	dm->http = NULL;
}

/* SIGHUP: read the file again; a file that does not load (or lacks the
 * --job being run) keeps the running configuration.  A good one replaces
 * it whole: every job stops after its current transaction (releasing its
 * lease and journal) and starts again under the new settings, so added,
 * removed and changed jobs, targets, tables, intervals and the status
 * address all take effect. */
static void reload(struct ss_daemon *dm, struct ss_config *orig)
{
	struct ss_err err;
	struct ss_config *next = ss_config_load(dm->cfg->path, &err);

	if (!next) {
		ss_log_error(NULL, "reload: %s; keeping the running configuration", err.msg);
		return;
	}
	if (dm->only_job && !ss_config_job(next, dm->only_job)) {
		ss_log_error(NULL,
			     "reload: %s has no job \"%s\" (run with --job); keeping the running "
			     "configuration",
			     next->path, dm->only_job);
		ss_config_free(next);
		return;
	}
	stop_jobs(dm);
	if (dm->cfg != orig)
		ss_config_free(dm->cfg);
	dm->cfg = next;
	ss_log_set_level(next->log_level);
	ss_log_set_format(next->log_format);
	ss_log_info(NULL, "reload: configuration %s in force", next->path);
}

int ss_daemon_run(struct ss_config *cfg, const char *job, int once)
{
	struct ss_daemon dm;
	struct timeval every30 = {30, 0}, every20ms = {0, 20000};

	memset(&dm, 0, sizeof dm);
	dm.cfg = cfg;
	dm.once = once;
	dm.only_job = job;
	dm.once_start_us = ss_now_us();
	signal(SIGPIPE, SIG_IGN);
	ss_log_init_libevent();
	evthread_use_pthreads();
	dm.base = event_base_new();
	if (!dm.base) {
		ss_log_error(NULL, "cannot create the event loop");
		return 2;
	}
	dm.exit_code = start_jobs(&dm);
	if (dm.exit_code)
		goto done;
	dm.sigterm = evsignal_new(dm.base, SIGTERM, on_signal, &dm);
	dm.sigint = evsignal_new(dm.base, SIGINT, on_signal, &dm);
	dm.sighup = evsignal_new(dm.base, SIGHUP, on_sighup, &dm);
	event_add(dm.sigterm, NULL);
	event_add(dm.sigint, NULL);
	event_add(dm.sighup, NULL);
	dm.retention = event_new(dm.base, -1, EV_PERSIST, on_retention, &dm);
	event_add(dm.retention, &every30);
	if (once) {
		dm.once_check = event_new(dm.base, -1, EV_PERSIST, on_once_check, &dm);
		event_add(dm.once_check, &every20ms);
	}
	for (;;) {
		event_base_dispatch(dm.base);
		if (!dm.reload)
			break;
		dm.reload = 0;
		reload(&dm, cfg);
		if (!dm.jobs) { /* the new configuration replaced the old one */
			dm.exit_code = start_jobs(&dm);
			if (dm.exit_code)
				break;
		}
	}
done:
	stop_jobs(&dm);
	if (dm.sigterm)
		event_free(dm.sigterm);
	if (dm.sigint)
		event_free(dm.sigint);
	if (dm.sighup)
		event_free(dm.sighup);
	if (dm.retention)
		event_free(dm.retention);
	if (dm.once_check)
		event_free(dm.once_check);
	event_base_free(dm.base);
	if (dm.cfg != cfg)
		ss_config_free(dm.cfg);
	return dm.exit_code;
}
